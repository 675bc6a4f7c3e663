/**
 * The teardown planner, property-tested over random inventories: each never-touch rule, the action
 * limit, dry runs, determinism (order of the inventory does not matter), and the re-read check.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planTeardown, confirmAction, executableActions, isProtected, TeardownPlan, type PlannedAction } from '../../../shared/domain/teardown.ts';
import {
  MANAGED_LABEL_KEY,
  MANAGED_LABEL_VALUE,
  DEFAULT_TEARDOWN_POLICY,
  type TeardownInventory,
  type TeardownPolicy,
  type InventoryCache,
  type InventoryTarget,
  type InventoryCluster,
  type InventoryRollout,
  type InventoryNodePool,
} from '../../../shared/domain/teardown-inventory.ts';
import { nextActivity } from '../../../shared/domain/teardown-run.ts';
import {
  rememberPools,
  findScaledDown,
  restorePlan,
  rememberedPerZone,
  upgradeScaledDown,
  ScaledDownCluster,
  type ScaledDownClusterV1,
} from '../../../shared/domain/scaled-down-cluster.ts';
import { cacheId } from '../../../shared/domain/names.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const HOUR = 3600;
const PROTECT = 'ferry-protect';

const BUCKETS = ['b1', 'b2'];
const ZONES = ['us-central1-a', 'us-central1-b', 'us-central1-c'];
const CLUSTERS = [
  'projects/p/locations/us-central1/clusters/c1',
  'projects/p/locations/us-central1/clusters/c2',
  'projects/p/locations/us-central1/clusters/c3',
  'local',
];
/** c1 again, its project named by number (GKE accepts both): targets may spell it this way. */
const C1_BY_NUMBER = 'projects/123456789012/locations/us-central1/clusters/c1';

/** A time up to 3 days before NOW, or null. */
const timeArb = fc.option(
  fc.integer({ min: 0, max: 72 * HOUR }).map((s) => new Date(NOW.getTime() - s * 1000).toISOString()),
  { nil: null },
);
const labelsArb = fc
  .record({
    protect: fc.constantFrom<string | null>(null, null, null, 'true', '', 'false'),
    managed: fc.constantFrom<string | null>(MANAGED_LABEL_VALUE, MANAGED_LABEL_VALUE, null, 'someone-else'),
  })
  .map(({ protect, managed }) => {
    const l: Record<string, string> = {};
    if (protect !== null) l[PROTECT] = protect;
    if (managed !== null) l[MANAGED_LABEL_KEY] = managed;
    return l;
  });
const cacheRefArb = fc.record({ bucket: fc.constantFrom(...BUCKETS), zone: fc.constantFrom(...ZONES) });

const cacheArb: fc.Arbitrary<InventoryCache> = fc.record({
  bucket: fc.constantFrom(...BUCKETS),
  zone: fc.constantFrom(...ZONES),
  state: fc.constantFrom('running', 'running', 'paused', 'creating', 'disabled', 'absent', 'failed', 'unknown' as const),
  managed: fc.boolean(),
  labels: labelsArb,
  lastUsedAt: timeArb,
  createdAt: timeArb,
  version: fc.constantFrom('v1', 'v2'),
});

const targetArb: fc.Arbitrary<InventoryTarget> = fc
  .record({
    cluster: fc.constantFrom(...CLUSTERS, C1_BY_NUMBER),
    namespace: fc.constantFrom('ns1', 'ns2'),
    name: fc.constantFrom('m1', 'm2'),
    labels: labelsArb,
    replicas: fc.constantFrom(0, 0, 1, 2),
    lastActiveAt: timeArb,
    lastChangedAt: timeArb,
    caches: fc.array(cacheRefArb, { maxLength: 2 }),
    version: fc.constantFrom('v1', 'v2'),
  })
  .map((t) => ({ ...t, key: `${t.cluster}~${t.namespace}~${t.name}` }));

const clusterArb: fc.Arbitrary<InventoryCluster> = fc.record({
  name: fc.constantFrom(...CLUSTERS),
  labels: labelsArb,
  status: fc.constantFrom('RUNNING', 'RUNNING', 'RUNNING', 'PROVISIONING', 'RECONCILING', 'ERROR' as const),
  nodePools: fc
    .array(
      fc
        .record({
          name: fc.constantFrom('gpu', 'cpu', 'l4'),
          zones: fc.constantFrom<string[]>(['us-central1-a'], ['us-central1-a', 'us-central1-b', 'us-central1-c']),
          nodesPerZone: fc.nat(3),
          autoscaling: fc.option(
            fc.record({
              limits: fc.constantFrom('per-zone', 'total' as const),
              minNodeCount: fc.nat(2),
              maxNodeCount: fc.integer({ min: 2, max: 5 }),
              locationPolicy: fc.constantFrom(null, 'BALANCED', 'ANY' as const),
            }),
            { nil: null },
          ),
        })
        .map((p) => ({ ...p, nodeCount: p.nodesPerZone * p.zones.length })),
      { maxLength: 3 },
    )
    .map((ps) => ps.filter((p, i) => ps.findIndex((q) => q.name === p.name) === i)),
  createdAt: timeArb,
  version: fc.constantFrom('f1', 'f2'),
});

