/**
 * The cache use cases against the Storage Control fake (manual clock) and in-memory records: what
 * the caching phase does to each zone's cache, and what the scheduled reconciler does afterwards.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { storageControlHarness } from '../../helpers/storage-control.ts';
import { ensureCaches, advanceCaches, planRolloutCaches, type CacheDeps } from '../../../shared/app/caches.ts';
import { bucketLocation, type RolloutCachePlan } from '../../../shared/domain/cache.ts';
import { recordCacheEvent, type CacheRecord, type CacheUse } from '../../../shared/domain/cache-record.ts';
import { DeployRequest } from '../../../shared/domain/deploy-request.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import type { CacheRecords } from '../../../shared/ports/cache-records.ts';
import type { CacheControl } from '../../../shared/ports/cache-control.ts';
import type { ClusterProvider, ClusterClient } from '../../../shared/ports/cluster.ts';
import type { RolloutState } from '../../../shared/ports/rollout-state.ts';
import type { Rollout } from '../../../shared/domain/rollout.ts';

class MemoryCacheRecords implements CacheRecords {
  readonly docs = new Map<string, CacheRecord>();
  async get(bucket: string, zone: string) {
    return structuredClone(this.docs.get(`${bucket}~${zone}`));
  }
  async list(filter: { bucket?: string } = {}) {
    return [...this.docs.values()].filter((r) => !filter.bucket || r.bucket === filter.bucket).map((r) => structuredClone(r));
  }
  async mutate(bucket: string, zone: string, change: (c: CacheRecord | undefined) => CacheRecord | undefined) {
    const next = change(structuredClone(this.docs.get(`${bucket}~${zone}`)));
    if (next) this.docs.set(`${bucket}~${zone}`, structuredClone(next));
    return structuredClone(this.docs.get(`${bucket}~${zone}`));
  }
}

// The production adapter against the wire-protocol server (one per file, reset per test).
const sc = await storageControlHarness({ defaultLocation: 'US-CENTRAL1' });
after(() => sc.stop());

function setup(over: { control?: CacheControl } = {}) {
  let t = Date.UTC(2026, 10, 21, 12);
  const clock = { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
  sc.reset({ clock, createDelayMs: 60_000, updateDelayMs: 30_000 });
  const fake = sc.control;
  const records = new MemoryCacheRecords();
  const deps: CacheDeps = {
    control: over.control ?? fake,
    records,
    zones: { acceleratorZones: async () => ['us-central1-a', 'us-central1-b'] },
    buckets: { location: async () => bucketLocation('US-CENTRAL1') },
  };
  return { clock, fake, records, deps, log: memoryLogger() };
}

const plan = (over: Partial<RolloutCachePlan> = {}): RolloutCachePlan => ({
  bucket: 'models',
  mode: 'all-zones',
  zones: ['us-central1-a', 'us-central1-b'],
  pinnedZone: null,
  ttlSeconds: null,
  admissionPolicy: null,
  maxWaitSeconds: 600,
  observed: [],
  warnings: [],
  ...over,
});
const use = (rolloutId = 'ro-1', name = 'llama'): CacheUse => ({
  rolloutId,
  targetKey: `local~ns~${name}`,
  target: { cluster: 'local', namespace: 'ns', name },
  requestedBy: { source: 'cli', principal: 'alice' },
});
const states = (obs: Array<{ zone: string; state: string }>) => Object.fromEntries(obs.map((o) => [o.zone, o.state]));

test('absent caches are created (not waited for), recorded, then seen running once the operation is done', async () => {
  const { clock, fake, records, deps, log } = setup();
  const first = await ensureCaches(plan(), use(), deps, clock, log);
  assert.deepEqual(states(first), { 'us-central1-a': 'creating', 'us-central1-b': 'creating' });
  assert.equal(fake.stats().calls.create, 2);
  const rec = (await records.get('models', 'us-central1-a'))!;
  assert.deepEqual(
    [rec.state, rec.createdBy.by, rec.createdBy.rolloutId, rec.createdBy.requestedBy?.principal, rec.operation?.kind],
    ['creating', 'ferry', 'ro-1', 'alice', 'create'],
  );
  assert.deepEqual(rec.rollouts, ['ro-1']);
  assert.deepEqual(
    rec.targets.map((t) => t.targetKey),
    ['local~ns~llama'],
  );

  clock.advance(30_000);
  assert.deepEqual(states(await ensureCaches(plan(), use(), deps, clock, log)), { 'us-central1-a': 'creating', 'us-central1-b': 'creating' });
  assert.equal(fake.stats().calls.create, 2, 'a creating cache is not created again');
  clock.advance(30_000);
  assert.deepEqual(states(await ensureCaches(plan(), use(), deps, clock, log)), { 'us-central1-a': 'running', 'us-central1-b': 'running' });
  const done = (await records.get('models', 'us-central1-a'))!;
  assert.deepEqual([done.state, done.operation, done.rawState], ['running', null, 'RUNNING']);
  assert.equal(done.lastUsedAt, clock.now().toISOString());
});

test('ALREADY_EXISTS on create counts as success (another worker created it first)', async () => {
  const { clock, fake, records, deps, log } = setup();
  await fake.create('models', 'us-central1-a');
  let hidden = true;
  // The first read misses the cache (as a racing worker would), so create meets ALREADY_EXISTS.
  const racing: CacheControl = Object.assign(Object.create(fake) as CacheControl, {
    get: async (b: string, z: string) => (hidden && z === 'us-central1-a' ? ((hidden = false), null) : fake.get(b, z)),
  });
  const obs = await ensureCaches(plan({ zones: ['us-central1-a'] }), use(), { ...deps, control: racing }, clock, log);
  assert.deepEqual(states(obs), { 'us-central1-a': 'creating' });
  const rec = (await records.get('models', 'us-central1-a'))!;
  assert.equal(rec.createdBy.by, 'external', 'ferry did not create it');
  assert.equal(rec.lastError, null);
});

test('a disabled or paused cache is resumed; one deleted after its grace is created again', async () => {
  const { clock, fake, records, deps, log } = setup();
  for (const z of ['us-central1-a', 'us-central1-b']) await fake.create('models', z);
  clock.advance(60_000);
  await fake.disable('models', 'us-central1-a');
  await fake.pause('models', 'us-central1-b');
  const obs = await ensureCaches(plan(), use(), deps, clock, log);
  assert.deepEqual(states(obs), { 'us-central1-a': 'running', 'us-central1-b': 'running' });
  assert.equal(fake.stats().calls.resume, 2);
  assert.equal((await records.get('models', 'us-central1-a'))!.lastAction?.kind, 'resume');
  // disabled for more than an hour: gone; ferry creates a new one
  await fake.disable('models', 'us-central1-a');
  clock.advance(3601_000);
  const again = await ensureCaches(plan({ zones: ['us-central1-a'] }), use('ro-2'), deps, clock, log);
  assert.deepEqual(states(again), { 'us-central1-a': 'creating' });
  const rec = (await records.get('models', 'us-central1-a'))!;
  assert.deepEqual([rec.createdBy.by, rec.createdBy.rolloutId, rec.rollouts], ['ferry', 'ro-2', ['ro-1', 'ro-2']]);
});

test('TTL / admission policy are updated when the wish differs, never while an update is pending', async () => {
  const { clock, fake, records, deps, log } = setup();
  await fake.create('models', 'us-central1-a');
  clock.advance(60_000);
  const wish = plan({ zones: ['us-central1-a'], ttlSeconds: 3 * 86_400, admissionPolicy: 'admit-on-second-miss' });
  assert.deepEqual(states(await ensureCaches(wish, use(), deps, clock, log)), { 'us-central1-a': 'running' }, 'a running cache being updated is ready');
  assert.equal(fake.stats().calls.update, 1);
  assert.equal((await records.get('models', 'us-central1-a'))!.pendingUpdate, true);
  await ensureCaches(wish, use(), deps, clock, log);
  assert.equal(fake.stats().calls.update, 1, 'no second update while pendingUpdate');
  clock.advance(30_000);
  await ensureCaches(wish, use(), deps, clock, log);
  const rec = (await records.get('models', 'us-central1-a'))!;
  assert.deepEqual([rec.ttlSeconds, rec.admissionPolicy, rec.pendingUpdate, rec.operation], [3 * 86_400, 'admit-on-second-miss', false, null]);
  assert.equal(fake.stats().calls.update, 1);
});

test('a zone the API refuses is failed (not retried at once); an unreachable API is unknown, never an exception', async () => {
  const { clock, fake, records, deps, log } = setup();
  fake.failNext('create', 'CACHE_INVALID_ARGUMENT');
  const obs = await ensureCaches(plan({ zones: ['us-central1-a'] }), use(), deps, clock, log);
  assert.equal(obs[0]!.state, 'failed');
  assert.match(obs[0]!.message!, /CACHE_INVALID_ARGUMENT/);
  assert.equal((await records.get('models', 'us-central1-a'))!.state, 'failed');
  await ensureCaches(plan({ zones: ['us-central1-a'] }), use(), deps, clock, log);
  assert.equal(fake.stats().calls.create, 1, 'not created again within FAILED_RETRY_SECONDS');

  // UNAVAILABLE on every attempt the client makes within CALL_TOTAL_TIMEOUT_MS (it retries UNAVAILABLE
  // with jittered 1 s ×2 backoff, so the number of attempts varies; 50 is more than can fit). The next
  // setup() resets the leftovers.
  for (let i = 0; i < 50; i++) fake.failNext('get', 'CACHE_UNAVAILABLE');
  const down = await ensureCaches(plan({ zones: ['us-central1-b'] }), use(), deps, clock, log);
  assert.equal(down[0]!.state, 'unknown');
  assert.match(down[0]!.message!, /CACHE_UNAVAILABLE/);
});

test('planRolloutCaches: zones from the cluster, pin to a warm zone, explicit zones survive a cluster error', async () => {
  const { clock, fake, deps, log } = setup();
  const request = DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'llama',
    version: 'v1',
    target: { cluster: 'local', namespace: 'ns', name: 'llama' },
    accelerator: { type: 'nvidia-l4' },
    requestedBy: { source: 'cli', principal: 'alice' },
    cache: { mode: 'pin-one-zone' },
  });
  await fake.create('models', 'us-central1-b');
  clock.advance(60_000);
  const warm = await planRolloutCaches(request, { bucket: 'models', accelerator: 'nvidia-l4' }, deps, log);
  assert.ok(warm.ok && warm.plan.pinnedZone === 'us-central1-b', JSON.stringify(warm));
  const broken = {
    ...deps,
    zones: {
      acceleratorZones: async () => {
        throw new FerryError('CLUSTER_UNAVAILABLE', 'down', { retryable: true });
      },
    },
  };
  await assert.rejects(planRolloutCaches(request, { bucket: 'models', accelerator: 'nvidia-l4' }, broken, log), /down/);
  const explicit = DeployRequest.parse({ ...request, cache: { mode: 'all-zones', zones: ['us-central1-c'] } });
  const ok = await planRolloutCaches(explicit, { bucket: 'models', accelerator: 'nvidia-l4' }, broken, log);
  assert.ok(ok.ok && ok.plan.zones.join() === 'us-central1-c');
  const far = DeployRequest.parse({ ...request, cache: { mode: 'all-zones', zones: ['europe-west4-a'] } });
  const refused = await planRolloutCaches(far, { bucket: 'models', accelerator: 'nvidia-l4' }, deps, log);
  assert.ok(!refused.ok && refused.reason === 'CACHE_ZONE_OUTSIDE_BUCKET_LOCATION');
});

test('advanceCaches: finishes operations nobody waits for; marks caches a running Deployment relies on as used', async () => {
  const { clock, records, deps, log } = setup();
  await ensureCaches(plan(), use('ro-1'), deps, clock, log);
  clock.advance(61_000);
  const rollout = { id: 'ro-1', cache: plan() } as unknown as Rollout;
  const deployment = {
    metadata: { name: 'llama' },
    spec: { replicas: 1, template: { metadata: { annotations: { 'ferry.dev/rollout-id': 'ro-1' } } } },
    status: { availableReplicas: 1 },
  };
  const cluster = { getDeployment: async () => deployment } as unknown as ClusterClient;
  const clusters: ClusterProvider = { get: async () => cluster };
  const rollouts = { getRollout: async (id: string) => (id === 'ro-1' ? rollout : undefined) } as unknown as RolloutState;
  const r = await advanceCaches({ caches: deps, rollouts, clusters, clock, logger: log });
  assert.deepEqual(r, { refreshed: 2, touched: 2, failed: 0 });
  const rec = (await records.get('models', 'us-central1-b'))!;
  assert.deepEqual([rec.state, rec.operation, rec.lastUsedAt], ['running', null, clock.now().toISOString()]);
  // within the resolution nothing is written again; nothing left to refresh
  clock.advance(10_000);
  assert.deepEqual(await advanceCaches({ caches: deps, rollouts, clusters, clock, logger: log }), { refreshed: 0, touched: 0, failed: 0 });
  // a Deployment scaled to zero relies on nothing
  clock.advance(120_000);
  (deployment.status as { availableReplicas: number }).availableReplicas = 0;
  assert.equal((await advanceCaches({ caches: deps, rollouts, clusters, clock, logger: log })).touched, 0);
  void recordCacheEvent;
});
