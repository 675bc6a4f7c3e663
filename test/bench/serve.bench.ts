/**
 * Upload finished → first completion answered by the new version, on the local stack with the
 * serving stand-in (docs/serving-sim.md), split into ferry's share and the simulated pod's:
 *   validate  last object written → version `valid` in Firestore (finalize events + header validation),
 *             split (from the local event delivery's records, as the upload bench does) into
 *               deliveryDelay  last object written → the validating event handed to onCheckpointUpload
 *                              (0 when that event was handed over earlier: events of one upload run
 *                              while it goes on, and one of them finds it complete)
 *               ferryOwn       the later of the two → `validatedAt` (listing, claim, headers, writes)
 *               notice         `validatedAt` → the bench seeing `valid` (its 20 ms poll)
 *             (deliveryDelay + ferryOwn + notice = validate.)
 *   admit     deploy request published → Deployment applied with this rollout's id
 *   schedule  applied → the new pod's container started (controllers, scheduler, simulated start overhead)
 *   load      container started → pod Ready (the simulated streamer load + the first probe)
 *   watch     pod Ready → rollout `succeeded` in Firestore (ferry noticing: the next reconcile tick,
 *             or at once when followRollout follows the rollout, as the stack does by default;
 *             FERRY_DEPLOY_FOLLOW_SECONDS=0 npm run bench -- serve measures the tick alone)
 *   answer    first completion through the Service proxy, after `succeeded`
 * ferry's share = validate + admit + watch; simulated = schedule + load (+ answer, the server's).
 * The deploy is published the moment the version is valid, so no human time is counted.
 */
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Storage } from '@google-cloud/storage';
import { KubeConfig, CoreV1Api, AppsV1Api } from '@kubernetes/client-node';
import { PubSubPublisher, pubsubClient } from '../../shared/adapters/pubsub.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import { isTerminalPhase } from '../../shared/domain/rollout.ts';
import { LLAMA_DIR } from '../helpers/upload-version.ts';
import { completeViaService } from '../../infra/local/vllm-sim/client.ts';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function until<T>(what: string, get: () => Promise<T | undefined>, timeoutMs = 180_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

export async function run(env: Record<string, string>): Promise<Record<string, unknown>> {
  const project = env['GOOGLE_CLOUD_PROJECT']!;
  const publisher = new PubSubPublisher(pubsubClient(project));
  const db = firestoreClient(project);
  const versions = new FirestoreCheckpointState(db);
  const rollouts = new FirestoreRolloutState(db);
  const uploader = gcsUploader(env['FERRY_BUCKET']!, new Storage({ projectId: project, apiEndpoint: env['STORAGE_EMULATOR_HOST']! }));
  const kc = new KubeConfig();
  kc.loadFromFile(env['FERRY_KUBE_ADMIN_KUBECONFIG']!);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const model = `bench-serve-${Date.now().toString(36)}`;
  // Inside the local deploy policy's namespaces (infra/local/policy.json: ferry-*).
  const ns = 'ferry-bench-serve';
  const N = Number(process.env['FERRY_BENCH_SERVE_RUNS'] ?? 5);
  const runs: Array<Record<string, number>> = [];
  for (let i = 0; i < N; i++) {
    const version = `v${i + 1}`;
    const prefix = `models/${model}/${version}/`;
    const names = readdirSync(LLAMA_DIR);
    const last = ['model.safetensors.index.json', 'config.json'];
    await Promise.all(names.filter((n) => !last.includes(n)).map((n) => uploader.upload(join(LLAMA_DIR, n), prefix + n)));
    for (const n of last) await uploader.upload(join(LLAMA_DIR, n), prefix + n);
    const tUploaded = Date.now();
    await until(`${version} valid`, async () => ((await versions.getVersion(model, version))?.status === 'valid' ? true : undefined));
    const tValid = Date.now();
    const split = await deliverySplit(env, model, version, prefix, names.length, tUploaded, tValid);
    const messageId = await publisher.publishJson(env['FERRY_DEPLOY_TOPIC']!, {
      apiVersion: 'ferry/v1',
      model,
      version,
      target: { cluster: 'local', namespace: ns, name: 'llama' },
      accelerator: { type: 'nvidia-l4', count: 1 },
      replicas: 1,
      requestedBy: { source: 'pubsub', principal: 'bench' },
    });
    const rolloutId = await until('rollout created', async () => (await rollouts.rolloutIdForMessage(messageId)) ?? undefined);
    await until('applied', async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'llama' });
      return d.spec?.template.metadata?.annotations?.['ferry.dev/rollout-id'] === rolloutId ? true : undefined;
    });
    const tApplied = Date.now();
    const podOf = async () =>
      (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/instance=llama' })).items.find(
        (p) => p.metadata?.annotations?.['ferry.dev/rollout-id'] === rolloutId && !p.metadata?.deletionTimestamp,
      );
    const started = await until('container started', async () => {
      const p = await podOf();
      const s = p?.status?.containerStatuses?.[0]?.state?.running?.startedAt;
      return s ? Date.now() : undefined;
    });
    const ready = await until('pod Ready', async () => {
      const p = await podOf();
      return p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? Date.now() : undefined;
    });
    const fin = await until('rollout finished', async () => {
      const r = await rollouts.getRollout(rolloutId);
      return r && isTerminalPhase(r.phase) ? r : undefined;
    });
    if (fin.phase !== 'succeeded') throw new Error(`rollout ${rolloutId} ended ${fin.phase}: ${fin.message}`);
    const tSucceeded = Date.now();
    const want = `gs://${env['FERRY_BUCKET']}/models/${model}/${version}`;
    const answer = await until('a completion by the new version', async () => {
      const a = await completeViaService(kc, ns, 'llama', { model: want, prompt: 'The ferry', max_tokens: 4, temperature: 0 });
      return a.status === 200 && a.model === want ? a : undefined;
    });
    void answer;
    const tAnswered = Date.now();
    const run = {
      validate: tValid - tUploaded,
      admit: tApplied - tValid,
      schedule: started - tApplied,
      load: ready - started,
      watch: Math.max(0, tSucceeded - ready),
      answer: tAnswered - tSucceeded,
      total: tAnswered - tUploaded,
    };
    runs.push({ ...run, ...split, ferry: run.validate + run.admit + run.watch, simulated: run.schedule + run.load + run.answer });
  }
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
  const keys = ['total', 'ferry', 'simulated', 'validate', 'admit', 'schedule', 'load', 'watch', 'answer', ...SPLIT_KEYS];
  return {
    runs: N,
    ms: Object.fromEntries(
      keys.map((k) => [
        k,
        {
          p50: pct(
            runs.map((r) => r[k] ?? NaN),
            50,
          ),
          max: Math.max(...runs.map((r) => r[k] ?? NaN)),
        },
      ]),
    ),
    goal: 'ferry share <= 2000 ms',
    // followRollout follows the rollout (watch) unless this is 0 in the stack's environment (default 480).
    followSeconds: Number(process.env['FERRY_DEPLOY_FOLLOW_SECONDS'] ?? 480),
    // Every run, in order: the first pays the functions' cold paths (lazy SDK loads, first connections).
    each: runs,
  };
}