const uniqBy = <T>(xs: T[], key: (x: T) => string): T[] => xs.filter((x, i) => xs.findIndex((y) => key(y) === key(x)) === i);

const inventoryArb: fc.Arbitrary<TeardownInventory> = fc
  .record({
    caches: fc.array(cacheArb, { maxLength: 6 }),
    targets: fc.array(targetArb, { maxLength: 6 }),
    clusters: fc.array(clusterArb, { maxLength: 4 }),
    inFlightRaw: fc.array(
      fc.record({
        id: fc.constantFrom('r1', 'r2', 'r3'),
        caches: fc.array(cacheRefArb, { maxLength: 2 }),
        t: fc.nat(10),
        cluster: fc.constantFrom(...CLUSTERS, C1_BY_NUMBER),
      }),
      { maxLength: 2 },
    ),
  })
  .map(({ caches, targets, clusters, inFlightRaw }) => {
    const ts = uniqBy(targets, (t) => t.key);
    const inFlight: InventoryRollout[] = uniqBy(inFlightRaw, (r) => r.id).map((r) => {
      const t = ts.length ? ts[r.t % ts.length]! : null;
      return { id: r.id, targetKey: t?.key ?? `${r.cluster}~nsx~mx`, cluster: t?.cluster ?? r.cluster, caches: r.caches };
    });
    return { caches: uniqBy(caches, (c) => cacheId(c.bucket, c.zone)), targets: ts, clusters: uniqBy(clusters, (c) => c.name), inFlight };
  });

const policyArb: fc.Arbitrary<TeardownPolicy> = fc.record({
  idleTtlSeconds: fc.record({
    cache: fc.integer({ min: 0, max: 48 * HOUR }),
    deployment: fc.integer({ min: 0, max: 48 * HOUR }),
    cluster: fc.integer({ min: 0, max: 48 * HOUR }),
  }),
  protectLabel: fc.constant(PROTECT),
  dryRun: fc.boolean(),
  maxActions: fc.nat(8),
  clusterMode: fc.constantFrom('scale-to-zero', 'delete' as const),
  scaleDeployments: fc.boolean(),
});

const RUNS = { numRuns: 600 };
const ago = (iso: string | null): number => (iso === null ? Infinity : (NOW.getTime() - Date.parse(iso)) / 1000);

const cacheActions = (p: TeardownPlan) => p.actions.flatMap((a) => (a.action.kind === 'disable-cache' ? [a.action] : []));
const clusterActions = (p: TeardownPlan) =>
  p.actions.flatMap((a) => (a.action.kind === 'scale-node-pools' || a.action.kind === 'delete-cluster' ? [a.action] : []));
const deploymentActions = (p: TeardownPlan) => p.actions.flatMap((a) => (a.action.kind === 'scale-deployment' ? [a.action] : []));

