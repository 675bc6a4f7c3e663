/**
 * Scheduled teardown on the local stack: three Anywhere Caches of a bucket of this test's own
 * (served by the stack's Storage Control fake) with records in Firestore whose last use is ten days
 * ago — one ferry created for a target with no Deployment (idle), one ferry created for a target
 * whose Deployment runs (in use), one found existing (not ferry's). A dry run (through the
 * teardownIdle function's tick, and `ferry teardown --dry-run`) changes nothing and records a run;
 * `ferry teardown` disables only the idle one and records what it did. Clusters are left out here
 * (FERRY_TEARDOWN_CLUSTERS=off); teardown-clusters.test.ts covers them against the stack's cluster
 * directory fake.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreCacheRecords } from '../../shared/adapters/firestore-caches.ts';
import { FirestoreTeardownStore } from '../../shared/adapters/firestore-teardown.ts';
import { StorageControlCacheControl } from '../../shared/adapters/storage-control.ts';
import { storageControlAdmin } from '../../infra/local/storage-control-grpc-server.ts';
import { recordCacheEvent } from '../../shared/domain/cache-record.ts';
import { TeardownRun } from '../../shared/domain/teardown-run.ts';
import { runTeardownCli } from '../helpers/teardown-cli.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
  'FERRY_STORAGE_CONTROL_API_ENDPOINT',
  'FERRY_STORAGE_CONTROL_ADMIN_HOST',
  'FERRY_TEARDOWN_TOPIC',
);
const BUCKET = uniqueName('ferry-teardown-it').toLowerCase();
const NS = 'ferry-teardown-it';
const IDLE = 'us-central1-a';
const BUSY = 'us-central1-b';
const EXTERNAL = 'us-central1-c';
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const records = new FirestoreCacheRecords(db);
const store = new FirestoreTeardownStore(db);
// The production adapter's real client, against the local stack's wire-protocol server.
const control = new StorageControlCacheControl({ apiEndpoint: env.FERRY_STORAGE_CONTROL_API_ENDPOINT, projectId: env.GOOGLE_CLOUD_PROJECT });
const fake = storageControlAdmin(env.FERRY_STORAGE_CONTROL_ADMIN_HOST);
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const apps = admin.makeApiClient(AppsV1Api);
const core = admin.makeApiClient(CoreV1Api);
const TEN_DAYS_AGO = new Date(Date.now() - 10 * 86_400_000);
/** Three days: nothing another test file made minutes ago can be idle for this policy. */
const cliEnv = { ...process.env, FERRY_TEARDOWN_CACHE_IDLE_SECONDS: String(3 * 86_400), FERRY_TEARDOWN_CLUSTERS: 'off' };

const runCli = (args: string[]) => runTeardownCli(args, cliEnv);

const target = (name: string) => ({
  targetKey: `local~${NS}~${name}`,
  target: { cluster: 'local', namespace: NS, name },
  rolloutId: `ro-${name}`,
  requestedBy: null,
});
const liveStates = async () =>
  Object.fromEntries(await Promise.all([IDLE, BUSY, EXTERNAL].map(async (z) => [z, (await control.get(BUCKET, z))?.state ?? 'absent'])));
const mine = (run: TeardownRun) => run.plan.actions.filter((a) => a.action.kind === 'disable-cache' && a.action.bucket === BUCKET);