const SPLIT_KEYS = ['lastWriteToQueued', 'deliveryDelay', 'ferryOwn', 'notice', 'eventsRetried'] as const;

interface DeliveryRecord {
  id: string;
  enqueuedAt: number;
  lastAttemptAt: number | null;
  state: string;
  attempts: number;
}

/**
 * The `validate` step split by the local event delivery's records (FERRY_EVENTS_URL, as
 * upload.bench.ts does): which event validated comes from the function's `event handled` log line.
 */
async function deliverySplit(
  env: Record<string, string>,
  model: string,
  version: string,
  prefix: string,
  files: number,
  tUploaded: number,
  tValid: number,
): Promise<Partial<Record<(typeof SPLIT_KEYS)[number], number>>> {
  const url = env['FERRY_EVENTS_URL'];
  if (!url) return {};
  const doc = await new FirestoreCheckpointState(firestoreClient(env['GOOGLE_CLOUD_PROJECT']!)).getVersion(model, version);
  const validAt = Date.parse(doc?.validatedAt ?? '');
  let recs: DeliveryRecord[];
  const deadline = Date.now() + 30_000;
  do {
    recs = (await (await fetch(`${url}/deliveries?prefix=${encodeURIComponent(prefix)}`)).json()) as DeliveryRecord[];
    if (recs.length >= files && recs.every((r) => r.state === 'delivered')) break;
    await sleep(100);
  } while (Date.now() < deadline);
  let validating: string | undefined;
  for (const line of readFileSync(join(env['FERRY_STACK_DIR']!, 'logs', 'functions.log'), 'utf8').split('\n')) {
    if (!line.includes(model) || !line.includes('"event handled"')) continue;
    const e = JSON.parse(line) as { eventId?: string; result?: { outcome?: string; ref?: { version?: string } } };
    if (e.result?.outcome === 'validated' && e.result.ref?.version === version) validating = e.eventId;
  }
  const v = recs.find((r) => r.id === validating);
  if (!recs.length || !v?.lastAttemptAt || Number.isNaN(validAt)) return {};
  const lastQueued = Math.max(...recs.map((r) => r.enqueuedAt));
  return {
    lastWriteToQueued: lastQueued - tUploaded,
    deliveryDelay: Math.max(0, v.lastAttemptAt - tUploaded),
    ferryOwn: validAt - Math.max(v.lastAttemptAt, tUploaded),
    notice: tValid - validAt,
    eventsRetried: recs.filter((r) => r.attempts > 1).length,
  };
}
