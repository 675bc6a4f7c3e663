import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bucketLocation,
  zoneInBucketLocation,
  regionOfZone,
  normalizeCacheState,
  planCache,
  decideCacheAction,
  FAILED_RETRY_SECONDS,
  type LiveCache,
} from '../../../shared/domain/cache.ts';
import { recordCacheEvent, cacheNeedsRefresh, CacheRecord, MAX_RECORDED_ROLLOUTS, type CacheUse } from '../../../shared/domain/cache-record.ts';
import { CacheOptions } from '../../../shared/domain/deploy-request.ts';

const T0 = Date.UTC(2026, 10, 21, 12);
const at = (s: number) => new Date(T0 + s * 1000);

test('states are compared case-insensitively; anything else is unknown', () => {
  for (const [raw, want] of [
    ['RUNNING', 'running'],
    ['running', 'running'],
    ['Creating', 'creating'],
    ['DISABLED', 'disabled'],
    ['paused', 'paused'],
    ['', 'unknown'],
    [null, 'unknown'],
    ['DELETING', 'unknown'],
  ] as const) {
    assert.equal(normalizeCacheState(raw), want, String(raw));
  }
});

test('bucket locations: type inferred when GCS does not say', () => {
  assert.deepEqual(bucketLocation('us-central1'), { location: 'US-CENTRAL1', locationType: 'region' });
  assert.deepEqual(bucketLocation('NAM4'), { location: 'NAM4', locationType: 'dual-region' });
  assert.deepEqual(bucketLocation('US'), { location: 'US', locationType: 'multi-region' });
  assert.deepEqual(bucketLocation('US', 'dual-region', ['us-east1', 'us-west1']), {
    location: 'US',
    locationType: 'dual-region',
    dataLocations: ['US-EAST1', 'US-WEST1'],
  });
  assert.equal(regionOfZone('europe-west4-a'), 'europe-west4');
  assert.equal(regionOfZone('europe-west4'), null);
});

test('zones inside and outside bucket locations (the documented table)', () => {
  const ok = (zone: string, loc: string, type?: string, data?: string[]) => zoneInBucketLocation(zone, 'b', bucketLocation(loc, type, data)).ok;
  // region
  assert.equal(ok('us-central1-a', 'US-CENTRAL1'), true);
  assert.equal(ok('us-east1-b', 'US-CENTRAL1'), false);
  // predefined dual-regions
  assert.equal(ok('us-east1-c', 'NAM4'), true);
  assert.equal(ok('us-west1-a', 'NAM4'), false);
  assert.equal(ok('europe-north1-a', 'EUR4'), true);
  assert.equal(ok('asia-northeast2-a', 'ASIA1'), true);
  // configurable dual-region
  assert.equal(ok('us-west1-a', 'US', 'dual-region', ['US-EAST1', 'US-WEST1']), true);
  assert.equal(ok('us-central1-a', 'US', 'dual-region', ['US-EAST1', 'US-WEST1']), false);
  // multi-regions
  assert.equal(ok('us-west4-b', 'US'), true);
  assert.equal(ok('europe-west4-a', 'US'), false);
  assert.equal(ok('europe-west1-b', 'EU'), true);
  assert.equal(ok('europe-west2-a', 'EU'), false, 'London is not in the EU multi-region');
  assert.equal(ok('asia-east1-a', 'ASIA'), true);
  // unknown location: the API decides
  assert.equal(ok('us-central1-a', 'EUR9'), 'unknown');
  // not a zone
  assert.equal(ok('us-central1', 'US-CENTRAL1'), false);
  const v = zoneInBucketLocation('europe-west4-a', 'models', bucketLocation('US-CENTRAL1'));
  assert.ok(v.ok === false && /gs:\/\/models.*US-CENTRAL1.*only us-central1-\* zones/.test(v.reason), JSON.stringify(v));
});

const opts = (o: Record<string, unknown>) => CacheOptions.parse(o);
const base = { bucket: 'models', location: bucketLocation('US-CENTRAL1'), accelerator: 'nvidia-l4', cluster: 'local', runningZones: [] as string[] };

