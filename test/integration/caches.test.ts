/**
 * Anywhere Cache lifecycle on the local stack: deploy requests with `cache.mode` go through the
 * rollout's caching phase; the caches are created (or resumed) through the stack's Storage Control
 * fake (served over loopback; CREATING → RUNNING after 1.5 s), tracked in Firestore
 * `caches/{bucket}~{zone}`, and only then is the Deployment applied. The simulated GKE cluster has
 * nvidia-l4 nodes in us-central1-a and us-central1-b; the bucket is in US-CENTRAL1.
 *
 * Every test starts from no caches (the fake and the records of the bucket are reset) and deletes
 * its Deployments at the end, so the simulated GPUs are free for the test files that follow.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { finishedRollout, rolloutForMessage } from '../helpers/deploy-wait.ts';
import { uploadVersion as uploadReferenceVersion } from '../helpers/upload-version.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { FirestoreCacheRecords } from '../../shared/adapters/firestore-caches.ts';
import { StorageControlCacheControl } from '../../shared/adapters/storage-control.ts';
import { storageControlAdmin } from '../../infra/local/storage-control-grpc-server.ts';
import type { Rollout } from '../../shared/domain/rollout.ts';
import type { DeployRequestInput } from '../../shared/domain/deploy-request.ts';
import { main } from '../../shared/cli/main.ts';
import type { CachesJson } from '../../shared/cli/commands/caches.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_DEPLOY_TOPIC',
  'KUBECONFIG',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
  'FERRY_STORAGE_CONTROL_API_ENDPOINT',
  'FERRY_STORAGE_CONTROL_ADMIN_HOST',
);
const BUCKET = env.FERRY_BUCKET;
const ZONE_A = 'us-central1-a';
const ZONE_B = 'us-central1-b';
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const rollouts = new FirestoreRolloutState(db);
const records = new FirestoreCacheRecords(db);
// The production adapter's real client, against the local stack's wire-protocol server.
const control = new StorageControlCacheControl({ apiEndpoint: env.FERRY_STORAGE_CONTROL_API_ENDPOINT, projectId: env.GOOGLE_CLOUD_PROJECT });
const fake = storageControlAdmin(env.FERRY_STORAGE_CONTROL_ADMIN_HOST);
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
const topic = pubsub.topic(env.FERRY_DEPLOY_TOPIC, { batching: { maxMessages: 1 } });
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const apps = admin.makeApiClient(AppsV1Api);
const core = admin.makeApiClient(CoreV1Api);
const model = uniqueName('cache');
const NS = 'ferry-caches-it';
const deployed: string[] = [];

const uploadVersion = (version: string) => uploadReferenceVersion(env, model, version);

const request = (name: string, cache: DeployRequestInput['cache'], over: Partial<DeployRequestInput> = {}): DeployRequestInput => ({
  apiVersion: 'ferry/v1',
  model,
  version: 'v1',
  target: { cluster: 'local', namespace: NS, name },
  accelerator: { type: 'nvidia-l4', count: 1 },
  replicas: 1,
  progressDeadlineSeconds: 60,
  requestedBy: { source: 'pubsub', principal: 'cache-test' },
  ...(cache ? { cache } : {}),
  ...over,
});

async function deploy(name: string, cache: DeployRequestInput['cache']): Promise<string> {
  deployed.push(name);
  return rolloutForMessage(rollouts, await topic.publishMessage({ json: request(name, cache) }));
}
const finished = (id: string) => finishedRollout(rollouts, id);
const phases = (r: Rollout) => r.history.map((h) => h.phase);
const entered = (r: Rollout, phase: string) => Date.parse(r.history.find((h) => h.phase === phase)!.at);

/** No caches of the bucket, in the fake and in Firestore; call counts back to zero. */
async function resetCaches(): Promise<void> {
  await fake.reset(BUCKET);
  const snap = await db.collection('caches').where('bucket', '==', BUCKET).get();
  await Promise.all(snap.docs.map((d) => d.ref.delete()));
}

/** A cache made outside ferry (as a person with gcloud would), waited for until RUNNING. */
async function runningCache(zone: string): Promise<void> {
  await control.create(BUCKET, zone);
  await eventually(
    `cache ${zone} running`,
    () => control.get(BUCKET, zone),
    (c) => c?.state === 'running',
    30_000,
  );
}

async function podZones(name: string): Promise<string[]> {
  const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `app.kubernetes.io/instance=${name}` });
  const live = pods.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
  const nodes = await Promise.all(live.map((p) => core.readNode({ name: p.spec!.nodeName! })));
  return nodes.map((n) => n.metadata?.labels?.['topology.kubernetes.io/zone'] ?? '?');
}

