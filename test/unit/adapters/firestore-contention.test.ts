import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Firestore } from '@google-cloud/firestore';
import { firestoreError, runTransaction, isTransactionContention } from '../../../shared/adapters/firestore.ts';

const grpc = (code: number, message: string) => Object.assign(new Error(`${code} ${message}`), { code });

test('contention (ABORTED, or the emulator\'s "Transaction is invalid or closed") is retryable, other invalid arguments are not', () => {
  const closed = grpc(3, 'INVALID_ARGUMENT: Transaction is invalid or closed.');
  assert.ok(isTransactionContention(closed));
  assert.deepEqual([firestoreError(closed, 'admit').code, firestoreError(closed, 'admit').retryable], ['STATE_CONTENTION', true]);
  assert.equal(firestoreError(grpc(10, 'ABORTED: too much contention'), 'admit').retryable, true);
  const bad = firestoreError(grpc(3, 'INVALID_ARGUMENT: a field name is invalid'), 'admit');
  assert.deepEqual([bad.code, bad.retryable], ['STATE_ERROR', false]);
});

test('runTransaction retries a transaction that ended in contention, and gives up on anything else', async () => {
  let calls = 0;
  const flaky = {
    runTransaction: async () => {
      calls++;
      if (calls < 3) throw grpc(3, 'INVALID_ARGUMENT: Transaction is invalid or closed.');
      return 'done';
    },
  } as unknown as Firestore;
  assert.equal(await runTransaction(flaky, async () => 'x'), 'done');
  assert.equal(calls, 3);

  let other = 0;
  const broken = {
    runTransaction: async () => {
      other++;
      throw grpc(7, 'PERMISSION_DENIED');
    },
  } as unknown as Firestore;
  await assert.rejects(
    runTransaction(broken, async () => 'x'),
    /PERMISSION_DENIED/,
  );
  assert.equal(other, 1);
});