describe('planTeardown: never touched', () => {
  test('a cache not created by ferry, protected, used by a running Deployment or an in-flight rollout, or not running/paused', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        const plan = planTeardown(inv, policy, NOW);
        for (const a of cacheActions(plan)) {
          const c = inv.caches.find((x) => x.bucket === a.bucket && x.zone === a.zone);
          assert.ok(c, 'only caches from the inventory');
          assert.ok(c.managed, 'managed');
          assert.ok(!isProtected(c.labels, PROTECT), 'not protected');
          const k = cacheId(c.bucket, c.zone);
          const users = inv.targets.filter((t) => t.caches.some((x) => cacheId(x.bucket, x.zone) === k));
          assert.ok(!users.some((u) => u.replicas > 0), 'no running Deployment uses it');
          assert.ok(!users.some((u) => isProtected(u.labels, PROTECT)), 'no protected target uses it');
          assert.ok(!inv.inFlight.some((r) => r.caches.some((x) => cacheId(x.bucket, x.zone) === k)), 'no in-flight rollout uses it');
          assert.ok(c.state === 'running' || c.state === 'paused');
          // idle for the TTL, counting the targets' activity
          for (const t of [c.lastUsedAt, ...users.map((u) => u.lastActiveAt)]) assert.ok(ago(t) >= policy.idleTtlSeconds.cache);
          if (c.lastUsedAt === null && users.every((u) => u.lastActiveAt === null))
            assert.ok(ago(c.createdAt) >= policy.idleTtlSeconds.cache && c.createdAt !== null);
        }
      }),
      RUNS,
    );
  });

  test('a cluster not labelled managed-by=ferry, protected, with an in-flight rollout, a running or recently active ferry Deployment, or not RUNNING', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        const plan = planTeardown(inv, policy, NOW);
        for (const a of clusterActions(plan)) {
          const cl = inv.clusters.find((c) => c.name === a.cluster);
          assert.ok(cl);
          assert.equal(cl.labels[MANAGED_LABEL_KEY], MANAGED_LABEL_VALUE);
          assert.ok(!isProtected(cl.labels, PROTECT));
          assert.equal(cl.status, 'RUNNING');
          // Written out by hand (not with sameCluster): c1 is c1 whether its project is named by id or number.
          const onIt = (c: string) => c === cl.name || (cl.name.endsWith('/clusters/c1') && c === C1_BY_NUMBER);
          const ts = inv.targets.filter((t) => onIt(t.cluster));
          assert.ok(!inv.inFlight.some((r) => onIt(r.cluster) || ts.some((t) => t.key === r.targetKey)), 'no in-flight rollout');
          assert.ok(
            ts.every((t) => t.replicas === 0),
            'no running Deployment',
          );
          assert.ok(
            ts.every((t) => !isProtected(t.labels, PROTECT)),
            'no protected target',
          );
          for (const t of ts) {
            assert.ok(t.lastActiveAt !== null || t.lastChangedAt !== null, 'every target on it can be dated');
            assert.ok(ago(t.lastActiveAt) >= policy.idleTtlSeconds.cluster, 'no Deployment active within the TTL');
            assert.ok(ago(t.lastChangedAt) >= policy.idleTtlSeconds.cluster, 'no rollout change within the TTL');
          }
          assert.equal(a.kind, policy.clusterMode === 'delete' ? 'delete-cluster' : 'scale-node-pools');
          if (a.kind === 'scale-node-pools') {
            for (const p of a.nodePools)
              assert.ok(
                cl.nodePools.some((q) => q.name === p),
                'only its own node pools',
              );
          }
        }
      }),
      RUNS,
    );
  });

  test('a Deployment: only with the policy on, not protected, no rollout in flight, idle for its TTL', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        const plan = planTeardown(inv, policy, NOW);
        const ds = deploymentActions(plan);
        if (!policy.scaleDeployments) assert.equal(ds.length, 0);
        for (const a of ds) {
          const t = inv.targets.find((x) => x.key === a.targetKey);
          assert.ok(t);
          assert.ok(t.replicas > 0);
          assert.ok(!isProtected(t.labels, PROTECT));
          assert.ok(!inv.inFlight.some((r) => r.targetKey === t.key));
          assert.ok(t.lastActiveAt !== null && ago(t.lastActiveAt) >= policy.idleTtlSeconds.deployment);
        }
      }),
      RUNS,
    );
  });

  test('every resource is either acted on or skipped with a reason, never both', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        const plan = planTeardown(inv, policy, NOW);
        TeardownPlan.parse(plan);
        const acted = new Set(
          plan.actions.map((a) =>
            JSON.stringify(
              a.action.kind === 'disable-cache'
                ? ['cache', a.action.bucket, a.action.zone]
                : a.action.kind === 'scale-deployment'
                  ? ['deployment', a.action.targetKey]
                  : ['cluster', a.action.cluster],
            ),
          ),
        );
        for (const c of inv.caches) {
          const k = JSON.stringify(['cache', c.bucket, c.zone]);
          const skipped = plan.skipped.filter((s) => s.resource.kind === 'cache' && s.resource.bucket === c.bucket && s.resource.zone === c.zone);
          assert.equal(acted.has(k) ? 1 : 0, 1 - skipped.length, `cache ${k}`);
        }
        for (const cl of inv.clusters) {
          const k = JSON.stringify(['cluster', cl.name]);
          const skipped = plan.skipped.filter((s) => s.resource.kind === 'cluster' && s.resource.name === cl.name);
          assert.equal(acted.has(k) ? 1 : 0, 1 - skipped.length, `cluster ${k}`);
        }
      }),
      RUNS,
    );
  });
});

