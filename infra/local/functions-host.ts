/**
 * Serves every Cloud Function of the project locally, each on its own port, through the real
 * functions-framework server (the same Express app `functions-framework --target=X` builds), in one
 * Node process to keep the stack's memory small. Started by the stack with:
 *   node infra/local/functions-host.ts '{"onCheckpointUpload":7001,…}'
 * and the stack's environment (emulator hosts, KUBECONFIG, FERRY_*).
 */
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Server } from 'node:http';
import { FUNCTIONS } from '../../functions/manifest.ts';

const ports = JSON.parse(process.argv[2] ?? '{}') as Record<string, number>;
await import('../../functions/index.ts');

const servers: Server[] = [];
for (const fn of FUNCTIONS) {
  const port = ports[fn.name];
  if (!port) throw new Error(`functions-host: no port given for ${fn.name}`);
  const app = getTestServer(fn.name);
  await new Promise<void>((resolve, reject) => {
    const srv = app.listen(port, '127.0.0.1', () => resolve()) as Server;
    srv.once('error', reject);
    servers.push(srv);
  });
  process.stdout.write(JSON.stringify({ severity: 'INFO', message: `serving ${fn.name} on http://127.0.0.1:${port}`, function: fn.name }) + '\n');
}

const shutdown = () => {
  for (const s of servers) s.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