before(async () => {
  await uploadVersion('v1');
});
afterEach(async () => {
  // Free the simulated GPUs for the next tests (and the next test files).
  await Promise.all(deployed.splice(0).map((name) => apps.deleteNamespacedDeployment({ name, namespace: NS }).catch(() => undefined)));
});
after(() => control.close());
after(async () => {
  await eventually(
    'cache test pods gone',
    async () => (await core.listNamespacedPod({ namespace: NS })).items.length,
    (n) => n === 0,
    60_000,
    500,
  ).catch(() => undefined);
  await fake.setOptions({ createDelayMs: 1500 });
  await resetCaches();
  await pubsub.close();
});

test('a rollout to a two-zone target creates both zonal caches, and applies only once they run', async () => {
  await resetCaches();
  const id = await deploy('cache-two-zones', { mode: 'all-zones' });
  const r = await finished(id);
  assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);
  assert.deepEqual(phases(r), ['pending', 'caching', 'applying', 'progressing', 'succeeded']);
  assert.equal(r.history[2]!.reason, 'CachesRunning');
  assert.deepEqual(r.cache?.zones, [ZONE_A, ZONE_B]);
  assert.deepEqual(r.cache?.observed, [
    { zone: ZONE_A, state: 'running' },
    { zone: ZONE_B, state: 'running' },
  ]);
  assert.equal((await fake.stats()).calls['create'], 2);

  const live = await control.list(BUCKET);
  assert.deepEqual(
    live.map((c) => [c.zone, c.state]),
    [
      [ZONE_A, 'running'],
      [ZONE_B, 'running'],
    ],
  );
  for (const c of live) {
    // RUNNING (the fake's updateTime) before the rollout entered applying
    assert.ok(Date.parse(c.updateTime!) <= entered(r, 'applying'), `${c.zone} ran at ${c.updateTime}, applying at ${r.history[2]!.at}`);
  }
  for (const zone of [ZONE_A, ZONE_B]) {
    const rec = await records.get(BUCKET, zone);
    assert.ok(rec, `caches/${BUCKET}~${zone}`);
    assert.equal(rec.id, `${BUCKET}~${zone}`);
    assert.equal(rec.state, 'running');
    assert.deepEqual([rec.createdBy.by, rec.createdBy.rolloutId, rec.createdBy.requestedBy?.principal], ['ferry', id, 'cache-test']);
    assert.deepEqual(rec.rollouts, [id]);
    assert.deepEqual(
      rec.targets.map((t) => t.targetKey),
      [`local~${NS}~cache-two-zones`],
    );
    // Used by this rollout: at or after its creation. (Not "after it entered caching": the
    // observation that moves a rollout on is made just before the step that records the
    // transition, and with the follow and the tick both advancing it the caches may already run
    // at the first observation.)
    assert.ok(rec.lastUsedAt && Date.parse(rec.lastUsedAt) >= Date.parse(r.createdAt), `lastUsedAt ${rec.lastUsedAt}, created ${r.createdAt}`);
    assert.equal(rec.operation, null, 'the create operation was polled to its end');
  }
  // The Deployment is not pinned: pods may run in either zone, both are cached.
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'cache-two-zones' });
  assert.equal(d.spec!.template.spec!.nodeSelector?.['topology.kubernetes.io/zone'], undefined);
});

test('pin-one-zone creates one cache and pins the pods to its zone', async () => {
  await resetCaches();
  const id = await deploy('cache-pin-cold', { mode: 'pin-one-zone' });
  const r = await finished(id);
  assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);
  assert.deepEqual(phases(r), ['pending', 'caching', 'applying', 'progressing', 'succeeded']);
  assert.deepEqual([r.cache?.mode, r.cache?.pinnedZone, r.cache?.zones], ['pin-one-zone', ZONE_A, [ZONE_A]], 'no warm cache: the first zone');
  assert.equal((await fake.stats()).calls['create'], 1);
  assert.deepEqual(
    (await control.list(BUCKET)).map((c) => c.zone),
    [ZONE_A],
  );
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'cache-pin-cold' });
  assert.equal(d.spec!.template.spec!.nodeSelector?.['topology.kubernetes.io/zone'], ZONE_A);
  assert.equal(d.spec!.template.spec!.nodeSelector?.['cloud.google.com/gke-accelerator'], 'nvidia-l4');
  assert.deepEqual(await podZones('cache-pin-cold'), [ZONE_A]);
});

