/**
 * Deploy-request admission against the Firestore emulator: duplicates (a known message id, a known
 * idempotency key, a spec already in flight or on the target) are answered without a transaction on
 * the target, and exactly one rollout exists per (target, request) however many arrive at once.
 * Found by `npm run soak -- load`: 60 concurrent pushes of one spec each opened a transaction on the
 * target document and the last was answered after 146 s.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { rolloutDoc, at } from '../helpers/console-data.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import type { Rollout } from '../../shared/domain/rollout.ts';

const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST');
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
let transactions = 0;
const run = db.runTransaction.bind(db);
db.runTransaction = ((...args: Parameters<typeof run>) => {
  transactions++;
  return run(...args);
}) as typeof db.runTransaction;
const state = new FirestoreRolloutState(db);
after(() => db.terminate());

const admit = (rollout: Rollout, messageId: string, idempotencyKey?: string) =>
  state.admit({ messageId, idempotencyKey, rollout, now: new Date(), supersede: (q) => q });

const pending = (target: string, id = uniqueName('ro')) => rolloutDoc(id, { model: 'llama', version: 'v1', target, createdAt: at(0), path: [] });

test('40 concurrent requests for a spec already in flight: all duplicates of that rollout, no transaction', async () => {
  const target = uniqueName('dup-spec');
  const first = await admit(pending(target), uniqueName('m'));
  assert.equal(first.outcome, 'admitted');
  const id = first.outcome === 'admitted' ? first.rollout.id : '';
  const before = transactions;
  const outs = await Promise.all(Array.from({ length: 40 }, () => admit(pending(target), uniqueName('m'))));
  assert.equal(transactions - before, 0, 'duplicates were decided from plain reads');
  for (const o of outs) assert.deepEqual(o, { outcome: 'duplicate', by: 'specDigest', rolloutId: id });
  const all = await state.listRollouts({ targetKey: `local~default~${target}` });
  assert.equal(all.length, 1);
});

test('a redelivered message id and a known idempotency key are duplicates without a transaction', async () => {
  const target = uniqueName('dup-key');
  const key = uniqueName('key');
  const msg = uniqueName('m');
  const first = await admit(pending(target), msg, key);
  assert.equal(first.outcome, 'admitted');
  const id = first.outcome === 'admitted' ? first.rollout.id : '';
  const before = transactions;
  const again = await Promise.all(Array.from({ length: 10 }, () => admit(pending(target), msg, key)));
  for (const o of again) assert.deepEqual(o, { outcome: 'duplicate', by: 'messageId', rolloutId: id });
  // A new message with the key: a different spec (another target) still maps to the first rollout.
  const other = pending(uniqueName('elsewhere'));
  const keyed = await Promise.all(Array.from({ length: 10 }, () => admit(other, uniqueName('m'), key)));
  for (const o of keyed) assert.deepEqual(o, { outcome: 'duplicate', by: 'idempotencyKey', rolloutId: id });
  assert.equal(transactions - before, 0);
  assert.equal((await state.listRollouts({ targetKey: other.targetKey })).length, 0, 'nothing admitted for the keyed duplicates');
});

test('the same new message delivered 10 times at once: one rollout, every answer names it', async () => {
  const target = uniqueName('race');
  const msg = uniqueName('m');
  const outs = await Promise.all(Array.from({ length: 10 }, () => admit(pending(target), msg)));
  const admitted = outs.filter((o) => o.outcome === 'admitted');
  assert.equal(admitted.length, 1, JSON.stringify(outs));
  const id = admitted[0]!.outcome === 'admitted' ? admitted[0]!.rollout.id : '';
  for (const o of outs) if (o.outcome === 'duplicate') assert.equal(o.rolloutId, id);
  assert.equal((await state.listRollouts({ targetKey: `local~default~${target}` })).length, 1);
});

test('30 first-time requests for one spec at once: one transaction decides, the rest are duplicates of it', async () => {
  const target = uniqueName('burst');
  const before = transactions;
  const outs = await Promise.all(Array.from({ length: 30 }, () => admit(pending(target), uniqueName('m'))));
  const admitted = outs.filter((o) => o.outcome === 'admitted');
  assert.equal(admitted.length, 1, JSON.stringify(outs));
  const id = admitted[0]!.outcome === 'admitted' ? admitted[0]!.rollout.id : '';
  for (const o of outs) if (o.outcome === 'duplicate') assert.deepEqual(o, { outcome: 'duplicate', by: 'specDigest', rolloutId: id });
  assert.equal(transactions - before, 1, 'the others waited for the first and read its outcome');
  assert.equal((await state.listRollouts({ targetKey: `local~default~${target}` })).length, 1);
});