test('planCache: all-zones caches every zone that can host the accelerator', () => {
  const r = planCache({ ...base, cache: opts({ mode: 'all-zones' }), hostZones: ['us-central1-b', 'us-central1-a', 'us-central1-a'] });
  assert.ok(r.ok);
  assert.deepEqual(r.plan.zones, ['us-central1-a', 'us-central1-b']);
  assert.equal(r.plan.pinnedZone, null);
  assert.deepEqual(r.nodeSelectorExtra, {});
  assert.equal(r.plan.maxWaitSeconds, 600);
  assert.deepEqual([r.plan.ttlSeconds, r.plan.admissionPolicy], [null, null]);
});

test('planCache: pin-one-zone prefers a zone with a running cache, else the first; pins the pods', () => {
  const cold = planCache({ ...base, cache: opts({ mode: 'pin-one-zone' }), hostZones: ['us-central1-b', 'us-central1-a'] });
  assert.ok(cold.ok);
  assert.deepEqual([cold.plan.zones, cold.plan.pinnedZone], [['us-central1-a'], 'us-central1-a']);
  assert.deepEqual(cold.nodeSelectorExtra, { 'topology.kubernetes.io/zone': 'us-central1-a' });
  const warm = planCache({
    ...base,
    cache: opts({ mode: 'pin-one-zone' }),
    hostZones: ['us-central1-a', 'us-central1-b'],
    runningZones: ['us-central1-b', 'us-east1-b'],
  });
  assert.ok(warm.ok);
  assert.equal(warm.plan.pinnedZone, 'us-central1-b');
  // requested zones: only those hosting the accelerator are pin candidates
  const req = planCache({
    ...base,
    cache: opts({ mode: 'pin-one-zone', zones: ['us-central1-c', 'us-central1-b'] }),
    hostZones: ['us-central1-a', 'us-central1-b'],
  });
  assert.ok(req.ok);
  assert.equal(req.plan.pinnedZone, 'us-central1-b');
  assert.match(req.warnings[0]!, /no nvidia-l4 nodes in us-central1-c/);
});

test('planCache: request settings are carried; defaults for max wait', () => {
  const r = planCache({
    ...base,
    cache: opts({ mode: 'all-zones', ttlSeconds: 172_800, admissionPolicy: 'admit-on-second-miss', maxWaitSeconds: 30 }),
    hostZones: ['us-central1-a'],
  });
  assert.ok(r.ok);
  assert.deepEqual([r.plan.ttlSeconds, r.plan.admissionPolicy, r.plan.maxWaitSeconds], [172_800, 'admit-on-second-miss', 30]);
  const d = planCache({ ...base, cache: opts({ mode: 'all-zones' }), hostZones: ['us-central1-a'], defaultMaxWaitSeconds: 45 });
  assert.ok(d.ok && d.plan.maxWaitSeconds === 45);
});

test('planCache: impossible zones are refused with a clear reason', () => {
  const asked = planCache({ ...base, cache: opts({ mode: 'all-zones', zones: ['us-central1-a', 'europe-west4-a'] }), hostZones: ['us-central1-a'] });
  assert.deepEqual([asked.ok, !asked.ok && asked.reason], [false, 'CACHE_ZONE_OUTSIDE_BUCKET_LOCATION']);
  assert.ok(!asked.ok && /europe-west4-a cannot cache gs:\/\/models: the bucket is in US-CENTRAL1/.test(asked.message), JSON.stringify(asked));
  const cluster = planCache({ ...base, cache: opts({ mode: 'all-zones' }), hostZones: ['europe-west4-a', 'europe-west4-b'] });
  assert.ok(
    !cluster.ok &&
      cluster.reason === 'CACHE_ZONE_OUTSIDE_BUCKET_LOCATION' &&
      /nodes of cluster local are in europe-west4-a, europe-west4-b/.test(cluster.message),
    JSON.stringify(cluster),
  );
  const none = planCache({ ...base, cache: opts({ mode: 'all-zones' }), hostZones: [] });
  assert.ok(!none.ok && none.reason === 'CACHE_NO_ZONES' && /can host nvidia-l4/.test(none.message));
  // zones from the cluster partly outside: dropped with a warning
  const us = planCache({ ...base, location: bucketLocation('NAM4'), cache: opts({ mode: 'all-zones' }), hostZones: ['us-central1-a', 'us-west1-a'] });
  assert.ok(us.ok);
  assert.deepEqual(us.plan.zones, ['us-central1-a']);
  assert.match(us.plan.warnings[0]!, /not caching us-west1-a/);
  // explicit zones without the cluster's answer
  const blind = planCache({ ...base, cache: opts({ mode: 'pin-one-zone', zones: ['us-central1-f'] }), hostZones: null });
  assert.ok(blind.ok && blind.plan.pinnedZone === 'us-central1-f');
});