test('pin-one-zone chooses the zone that already has a warm cache (and creates none)', async () => {
  await resetCaches();
  await runningCache(ZONE_B);
  const id = await deploy('cache-pin-warm', { mode: 'pin-one-zone' });
  const r = await finished(id);
  assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);
  assert.equal(r.cache?.pinnedZone, ZONE_B);
  assert.equal((await fake.stats()).calls['create'], 1, 'only the cache made before the deploy');
  assert.deepEqual(await podZones('cache-pin-warm'), [ZONE_B]);
  const rec = await records.get(BUCKET, ZONE_B);
  assert.deepEqual([rec?.createdBy.by, rec?.rollouts], ['external', [id]], 'tracked as found, not created, by ferry');
});

test('a cache still CREATING after maxWaitSeconds: the rollout proceeds with a warning', async () => {
  await resetCaches();
  await fake.setOptions({ createDelayMs: 10 * 60 * 1000 });
  try {
    const id = await deploy('cache-slow', { mode: 'all-zones', maxWaitSeconds: 2 });
    const r = await finished(id);
    assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);
    assert.deepEqual(phases(r), ['pending', 'caching', 'applying', 'progressing', 'succeeded']);
    const wait = r.history[2]!;
    assert.equal(wait.reason, 'CacheWaitExceeded');
    assert.match(wait.message ?? '', /caches not running after 2s \(us-central1-a: creating, us-central1-b: creating\); applying anyway/);
    assert.deepEqual(r.cache?.warnings, [wait.message]);
    assert.ok(entered(r, 'applying') - entered(r, 'caching') >= 2000);
    // The caches go on being created; ferry keeps tracking them.
    assert.deepEqual(
      (await control.list(BUCKET)).map((c) => c.state),
      ['creating', 'creating'],
    );
    assert.equal((await records.get(BUCKET, ZONE_A))?.operation?.kind, 'create');
  } finally {
    await fake.setOptions({ createDelayMs: 1500 });
  }
});

test('a second rollout reuses the existing caches; `ferry caches --json` lists them with both targets', async () => {
  await resetCaches();
  const first = await finished(await deploy('cache-reuse-1', { mode: 'all-zones' }));
  assert.equal(first.phase, 'succeeded', `${first.reason}: ${first.message}`);
  assert.equal((await fake.stats()).calls['create'], 2);
  const secondId = await deploy('cache-reuse-2', { mode: 'all-zones' });
  const second = await finished(secondId);
  assert.equal(second.phase, 'succeeded', `${second.reason}: ${second.message}`);
  assert.equal(second.history[2]!.reason, 'CachesRunning');
  assert.equal((await fake.stats()).calls['create'], 2, 'no new cache');
  assert.ok(entered(second, 'applying') - entered(second, 'caching') < 1500, 'nothing to wait for');
  for (const zone of [ZONE_A, ZONE_B]) {
    const rec = (await records.get(BUCKET, zone))!;
    assert.deepEqual(rec.rollouts, [first.id, secondId]);
    assert.deepEqual(
      rec.targets.map((t) => t.target.name),
      ['cache-reuse-1', 'cache-reuse-2'],
    );
    assert.equal(rec.createdBy.rolloutId, first.id);
  }

  let out = '';
  const code = await main(['caches', '--json'], { stdout: (s) => void (out += s), stderr: () => undefined, env: process.env });
  assert.equal(code, 0);
  const json = JSON.parse(out) as CachesJson;
  const mine = json.caches.filter((c) => c.bucket === BUCKET);
  assert.deepEqual(
    mine.map((c) => [c.zone, c.state, c.tracked]),
    [
      [ZONE_A, 'running', true],
      [ZONE_B, 'running', true],
    ],
  );
  assert.deepEqual(mine[0]!.targets, [`local~${NS}~cache-reuse-1`, `local~${NS}~cache-reuse-2`]);
  assert.ok(mine.every((c) => c.lastUsedAt !== null));
  assert.deepEqual(json.liveErrors, []);
});

test('a disabled cache is resumed before the rollout applies', async () => {
  await resetCaches();
  await runningCache(ZONE_A);
  await runningCache(ZONE_B);
  await control.disable(BUCKET, ZONE_A);
  assert.equal((await control.get(BUCKET, ZONE_A))?.state, 'disabled');
  const id = await deploy('cache-resume', { mode: 'all-zones' });
  const r = await finished(id);
  assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);
  assert.equal(r.history[2]!.reason, 'CachesRunning');
  const stats = await fake.stats();
  assert.deepEqual([stats.calls['resume'], stats.calls['create']], [1, 2], 'resumed, not created again');
  assert.equal((await control.get(BUCKET, ZONE_A))?.state, 'running');
  const rec = (await records.get(BUCKET, ZONE_A))!;
  assert.deepEqual([rec.state, rec.lastAction?.kind, rec.lastAction?.rolloutId], ['running', 'resume', id]);
});
