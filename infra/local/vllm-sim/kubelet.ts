/**
 * The one kubelet endpoint the simulated nodes serve: container logs, so `kubectl logs` and the pod
 * log API (`GET /api/v1/namespaces/{ns}/pods/{pod}/log`) work. kube-apiserver 1.20 reaches a node's
 * kubelet at the node's address (`--kubelet-preferred-address-types`, set to InternalIP by kube.ts)
 * and `status.daemonEndpoints.kubeletEndpoint.Port`, over HTTPS, and requests
 * `/containerLogs/{namespace}/{pod}/{container}` with the log options as query parameters
 * (kubernetes@v1.20.2:pkg/registry/core/pod/strategy.go `LogLocation`). With no
 * `--kubelet-certificate-authority` the apiserver does not verify the kubelet's certificate
 * (pkg/kubelet/client/kubelet_client.go: `if !cfg.HasCA() { cfg.TLS.Insecure = true }`), so the
 * apiserver's own self-signed serving certificate does here.
 */
import { createServer, type Server } from 'node:https';

export type LogLines = Array<{ at: Date; line: string }>;

export interface KubeletLogServer {
  port: number;
  close(): Promise<void>;
}

export function selectLogLines(lines: LogLines, q: URLSearchParams, now = Date.now()): string {
  let out = lines;
  const since = Number(q.get('sinceSeconds'));
  if (Number.isFinite(since) && since > 0) out = out.filter((l) => l.at.getTime() >= now - since * 1000);
  const tail = Number(q.get('tailLines'));
  if (q.has('tailLines') && Number.isInteger(tail) && tail >= 0) out = out.slice(Math.max(0, out.length - tail));
  const stamps = q.get('timestamps') === 'true';
  let text = out.map((l) => (stamps ? `${l.at.toISOString().replace(/Z$/, '000000Z')} ` : '') + l.line + '\n').join('');
  const limit = Number(q.get('limitBytes'));
  if (q.has('limitBytes') && Number.isInteger(limit) && limit > 0) text = Buffer.from(text).subarray(0, limit).toString('utf8');
  return text;
}

export async function startKubeletLogServer(opts: {
  ip: string;
  cert: string;
  key: string;
  logs: (namespace: string, pod: string, container: string, previous: boolean) => LogLines | undefined;
}): Promise<KubeletLogServer> {
  const server: Server = createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end('404 page not found\n');
    }
    const [ns, pod, container] = [m[1]!, m[2]!, m[3]!].map(decodeURIComponent) as [string, string, string];
    const previous = url.searchParams.get('previous') === 'true';
    const lines = opts.logs(ns, pod, container, previous);
    if (!lines) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      const what = previous
        ? `previous terminated container "${container}" in pod "${pod}" not found`
        : `container "${container}" in pod "${pod}" is not available`;
      return void res.end(what);
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(selectLogLines(lines, url.searchParams));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.ip, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