describe('planTeardown: limits, dry run, determinism', () => {
  test('at most one action per resource; node pools listed are the ones not yet at zero', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        const plan = planTeardown(inv, { ...policy, maxActions: 1000 }, NOW);
        const keys = plan.actions.map((a) =>
          a.action.kind === 'disable-cache'
            ? `c:${a.action.bucket}/${a.action.zone}`
            : a.action.kind === 'scale-deployment'
              ? `d:${a.action.targetKey}`
              : `k:${a.action.cluster}`,
        );
        assert.equal(new Set(keys).size, keys.length);
        for (const a of clusterActions(plan)) {
          if (a.kind !== 'scale-node-pools') continue;
          const cl = inv.clusters.find((c) => c.name === a.cluster)!;
          const want = cl.nodePools
            .filter((p) => p.nodeCount > 0 || (p.autoscaling?.minNodeCount ?? 0) > 0)
            .map((p) => p.name)
            .sort();
          assert.deepEqual(a.nodePools, want);
        }
      }),
      RUNS,
    );
  });

  test('never more than maxActions; the overflow is skipped as MAX_ACTIONS', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        const plan = planTeardown(inv, policy, NOW);
        const unlimited = planTeardown(inv, { ...policy, maxActions: 1000 }, NOW);
        assert.ok(plan.actions.length <= policy.maxActions);
        assert.equal(plan.actions.length, Math.min(policy.maxActions, unlimited.actions.length));
        assert.deepEqual(plan.actions, unlimited.actions.slice(0, policy.maxActions), 'a prefix of the unlimited plan');
        assert.equal(plan.skipped.filter((s) => s.reason === 'MAX_ACTIONS').length, unlimited.actions.length - plan.actions.length);
      }),
      RUNS,
    );
  });

  test('a dry run plans the same actions and executes none', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        const dry = planTeardown(inv, { ...policy, dryRun: true }, NOW);
        const wet = planTeardown(inv, { ...policy, dryRun: false }, NOW);
        assert.deepEqual(dry.actions, wet.actions);
        assert.equal(dry.dryRun, true);
        assert.deepEqual(executableActions(dry), []);
        assert.deepEqual(executableActions(wet), wet.actions);
      }),
      RUNS,
    );
  });

  test('deterministic: same inputs in any order give the same plan', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, fc.integer(), (inv, policy, seed) => {
        const shuffle = <T>(xs: T[]): T[] => {
          const out = [...xs];
          let s = seed;
          for (let i = out.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) & 0x7fffffff;
            const j = s % (i + 1);
            [out[i], out[j]] = [out[j]!, out[i]!];
          }
          return out;
        };
        const a = planTeardown(inv, policy, NOW);
        const b = planTeardown(
          { caches: shuffle(inv.caches), targets: shuffle(inv.targets), clusters: shuffle(inv.clusters), inFlight: shuffle(inv.inFlight) },
          policy,
          NOW,
        );
        assert.deepEqual(a, b);
        assert.deepEqual(planTeardown(inv, policy, NOW), a);
      }),
      RUNS,
    );
  });

  test('monotone in time: a later run never spares what an earlier run would tear down', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, fc.nat(48 * HOUR), (inv, policy, later) => {
        const p = { ...policy, maxActions: 1000 };
        const before = planTeardown(inv, p, NOW).actions.map((a) => JSON.stringify(a.action));
        const after = new Set(planTeardown(inv, p, new Date(NOW.getTime() + later * 1000)).actions.map((a) => JSON.stringify(a.action)));
        for (const k of before) assert.ok(after.has(k), k);
      }),
      RUNS,
    );
  });
});

describe('confirmAction (re-read before a destructive call)', () => {
  test('confirms every planned action against the same inventory', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        for (const a of planTeardown(inv, policy, NOW).actions) assert.deepEqual(confirmAction(a, inv, policy, NOW), { ok: true });
      }),
      RUNS,
    );
  });

  test('refuses when the resource changed, is gone, or became in use', () => {
    fc.assert(
      fc.property(inventoryArb, policyArb, (inv, policy) => {
        for (const a of planTeardown(inv, policy, NOW).actions) {
          const changed = bump(inv, a);
          assert.equal(confirmAction(a, changed, policy, NOW).ok, false, 'changed');
          assert.equal(confirmAction(a, remove(inv, a), policy, NOW).ok, false, 'gone');
          const used = startRollout(inv, a);
          assert.equal(confirmAction(a, used, policy, NOW).ok, false, 'in use');
        }
      }),
      RUNS,
    );
  });
});

