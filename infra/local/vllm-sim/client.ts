/**
 * Talking to the simulated vLLM pods the way ferry reaches pods on GKE: through the Kubernetes API
 * server (Service proxy for requests, pod log API for logs). For the demo, the benchmark and tests.
 */
import { request as httpsRequest } from 'node:https';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

/** An HTTP request to `path` on the API server with `kc`'s credentials. */
export async function apiserverRequest(kc: KubeConfig, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig names no cluster');
  const opts: Parameters<typeof httpsRequest>[1] = { method, headers: body === undefined ? {} : { 'content-type': 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${server}${path}`, opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** POST /v1/completions through the Service proxy (`<service>:http`). */
export async function completeViaService(
  kc: KubeConfig,
  namespace: string,
  service: string,
  body: { model?: string; prompt: string; max_tokens?: number; temperature?: number },
): Promise<{ status: number; text?: string; model?: string; raw: string }> {
  const r = await apiserverRequest(kc, 'POST', `/api/v1/namespaces/${namespace}/services/${service}:http/proxy/v1/completions`, body);
  if (r.status !== 200) return { status: r.status, raw: r.text };
  const j = JSON.parse(r.text) as { model: string; choices: Array<{ text: string }> };
  return { status: 200, text: j.choices[0]?.text, model: j.model, raw: r.text };
}

/** The streamer's and vLLM's load lines of a pod's `vllm` container, read through the pod log API. */
export async function loadLines(kc: KubeConfig, namespace: string, pod: string): Promise<string[]> {
  const log = await kc.makeApiClient(CoreV1Api).readNamespacedPodLog({ namespace, name: pod, container: 'vllm' });
  return log.split('\n').filter((l) => /\[RunAI Streamer\]|Model loading took/.test(l));
}
