/**
 * The loopback JSON server the local stack's fakes share (Storage Control, the GKE cluster
 * directory): one request, one JSON answer `{"result": …}` or an error status with
 * `{"error": {"code", "message"}}`; `handle` decides which. Bound to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';

export interface LoopbackServer {
  /** `127.0.0.1:PORT`. */
  host: string;
  stop(): Promise<void>;
}

export interface JsonAnswer {
  status: number;
  payload: unknown;
}

/** Serves `handle(req)` on 127.0.0.1:`port` (0: any free port). `handle` must not throw. */
export async function startLoopbackServer(port: number, handle: (req: IncomingMessage) => Promise<JsonAnswer>): Promise<LoopbackServer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void handle(req).then(({ status, payload }) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    host: `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The request body as text ('' when there is none). */
export async function bodyText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * When `moduleUrl` is the script node was started with: start `start(arg)` (arg reads `--flag
 * value`), print `banner(host)`, stop on SIGINT/SIGTERM.
 */
export async function runAlone(
  moduleUrl: string,
  start: (arg: (flag: string) => string | undefined) => Promise<LoopbackServer>,
  banner: (host: string) => string,
): Promise<void> {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? '').href) return;
  const arg = (flag: string): string | undefined => {
    const i = process.argv.indexOf(flag);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const srv = await start(arg);
  process.stdout.write(`${banner(srv.host)}\n`);
  const quit = (): void => void srv.stop().then(() => process.exit(0));
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
}