function bump(inv: TeardownInventory, a: PlannedAction): TeardownInventory {
  const x = a.action;
  return {
    ...inv,
    caches: inv.caches.map((c) => (x.kind === 'disable-cache' && c.bucket === x.bucket && c.zone === x.zone ? { ...c, version: c.version + '+' } : c)),
    targets: inv.targets.map((t) => (x.kind === 'scale-deployment' && t.key === x.targetKey ? { ...t, version: t.version + '+' } : t)),
    clusters: inv.clusters.map((c) =>
      (x.kind === 'scale-node-pools' || x.kind === 'delete-cluster') && c.name === x.cluster ? { ...c, version: c.version + '+' } : c,
    ),
  };
}
function remove(inv: TeardownInventory, a: PlannedAction): TeardownInventory {
  const x = a.action;
  return {
    ...inv,
    caches: inv.caches.filter((c) => !(x.kind === 'disable-cache' && c.bucket === x.bucket && c.zone === x.zone)),
    targets: inv.targets.filter((t) => !(x.kind === 'scale-deployment' && t.key === x.targetKey)),
    clusters: inv.clusters.filter((c) => !((x.kind === 'scale-node-pools' || x.kind === 'delete-cluster') && c.name === x.cluster)),
  };
}
function startRollout(inv: TeardownInventory, a: PlannedAction): TeardownInventory {
  const x = a.action;
  const r: InventoryRollout =
    x.kind === 'disable-cache'
      ? { id: 'new', targetKey: 'local~z~z', cluster: 'local', caches: [{ bucket: x.bucket, zone: x.zone }] }
      : x.kind === 'scale-deployment'
        ? { id: 'new', targetKey: x.targetKey, cluster: x.cluster, caches: [] }
        : { id: 'new', targetKey: `${x.cluster}~z~z`, cluster: x.cluster, caches: [] };
  return { ...inv, inFlight: [...inv.inFlight, r] };
}

describe('examples', () => {
  const policy: TeardownPolicy = { ...DEFAULT_TEARDOWN_POLICY, idleTtlSeconds: { cache: HOUR, deployment: HOUR, cluster: HOUR } };
  const old = new Date(NOW.getTime() - 10 * HOUR * 1000).toISOString();
  const cache = (o: Partial<InventoryCache> = {}): InventoryCache => ({
    bucket: 'b1',
    zone: 'us-central1-a',
    state: 'running',
    managed: true,
    labels: {},
    lastUsedAt: old,
    createdAt: old,
    version: 'v',
    ...o,
  });

  test('an idle managed cache is disabled, with a reason', () => {
    const plan = planTeardown({ caches: [cache()], targets: [], clusters: [], inFlight: [] }, policy, NOW);
    assert.equal(plan.actions.length, 1);
    assert.equal(plan.actions[0]!.reason, 'IDLE_CACHE');
    assert.deepEqual(plan.actions[0]!.action, { kind: 'disable-cache', bucket: 'b1', zone: 'us-central1-a' });
  });

  test('a cache used by a running Deployment is kept, and so is its cluster', () => {
    const cl = 'projects/p/locations/us-central1/clusters/c1';
    const t: InventoryTarget = {
      key: `${cl}~ns~m`,
      cluster: cl,
      namespace: 'ns',
      name: 'm',
      labels: {},
      replicas: 1,
      lastActiveAt: old,
      lastChangedAt: old,
      caches: [{ bucket: 'b1', zone: 'us-central1-a' }],
      version: 'v',
    };
    const plan = planTeardown(
      {
        caches: [cache()],
        targets: [t],
        clusters: [
          {
            name: cl,
            labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
            status: 'RUNNING',
            nodePools: [{ name: 'gpu', zones: ['l-a'], nodesPerZone: 2, nodeCount: 2, autoscaling: null }],
            createdAt: old,
            version: 'f',
          },
        ],
        inFlight: [],
      },
      policy,
      NOW,
    );
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(plan.skipped.map((s) => s.reason).sort(), ['DEPLOYMENT_RUNNING', 'IN_USE_BY_DEPLOYMENT', 'POLICY_OFF']);
  });

  test('an idle managed cluster has its non-zero pools scaled down (or is deleted)', () => {
    const cl: InventoryCluster = {
      name: 'projects/p/locations/l/clusters/c',
      labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
      status: 'RUNNING',
      nodePools: [
        {
          name: 'b',
          zones: ['l-a'],
          nodesPerZone: 0,
          nodeCount: 0,
          autoscaling: { limits: 'per-zone', minNodeCount: 1, maxNodeCount: 3, locationPolicy: null },
        },
        { name: 'a', zones: ['l-a', 'l-b', 'l-c'], nodesPerZone: 2, nodeCount: 6, autoscaling: null },
        { name: 'z', zones: ['l-a'], nodesPerZone: 0, nodeCount: 0, autoscaling: null },
      ],
      createdAt: old,
      version: 'f',
    };
    const plan = planTeardown({ caches: [], targets: [], clusters: [cl], inFlight: [] }, policy, NOW);
    assert.deepEqual(plan.actions[0]!.action, { kind: 'scale-node-pools', cluster: cl.name, nodePools: ['a', 'b'] });
    // The plan says each pool's size per zone, its zones and its total (GKE sizes are per zone).
    assert.match(plan.actions[0]!.message, /a \(2 per zone × 3 zones \(l-a, l-b, l-c\) = 6 nodes\)/);
    assert.match(plan.actions[0]!.message, /b \(0 per zone × 1 zone \(l-a\) = 0 nodes, autoscaling 1–3 per zone\)/);
    const del = planTeardown({ caches: [], targets: [], clusters: [cl], inFlight: [] }, { ...policy, clusterMode: 'delete' }, NOW);
    assert.deepEqual(del.actions[0]!.action, { kind: 'delete-cluster', cluster: cl.name });
  });

  test('unknown activity and no creation time: kept', () => {
    const plan = planTeardown({ caches: [cache({ lastUsedAt: null, createdAt: null })], targets: [], clusters: [], inFlight: [] }, policy, NOW);
    assert.equal(plan.skipped[0]!.reason, 'ACTIVITY_UNKNOWN');
  });
});

