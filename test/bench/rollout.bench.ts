/**
 * Deploy request → Deployment applied (the rollout reaches `progressing`: the API server holds
 * the new template), p50/p95 over sequential requests; then 100 requests over 10 targets at once:
 * how long until all settle, and that none is lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, CoreV1Api, AppsV1Api } from '@kubernetes/client-node';
import { PubSubPublisher, pubsubClient } from '../../shared/adapters/pubsub.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { isTerminalPhase } from '../../shared/domain/rollout.ts';
import { uploadVersion } from '../helpers/upload-version.ts';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export async function run(env: Record<string, string>): Promise<Record<string, unknown>> {
  const project = env['GOOGLE_CLOUD_PROJECT']!;
  const publisher = new PubSubPublisher(pubsubClient(project));
  const rollouts = new FirestoreRolloutState(firestoreClient(project));
  const model = `bench-roll-${Date.now().toString(36)}`;
  await uploadVersion(env, model, 'v1');
  const kc = new KubeConfig();
  kc.loadFromFile(env['FERRY_KUBE_ADMIN_KUBECONFIG']!);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const req = (ns: string, name: string, i: number, accel = 'nvidia-l4') => ({
    apiVersion: 'ferry/v1',
    model,
    version: 'v1',
    target: { cluster: 'local', namespace: ns, name },
    accelerator: { type: accel, count: 1 },
    replicas: 1,
    vllmArgs: [`--max-num-seqs=${8 + i}`],
    requestedBy: { source: 'pubsub', principal: 'bench' },
  });
  const waitRollout = async (messageId: string, until: (phase: string) => boolean, timeoutMs = 180_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const id = await rollouts.rolloutIdForMessage(messageId);
      const r = id ? await rollouts.getRollout(id) : undefined;
      if (r && until(r.phase)) return r;
      if (Date.now() > deadline) throw new Error(`rollout for ${messageId} stuck in ${r?.phase ?? 'no rollout'} (${r?.reason ?? ''}: ${r?.message ?? ''})`);
      await sleep(20);
    }
  };

  // 1. Latency, one request at a time (each to its own target, then removed).
  const N = Number(process.env['FERRY_BENCH_ROLLOUTS'] ?? 20);
  const applied: number[] = [];
  const done: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = Date.now();
    const messageId = await publisher.publishJson(env['FERRY_DEPLOY_TOPIC']!, req('ferry-bench-lat', `lat-${i}`, i));
    // Applied = the API server holds a Deployment whose pod template carries this rollout's id.
    const r = await waitRollout(messageId, () => true);
    for (;;) {
      const d = await apps.readNamespacedDeployment({ namespace: 'ferry-bench-lat', name: `lat-${i}` }).catch(() => undefined);
      if (d?.spec?.template.metadata?.annotations?.['ferry.dev/rollout-id'] === r.id) break;
      if (Date.now() - t0 > 120_000) throw new Error(`lat-${i} was never applied`);
      await sleep(10);
    }
    applied.push(Date.now() - t0);
    const fin = await waitRollout(messageId, (p) => isTerminalPhase(p as never));
    done.push(Date.parse(fin.updatedAt) - t0);
    // Free the GPU for the next sample (the simulated cluster has 8 L4s).
    await apps.deleteNamespacedDeployment({ namespace: 'ferry-bench-lat', name: `lat-${i}` }).catch(() => undefined);
  }
  await core.deleteNamespace({ name: 'ferry-bench-lat' }).catch(() => undefined);

  // 2. 100 requests over 10 targets, all published at once (5 targets on L4, 5 on H100).
  const t1 = Date.now();
  const ids = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      publisher.publishJson(env['FERRY_DEPLOY_TOPIC']!, req('ferry-bench-load', `t-${i % 10}`, i, i % 10 < 5 ? 'nvidia-l4' : 'nvidia-h100-80gb')),
    ),
  );
  const finals = await Promise.all(ids.map((m) => waitRollout(m, (p) => isTerminalPhase(p as never))));
  const allSettledMs = Math.max(...finals.map((r) => Date.parse(r.updatedAt))) - t1;
  const distinct = new Map(finals.map((r) => [r.id, r.phase]));
  const phases: Record<string, number> = {};
  for (const p of distinct.values()) phases[p] = (phases[p] ?? 0) + 1;
  await core.deleteNamespace({ name: 'ferry-bench-load' }).catch(() => undefined);
  return {
    sequential: { requests: N, appliedMs: { p50: pct(applied, 50), p95: pct(applied, 95) }, succeededMs: { p50: pct(done, 50), p95: pct(done, 95) } },
    burst: { requests: 100, targets: 10, handled: finals.length, distinctRollouts: distinct.size, phases, allSettledMs },
  };
}