const live = (state: LiveCache['state'], over: Partial<LiveCache> = {}): LiveCache => ({
  name: 'projects/_/buckets/models/anywhereCaches/us-central1-a',
  bucket: 'models',
  zone: 'us-central1-a',
  state,
  rawState: state.toUpperCase(),
  ttlSeconds: 86_400,
  admissionPolicy: 'admit-on-first-miss',
  pendingUpdate: false,
  ...over,
});
const none = { ttlSeconds: null, admissionPolicy: null };

test('decideCacheAction: create if absent, resume if paused/disabled, update when the wish differs', () => {
  assert.deepEqual(decideCacheAction(none, null, undefined, at(0)), { kind: 'create' });
  assert.deepEqual(decideCacheAction(none, live('disabled'), undefined, at(0)), { kind: 'resume' });
  assert.deepEqual(decideCacheAction(none, live('paused'), undefined, at(0)), { kind: 'resume' });
  assert.equal(decideCacheAction(none, live('creating'), undefined, at(0)).kind, 'wait');
  assert.deepEqual(decideCacheAction(none, live('running'), undefined, at(0)), { kind: 'none' });
  assert.deepEqual(decideCacheAction({ ttlSeconds: 86_400, admissionPolicy: 'admit-on-first-miss' }, live('running'), undefined, at(0)), { kind: 'none' });
  assert.deepEqual(decideCacheAction({ ttlSeconds: 3600, admissionPolicy: null }, live('running'), undefined, at(0)), {
    kind: 'update',
    ttlSeconds: 3600,
    admissionPolicy: null,
  });
  assert.deepEqual(decideCacheAction({ ttlSeconds: null, admissionPolicy: 'admit-on-second-miss' }, live('running'), undefined, at(0)), {
    kind: 'update',
    ttlSeconds: null,
    admissionPolicy: 'admit-on-second-miss',
  });
  assert.equal(decideCacheAction({ ttlSeconds: 3600, admissionPolicy: null }, live('running', { pendingUpdate: true }), undefined, at(0)).kind, 'wait');
  assert.equal(decideCacheAction(none, live('unknown'), undefined, at(0)).kind, 'wait');
  // a failed creation is not retried at once
  const failed = recordCacheEvent(undefined, {
    bucket: 'models',
    zone: 'us-central1-a',
    now: at(0),
    live: null,
    error: { code: 'CACHE_INVALID_ARGUMENT', message: 'zone not offered' },
    failed: true,
  });
  assert.equal(decideCacheAction(none, null, failed, at(10)).kind, 'wait');
  assert.equal(decideCacheAction(none, null, failed, at(FAILED_RETRY_SECONDS + 1)).kind, 'create');
});

const use = (rolloutId: string, name = 'llama'): CacheUse => ({
  rolloutId,
  targetKey: `local~ns~${name}`,
  target: { cluster: 'local', namespace: 'ns', name },
  requestedBy: { source: 'cli', principal: 'alice' },
});
const ev = { bucket: 'models', zone: 'us-central1-a' };

