/**
 * Issue #23 against the real Firestore emulator: 900 duplicate finalize events at 50 concurrent,
 * spread over six "instances" (each its own FirestoreCheckpointState and client, so the in-process
 * single flight cannot hide the cross-instance contention), all answer — acked, or refused with a
 * retryable error that Eventarc redelivers — and make exactly one validation. Objects come from an
 * in-memory bucket: what is under test is the claim on Firestore, not the Storage emulator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { FirestoreCheckpointState, newFirestoreClient } from '../../shared/adapters/firestore.ts';
import { handleCheckpointUpload, type UploadDeps } from '../../shared/app/checkpoint-upload.ts';
import { memoryLogger } from '../../shared/adapters/logging.ts';
import { FerryError } from '../../shared/domain/errors.ts';
import { MemoryBucket, MemoryPublisher } from '../helpers/memory.ts';
import type { StorageFinalizedEvent } from '../../shared/domain/events.ts';

const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST');
const LLAMA = join(import.meta.dirname, '..', 'fixtures', 'checkpoints', 'llama-sharded');

test('900 duplicate finalize events at 50 concurrent over six instances: all answered, one validation', { timeout: 600_000 }, async () => {
  const model = uniqueName('storm');
  const prefix = `models/${model}/v1/`;
  const bucket = new MemoryBucket();
  for (const f of readdirSync(LLAMA)) bucket.put(prefix + f, readFileSync(join(LLAMA, f)));
  const clients = Array.from({ length: 6 }, () => newFirestoreClient(env.GOOGLE_CLOUD_PROJECT));
  const instances: UploadDeps[] = clients.map((db) => ({
    objects: () => bucket,
    state: new FirestoreCheckpointState(db),
    publisher: new MemoryPublisher(),
    clock: { now: () => new Date() },
    logger: memoryLogger(),
    config: { modelBuckets: ['b'], modelPrefix: 'models/', validationConcurrency: 4, claimLeaseMs: 60_000, deployTopic: 'deploys' },
  }));
  const name = prefix + 'config.json';
  const event = (i: number): StorageFinalizedEvent => ({
    id: `storm-${i % 5}`,
    source: '//storage.googleapis.com/projects/_/buckets/b',
    type: 'google.cloud.storage.object.v1.finalized',
    data: { bucket: 'b', name, generation: bucket.objects.get(name)!.generation },
  });
  try {
    let pending = Array.from({ length: 900 }, (_, i) => i);
    const tally = { acked: 0, retryable: 0, other: [] as string[] };
    // Eventarc redelivers what was refused; a few rounds must drain the storm.
    for (let round = 0; round < 5 && pending.length; round++) {
      const refused: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < pending.length) {
            const i = pending[next++]!;
            try {
              await handleCheckpointUpload(event(i), instances[i % instances.length]!);
              tally.acked++;
            } catch (e) {
              if (e instanceof FerryError && e.retryable) {
                tally.retryable++;
                refused.push(i);
              } else tally.other.push(String(e));
            }
          }
        }),
      );
      pending = refused;
    }
    assert.deepEqual(tally.other, [], 'no delivery failed for good');
    assert.equal(pending.length, 0, `still refused after 5 rounds: ${pending.length} (retryable refusals: ${tally.retryable})`);
    assert.equal(tally.acked, 900);
    const v = await (instances[0]!.state as FirestoreCheckpointState).getVersion(model, 'v1');
    assert.equal(v?.status, 'valid');
    assert.equal(v?.validations, 1);
    assert.equal(v?.runs.length, 1);
  } finally {
    await Promise.all(clients.map((c) => c.terminate()));
  }
});
