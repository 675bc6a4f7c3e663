import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { handleCheckpointUpload, resumeStaleValidations, type UploadDeps } from '../../../shared/app/checkpoint-upload.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { MemoryBucket, MemoryCheckpointState, MemoryPublisher } from '../../helpers/memory.ts';
import type { StorageFinalizedEvent } from '../../../shared/domain/events.ts';
import { parseDeployRequest } from '../../../shared/domain/deploy-request.ts';
import { resolveAccelerator } from '../../../shared/domain/serving-plan.ts';
import { parseGate } from '../../../shared/domain/gate.ts';

const LLAMA = join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const PREFIX = 'models/llama/v1/';

function setup() {
  const bucket = new MemoryBucket();
  const state = new MemoryCheckpointState();
  const publisher = new MemoryPublisher();
  let t = Date.UTC(2026, 10, 21, 12, 0, 0);
  const deps: UploadDeps = {
    objects: () => bucket,
    state,
    publisher,
    clock: { now: () => new Date((t += 1000)) },
    logger: memoryLogger(),
    config: { modelBuckets: ['b'], modelPrefix: 'models/', validationConcurrency: 4, claimLeaseMs: 60_000, deployTopic: 'deploys' },
  };
  const event = (name: string, id = `${name}#${bucket.objects.get(name)?.generation}`): StorageFinalizedEvent => ({
    id,
    source: '//storage.googleapis.com/projects/_/buckets/b',
    type: 'google.cloud.storage.object.v1.finalized',
    data: { bucket: 'b', name, generation: bucket.objects.get(name)?.generation ?? '1' },
  });
  const uploadAll = () => {
    for (const f of readdirSync(LLAMA)) bucket.put(PREFIX + f, readFileSync(join(LLAMA, f)));
  };
  const advance = (ms: number) => (t += ms);
  return { bucket, state, publisher, deps, event, uploadAll, advance };
}

const autodeploy = [{ cluster: 'local', namespace: 'serving', name: 'llama', accelerator: { type: 'nvidia-l4' as const, count: 1 } }];

test('no header is read before the checkpoint is complete: one listing per event', async () => {
  const { bucket, deps, event } = setup();
  bucket.put(PREFIX + 'model-00001-of-00006.safetensors', readFileSync(join(LLAMA, 'model-00001-of-00006.safetensors')));
  const out = await handleCheckpointUpload(event(PREFIX + 'model-00001-of-00006.safetensors'), deps);
  assert.equal(out.outcome, 'incomplete');
  assert.equal(bucket.stats().requests, 1);
  assert.equal(bucket.stats().bytesRead, 0);
});

test('a transient storage error during validation releases the claim and is thrown for redelivery', async () => {
  const { bucket, state, deps, event, uploadAll } = setup();
  uploadAll();
  // Read 1 is the index (the upload gate); read 2 is inside the validation.
  bucket.failures.push({ op: 'read', nth: 2, error: new FerryError('STORAGE_UNAVAILABLE', '503 from GCS', { retryable: true }) });
  const e = event(PREFIX + 'config.json');
  await assert.rejects(handleCheckpointUpload(e, deps), (err: FerryError) => err.code === 'STORAGE_UNAVAILABLE' && err.retryable);
  assert.equal((await state.getVersion('llama', 'v1'))?.status, 'validating');
  // The redelivered event takes the released claim over and finishes: still one content, valid.
  const out = await handleCheckpointUpload(e, deps);
  assert.equal(out.outcome, 'validated');
  const v = (await state.getVersion('llama', 'v1'))!;
  assert.equal(v.status, 'valid');
  assert.equal(v.validations, 2, 'the interrupted attempt is counted as a run');
  assert.deepEqual(
    v.runs.map((r) => r.outcome),
    ['valid', 'valid'],
  );
});

test('a transient error before the claim (reading the index) is thrown with nothing recorded', async () => {
  const { bucket, state, deps, event, uploadAll } = setup();
  uploadAll();
  bucket.failures.push({ op: 'read', error: new FerryError('STORAGE_UNAVAILABLE', '429', { retryable: true }) });
  await assert.rejects(handleCheckpointUpload(event(PREFIX + 'config.json'), deps), (err: FerryError) => err.retryable);
  assert.equal(await state.getVersion('llama', 'v1'), undefined);
  assert.equal(state.claims.size, 0);
});