before(async () => {
  await core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
  // A running Deployment (no GPU: the simulated GPUs stay free) for the busy cache's target.
  await apps.createNamespacedDeployment({
    namespace: NS,
    body: {
      metadata: { name: 'busy', labels: { 'app.kubernetes.io/managed-by': 'ferry' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'busy' } },
        template: { metadata: { labels: { app: 'busy' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
      },
    },
  });
  for (const zone of [IDLE, BUSY, EXTERNAL]) await control.create(BUCKET, zone);
  await eventually('caches running', liveStates, (s) => Object.values(s).every((x) => x === 'running'), 30_000);
  const seed = async (zone: string, by: 'ferry' | 'external', user?: string) => {
    const live = await control.get(BUCKET, zone);
    await records.mutate(BUCKET, zone, () =>
      recordCacheEvent(undefined, {
        bucket: BUCKET,
        zone,
        now: TEN_DAYS_AGO,
        live,
        ...(by === 'ferry' ? { action: 'create' as const } : {}),
        ...(user ? { use: target(user) } : {}),
      }),
    );
  };
  await seed(IDLE, 'ferry', 'idle');
  await seed(BUSY, 'ferry', 'busy');
  await seed(EXTERNAL, 'external');
});

after(async () => {
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
  await fake.reset(BUCKET).catch(() => undefined);
  const snap = await db.collection('caches').where('bucket', '==', BUCKET).get();
  await Promise.all(snap.docs.map((d) => d.ref.delete()));
  await pubsub.close();
  await control.close();
});

test('a dry run through the teardownIdle tick changes nothing and records the run', async () => {
  const since = new Date().toISOString();
  await pubsub.topic(env.FERRY_TEARDOWN_TOPIC).publishMessage({ json: { dryRun: true } });
  const run = await eventually(
    'a dry teardown run recorded by the function',
    async () => (await store.listRuns(20)).find((r) => r.startedAt >= since && r.trigger === 'schedule' && r.dryRun && r.finishedAt),
    (r) => r !== undefined,
    60_000,
    300,
  );
  assert.ok(run);
  assert.ok(run.results.every((r) => r.outcome === 'planned'));
  assert.deepEqual(await liveStates(), { [IDLE]: 'running', [BUSY]: 'running', [EXTERNAL]: 'running' });
});

test('ferry teardown --dry-run plans disabling only the idle cache, with reasons for the others, and changes nothing', async () => {
  const { code, run } = await runCli(['--dry-run']);
  assert.equal(code, 0);
  assert.equal(run.dryRun, true);
  assert.deepEqual(
    mine(run).map((a) => [a.action.kind === 'disable-cache' && a.action.zone, a.reason]),
    [[IDLE, 'IDLE_CACHE']],
  );
  const why = (zone: string) => run.plan.skipped.find((s) => s.resource.kind === 'cache' && s.resource.bucket === BUCKET && s.resource.zone === zone)?.reason;
  assert.equal(why(BUSY), 'IN_USE_BY_DEPLOYMENT');
  assert.equal(why(EXTERNAL), 'NOT_MANAGED');
  assert.deepEqual(await liveStates(), { [IDLE]: 'running', [BUSY]: 'running', [EXTERNAL]: 'running' });
  assert.ok(await store.getRun(run.id), `teardownRuns/${run.id} exists`);
});

test('ferry teardown disables the idle managed cache only, and records what it did', async () => {
  const { code, run } = await runCli([]);
  assert.equal(code, 0);
  assert.equal(run.dryRun, false);
  const done = run.results.filter((r) => r.action.kind === 'disable-cache' && r.action.bucket === BUCKET);
  assert.deepEqual(
    done.map((r) => [r.action.kind === 'disable-cache' && r.action.zone, r.outcome]),
    [[IDLE, 'done']],
  );
  assert.deepEqual(await liveStates(), { [IDLE]: 'disabled', [BUSY]: 'running', [EXTERNAL]: 'running' });
  const rec = await records.get(BUCKET, IDLE);
  assert.equal(rec?.state, 'disabled');
  assert.equal(rec?.lastAction?.kind, 'disable');
  const stored = await store.getRun(run.id);
  assert.ok(stored?.finishedAt);
  assert.ok(stored.summary.done >= 1);

  // Run again: the disabled cache is already torn down; nothing more happens to this bucket.
  const again = await runCli([]);
  assert.deepEqual(mine(again.run), []);
  assert.equal(
    again.run.plan.skipped.find((s) => s.resource.kind === 'cache' && s.resource.bucket === BUCKET && s.resource.zone === IDLE)?.reason,
    'ALREADY_TORN_DOWN',
  );
});

test('scaledDownClusters in Firestore: the sizes teardown remembered round-trip, restoring ones are listed, clearing forgets', async () => {
  const cluster = `projects/demo-ferry/locations/us-central1/clusters/${BUCKET}`;
  const at = new Date().toISOString();
  await store.saveScaledDown({
    schemaVersion: 2,
    cluster,
    runId: 'run-it',
    at,
    restoreRequestedAt: null,
    pools: [
      { name: 'l4', zones: ['us-central1-a'], nodesPerZone: 3, nodeCount: 3, autoscaling: null },
      {
        name: 'auto',
        zones: ['us-central1-a'],
        nodesPerZone: 2,
        nodeCount: 2,
        autoscaling: { limits: 'per-zone', minNodeCount: 2, maxNodeCount: 6, locationPolicy: null },
      },
    ],
  });
  assert.deepEqual(
    (await store.getScaledDown(cluster))?.pools.map((p) => p.name),
    ['l4', 'auto'],
  );
  assert.equal(
    (await store.listRestoring()).some((r) => r.cluster === cluster),
    false,
    'not asked back yet',
  );
  await store.saveScaledDown({
    ...(await store.getScaledDown(cluster))!,
    restoreRequestedAt: at,
    pools: [
      {
        name: 'auto',
        zones: ['us-central1-a'],
        nodesPerZone: 2,
        nodeCount: 2,
        autoscaling: { limits: 'per-zone', minNodeCount: 2, maxNodeCount: 6, locationPolicy: null },
      },
    ],
  });
  assert.deepEqual(
    (await store.listRestoring()).filter((r) => r.cluster === cluster).map((r) => r.pools.map((p) => p.name)),
    [['auto']],
  );
  await store.clearScaledDown(cluster);
  assert.equal(await store.getScaledDown(cluster), undefined);
  await store.clearScaledDown(cluster); // a no-op when there is none
  // A deploy may name the project by number: the record teardown wrote by project id is found.
  await store.saveScaledDown({
    schemaVersion: 2,
    cluster,
    runId: 'run-it',
    at,
    restoreRequestedAt: null,
    pools: [{ name: 'l4', zones: ['us-central1-a'], nodesPerZone: 3, nodeCount: 3, autoscaling: null }],
  });
  const byNumber = cluster.replace('projects/demo-ferry/', 'projects/123456789012/');
  assert.equal((await store.getScaledDown(byNumber))?.cluster, cluster);
  assert.equal(await store.getScaledDown(byNumber.replace('/us-central1/', '/us-east1/')), undefined, 'another location is another cluster');
  await store.clearScaledDown(cluster);
  assert.equal(await store.getScaledDown(byNumber), undefined);
  // A name that is not a GKE cluster path still gets a valid document id.
  await store.saveScaledDown({ schemaVersion: 2, cluster: 'odd/name with spaces', runId: 'r', at, restoreRequestedAt: null, pools: [] });
  assert.equal((await store.getScaledDown('odd/name with spaces'))?.cluster, 'odd/name with spaces');
  await store.clearScaledDown('odd/name with spaces');
});
