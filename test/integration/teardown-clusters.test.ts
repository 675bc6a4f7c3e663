/**
 * Cluster teardown and bringing node pools back, across the local stack's processes: `ferry teardown`
 * (this process) scales an idle managed cluster in the stack's cluster directory fake (there is no
 * GKE emulator) to zero and remembers its pools in the Firestore emulator; the deploy side's
 * capacity step brings them back; GKE runs one operation per cluster, so the pool it cannot start
 * at once is finished by the reconcileRollouts function running in the functions host. Protected
 * and unmanaged clusters are never touched. Every cluster here is this test's own (unique names).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreTeardownStore } from '../../shared/adapters/firestore-teardown.ts';
import { HttpClusterDirectory, clusterDirectoryFakeAdmin } from '../../shared/adapters/cluster-directory-http.ts';
import { ensureClusterCapacity } from '../../shared/app/cluster-capacity.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../shared/domain/teardown-inventory.ts';
import { TeardownRun } from '../../shared/domain/teardown-run.ts';
import { runTeardownCli } from '../helpers/teardown-cli.ts';

const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST', 'FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST');
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const store = new FirestoreTeardownStore(db);
const directory = new HttpClusterDirectory(env.FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST);
const admin = clusterDirectoryFakeAdmin(env.FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST);
const TEN_DAYS_AGO = new Date(Date.now() - 10 * 86_400_000).toISOString();
const base = uniqueName('td')
  .toLowerCase()
  .replace(/[^a-z0-9-]/g, '')
  .slice(0, 30);
const managed = { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE };
/** Three days: clusters other tests (or the stack) made minutes ago are never idle for this policy. */
const cliEnv = { ...process.env, FERRY_TEARDOWN_CACHE_IDLE_SECONDS: String(3 * 86_400), FERRY_TEARDOWN_CLUSTER_IDLE_SECONDS: String(3 * 86_400) };

const runCli = (args: string[]) => runTeardownCli(args, cliEnv);

const seeded: string[] = [];
async function seed(suffix: string, labels: Record<string, string>) {
  const c = await admin.seed({
    location: 'us-central1',
    name: `${base}-${suffix}`,
    labels,
    createTime: TEN_DAYS_AGO,
    nodePools: [
      { name: 'l4', nodeCount: 3, autoscaling: null },
      { name: 'auto', nodeCount: 2, autoscaling: { minNodeCount: 2, maxNodeCount: 6 } },
    ],
  });
  seeded.push(c.name);
  return c.name;
}

after(async () => {
  for (const name of seeded) await store.clearScaledDown(name).catch(() => undefined);
});

test('an idle managed cluster is scaled to zero and remembered; protected and unmanaged ones are left alone; a deploy and the reconciler bring its pools back', async () => {
  const idle = await seed('idle', managed);
  const kept = await seed('kept', { ...managed, 'ferry-protect': 'true' });
  const foreign = await seed('foreign', { team: 'ml' });
  const why = (run: TeardownRun, name: string) => run.plan.skipped.find((s) => s.resource.kind === 'cluster' && s.resource.name === name)?.reason;

  const dry = await runCli(['--dry-run']);
  assert.equal(dry.code, 0);
  assert.deepEqual(
    dry.run.plan.actions.filter((a) => a.action.kind === 'scale-node-pools' && seeded.includes(a.action.cluster)).map((a) => [a.action, a.reason]),
    [[{ kind: 'scale-node-pools', cluster: idle, nodePools: ['auto', 'l4'] }, 'IDLE_CLUSTER']],
  );
  assert.equal(why(dry.run, kept), 'PROTECTED');
  assert.equal(why(dry.run, foreign), 'NOT_MANAGED');
  assert.equal(
    why(dry.run, `projects/${env.GOOGLE_CLOUD_PROJECT}/locations/us-central1/clusters/ferry-local-gpu`),
    'RECENTLY_ACTIVE',
    "the stack's own cluster was made minutes ago",
  );
  assert.equal((await directory.get(idle))?.nodePools.find((p) => p.name === 'l4')?.nodeCount, 3, 'a dry run changes nothing');

  const { code, run } = await runCli([]);
  assert.equal(code, 0);
  const mine = run.results.filter((r) => r.action.kind === 'scale-node-pools' && seeded.includes(r.action.cluster));
  assert.deepEqual(
    mine.map((r) => [r.action.kind === 'scale-node-pools' && r.action.cluster, r.outcome]),
    [[idle, 'done']],
  );
  const down = await directory.get(idle);
  assert.deepEqual(
    down?.nodePools.map((p) => [p.name, p.nodeCount, p.autoscaling?.minNodeCount ?? null]),
    [
      ['l4', 0, null],
      ['auto', 0, 0],
    ],
  );
  for (const other of [kept, foreign]) {
    assert.deepEqual(
      (await directory.get(other))?.nodePools.map((p) => p.nodeCount),
      [3, 2],
      `${other} untouched`,
    );
  }
  const remembered = await store.getScaledDown(idle);
  assert.deepEqual(remembered?.pools, [
    {
      name: 'auto',
      zones: ['us-central1-a'],
      nodesPerZone: 2,
      nodeCount: 2,
      autoscaling: { limits: 'per-zone', minNodeCount: 2, maxNodeCount: 6, locationPolicy: null },
    },
    { name: 'l4', zones: ['us-central1-a'], nodesPerZone: 3, nodeCount: 3, autoscaling: null },
  ]);
  assert.equal(remembered?.runId, run.id);

  // A deploy to the cluster brings the pools back first. GKE (and the fake) run one operation per
  // cluster: the first pool starts, the other is flagged for the reconciler.
  const r = await ensureClusterCapacity(idle, directory, store, { now: new Date() });
  assert.ok(r.ok);
  assert.equal(r.restored.length, 1);
  assert.equal(r.pending.length, 1);
  assert.ok((await store.getScaledDown(idle))?.restoreRequestedAt, 'the rest is flagged for the reconciler');

  // reconcileRollouts (in the functions host, ticking every 2 s) finishes it and forgets the record.
  await eventually(
    'the reconciler brought every pool back',
    () => store.getScaledDown(idle),
    (rec) => rec === undefined,
    60_000,
    500,
  );
  const up = await eventually(
    'both pools back in the directory',
    () => directory.get(idle),
    (c) =>
      c?.status === 'RUNNING' &&
      c.nodePools.find((p) => p.name === 'l4')?.nodeCount === 3 &&
      c.nodePools.find((p) => p.name === 'auto')?.autoscaling?.minNodeCount === 2,
    30_000,
    300,
  );
  assert.deepEqual(up?.nodePools.find((p) => p.name === 'auto')?.autoscaling, { minNodeCount: 2, maxNodeCount: 6 });
});