test('records: who created it, who uses it, when it was last used', () => {
  const created = recordCacheEvent(undefined, { ...ev, now: at(0), live: null });
  assert.equal(created.state, 'absent');
  const r1 = recordCacheEvent(created, {
    ...ev,
    now: at(1),
    action: 'create',
    operation: { name: 'op1', kind: 'create', startedAt: at(1).toISOString() },
    live: live('creating'),
    use: use('ro-1'),
  });
  assert.deepEqual(r1.createdBy, { by: 'ferry', rolloutId: 'ro-1', requestedBy: { source: 'cli', principal: 'alice' }, at: at(1).toISOString() });
  assert.deepEqual(
    [r1.state, r1.rawState, r1.operation?.name, r1.lastAction?.kind, r1.lastUsedAt],
    ['creating', 'CREATING', 'op1', 'create', at(1).toISOString()],
  );
  assert.ok(cacheNeedsRefresh(r1));
  const r2 = recordCacheEvent(r1, { ...ev, now: at(5), operationDone: true, live: live('running'), use: use('ro-2', 'other') });
  assert.deepEqual(
    [r2.state, r2.operation, r2.rollouts, r2.targets.map((t) => t.targetKey)],
    ['running', null, ['ro-1', 'ro-2'], ['local~ns~llama', 'local~ns~other']],
  );
  assert.ok(!cacheNeedsRefresh(r2));
  const touched = recordCacheEvent(r2, { ...ev, now: at(100), touch: { targetKey: 'local~ns~llama' } });
  assert.equal(touched.lastUsedAt, at(100).toISOString());
  assert.equal(touched.targets.find((t) => t.targetKey === 'local~ns~llama')!.lastUsedAt, at(100).toISOString());
  assert.equal(touched.targets.find((t) => t.targetKey === 'local~ns~other')!.lastUsedAt, at(5).toISOString());
  // found already there: external
  const ext = recordCacheEvent(undefined, { ...ev, now: at(0), live: live('running'), use: use('ro-9') });
  assert.equal(ext.createdBy.by, 'external');
  assert.doesNotThrow(() => CacheRecord.parse(JSON.parse(JSON.stringify(touched))));
});

test('property: records stay valid, times never go back, at most MAX_RECORDED_ROLLOUTS rollouts', () => {
  const event = fc.record({
    dt: fc.integer({ min: -30, max: 300 }),
    live: fc.option(fc.constantFrom<LiveCache['state']>('creating', 'running', 'paused', 'disabled'), { nil: undefined }),
    absent: fc.boolean(),
    action: fc.option(fc.constantFrom('create', 'resume', 'update', 'adopt') as fc.Arbitrary<'create' | 'resume' | 'update' | 'adopt'>, { nil: undefined }),
    rollout: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
    failed: fc.boolean(),
    done: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), (events) => {
      let r: CacheRecord | undefined;
      let t = 0;
      for (const e of events) {
        t += e.dt;
        const prev = r;
        r = recordCacheEvent(r, {
          ...ev,
          now: at(t),
          ...(e.absent ? { live: null } : e.live ? { live: live(e.live) } : {}),
          ...(e.action ? { action: e.action } : {}),
          ...(e.rollout !== undefined ? { use: use(`ro-${e.rollout}`, `t${e.rollout % 3}`) } : {}),
          ...(e.failed ? { failed: true, error: { code: 'X', message: 'y' } } : {}),
          ...(e.done ? { operationDone: true } : {}),
        });
        CacheRecord.parse(r);
        assert.ok(r.rollouts.length <= MAX_RECORDED_ROLLOUTS);
        assert.equal(new Set(r.rollouts).size, r.rollouts.length);
        if (prev) {
          assert.ok(r.updatedAt >= prev.updatedAt);
          assert.ok((r.lastUsedAt ?? '') >= (prev.lastUsedAt ?? ''));
          assert.equal(r.createdAt, prev.createdAt);
        }
      }
    }),
    { numRuns: 200 },
  );
});
