/**
 * A local stack that tells the truth (issue #23): `ferry: ready` only after every path carried one
 * real message end to end. (While it runs, watch-pieces.ts restarts a dead functions host or stops
 * the stack naming the dead piece.)
 *
 *  - Storage → onCheckpointUpload: a canary object (outside the models/ prefix, so ferry answers
 *    "ignored" with 2xx) is written to the Storage emulator, and the event delivery must report its
 *    finalize event delivered — acknowledged by onCheckpointUpload itself.
 *  - Pub/Sub push: a message published to a canary topic must reach a push subscriber (a loopback
 *    endpoint in this process: it proves the emulator's push delivery, which the functions share).
 *  - Kubernetes: the apiserver answers a node listing and the simulator's nodes are Ready.
 */
import { createServer, type Server } from 'node:http';
import { Storage } from '@google-cloud/storage';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { freeStablePort } from './proc.ts';

export interface PathCheck {
  path: string;
  ok: boolean;
  ms: number;
  detail: string;
}

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Delivery {
  name: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
}

/** Writes a canary object and waits until onCheckpointUpload acknowledged its finalize event. */
export async function checkStoragePath(env: Record<string, string>, timeoutMs = 60_000): Promise<PathCheck> {
  const t0 = Date.now();
  const eventsUrl = env['FERRY_EVENTS_URL'];
  if (!eventsUrl) return { path: 'storage → onCheckpointUpload', ok: false, ms: 0, detail: 'no event delivery (FERRY_EVENTS_URL unset)' };
  const storage = new Storage({ projectId: env['GOOGLE_CLOUD_PROJECT']!, apiEndpoint: env['STORAGE_EMULATOR_HOST']! });
  const name = `ferry-canary/${Date.now()}-${Math.random().toString(36).slice(2, 8)}.txt`;
  await storage.bucket(env['FERRY_BUCKET']!).file(name).save(`canary ${new Date().toISOString()}`, { resumable: false });
  try {
    const d = await poll(`the canary's finalize event reaching onCheckpointUpload`, timeoutMs, async () => {
      const res = await fetch(`${eventsUrl}/deliveries?prefix=${encodeURIComponent(name)}`, { signal: AbortSignal.timeout(2000) });
      const [rec] = (await res.json()) as Delivery[];
      return rec?.state === 'delivered' ? rec : undefined;
    });
    return { path: 'storage → onCheckpointUpload', ok: true, ms: Date.now() - t0, detail: `gs://${env['FERRY_BUCKET']}/${name} acked ${d.lastStatus}` };
  } catch (e) {
    return { path: 'storage → onCheckpointUpload', ok: false, ms: Date.now() - t0, detail: String((e as Error).message) };
  }
}

/** Publishes to a canary topic whose push subscription points at a loopback endpoint here. */
export async function checkPubSubPath(env: Record<string, string>, timeoutMs = 60_000): Promise<PathCheck> {
  const t0 = Date.now();
  const pubsub = new PubSub({ projectId: env['GOOGLE_CLOUD_PROJECT']!, apiEndpoint: env['PUBSUB_EMULATOR_HOST']! });
  const got = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: { messageId?: string } };
        if (body.message?.messageId) got.add(body.message.messageId);
      } catch {
        /* not a push body */
      }
      res.writeHead(204).end();
    });
  });
  const port = await freeStablePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const topicName = `ferry-canary-${Date.now().toString(36)}`;
  try {
    const [topic] = await pubsub.topic(topicName).get({ autoCreate: true });
    const [sub] = await topic.createSubscription(`${topicName}-push`, { pushConfig: { pushEndpoint: `http://127.0.0.1:${port}/` }, ackDeadlineSeconds: 10 });
    const id = await topic.publishMessage({ json: { canary: true } });
    try {
      await poll('the canary message reaching its push subscriber', timeoutMs, async () => (got.has(id) ? true : undefined));
      return { path: 'pub/sub → push subscriber', ok: true, ms: Date.now() - t0, detail: `message ${id} pushed` };
    } finally {
      await sub.delete().catch(() => undefined);
      await topic.delete().catch(() => undefined);
    }
  } catch (e) {
    return { path: 'pub/sub → push subscriber', ok: false, ms: Date.now() - t0, detail: String((e as Error).message) };
  } finally {
    server.close();
    await pubsub.close().catch(() => undefined);
  }
}

/** The apiserver answers and the node simulator's nodes are Ready. */
export async function checkKubePath(adminKubeconfig: string, timeoutMs = 30_000): Promise<PathCheck> {
  const t0 = Date.now();
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  try {
    const ready = await poll('Ready simulated nodes', timeoutMs, async () => {
      const nodes = await core.listNode();
      const n = nodes.items.filter((x) => x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      return n > 0 ? n : undefined;
    });
    return { path: 'kube-apiserver + node simulator', ok: true, ms: Date.now() - t0, detail: `${ready} Ready node(s)` };
  } catch (e) {
    return { path: 'kube-apiserver + node simulator', ok: false, ms: Date.now() - t0, detail: String((e as Error).message) };
  }
}

/** Every path, in parallel; throws naming each one that carried nothing. */
export async function provePaths(env: Record<string, string>, log: (m: string) => void): Promise<PathCheck[]> {
  const checks = await Promise.all([checkStoragePath(env), checkPubSubPath(env), checkKubePath(env['FERRY_KUBE_ADMIN_KUBECONFIG']!)]);
  for (const c of checks) log(`path ${c.ok ? 'ok' : 'DEAD'}: ${c.path} (${c.ms} ms; ${c.detail})`);
  const dead = checks.filter((c) => !c.ok);
  if (dead.length) throw new Error(`not ready: ${dead.map((c) => `${c.path}: ${c.detail}`).join('; ')}`);
  return checks;
}
