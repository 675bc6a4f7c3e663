/**
 * Issue #23: a duplicate-event storm costs one listing and one claim, and a late event of an
 * already claimed or finished content costs one document read — no listing of the prefix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { handleCheckpointUpload, type UploadDeps, type UploadOutcome } from '../../../shared/app/checkpoint-upload.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import { MemoryBucket, MemoryCheckpointState, MemoryPublisher } from '../../helpers/memory.ts';
import type { StorageFinalizedEvent } from '../../../shared/domain/events.ts';
import { coverage } from '../../../shared/domain/late-event.ts';
import { newVersionDoc } from '../../../shared/domain/version.ts';
import { contentKey } from '../../../shared/domain/upload.ts';

const LLAMA = join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const PREFIX = 'models/llama/v1/';

/** Counts the reads of the state and the listings of the bucket. */
class CountingState extends MemoryCheckpointState {
  versionReads = 0;
  claimCalls = 0;
  override async getVersion(m: string, v: string) {
    this.versionReads++;
    return super.getVersion(m, v);
  }
  override async claimValidation(...a: Parameters<MemoryCheckpointState['claimValidation']>) {
    this.claimCalls++;
    return super.claimValidation(...a);
  }
}
class CountingBucket extends MemoryBucket {
  lists = 0;
  override async list(prefix: string) {
    this.lists++;
    // A listing is slow in real life: give concurrent deliveries time to pile up behind it.
    await new Promise((r) => setTimeout(r, 5));
    return super.list(prefix);
  }
}

function setup() {
  const bucket = new CountingBucket();
  const state = new CountingState();
  let t = Date.UTC(2026, 11, 6, 12, 0, 0);
  const deps: UploadDeps = {
    objects: () => bucket,
    state,
    publisher: new MemoryPublisher(),
    clock: { now: () => new Date((t += 10)) },
    logger: memoryLogger(),
    config: { modelBuckets: ['b'], modelPrefix: 'models/', validationConcurrency: 4, claimLeaseMs: 60_000, deployTopic: 'deploys' },
  };
  for (const f of readdirSync(LLAMA)) bucket.put(PREFIX + f, readFileSync(join(LLAMA, f)));
  const event = (name: string, id: string): StorageFinalizedEvent => ({
    id,
    source: '//storage.googleapis.com/projects/_/buckets/b',
    type: 'google.cloud.storage.object.v1.finalized',
    data: { bucket: 'b', name, generation: bucket.objects.get(name)!.generation },
  });
  return { bucket, state, deps, event, advance: (ms: number) => (t += ms) };
}

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<UploadOutcome>): Promise<UploadOutcome[]> {
  const out: UploadOutcome[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) out.push(await fn(items[i++]!));
    }),
  );
  return out;
}

test('900 duplicate finalize events at 50 concurrent: one listing, one claim, one validation', async () => {
  const { bucket, state, deps, event } = setup();
  const last = PREFIX + 'config.json';
  const outcomes = await pool(
    Array.from({ length: 900 }, (_, i) => i),
    50,
    (i) => handleCheckpointUpload(event(last, `dup-${i % 3}`), deps),
  );
  assert.equal(outcomes.length, 900);
  assert.equal(outcomes.filter((o) => o.outcome === 'validated').length, 1);
  assert.ok(outcomes.every((o) => o.outcome === 'validated' || o.outcome === 'skipped'));
  assert.equal(bucket.lists, 1, 'the duplicates share the first delivery and then skip after one read');
  assert.equal(state.claimCalls, 1);
  const v = (await state.getVersion('llama', 'v1'))!;
  assert.equal(v.status, 'valid');
  assert.equal(v.validations, 1);
});

test('late events of a validated content skip after one document read, without listing the prefix', async () => {
  const { bucket, state, deps, event } = setup();
  const names = [...bucket.objects.keys()];
  for (const n of names) await handleCheckpointUpload(event(n, `first-${n}`), deps);
  assert.equal((await state.getVersion('llama', 'v1'))?.status, 'valid');
  const lists = bucket.lists;
  const reads = state.versionReads;
  const late = await Promise.all(names.map((n) => handleCheckpointUpload(event(n, `late-${n}`), deps)));
  assert.ok(late.every((o) => o.outcome === 'skipped' && o.reason === 'ALREADY_VALIDATED' && o.gcsRequests === 0));
  assert.equal(bucket.lists, lists, 'no listing');
  assert.equal(state.versionReads - reads, names.length, 'one version read per late event');
});

test('a late event of a content whose claim expired takes the validation over instead of skipping', async () => {
  const { bucket, state, deps, event, advance } = setup();
  const names = [...bucket.objects.keys()];
  // Claim the content, then let the claimer "die": the claim stays running past its lease.
  const ref = { model: 'llama', version: 'v1', uri: 'gs://b/models/llama/v1' };
  const files = names.map((n) => ({ name: n.slice(PREFIX.length), size: bucket.objects.get(n)!.bytes.length, generation: bucket.objects.get(n)!.generation }));
  const key = contentKey(
    'llama',
    'v1',
    files.map((f) => ({ ...f, name: PREFIX + f.name })),
  );
  const claimed = await state.claimValidation(ref, {
    contentKey: key,
    generation: files
      .map((f) => BigInt(f.generation))
      .reduce((a, b) => (a > b ? a : b))
      .toString(),
    files,
    eventId: 'dead',
    now: deps.clock.now(),
    leaseMs: 60_000,
  });
  assert.equal(claimed.action, 'claim');
  const o1 = await handleCheckpointUpload(event(names[0]!, 'while-alive'), deps);
  assert.deepEqual([o1.outcome, o1.outcome === 'skipped' && o1.reason], ['skipped', 'VALIDATION_IN_PROGRESS']);
  advance(61_000);
  const o2 = await handleCheckpointUpload(event(names[0]!, 'after-lease'), deps);
  assert.equal(o2.outcome, 'validated');
  assert.equal((await state.getVersion('llama', 'v1'))?.status, 'valid');
});

test('coverage: only the exact object generation of the current content counts', () => {
  const doc = {
    ...newVersionDoc('m', 'v', 'gs://b/models/m/v', '2026-12-06T00:00:00Z'),
    status: 'valid' as const,
    contentKey: 'k1',
    files: [{ name: 'a.safetensors', size: 1, generation: '5' }],
  };
  assert.deepEqual(coverage(doc, { name: 'a.safetensors', generation: '5' }), { kind: 'finished', contentKey: 'k1', valid: true });
  assert.deepEqual(coverage(doc, { name: 'a.safetensors', generation: '6' }), { kind: 'none' });
  assert.deepEqual(coverage(doc, { name: 'b.safetensors', generation: '5' }), { kind: 'none' });
  assert.deepEqual(coverage({ ...doc, status: 'validating' }, { name: 'a.safetensors', generation: '5' }), { kind: 'running', contentKey: 'k1' });
  assert.deepEqual(coverage({ ...doc, status: 'incomplete' }, { name: 'a.safetensors', generation: '5' }), { kind: 'none' });
  assert.deepEqual(coverage(undefined, { name: 'a.safetensors', generation: '5' }), { kind: 'none' });
});
