/**
 * `ferry migrate` against the Firestore emulator: documents written under the old key spellings
 * (autodeploy targets pending on a validation claim as `cluster|namespace|name`, scaledDownClusters
 * ids `project~location~cluster`) are moved to the keys names.ts builds; a dry run writes nothing;
 * a second run changes nothing; what ferry reads afterwards finds the migrated documents; a
 * document that cannot be migrated is reported, left alone, and makes the command exit 1.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { FirestoreTeardownStore } from '../../shared/adapters/firestore-teardown.ts';
import { migrateFirestore, type MigrationReport } from '../../shared/adapters/firestore-migrations.ts';
import { main } from '../../shared/cli/main.ts';
import type { ModelDoc, ValidationClaim } from '../../shared/domain/version.ts';
import type { ScaledDownCluster } from '../../shared/domain/scaled-down-cluster.ts';

const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST');
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const state = new FirestoreCheckpointState(db);
const store = new FirestoreTeardownStore(db);

const MODEL = uniqueName('mig-model');
const NAME = uniqueName('mig').toLowerCase();
const GKE = `projects/demo-ferry/locations/us-central1/clusters/${NAME}`;
const GKE_KEY = `demo-ferry.us-central1.${NAME}`;
const now = new Date();
const iso = now.toISOString();

const claimPath = (version: string) => `models/${MODEL}/versions/${version}/validations/ck-${version}`;
const claim = (pending: string[]): ValidationClaim => ({
  schemaVersion: 1,
  contentKey: 'ck',
  generation: '1',
  state: 'done',
  attempts: 1,
  leaseUntil: iso,
  eventId: 'e-old',
  startedAt: iso,
  finishedAt: iso,
  outcome: 'valid',
  autodeployPending: pending,
});
const accelerator = { type: 'nvidia-l4' as const, count: 1 };
const model: ModelDoc = {
  schemaVersion: 1,
  model: MODEL,
  createdAt: iso,
  updatedAt: iso,
  latestValid: null,
  autodeploy: {
    targets: [
      { cluster: GKE, namespace: 'ml', name: 'llama', accelerator },
      { cluster: 'local', namespace: 'ml', name: 'small', accelerator },
      { cluster: 'local', namespace: 'ml', name: 'done', accelerator },
    ],
  },
};
const record = (cluster: string, runId: string): ScaledDownCluster => ({
  schemaVersion: 2,
  cluster,
  runId,
  at: iso,
  restoreRequestedAt: null,
  pools: [{ name: 'l4', zones: ['us-central1-a'], nodesPerZone: 2, nodeCount: 2, autoscaling: null }],
});
const OLD_ID = `demo-ferry~us-central1~${NAME}`;
const DUP = `${NAME}-dup`;
const DUP_CLUSTER = `projects/demo-ferry/locations/us-central1/clusters/${DUP}`;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['migrate', ...args], { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: { ...process.env } });
  return { code, out, err };
}
const mine = (r: MigrationReport) => r.changes.filter((c) => c.path.includes(MODEL) || c.path.includes(NAME));

after(async () => {
  await db.recursiveDelete(db.collection('models').doc(MODEL));
  for (const id of [OLD_ID, GKE_KEY, `demo-ferry~us-central1~${DUP}`, `demo-ferry.us-central1.${DUP}`])
    await db.collection('scaledDownClusters').doc(id).delete();
});

test('ferry migrate moves old key spellings to names.ts keys: dry run first, idempotent, and ferry finds the results', async () => {
  // Documents as the previous ferry wrote them.
  await db.doc(`models/${MODEL}`).set(model);
  await db.doc(claimPath('v1')).set(claim([`${GKE}|ml|llama`, 'local|ml|small']));
  await db.doc(claimPath('v2')).set(claim(['local~ml~done'])); // already a targetKey: untouched
  await db.collection('scaledDownClusters').doc(OLD_ID).set(record(GKE, 'run-old'));
  // A cluster with records under both spellings: the one under the new id is the newer.
  await db.collection('scaledDownClusters').doc(`demo-ferry~us-central1~${DUP}`).set(record(DUP_CLUSTER, 'run-old'));
  await db.collection('scaledDownClusters').doc(`demo-ferry.us-central1.${DUP}`).set(record(DUP_CLUSTER, 'run-new'));
  // One that names no valid target: reported, left alone, exit 1.
  await db.doc(claimPath('bad')).set(claim(['not-a-cluster|ml|x']));

  // Dry run through the CLI: reports, writes nothing.
  const dry = await cli(['--dry-run', '--json']);
  assert.equal(dry.code, 1, `exit 1 while a document cannot be migrated (stderr: ${dry.err})`);
  const dryReport = JSON.parse(dry.out) as MigrationReport;
  assert.equal(dryReport.dryRun, true);
  assert.deepEqual(
    mine(dryReport)
      .map((c) => [c.migration, c.path, c.action])
      .sort(),
    [
      ['autodeploy-pending-target-keys', claimPath('v1'), 'rewrite'],
      ['scaled-down-cluster-ids', `scaledDownClusters/${OLD_ID}`, 'move'],
      ['scaled-down-cluster-ids', `scaledDownClusters/demo-ferry~us-central1~${DUP}`, 'delete'],
    ].sort(),
  );
  assert.deepEqual(
    dryReport.problems.filter((p) => p.path.includes(MODEL)).map((p) => p.path),
    [claimPath('bad')],
  );
  assert.match(dry.err, /not-a-cluster\|ml\|x/);
  assert.deepEqual((await db.doc(claimPath('v1')).get()).get('autodeployPending'), [`${GKE}|ml|llama`, 'local|ml|small'], 'dry run wrote nothing');
  assert.ok((await db.collection('scaledDownClusters').doc(OLD_ID).get()).exists, 'dry run moved nothing');

  // The real run.
  const report = await migrateFirestore(db, { dryRun: false });
  assert.equal(mine(report).length, 3);
  assert.deepEqual((await db.doc(claimPath('v1')).get()).get('autodeployPending'), [`${GKE_KEY}~ml~llama`, 'local~ml~small']);
  assert.deepEqual((await db.doc(claimPath('v2')).get()).get('autodeployPending'), ['local~ml~done']);
  assert.deepEqual((await db.doc(claimPath('bad')).get()).get('autodeployPending'), ['not-a-cluster|ml|x'], 'a problem is left as it was');
  assert.equal((await db.collection('scaledDownClusters').doc(OLD_ID).get()).exists, false);
  assert.equal((await db.collection('scaledDownClusters').doc(GKE_KEY).get()).get('runId'), 'run-old');
  assert.equal((await db.collection('scaledDownClusters').doc(`demo-ferry~us-central1~${DUP}`).get()).exists, false);
  assert.equal((await db.collection('scaledDownClusters').doc(`demo-ferry.us-central1.${DUP}`).get()).get('runId'), 'run-new', 'the newer record is kept');

  // Idempotent: nothing of ours left to change.
  assert.deepEqual(mine(await migrateFirestore(db, { dryRun: false })), []);

  // What ferry reads now finds the migrated documents: the pending autodeploy targets of v1 are
  // taken (they were invisible under the old keys), and the cluster's record is found and cleared.
  const taken = await state.takePendingAutodeploy({ model: MODEL, version: 'v1', uri: 'gs://b/x' }, 'ck-v1', {
    eventId: 'e-new',
    now: new Date(now.getTime() + 60_000),
    leaseMs: 30_000,
  });
  assert.deepEqual(taken.targets.map((t) => t.name).sort(), ['llama', 'small']);
  assert.equal((await store.getScaledDown(GKE))?.runId, 'run-old');
  await store.clearScaledDown(GKE);
  assert.equal((await db.collection('scaledDownClusters').doc(GKE_KEY).get()).exists, false, 'cleared under the id ferry derives');

  // With the problem removed, the command exits 0 and says there is nothing to do for ours.
  await db.doc(claimPath('bad')).delete();
  const again = await cli([]);
  assert.equal(again.code, 0, again.err);
  assert.doesNotMatch(again.out, new RegExp(MODEL));
  assert.match(again.out, /read: autodeploy-pending-target-keys \d+, scaled-down-cluster-ids \d+, scaled-down-per-zone \d+/);
});

test('ferry migrate rewrites scaledDownClusters records of schema version 1 (pool totals) as version 2, explicitly; ferry reads either', async () => {
  const cluster = `projects/demo-ferry/locations/us-central1/clusters/${NAME}-v1`;
  const ref = db.collection('scaledDownClusters').doc(`demo-ferry.us-central1.${NAME}-v1`);
  // As ferry before #16 wrote it: the sum of the instance groups' targetSize (3 zones × 1 node).
  const v1 = {
    schemaVersion: 1,
    cluster,
    runId: 'run-v1',
    at: iso,
    restoreRequestedAt: null,
    pools: [
      { name: 'l4', nodeCount: 3, autoscaling: null },
      { name: 'auto', nodeCount: 2, autoscaling: { minNodeCount: 1, maxNodeCount: 4 } },
    ],
  };
  await ref.set(v1);
  try {
    assert.equal((await store.getScaledDown(cluster))?.pools[0]?.nodesPerZone, null, 'read before migrating: the total, per-zone size unknown');
    const dry = await migrateFirestore(db, { dryRun: true });
    assert.deepEqual(
      dry.changes.filter((c) => c.path === ref.path).map((c) => [c.migration, c.action]),
      [['scaled-down-per-zone', 'rewrite']],
    );
    assert.equal((await ref.get()).get('schemaVersion'), 1, 'dry run wrote nothing');
    const report = await migrateFirestore(db, { dryRun: false });
    assert.match(report.changes.find((c) => c.path === ref.path)?.detail ?? '', /l4 3 nodes in total \(zones not recorded\)/);
    const doc = (await ref.get()).data();
    assert.equal(doc?.['schemaVersion'], 2);
    assert.deepEqual(doc?.['pools'], [
      { name: 'l4', zones: [], nodesPerZone: null, nodeCount: 3, autoscaling: null },
      {
        name: 'auto',
        zones: [],
        nodesPerZone: null,
        nodeCount: 2,
        autoscaling: { limits: 'per-zone', minNodeCount: 1, maxNodeCount: 4, locationPolicy: null },
      },
    ]);
    assert.deepEqual(
      (await migrateFirestore(db, { dryRun: false })).changes.filter((c) => c.path === ref.path),
      [],
      'idempotent',
    );
  } finally {
    await ref.delete();
  }
});
