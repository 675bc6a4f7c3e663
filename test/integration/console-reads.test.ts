/**
 * The console's batched reads on the Firestore adapters against the emulator: every version's
 * brief in one collection-group query (with select(): only the brief's fields come back), sizes of
 * some versions in one BatchGetDocuments with a field mask, rollouts by id in one batch. A
 * `versions` collection outside models/ is not read as a version.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { checkConsoleReads } from '../helpers/console-reads-contract.ts';

const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST');
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const versions = new FirestoreCheckpointState(db);
const rollouts = new FirestoreRolloutState(db);
const PREFIX = uniqueName('creads').toLowerCase();
const written = new Set<string>(); // document paths to delete afterwards

after(async () => {
  await Promise.all([...written].map((path) => db.recursiveDelete(db.doc(path))));
});

test('Firestore: version briefs, sizes of some versions and rollouts by id, each in one read', async () => {
  // A stray `versions` collection elsewhere: the collection-group query sees it, the adapter leaves it out.
  const stray = db.collection('elsewhere').doc(PREFIX);
  written.add(stray.path);
  await stray
    .collection('versions')
    .doc('v1')
    .set({ model: `${PREFIX}-a`, version: 'stray', status: 'valid', createdAt: 'x' });

  await checkConsoleReads(
    {
      versions,
      rollouts,
      seed: async (d) => {
        const batch = db.batch();
        for (const v of d.versions) batch.set(db.collection('models').doc(v.model).collection('versions').doc(v.version), v);
        for (const r of d.rollouts) batch.set(db.collection('rollouts').doc(r.id), r);
        await batch.commit();
        for (const v of d.versions) written.add(`models/${v.model}`);
        for (const r of d.rollouts) written.add(`rollouts/${r.id}`);
      },
    },
    PREFIX,
  );
  assert.ok(!(await versions.listVersionBriefs()).some((v) => v.version === 'stray'));
});