test('a permanent error (an object gone mid-validation) is recorded on the version and acked', async () => {
  const { bucket, state, deps, event, uploadAll } = setup();
  uploadAll();
  bucket.failures.push({ op: 'read', nth: 2, error: new FerryError('OBJECT_NOT_FOUND', 'model-00003 vanished') });
  const out = await handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  assert.equal(out.outcome, 'validated');
  const v = (await state.getVersion('llama', 'v1'))!;
  assert.equal(v.status, 'invalid');
  assert.equal(v.errors[0]?.code, 'OBJECT_NOT_FOUND');
});

test('a crash while publishing autodeploy requests is finished by the next event, once per target', async () => {
  const { state, publisher, deps, event, uploadAll } = setup();
  await state.setAutodeploy('llama', autodeploy, new Date());
  uploadAll();
  publisher.failures.push(new FerryError('PUBLISH_FAILED', 'Pub/Sub unavailable', { retryable: true }));
  await assert.rejects(handleCheckpointUpload(event(PREFIX + 'config.json'), deps), /Pub\/Sub unavailable/);
  assert.equal(publisher.messages.length, 0);
  assert.equal((await state.getVersion('llama', 'v1'))?.status, 'valid', 'the verdict is stored before publishing');
  // Another event of the version within the lease leaves the requests to the worker that holds them.
  const early = await handleCheckpointUpload(event(PREFIX + 'model-00001-of-00006.safetensors'), deps);
  assert.deepEqual([early.outcome, early.outcome === 'skipped' && early.published], ['skipped', 0]);
  // The holder's own event, redelivered, publishes what is still pending, exactly once.
  const again = await handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  assert.deepEqual([again.outcome, again.outcome === 'skipped' && again.published], ['skipped', 1]);
  const late = await handleCheckpointUpload(event(PREFIX + 'model-00002-of-00006.safetensors'), deps);
  assert.deepEqual([late.outcome, late.outcome === 'skipped' && late.published], ['skipped', 0]);
  assert.equal(publisher.messages.length, 1);
  const msg = publisher.messages[0]!.data as Record<string, unknown>;
  assert.equal(msg['version'], 'v1');
  assert.deepEqual(msg['requestedBy'], { source: 'upload', principal: 'gs://b/models/llama/v1' });
  assert.equal((await state.getVersion('llama', 'v1'))?.validations, 1);
});

test('a late event that arrives while the validating worker publishes does not publish the request again', async () => {
  const { state, publisher, deps, event, uploadAll } = setup();
  await state.setAutodeploy('llama', autodeploy, new Date());
  uploadAll();
  let open!: () => void;
  publisher.gate = new Promise<void>((r) => (open = r));
  const first = handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  await new Promise((r) => setTimeout(r, 20)); // the verdict is stored; the publish is in flight
  assert.equal((await state.getVersion('llama', 'v1'))?.status, 'valid');
  const late = handleCheckpointUpload(event(PREFIX + 'model.safetensors.index.json'), deps);
  open();
  const [a, b] = await Promise.all([first, late]);
  assert.deepEqual([a.outcome, a.outcome === 'validated' && a.published], ['validated', 1]);
  assert.deepEqual([b.outcome, b.outcome === 'skipped' && b.published], ['skipped', 0]);
  assert.equal(publisher.messages.length, 1, 'one deploy request per target, not one per event');
});

test('requests a dead worker left unpublished are taken by any later event once its lease has run out', async () => {
  const { state, publisher, deps, event, uploadAll, advance } = setup();
  await state.setAutodeploy('llama', autodeploy, new Date());
  uploadAll();
  publisher.failures.push(new FerryError('PUBLISH_FAILED', 'instance stopped', { retryable: true }));
  await assert.rejects(handleCheckpointUpload(event(PREFIX + 'config.json'), deps));
  advance(61_000); // claimLeaseMs is 60 s in setup()
  const later = handleCheckpointUpload(event(PREFIX + 'model-00003-of-00006.safetensors'), deps);
  const r = await later;
  assert.deepEqual([r.outcome, r.outcome === 'skipped' && r.published], ['skipped', 1]);
  // Having taken them, that event holds them: the first event's late redelivery finds nothing left.
  const redelivered = await handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  assert.deepEqual([redelivered.outcome, redelivered.outcome === 'skipped' && redelivered.published], ['skipped', 0]);
  assert.equal(publisher.messages.length, 1);
});

test('an invalid checkpoint never publishes a deploy request', async () => {
  const { bucket, state, publisher, deps, event, uploadAll } = setup();
  await state.setAutodeploy('llama', autodeploy, new Date());
  uploadAll();
  const shard = PREFIX + 'model-00004-of-00006.safetensors';
  bucket.put(shard, bucket.objects.get(shard)!.bytes.subarray(0, 1000));
  const out = await handleCheckpointUpload(event(shard), deps);
  assert.equal(out.outcome === 'validated' && out.valid, false);
  assert.equal(publisher.messages.length, 0);
  assert.equal((await state.getModel('llama'))?.latestValid, null);
});

