/**
 * Issue #23: large legal headers must not kill a 512 MiB function. A header above ferry's
 * validation limit is refused with its own code after reading its 8-byte length only; headers
 * being parsed at once share a byte budget; a content whose workers keep dying is abandoned after
 * MAX_CLAIM_ATTEMPTS claims with VALIDATION_ATTEMPTS_EXHAUSTED.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteBudget, readShardHeader } from '../../../shared/app/validate-checkpoint.ts';
import { handleCheckpointUpload, MAX_CLAIM_ATTEMPTS, type UploadDeps } from '../../../shared/app/checkpoint-upload.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import { MemoryBucket, MemoryCheckpointState, MemoryPublisher } from '../../helpers/memory.ts';
import { contentKey } from '../../../shared/domain/upload.ts';

function shardWithHeaderLength(n: number): Uint8Array {
  // Only the length prefix and a little of the header are real: the validator must not read further.
  const bytes = new Uint8Array(8 + 1024);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
  bytes.set(new TextEncoder().encode('{"__metadata__":{"k":"'), 8);
  return bytes;
}

test('a legal header above the validation limit is refused with its own code, without reading it', async () => {
  const bucket = new MemoryBucket();
  const n = 95_000_000;
  const bytes = shardWithHeaderLength(n);
  const gen = bucket.put('m/model.safetensors', bytes);
  // The listing says the object is as large as its header claims (the bucket holds just the start).
  const file = { name: 'model.safetensors', size: 8 + n + 2, generation: gen };
  const readsBefore = bucket.stats();
  const r = await readShardHeader(
    {
      ...bucket,
      stats: () => bucket.stats(),
      read: (o: string, a: number, b: number, g?: string) => bucket.read(o, a, Math.min(b, bytes.length), g),
    } as MemoryBucket,
    'm/model.safetensors',
    file,
    1024,
  );
  assert.equal(r.ok, false);
  assert.deepEqual(
    r.findings.map((f) => f.code),
    ['HEADER_TOO_LARGE_TO_VALIDATE'],
  );
  assert.equal(r.headerBytes, n);
  assert.ok(bucket.stats().bytesRead - readsBefore.bytesRead <= 1024, 'only the first read');
});

test('the byte budget admits headers in order and never more than its capacity at once (one alone always)', async () => {
  const budget = new ByteBudget(10);
  const order: string[] = [];
  const r1 = await budget.acquire(6);
  const p2 = budget.acquire(6).then((rel) => (order.push('b'), rel));
  const p3 = budget.acquire(3).then((rel) => (order.push('c'), rel));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'b does not fit beside a; c waits behind b (first come, first served)');
  assert.equal(budget.inUse, 6);
  r1();
  const r2 = await p2;
  const r3 = await p3;
  assert.deepEqual(order, ['b', 'c']);
  assert.equal(budget.inUse, 9);
  r2();
  r3();
  r3(); // a second release is harmless
  assert.equal(budget.inUse, 0);
  const big = await budget.acquire(50); // above capacity: admitted alone
  assert.equal(budget.inUse, 10);
  big();
});

test(`a content whose workers died ${MAX_CLAIM_ATTEMPTS} times is abandoned with VALIDATION_ATTEMPTS_EXHAUSTED`, async () => {
  const LLAMA = join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
  const PREFIX = 'models/llama/v1/';
  const bucket = new MemoryBucket();
  for (const f of readdirSync(LLAMA)) bucket.put(PREFIX + f, readFileSync(join(LLAMA, f)));
  const state = new MemoryCheckpointState();
  let t = Date.UTC(2026, 11, 6, 12, 0, 0);
  const deps: UploadDeps = {
    objects: () => bucket,
    state,
    publisher: new MemoryPublisher(),
    clock: { now: () => new Date((t += 10)) },
    logger: memoryLogger(),
    config: { modelBuckets: ['b'], modelPrefix: 'models/', validationConcurrency: 4, claimLeaseMs: 60_000, deployTopic: 'deploys' },
  };
  const ref = { model: 'llama', version: 'v1', uri: 'gs://b/models/llama/v1' };
  const listed = [...bucket.objects].map(([name, o]) => ({ name, size: o.bytes.length, generation: o.generation }));
  const key = contentKey('llama', 'v1', listed);
  const files = listed.map((f) => ({ ...f, name: f.name.slice(PREFIX.length) }));
  const generation = listed
    .map((f) => BigInt(f.generation))
    .reduce((a, b) => (a > b ? a : b))
    .toString();
  // Three workers claim the content and die (their leases run out).
  for (let i = 0; i < MAX_CLAIM_ATTEMPTS; i++) {
    const d = await state.claimValidation(ref, { contentKey: key, generation, files, eventId: `dead-${i}`, now: new Date((t += 10)), leaseMs: 60_000 });
    assert.equal(d.action, 'claim');
    t += 61_000;
  }
  const name = PREFIX + 'config.json';
  const o = await handleCheckpointUpload(
    {
      id: 'next',
      source: '//storage.googleapis.com/projects/_/buckets/b',
      type: 'google.cloud.storage.object.v1.finalized',
      data: { bucket: 'b', name, generation: bucket.objects.get(name)!.generation },
    },
    deps,
  );
  assert.equal(o.outcome, 'validated');
  assert.equal(o.outcome === 'validated' && o.valid, false);
  const v = (await state.getVersion('llama', 'v1'))!;
  assert.equal(v.status, 'invalid');
  assert.deepEqual(
    v.errors.map((e) => e.code),
    ['VALIDATION_ATTEMPTS_EXHAUSTED'],
  );
});