describe('nextActivity', () => {
  const t0 = '2026-06-01T00:00:00.000Z';
  test('no replicas: unchanged', () => {
    assert.deepEqual(nextActivity({ lastActiveAt: t0, requests: 5 }, { replicas: 0, requests: null }, NOW), { lastActiveAt: t0, requests: 5, source: 'none' });
  });
  test('replicas, counters unreadable: active now (idleness that cannot be seen is not assumed)', () => {
    assert.equal(nextActivity({ lastActiveAt: t0, requests: 5 }, { replicas: 1, requests: null }, NOW).lastActiveAt, NOW.toISOString());
  });
  test('replicas, counters unchanged: not active; moved: active', () => {
    assert.equal(nextActivity({ lastActiveAt: t0, requests: 5 }, { replicas: 1, requests: 5 }, NOW).lastActiveAt, t0);
    assert.equal(nextActivity({ lastActiveAt: t0, requests: 5 }, { replicas: 1, requests: 7 }, NOW).lastActiveAt, NOW.toISOString());
    assert.equal(nextActivity({ lastActiveAt: t0, requests: 5 }, { replicas: 1, requests: 0 }, NOW).lastActiveAt, NOW.toISOString(), 'restart resets counters');
  });
});

describe('bringing node pools back', () => {
  const Z1 = ['us-central1-a'];
  const Z3 = ['us-central1-a', 'us-central1-b', 'us-central1-c'];
  const fixed = (name: string, perZone: number, zones = Z1): InventoryNodePool => ({
    name,
    zones,
    nodesPerZone: perZone,
    nodeCount: perZone * zones.length,
    autoscaling: null,
  });
  const auto = (
    name: string,
    perZone: number,
    min: number,
    max: number,
    zones = Z1,
    limits: 'per-zone' | 'total' = 'per-zone',
    locationPolicy: 'BALANCED' | 'ANY' | null = null,
  ): InventoryNodePool => ({
    name,
    zones,
    nodesPerZone: perZone,
    nodeCount: perZone * zones.length,
    autoscaling: { limits, minNodeCount: min, maxNodeCount: max, locationPolicy },
  });
  const ctx = { runId: 'run-1', now: NOW };

  test('M1: a regional pool of 1 node per zone is remembered as 1 per zone in its 3 zones and comes back as 1 per zone, not 3', () => {
    const remembered = rememberPools(undefined, 'c', [fixed('gpu', 1, Z3)], ['gpu'], ctx);
    assert.deepEqual(remembered.pools, [{ name: 'gpu', zones: Z3, nodesPerZone: 1, nodeCount: 3, autoscaling: null }]);
    // setNodePoolSize(node_count) is per zone (cluster_service.proto #L473-475): 1, not the total 3.
    assert.deepEqual(restorePlan([fixed('gpu', 0, Z3)], remembered), [{ kind: 'resize', pool: 'gpu', nodesPerZone: 1, zones: Z3, source: 'remembered' }]);
  });

  test('M1: a version-1 record (the total over instance groups) is read explicitly and restored as that total divided by the zones', () => {
    const v1 = {
      schemaVersion: 1,
      cluster: 'c',
      pools: [
        { name: 'gpu', nodeCount: 3, autoscaling: null },
        { name: 'auto', nodeCount: 2, autoscaling: { minNodeCount: 1, maxNodeCount: 4 } },
      ],
      runId: 'r',
      at: NOW.toISOString(),
      restoreRequestedAt: null,
    };
    const read = ScaledDownCluster.parse(v1);
    assert.equal(read.schemaVersion, 2);
    assert.deepEqual(read.pools[0], { name: 'gpu', zones: [], nodesPerZone: null, nodeCount: 3, autoscaling: null });
    assert.deepEqual(read.pools[1]!.autoscaling, { limits: 'per-zone', minNodeCount: 1, maxNodeCount: 4, locationPolicy: null });
    assert.deepEqual(upgradeScaledDown(v1 as ScaledDownClusterV1), read);
    assert.deepEqual(restorePlan([fixed('gpu', 0, Z3), auto('auto', 0, 0, 4, Z3)], read), [
      { kind: 'resize', pool: 'gpu', nodesPerZone: 1, zones: Z3, source: 'remembered' },
      { kind: 'autoscaling', pool: 'auto', zones: Z3, autoscaling: { limits: 'per-zone', minNodeCount: 1, maxNodeCount: 4, locationPolicy: null } },
    ]);
    assert.equal(rememberedPerZone(read.pools[0]!, ['z-a', 'z-b']), 2, 'rounded up: a pool with nodes gets at least one per zone');
  });

  test('M2: a pool with total limits gets its total minimum back, in total mode with its location policy, never per-zone limits', () => {
    const before = auto('t', 1, 2, 6, Z3, 'total', 'ANY');
    const remembered = rememberPools(undefined, 'c', [before], ['t'], ctx);
    assert.deepEqual(remembered.pools[0]!.autoscaling, { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' });
    const down = auto('t', 0, 0, 6, Z3, 'total', 'ANY');
    assert.deepEqual(restorePlan([down], remembered), [
      { kind: 'autoscaling', pool: 't', zones: Z3, autoscaling: { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' } },
    ]);
    // Someone switched the pool to per-zone limits meanwhile: leave it as they set it.
    assert.deepEqual(restorePlan([auto('t', 0, 0, 2, Z3, 'per-zone')], remembered), []);
  });

  test('rememberPools keeps the sizes of the pools being scaled down, and never overwrites a remembered size with 0', () => {
    const first = rememberPools(undefined, 'c', [fixed('a', 3), auto('b', 2, 1, 5), fixed('x', 7)], ['a', 'b'], ctx);
    assert.deepEqual(first.pools, [fixed('a', 3), auto('b', 2, 1, 5)]);
    // A retry after the pools reached zero keeps what was remembered.
    const retry = rememberPools(first, 'c', [fixed('a', 0), auto('b', 0, 0, 5)], ['a', 'b'], { runId: 'run-2', now: NOW });
    assert.deepEqual(retry.pools, first.pools);
    // A pool scaled up again since then is remembered afresh.
    assert.deepEqual(rememberPools(first, 'c', [fixed('a', 5)], ['a'], ctx).pools, [fixed('a', 5), auto('b', 2, 1, 5)]);
  });

  test('findScaledDown: the exact name first, else the one record naming the cluster with the other spelling of its project; never an ambiguous one', () => {
    const rec = (cluster: string, n: number) => ({ ...rememberPools(undefined, cluster, [fixed('a', n)], ['a'], ctx) });
    const byId = rec('projects/demo/locations/us-central1/clusters/gpu', 3);
    const byNumber = 'projects/123456789012/locations/us-central1/clusters/gpu';
    assert.equal(findScaledDown([byId], byNumber), byId, 'a deploy naming the project by number finds the record teardown wrote by id');
    assert.equal(findScaledDown([rec(byNumber, 2)], byId.cluster)?.pools[0]?.nodeCount, 2, 'and the other way round');
    const exact = rec(byNumber, 5);
    assert.equal(findScaledDown([byId, exact], byNumber), exact, 'an exact match wins');
    const other = rec('projects/other/locations/us-central1/clusters/gpu', 4);
    assert.equal(findScaledDown([byId, other], byNumber), undefined, 'two projects could be meant: none rather than the wrong sizes');
    assert.equal(findScaledDown([byId], 'projects/other/locations/us-central1/clusters/gpu'), undefined, 'two different project ids are two clusters');
    assert.equal(findScaledDown([byId], 'projects/123456789012/locations/us-east1/clusters/gpu'), undefined, 'another location is another cluster');
    assert.equal(findScaledDown([], byNumber), undefined);
  });

  test('restorePlan: remembered size / autoscaler minimum; 1 node for an unremembered fixed pool; autoscaled pools otherwise left alone', () => {
    const remembered = rememberPools(undefined, 'c', [fixed('a', 3), auto('b', 2, 2, 6)], ['a', 'b'], ctx);
    assert.deepEqual(restorePlan([fixed('a', 0), auto('b', 0, 0, 6), fixed('new', 0), auto('free', 0, 0, 3), fixed('up', 2)], remembered), [
      { kind: 'resize', pool: 'a', nodesPerZone: 3, zones: Z1, source: 'remembered' },
      { kind: 'autoscaling', pool: 'b', zones: Z1, autoscaling: { limits: 'per-zone', minNodeCount: 2, maxNodeCount: 6, locationPolicy: null } },
      { kind: 'resize', pool: 'new', nodesPerZone: 1, zones: Z1, source: 'default' },
    ]);
    assert.deepEqual(
      restorePlan([fixed('a', 3), auto('b', 2, 2, 6)], remembered),
      [{ kind: 'resize', pool: 'a', nodesPerZone: 3, zones: Z1, source: 'remembered' }],
      'a remembered pool is resized whatever size is reported (GKE reports none)',
    );
    assert.deepEqual(restorePlan([fixed('a', 3), auto('b', 2, 2, 6)], undefined), [], 'nothing remembered, nothing at zero: nothing to do');
    assert.deepEqual(restorePlan([fixed('a', 0)], undefined, 2), [{ kind: 'resize', pool: 'a', nodesPerZone: 2, zones: Z1, source: 'default' }]);
  });

  test('restorePlan brings remembered pools back to exactly what was remembered, never shrinks any other pool, and never asks for less than 1 node', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.constantFrom('a', 'b', 'c', 'd'),
            n: fc.nat(5),
            zones: fc.constantFrom(Z1, Z3),
            auto: fc.option(fc.record({ min: fc.nat(3), extra: fc.nat(3), limits: fc.constantFrom('per-zone', 'total' as const) }), { nil: null }),
          }),
          { maxLength: 4 },
        ),
        fc.array(
          fc.record({
            name: fc.constantFrom('a', 'b', 'c', 'd'),
            n: fc.nat(5),
            zones: fc.constantFrom(Z1, Z3),
            auto: fc.option(fc.record({ min: fc.nat(3), extra: fc.nat(3), limits: fc.constantFrom('per-zone', 'total' as const) }), { nil: null }),
          }),
          { maxLength: 4 },
        ),
        (cur, mem) => {
          const pool = (p: { name: string; n: number; zones: string[]; auto: { min: number; extra: number; limits: 'per-zone' | 'total' } | null }) =>
            p.auto ? auto(p.name, p.n, p.auto.min, p.auto.min + p.auto.extra, p.zones, p.auto.limits) : fixed(p.name, p.n, p.zones);
          const current = [...new Map(cur.map((p) => [p.name, pool(p)])).values()];
          const remembered = {
            schemaVersion: 2 as const,
            cluster: 'c',
            runId: 'r',
            at: NOW.toISOString(),
            restoreRequestedAt: null,
            pools: [...new Map(mem.map((p) => [p.name, pool(p)])).values()],
          };
          for (const step of restorePlan(current, remembered)) {
            const p = current.find((x) => x.name === step.pool)!;
            if (step.kind === 'resize') {
              assert.equal(p.autoscaling, null);
              assert.ok(step.nodesPerZone >= 1);
              const r = remembered.pools.find((x) => x.name === step.pool);
              if (step.source === 'remembered') {
                const a = r!.autoscaling;
                const want = a ? (a.limits === 'per-zone' ? a.minNodeCount : Math.ceil(a.minNodeCount / p.zones.length)) : r!.nodesPerZone;
                assert.equal(step.nodesPerZone, want, 'per zone, never a total');
              } else assert.equal(p.nodeCount, 0, 'a pool nothing was remembered for is resized only from zero');
            } else {
              const a = step.autoscaling;
              assert.ok(p.autoscaling && a.minNodeCount > p.autoscaling.minNodeCount);
              assert.equal(a.limits, p.autoscaling.limits, 'never switches between per-zone and total limits');
              assert.equal(a.locationPolicy, p.autoscaling.locationPolicy);
              assert.ok(a.maxNodeCount >= p.autoscaling.maxNodeCount && a.maxNodeCount >= a.minNodeCount);
            }
          }
          // Every fixed pool at zero gets a resize.
          for (const p of current) if (!p.autoscaling && p.nodeCount === 0) assert.ok(restorePlan(current, remembered).some((s) => s.pool === p.name));
        },
      ),
    );
  });
});
