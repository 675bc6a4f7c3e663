/**
 * FERRY_POLICY_DATABASE: the deploy policy's Firestore database (infra/firestore.tf gives it one of
 * its own that the functions may only read). Parsed once with the other Settings: `(default)` when
 * unset, a Firestore database id otherwise, anything else refused at start with CONFIG_INVALID.
 * The policy store opens that database; every other store stays on `(default)`. No request is made:
 * building a Firestore client does not connect (the emulator check is in test/integration/policy.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Firestore } from '@google-cloud/firestore';
import { parseConfig, Settings } from '../../../shared/config.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { policyStore } from '../../../shared/composition/functions.ts';
import { firestoreClient } from '../../../shared/adapters/firestore.ts';
import { FirestorePolicyStore } from '../../../shared/adapters/firestore-policy.ts';

const ENV = { GOOGLE_CLOUD_PROJECT: 'demo-ferry' };

test('unset: the (default) database, as before the policy had one of its own', () => {
  assert.equal(parseConfig(Settings, ENV).FERRY_POLICY_DATABASE, '(default)');
});

test('a Firestore database id is accepted as is', () => {
  for (const id of ['ferry-policy', 'pol1', 'a-policy', '(default)'])
    assert.equal(parseConfig(Settings, { ...ENV, FERRY_POLICY_DATABASE: id }).FERRY_POLICY_DATABASE, id);
});

test('anything that is not a database id stops the start with CONFIG_INVALID naming the variable', () => {
  // Database ids: 4-63 chars of a-z, 0-9 and '-', starting with a letter, not ending with '-'.
  for (const bad of ['Ferry-Policy', 'abc', 'policy-', '1policy', 'ferry_policy', `p${'x'.repeat(63)}`, '']) {
    assert.throws(
      () => parseConfig(Settings, { ...ENV, FERRY_POLICY_DATABASE: bad }),
      (e: unknown) => e instanceof FerryError && e.code === 'CONFIG_INVALID' && e.message.includes('FERRY_POLICY_DATABASE'),
      JSON.stringify(bad),
    );
  }
});

test('the policy store opens FERRY_POLICY_DATABASE; the shared client stays on (default)', () => {
  const s = parseConfig(Settings, { ...ENV, FERRY_POLICY_DATABASE: 'ferry-policy' });
  const db = (policyStore(s) as unknown as { db: Firestore }).db;
  assert.equal(db.databaseId, 'ferry-policy');
  assert.equal(firestoreClient(s.GOOGLE_CLOUD_PROJECT).databaseId, '(default)');
  // One client per database and process, like the (default) one.
  assert.equal((policyStore(s) as unknown as { db: Firestore }).db, db);
  assert.equal(firestoreClient(s.GOOGLE_CLOUD_PROJECT, 'ferry-policy'), db);
});

test('a refused write (not a policy admin) says who may change the policy, not "give the function…"', async () => {
  // What the client library rejects with when IAM refuses: gRPC status 7, PERMISSION_DENIED.
  const denied = Object.assign(new Error('7 PERMISSION_DENIED: Missing or insufficient permissions.'), { code: 7 });
  const db = { runTransaction: () => Promise.reject(denied) } as unknown as Firestore;
  await assert.rejects(
    new FirestorePolicyStore(db).replace({ policy: {}, expectedVersion: null, by: 'test', now: new Date(0), diff: [] }),
    (e: unknown) => e instanceof FerryError && e.code === 'STATE_FORBIDDEN' && /policy_admins/.test(e.hint) && e.cause === denied,
  );
});
