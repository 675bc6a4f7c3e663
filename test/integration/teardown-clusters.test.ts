/**
 * Cluster teardown and bringing node pools back, across the local stack's processes: `ferry teardown`
 * (this process) scales an idle managed regional cluster (3 zones, 1 GPU node per zone, plus a pool
 * with total autoscaling limits) on the stack's GKE REST server (infra/local/gke-server.ts, another
 * process, reached through the real `@google-cloud/container` client) to zero and remembers its
 * pools in the Firestore emulator; the deploy side's
 * capacity step brings them back; GKE runs one operation per cluster, so the pool it cannot start
 * at once is finished by the reconcileRollouts function running in the functions host. Protected
 * and unmanaged clusters are never touched. Every cluster here is this test's own (unique names).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreTeardownStore } from '../../shared/adapters/firestore-teardown.ts';
import { GkeClusterDirectory } from '../../shared/adapters/cluster-directory-gke.ts';
import { ensureClusterCapacity } from '../../shared/app/cluster-capacity.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../shared/domain/teardown-inventory.ts';
import { TeardownRun } from '../../shared/domain/teardown-run.ts';
import { runTeardownCli } from '../helpers/teardown-cli.ts';

const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST', 'FERRY_GKE_API_ENDPOINT', 'FERRY_COMPUTE_API_ENDPOINT');
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const store = new FirestoreTeardownStore(db);
const directory = new GkeClusterDirectory(env.GOOGLE_CLOUD_PROJECT, {
  apiEndpoint: env.FERRY_GKE_API_ENDPOINT,
  computeEndpoint: env.FERRY_COMPUTE_API_ENDPOINT,
});
const Z3 = ['us-central1-a', 'us-central1-b', 'us-central1-c'];
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
/** A regional cluster (the server's default: 3 zones) on the stack's GKE server, through its admin hook. */
async function seed(suffix: string, labels: Record<string, string>) {
  const res = await fetch(`${env.FERRY_GKE_API_ENDPOINT}/ferry-admin/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      location: 'us-central1',
      name: `${base}-${suffix}`,
      labels,
      createTime: TEN_DAYS_AGO,
      nodePools: [
        { name: 'l4', nodeCount: 1, autoscaling: null },
        { name: 'auto', nodeCount: 1, autoscaling: { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' } },
      ],
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { name } = (await res.json()) as { name: string };
  seeded.push(name);
  return name;
}

after(async () => {
  for (const name of seeded) await store.clearScaledDown(name).catch(() => undefined);
  await directory.close();
});

test('an idle managed regional cluster is scaled to zero and remembered per zone; protected and unmanaged ones are left alone; a deploy and the reconciler bring back 1 node per zone and the total autoscaling minimum', async () => {
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
  const planned = dry.run.plan.actions.find((a) => a.action.kind === 'scale-node-pools' && a.action.cluster === idle);
  assert.match(
    planned?.message ?? '',
    /l4 \(1 per zone × 3 zones \(us-central1-a, us-central1-b, us-central1-c\) = 3 nodes\)/,
    'the plan shows per zone, zones and total',
  );
  assert.match(planned?.message ?? '', /auto \(1 per zone × 3 zones .* = 3 nodes, autoscaling 2–6 in total \(ANY\)\)/);
  assert.equal((await directory.get(idle))?.nodePools.find((p) => p.name === 'l4')?.nodeCount, 3, 'a dry run changes nothing');

  const { code, run } = await runCli([]);
  assert.equal(code, 0);
  const mine = run.results.filter((r) => r.action.kind === 'scale-node-pools' && seeded.includes(r.action.cluster));
  assert.deepEqual(
    mine.map((r) => [r.action.kind === 'scale-node-pools' && r.action.cluster, r.outcome]),
    [[idle, 'done']],
  );
  assert.match(mine[0]?.message ?? '', /l4 \(1 per zone × 3 zones/, 'the result shows the sizes too');
  const down = await directory.get(idle);
  assert.deepEqual(
    down?.nodePools.map((p) => [p.name, p.nodeCount, p.autoscaling]),
    [
      ['l4', 0, null],
      ['auto', 0, { limits: 'total', minNodeCount: 0, maxNodeCount: 6, locationPolicy: 'ANY' }],
    ],
    'the total minimum was lowered in total mode',
  );
  for (const other of [kept, foreign]) {
    assert.deepEqual(
      (await directory.get(other))?.nodePools.map((p) => [p.nodesPerZone, p.nodeCount]),
      [
        [1, 3],
        [1, 3],
      ],
      `${other} untouched`,
    );
  }
  const remembered = await store.getScaledDown(idle);
  assert.deepEqual(remembered?.pools, [
    { name: 'auto', zones: Z3, nodesPerZone: 1, nodeCount: 3, autoscaling: { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' } },
    { name: 'l4', zones: Z3, nodesPerZone: 1, nodeCount: 3, autoscaling: null },
  ]);
  assert.equal(remembered?.runId, run.id);

  // A deploy to the cluster brings the pools back first. GKE (and the fake) run one operation per
  // cluster: the first pool starts, the other is flagged for the reconciler.
  const r = await ensureClusterCapacity(idle, directory, store, { now: new Date() });
  assert.ok(r.ok);
  assert.deepEqual(r.ok && r.restored.map((x) => [x.pool, x.kind, x.nodeCount]), [['l4', 'resize', 1]], 'setNodePoolSize(1): per zone, not the total 3');
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
  // 1 node per zone in each of the 3 zones: 3 GPU nodes, not 9 (M1).
  assert.deepEqual(
    up?.nodePools.filter((p) => p.name === 'l4').map((p) => [p.zones, p.nodesPerZone, p.nodeCount]),
    [[Z3, 1, 3]],
  );
  assert.deepEqual(
    up?.nodePools.find((p) => p.name === 'auto')?.autoscaling,
    { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' },
    'still total limits (M2)',
  );
});
