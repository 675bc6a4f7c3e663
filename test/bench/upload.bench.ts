/**
 * A 200-shard checkpoint uploaded all at once, in random order, to the local stack: how many
 * validations (must be 1), how many GCS requests the upload function made in all (counted per
 * event by the function itself and summed from its log), and the time from the last finalize to
 * `valid`, split (from the local event delivery's records, FERRY_EVENTS_URL) into the delivery's
 * part — the last-finalized object's event waiting to be handed over — and ferry's own part, from
 * that event reaching onCheckpointUpload to `valid`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Storage } from '@google-cloud/storage';
import { makeCheckpoint } from './synthetic.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';

export async function run(env: Record<string, string>, shards = Number(process.env['FERRY_BENCH_UPLOAD_SHARDS'] ?? 200)): Promise<Record<string, unknown>> {
  const storage = new Storage({ projectId: env['GOOGLE_CLOUD_PROJECT']!, apiEndpoint: env['STORAGE_EMULATOR_HOST']! });
  const bucket = storage.bucket(env['FERRY_BUCKET']!);
  const state = new FirestoreCheckpointState(firestoreClient(env['GOOGLE_CLOUD_PROJECT']!));
  const model = `bench-upload-${Date.now().toString(36)}`;
  const prefix = `models/${model}/v1/`;
  const { files } = makeCheckpoint(shards, 8, 4096);
  const shuffled = files
    .map((f) => [Math.random(), f] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, f]) => f);
  const t0 = Date.now();
  let lastFinalize = 0;
  const queue = [...shuffled];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        await bucket.file(prefix + f.name).save(Buffer.from(f.bytes), { resumable: false });
        lastFinalize = Math.max(lastFinalize, Date.now());
      }
    }),
  );
  const uploadMs = lastFinalize - t0;
  let doc;
  for (;;) {
    doc = await state.getVersion(model, 'v1');
    if (doc && (doc.status === 'valid' || doc.status === 'invalid')) break;
    if (Date.now() - lastFinalize > 120_000) throw new Error(`not validated 120 s after the last finalize: ${JSON.stringify(doc?.status)}`);
    await sleep(50);
  }
  const validMs = Date.parse(doc.validatedAt!) - lastFinalize;
  // Every event of this model, as the function logged it (FERRY_LOG_LEVEL=debug in the stack).
  await sleep(3000); // late duplicate-free events still in flight
  const log = readFileSync(join(env['FERRY_STACK_DIR']!, 'logs', 'functions.log'), 'utf8').split('\n');
  let events = 0;
  let requests = 0;
  let validatingEvent: string | undefined;
  const outcomes: Record<string, number> = {};
  for (const line of log) {
    if (!line.includes(model) || !line.includes('"event handled"')) continue;
    const e = JSON.parse(line) as { eventId?: string; result?: { outcome: string; gcsRequests?: number } };
    if (!e.result) continue;
    if (e.result.outcome === 'validated') validatingEvent = e.eventId;
    events++;
    requests += e.result.gcsRequests ?? 0;
    outcomes[e.result.outcome] = (outcomes[e.result.outcome] ?? 0) + 1;
  }
  const summary = doc.summary as { io?: { requests: number } };
  const split = await deliverySplit(env, prefix, Date.parse(doc.validatedAt!), validatingEvent, files.length);
  return {
    shards,
    files: files.length,
    status: doc.status,
    validations: doc.validations,
    uploadMs,
    lastFinalizeToValidMs: validMs,
    ...split,
    eventsHandled: events,
    outcomes,
    gcsRequestsTotal: requests,
    gcsRequestsPerFile: Number((requests / files.length).toFixed(2)),
    validationRequests: summary.io?.requests,
  };
}

interface DeliveryRecord {
  id: string;
  enqueuedAt: number;
  lastAttemptAt: number | null;
  lastAttemptMs: number | null;
  attempts: number;
  state: string;
}

/**
 * The event delivery's share of last finalize → valid, and ferry's own: the delivery's delay is from
 * the last event being queued (the upload's last finalize) to the validating event being handed to
 * onCheckpointUpload; ferry's own is from then to `valid`. Waits (bounded) for every event to be delivered.
 */
async function deliverySplit(
  env: Record<string, string>,
  prefix: string,
  validAt: number,
  validatingEvent: string | undefined,
  files: number,
): Promise<Record<string, number | null>> {
  const url = env['FERRY_EVENTS_URL'];
  if (!url) return { deliveryDelayMs: null, ferryOwnMs: null };
  let recs: DeliveryRecord[];
  const deadline = Date.now() + 180_000;
  do {
    recs = (await (await fetch(`${url}/deliveries?prefix=${encodeURIComponent(prefix)}`)).json()) as DeliveryRecord[];
    if (recs.length >= files && recs.every((r) => r.state === 'delivered')) break;
    await sleep(500);
  } while (Date.now() < deadline);
  if (!recs.length) return { deliveryDelayMs: null, ferryOwnMs: null };
  const lastQueued = Math.max(...recs.map((r) => r.enqueuedAt));
  const v = recs.find((r) => r.id === validatingEvent);
  const waits = recs.map((r) => (r.lastAttemptAt ?? r.enqueuedAt) - r.enqueuedAt).sort((a, b) => a - b);
  const fn = recs.map((r) => r.lastAttemptMs ?? 0).sort((a, b) => a - b);
  return {
    eventsDelivered: recs.filter((r) => r.state === 'delivered').length,
    eventsRetried: recs.filter((r) => r.attempts > 1).length,
    deliveryDelayMs: v?.lastAttemptAt ? Math.max(0, v.lastAttemptAt - lastQueued) : null,
    ferryOwnMs: v?.lastAttemptAt ? validAt - v.lastAttemptAt : null,
    queueWaitP50Ms: waits[Math.floor(waits.length / 2)] ?? null,
    queueWaitMaxMs: waits[waits.length - 1] ?? null,
    functionMsP50: fn[Math.floor(fn.length / 2)] ?? null,
    functionMsMax: fn[fn.length - 1] ?? null,
  };
}