test('a validation whose worker died is resumed by the reconciler once its lease has expired', async () => {
  const { bucket, state, deps, event, uploadAll, advance } = setup();
  uploadAll();
  // The worker reads the index, claims, then its instance dies mid-validation: its shard reads
  // never return, so nothing after the claim is ever released or recorded.
  let reads = 0;
  const dying = Object.assign(Object.create(bucket) as MemoryBucket, {
    read: (name: string, a: number, b: number, g?: string) => (++reads === 1 ? bucket.read(name, a, b, g) : new Promise<Uint8Array>(() => undefined)),
  });
  void handleCheckpointUpload(event(PREFIX + 'config.json'), { ...deps, objects: () => dying });
  for (let i = 0; i < 50 && (await state.getVersion('llama', 'v1'))?.status !== 'validating'; i++) await new Promise((r) => setImmediate(r));
  assert.equal((await state.getVersion('llama', 'v1'))?.status, 'validating');
  assert.deepEqual(await resumeStaleValidations(deps), { resumed: 0, failed: 0 }, 'not while the lease holds');
  advance(61_000);
  assert.deepEqual(await resumeStaleValidations(deps), { resumed: 1, failed: 0 });
  const v = (await state.getVersion('llama', 'v1'))!;
  assert.equal(v.status, 'valid');
  assert.deepEqual(await resumeStaleValidations(deps), { resumed: 0, failed: 0 }, 'nothing left to resume');
});

test('an autodeploy target without an accelerator publishes a request without one: the deploy path sizes it from the checkpoint', async () => {
  const { state, publisher, deps, event, uploadAll } = setup();
  await state.setAutodeploy('llama', [{ cluster: 'local', namespace: 'serving', name: 'llama', replicas: 2 }], new Date());
  uploadAll();
  const out = await handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  assert.equal(out.outcome === 'validated' && out.published, 1);
  const msg = publisher.messages[0]!.data as Record<string, unknown>;
  assert.equal('accelerator' in msg, false);
  assert.equal(msg['replicas'], 2);
  const parsed = parseDeployRequest(JSON.stringify(msg));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  // …and the serving plan the deploy function runs picks an accelerator from the stored summary.
  const sized = resolveAccelerator(parsed.request, (await state.getVersion('llama', 'v1'))!.summary);
  assert.ok(!('reject' in sized) && sized.recommended && sized.request.accelerator !== undefined, JSON.stringify(sized));
});

test("an autodeploy target's promotion gate is copied into the deploy request it publishes", async () => {
  const { state, publisher, deps, event, uploadAll } = setup();
  const gate = parseGate({ prompts: [{ prompt: 'The capital of France is', maxTokens: 8, expect: { contains: 'Paris' } }] });
  assert.ok(gate.ok);
  await state.setAutodeploy('llama', [{ ...autodeploy[0]!, gate: gate.gate }], new Date());
  uploadAll();
  const out = await handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  assert.equal(out.outcome === 'validated' && out.published, 1);
  const parsed = parseDeployRequest(JSON.stringify(publisher.messages[0]!.data));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  assert.deepEqual(parsed.request.gate, gate.gate);
});

test('an event from a bucket ferry does not own is acked as FOREIGN_BUCKET: nothing read, nothing recorded', async () => {
  const { bucket, state, deps } = setup();
  for (const f of readdirSync(LLAMA)) bucket.put(PREFIX + f, readFileSync(join(LLAMA, f)));
  const foreign: StorageFinalizedEvent = {
    id: 'x1',
    source: '//storage.googleapis.com/projects/_/buckets/attacker-bucket',
    type: 'google.cloud.storage.object.v1.finalized',
    data: { bucket: 'attacker-bucket', name: PREFIX + 'config.json', generation: '1' },
  };
  const before = bucket.stats().requests;
  const out = await handleCheckpointUpload(foreign, deps);
  assert.deepEqual(out, { outcome: 'foreign', reason: 'FOREIGN_BUCKET', bucket: 'attacker-bucket' });
  assert.equal(bucket.stats().requests, before, 'the object is never listed or read');
  assert.deepEqual(await state.listModels(), [], 'no model or version recorded');
});

test("a version's URI is built from the configured bucket name", async () => {
  const { state, deps, event, uploadAll } = setup();
  uploadAll();
  await handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  const v = await state.getVersion('llama', 'v1');
  assert.ok(v, 'recorded');
  assert.ok(v.uri.startsWith('gs://b/'), v.uri);
});
