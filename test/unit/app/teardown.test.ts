/**
 * The teardown use case against the Storage Control fake, the cluster-directory fake (manual clock)
 * and in-memory state: idle caches disabled, in-use ones kept, dry runs touch nothing (property:
 * random inventories), a change between plan and act is caught by the re-read, GKE operations are
 * polled, the run is recorded; and the activity recorder.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { storageControlHarness } from '../../helpers/storage-control.ts';
import { gkeRest } from '../../helpers/gke-rest.ts';
import { runTeardown, type TeardownDeps } from '../../../shared/app/teardown.ts';
import { recordTargetActivity } from '../../../shared/app/target-activity.ts';
import { ensureClusterCapacity, continueCapacityRestores } from '../../../shared/app/cluster-capacity.ts';
import { recordCacheEvent, type CacheRecord } from '../../../shared/domain/cache-record.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../../shared/domain/teardown-inventory.ts';
import { TeardownRun, type TargetActivity } from '../../../shared/domain/teardown-run.ts';
import { ScaledDownCluster, findScaledDown } from '../../../shared/domain/scaled-down-cluster.ts';
import type { Rollout } from '../../../shared/domain/rollout.ts';
import { newTargetState, type TargetState } from '../../../shared/domain/target-state.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import type { CacheRecords } from '../../../shared/ports/cache-records.ts';
import type { ClusterClient, ClusterProvider } from '../../../shared/ports/cluster.ts';
import type { RolloutState } from '../../../shared/ports/rollout-state.ts';
import type { TeardownStore } from '../../../shared/ports/teardown-store.ts';
import type { V1Deployment } from '@kubernetes/client-node';
import { handleTeardownTick } from '../../../shared/app/teardown-tick.ts';
import { newChatCommandRecord } from '../../../shared/domain/chat-command-record.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import type { ClusterCapacity } from '../../../shared/ports/cluster-directory.ts';
import { MemoryChatCommands, RecordingChat } from '../../helpers/chat-fakes.ts';

class MemoryCacheRecords implements CacheRecords {
  readonly docs = new Map<string, CacheRecord>();
  async get(bucket: string, zone: string) {
    return structuredClone(this.docs.get(`${bucket}~${zone}`));
  }
  async list() {
    return [...this.docs.values()].map((r) => structuredClone(r));
  }
  async mutate(bucket: string, zone: string, change: (c: CacheRecord | undefined) => CacheRecord | undefined) {
    const next = change(structuredClone(this.docs.get(`${bucket}~${zone}`)));
    if (next) this.docs.set(`${bucket}~${zone}`, structuredClone(next));
    return structuredClone(this.docs.get(`${bucket}~${zone}`));
  }
}

class MemoryStore implements TeardownStore {
  targets: TargetState[] = [];
  activity = new Map<string, TargetActivity>();
  runs = new Map<string, TeardownRun>();
  async listTargets() {
    return structuredClone(this.targets);
  }
  async listActivity() {
    return [...this.activity.values()].map((a) => structuredClone(a));
  }
  async getActivity(k: string) {
    return structuredClone(this.activity.get(k));
  }
  async saveActivity(a: TargetActivity) {
    this.activity.set(a.key, structuredClone(a));
  }
  async saveRun(r: TeardownRun) {
    this.runs.set(r.id, TeardownRun.parse(structuredClone(r)));
  }
  async getRun(id: string) {
    return structuredClone(this.runs.get(id));
  }
  async listRuns() {
    return [...this.runs.values()];
  }
  scaledDown = new Map<string, ScaledDownCluster>();
  async getScaledDown(c: string) {
    return structuredClone(findScaledDown([...this.scaledDown.values()], c));
  }
  async saveScaledDown(r: ScaledDownCluster) {
    this.scaledDown.set(r.cluster, ScaledDownCluster.parse(structuredClone(r)));
  }
  async clearScaledDown(c: string) {
    this.scaledDown.delete(c);
  }
  async listRestoring() {
    return [...this.scaledDown.values()].filter((r) => r.restoreRequestedAt !== null).map((r) => structuredClone(r));
  }
}

/** Deployments by `cluster~ns~name` → replicas; scale calls recorded. */
function fakeClusters(deployments: Map<string, { replicas: number; labels?: Record<string, string>; rolloutId?: string }>, metrics?: (pod: string) => string) {
  const scaled: string[] = [];
  const provider: ClusterProvider = {
    async get(cluster: string) {
      const client: Partial<ClusterClient> = {
        async getDeployment(ns: string, name: string) {
          const d = deployments.get(`${cluster}~${ns}~${name}`);
          const template = d?.rolloutId ? { metadata: { annotations: { 'ferry.dev/rollout-id': d.rolloutId } } } : undefined;
          return d
            ? ({
                metadata: { name, namespace: ns, labels: d.labels ?? {}, resourceVersion: String(d.replicas) },
                spec: { replicas: d.replicas, ...(template ? { template } : {}) },
              } as unknown as V1Deployment)
            : undefined;
        },
        async scaleDeployment(ns: string, name: string, replicas: number) {
          scaled.push(`${cluster}~${ns}~${name}=${replicas}`);
          const d = deployments.get(`${cluster}~${ns}~${name}`);
          if (d) d.replicas = replicas;
        },
        async listPods(ns: string) {
          return [{ metadata: { name: `${ns}-pod` }, status: { phase: 'Running' } }];
        },
        ...(metrics ? { podProxyGet: async (_ns: string, pod: string) => metrics(pod) } : {}),
      };
      return client as ClusterClient;
    },
  };
  return { provider, scaled };
}

const Z3 = ['us-central1-a', 'us-central1-b', 'us-central1-c'];
const H = 3600_000;
const GKE = 'projects/demo-ferry/locations/us-central1/clusters/gpu';

// The production adapter against the wire-protocol server (one per file, reset per test).
const sc = await storageControlHarness({ defaultLocation: 'US-CENTRAL1' });
after(() => sc.stop());

async function setup(opts: { projectNumber?: string } = {}) {
  let t = Date.UTC(2026, 10, 21, 12);
  const clock = { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
  sc.reset({ clock, createDelayMs: 1000 });
  const control = sc.control;
  const records = new MemoryCacheRecords();
  const store = new MemoryStore();
  const directory = await gkeRest({
    clock,
    project: 'demo-ferry',
    pendingMs: 1000,
    durationMs: 5000,
    ...(opts.projectNumber ? { projectNumber: opts.projectNumber } : {}),
  });
  const deployments = new Map<string, { replicas: number; labels?: Record<string, string>; rolloutId?: string }>();
  const { provider, scaled } = fakeClusters(deployments);
  const inFlight: Rollout[] = [];
  /** Rollouts by id (only the fields teardown reads: the cache plan). */
  const rolloutDocs = new Map<string, Rollout>();
  const rollouts = {
    listInFlight: async () => structuredClone(inFlight),
    getRollout: async (id: string) => structuredClone(rolloutDocs.get(id)),
  } as unknown as RolloutState;
  const deps: TeardownDeps = {
    control,
    records,
    store,
    rollouts,
    clusters: provider,
    directory,
    clock,
    logger: memoryLogger(),
    sleep: async (ms) => clock.advance(ms),
  };
  /** A cache ferry created at t0 for `users` (targets), running. */
  async function cache(zone: string, users: Array<{ cluster: string; name: string }>, createdBy: 'ferry' | 'external' = 'ferry') {
    await control.create('models', zone);
    clock.advance(2000);
    const live = await control.get('models', zone);
    let rec: CacheRecord | undefined;
    for (const [i, u] of users.entries()) {
      rec = recordCacheEvent(rec, {
        bucket: 'models',
        zone,
        now: clock.now(),
        live,
        ...(i === 0 && createdBy === 'ferry' ? { action: 'create' as const } : {}),
        use: {
          rolloutId: `ro-${u.name}`,
          targetKey: `${u.cluster === 'local' ? 'local' : 'demo-ferry.us-central1.gpu'}~ns~${u.name}`,
          target: { cluster: u.cluster, namespace: 'ns', name: u.name },
          requestedBy: null,
        },
      });
    }
    rec ??= recordCacheEvent(undefined, { bucket: 'models', zone, now: clock.now(), live, ...(createdBy === 'ferry' ? { action: 'create' as const } : {}) });
    records.docs.set(`models~${zone}`, rec);
  }
  function target(cluster: string, name: string, replicas: number, labels?: Record<string, string>) {
    const st = newTargetState({ cluster, namespace: 'ns', name }, clock.now());
    store.targets.push(st);
    deployments.set(`${cluster}~ns~${name}`, { replicas, ...(labels ? { labels } : {}) });
    return st;
  }
  return { clock, control, records, store, directory, deployments, scaled, inFlight, rolloutDocs, deps, cache, target };
}

test('an idle managed cache is disabled; one used by a running Deployment is not; the run is recorded', async () => {
  const s = await setup();
  s.target('local', 'idle', 0);
  s.target('local', 'busy', 1);
  await s.cache('us-central1-a', [{ cluster: 'local', name: 'idle' }]);
  await s.cache('us-central1-b', [{ cluster: 'local', name: 'busy' }]);
  await s.cache('us-central1-c', [], 'external');
  s.clock.advance(10 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } });
  assert.deepEqual(
    run.results.map((r) => [r.action.kind, r.outcome]),
    [['disable-cache', 'done']],
  );
  assert.equal((await s.control.get('models', 'us-central1-a'))?.state, 'disabled');
  assert.equal((await s.control.get('models', 'us-central1-b'))?.state, 'running');
  assert.equal((await s.control.get('models', 'us-central1-c'))?.state, 'running');
  const rec = await s.records.get('models', 'us-central1-a');
  assert.equal(rec?.state, 'disabled');
  assert.equal(rec?.lastAction?.kind, 'disable');
  const stored = s.store.runs.get(run.id)!;
  assert.ok(stored.finishedAt);
  assert.deepEqual(stored.summary, { planned: 1, done: 1, started: 0, skipped: 0, failed: 0 });
  assert.ok(stored.plan.skipped.some((x) => x.reason === 'IN_USE_BY_DEPLOYMENT'));
  assert.ok(stored.plan.skipped.some((x) => x.reason === 'NOT_MANAGED'));
});

test('an unreadable Deployment counts as running: its caches are kept', async () => {
  const s = await setup();
  s.store.targets.push(newTargetState({ cluster: GKE, namespace: 'ns', name: 'gone' }, s.clock.now()));
  await s.cache('us-central1-a', [{ cluster: GKE, name: 'gone' }]);
  s.clock.advance(10 * H);
  const deps: TeardownDeps = {
    ...s.deps,
    clusters: {
      get: async () => {
        throw new Error('unreachable');
      },
    },
  };
  const run = await runTeardown(deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } });
  assert.equal(run.results.length, 0);
  assert.ok(run.inventoryWarnings.some((w) => /counted as running/.test(w)));
  assert.equal((await s.control.get('models', 'us-central1-a'))?.state, 'running');
});

test('a running target keeps only the caches its live rollout planned; one it moved away from is torn down when idle', async () => {
  const s = await setup();
  s.target('local', 'm', 2);
  // It used caches in a and b once; its live pod template comes from a rollout that planned a only.
  await s.cache('us-central1-a', [{ cluster: 'local', name: 'm' }]);
  await s.cache('us-central1-b', [{ cluster: 'local', name: 'm' }]);
  s.deployments.get('local~ns~m')!.rolloutId = 'ro-pinned';
  s.rolloutDocs.set('ro-pinned', { id: 'ro-pinned', cache: { bucket: 'models', zones: ['us-central1-a'] } } as unknown as Rollout);
  s.clock.advance(10 * H);
  const policy = { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } };
  const run = await runTeardown(s.deps, { policy });
  assert.deepEqual(
    run.results.map((r) => [r.action.kind, r.action.kind === 'disable-cache' ? r.action.zone : '', r.outcome]),
    [['disable-cache', 'us-central1-b', 'done']],
  );
  assert.equal((await s.control.get('models', 'us-central1-a'))?.state, 'running', 'the cache its pods read through stays');
  assert.deepEqual(
    run.plan.skipped.filter((x) => x.resource.kind === 'cache').map((x) => x.reason),
    ['IN_USE_BY_DEPLOYMENT'],
  );

  // A live rollout that cannot be read: every cache the target ever used counts as in use.
  const s2 = await setup();
  s2.target('local', 'm', 2);
  await s2.cache('us-central1-b', [{ cluster: 'local', name: 'm' }]);
  s2.deployments.get('local~ns~m')!.rolloutId = 'ro-gone';
  s2.clock.advance(10 * H);
  const run2 = await runTeardown(s2.deps, { policy });
  assert.deepEqual(run2.results, []);
  assert.deepEqual(
    run2.plan.skipped.filter((x) => x.resource.kind === 'cache').map((x) => x.reason),
    ['IN_USE_BY_DEPLOYMENT'],
  );
});

test('re-read before acting: a rollout that started after planning saves the cache', async () => {
  const s = await setup();
  await s.cache('us-central1-a', []);
  s.clock.advance(10 * H);
  let calls = 0;
  const rollouts = {
    listInFlight: async () =>
      calls++ === 0
        ? []
        : [
            {
              id: 'ro-new',
              targetKey: 'local~ns~x',
              target: { cluster: 'local', namespace: 'ns', name: 'x' },
              cache: { bucket: 'models', zones: ['us-central1-a'] },
            } as unknown as Rollout,
          ],
  } as unknown as RolloutState;
  const run = await runTeardown({ ...s.deps, rollouts }, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } });
  assert.deepEqual(
    run.results.map((r) => [r.outcome, r.reason]),
    [['skipped', 'IN_USE_BY_ROLLOUT']],
  );
  assert.equal((await s.control.get('models', 'us-central1-a'))?.state, 'running');
});

test('an idle managed GKE cluster: node pools scaled to zero (operations polled to DONE); an unmanaged one untouched', async () => {
  const s = await setup();
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [
      { name: 'l4', nodeCount: 2, autoscaling: null },
      { name: 'auto', nodeCount: 1, autoscaling: { minNodeCount: 1, maxNodeCount: 4 } },
    ],
  });
  s.directory.seed({
    location: 'us-central1',
    name: 'theirs',
    createTime: s.clock.now().toISOString(),
    nodePools: [{ name: 'p', nodeCount: 3, autoscaling: null }],
  });
  s.target(GKE, 'm', 0);
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } }, operationPollMs: 1000 });
  assert.deepEqual(
    run.results.map((r) => [r.action.kind, r.outcome]),
    [['scale-node-pools', 'done']],
  );
  assert.equal(run.results[0]!.operations.length, 3, 'autoscaling min → 0, then two resizes');
  const c = await s.directory.get(GKE);
  assert.deepEqual(
    c?.nodePools.map((p) => [p.name, p.nodeCount, p.autoscaling?.minNodeCount ?? null]),
    [
      ['l4', 0, null],
      ['auto', 0, 0],
    ],
  );
  assert.equal((await s.directory.get('projects/demo-ferry/locations/us-central1/clusters/theirs'))?.nodePools[0]?.nodeCount, 3);
});

test('a cluster with a running Deployment or an in-flight rollout is not torn down', async () => {
  const s = await setup();
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }],
  });
  s.target(GKE, 'm', 1);
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 }, clusterMode: 'delete' } });
  assert.equal(run.results.length, 0);
  assert.ok(await s.directory.get(GKE));
});

test('dry run, over random inventories: nothing destructive is called, the plan is recorded', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          zone: fc.constantFrom('us-central1-a', 'us-central1-b', 'us-central1-c', 'us-central1-f'),
          user: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: null }),
          managed: fc.boolean(),
        }),
        { maxLength: 4 },
      ),
      fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'c'), replicas: fc.nat(2) }), { maxLength: 3 }),
      fc.boolean(),
      fc.constantFrom('scale-to-zero', 'delete' as const),
      fc.nat(40),
      async (caches, targets, managedCluster, clusterMode, hours) => {
        const s = await setup();
        const seen = new Set<string>();
        for (const t of targets) {
          if (!seen.has(t.name)) {
            seen.add(t.name);
            s.target(GKE, t.name, t.replicas);
          }
        }
        const zones = new Set<string>();
        for (const c of caches) {
          if (!zones.has(c.zone)) {
            zones.add(c.zone);
            await s.cache(c.zone, c.user ? [{ cluster: GKE, name: c.user }] : [], c.managed ? 'ferry' : 'external');
          }
        }
        s.directory.seed({
          location: 'us-central1',
          name: 'gpu',
          labels: managedCluster ? { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE } : {},
          createTime: s.clock.now().toISOString(),
          nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }],
        });
        s.clock.advance(hours * H);
        const before = s.control.stats().calls;
        const run = await runTeardown(s.deps, {
          policy: { dryRun: true, scaleDeployments: true, clusterMode, idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } },
        });
        const after = s.control.stats().calls;
        assert.equal(after.disable, before.disable);
        assert.deepEqual(
          s.directory.calls.filter((c) => !['list', 'get'].includes(c.method)),
          [],
        );
        assert.deepEqual(s.scaled, []);
        assert.equal(run.dryRun, true);
        assert.ok(run.results.every((r) => r.outcome === 'planned'));
        assert.ok(s.store.runs.has(run.id));
      },
    ),
    { numRuns: 60 },
  );
});

test('activity: replicas without readable metrics count as active, and the absence is recorded', async () => {
  const s = await setup();
  s.target('local', 'up', 1);
  s.target('local', 'down', 0);
  const r = await recordTargetActivity({ store: s.store, clusters: s.deps.clusters, clock: s.clock, logger: memoryLogger() });
  assert.deepEqual(r, { observed: 2, active: 1, metricsRead: 0, failed: 0 });
  const up = s.store.activity.get('local~ns~up')!;
  assert.equal(up.lastActiveAt, s.clock.now().toISOString());
  assert.equal(up.source, 'replicas');
  assert.match(up.metricsError ?? '', /cannot proxy/);
  assert.equal(s.store.activity.get('local~ns~down')!.lastActiveAt, null);
});

test('activity: vLLM counters read through the proxy; unchanged counters do not move lastActiveAt', async () => {
  const s = await setup();
  let served = 10;
  const { provider } = fakeClusters(
    new Map([['local~ns~m', { replicas: 1 }]]),
    () => `# HELP x\nvllm:request_success_total{finished_reason="stop",model_name="m"} ${served}\nvllm:num_requests_running{model_name="m"} 0\n`,
  );
  s.store.targets.push(newTargetState({ cluster: 'local', namespace: 'ns', name: 'm' }, s.clock.now()));
  const deps = { store: s.store, clusters: provider, clock: s.clock, logger: memoryLogger() };
  await recordTargetActivity(deps);
  const t0 = s.clock.now().toISOString();
  s.clock.advance(H);
  await recordTargetActivity(deps);
  assert.equal(s.store.activity.get('local~ns~m')!.lastActiveAt, t0, 'no new requests');
  assert.equal(s.store.activity.get('local~ns~m')!.source, 'metrics');
  served = 12;
  s.clock.advance(H);
  await recordTargetActivity(deps);
  assert.equal(s.store.activity.get('local~ns~m')!.lastActiveAt, s.clock.now().toISOString());
});

test('ensureClusterCapacity: a deleted cluster is refused; fixed pools at zero with nothing remembered get 1 node, autoscaled ones are left to the autoscaler', async () => {
  const s = await setup();
  const gone = await ensureClusterCapacity(GKE, s.directory, s.store);
  assert.equal(gone.ok, false);
  assert.equal(!gone.ok && gone.reason, 'CLUSTER_DELETED');
  assert.match(!gone.ok ? gone.message : '', /recreate it or deploy to another cluster/);
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: {},
    nodePools: [
      { name: 'l4', nodeCount: 0, autoscaling: null },
      { name: 'auto', nodeCount: 0, autoscaling: { minNodeCount: 0, maxNodeCount: 3 } },
      { name: 'up', nodeCount: 2, autoscaling: null },
    ],
  });
  const r = await ensureClusterCapacity(GKE, s.directory, s.store);
  assert.ok(r.ok);
  assert.deepEqual(r.ok && r.restored.map((x) => [x.pool, x.kind, x.nodeCount]), [['l4', 'resize', 1]]);
  s.clock.advance(10_000);
  assert.equal((await s.directory.get(GKE))?.nodePools.find((p) => p.name === 'l4')?.nodeCount, 1);
});

test('teardown then deploy on a regional cluster: 1 node per zone comes back as 1 per zone (M1), a pool with total limits gets its total minimum back (M2), and the record is cleared', async () => {
  const s = await setup();
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [
      { name: 'l4', nodeCount: 1, zones: Z3, autoscaling: null },
      { name: 'auto', nodeCount: 1, zones: Z3, autoscaling: { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' } },
    ],
  });
  s.target(GKE, 'm', 0);
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } }, operationPollMs: 1000 });
  assert.deepEqual(
    run.results.map((r) => r.outcome),
    ['done'],
  );
  assert.match(run.results[0]!.message, /l4 \(1 per zone × 3 zones \(us-central1-a, us-central1-b, us-central1-c\) = 3 nodes\)/);
  const remembered = s.store.scaledDown.get(GKE);
  assert.deepEqual(remembered?.pools, [
    { name: 'auto', zones: Z3, nodesPerZone: 1, nodeCount: 3, autoscaling: { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' } },
    { name: 'l4', zones: Z3, nodesPerZone: 1, nodeCount: 3, autoscaling: null },
  ]);
  // The total minimum was lowered, in total mode (never switched to per-zone limits).
  assert.deepEqual((await s.directory.get(GKE))?.nodePools.find((p) => p.name === 'auto')?.autoscaling, {
    limits: 'total',
    minNodeCount: 0,
    maxNodeCount: 6,
    locationPolicy: 'ANY',
  });
  assert.equal(remembered?.runId, run.id);

  // A second teardown run (pools already at zero) must not overwrite the remembered sizes with 0.
  const again = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } }, operationPollMs: 1000 });
  assert.equal(again.results.length, 0);
  assert.deepEqual(s.store.scaledDown.get(GKE)?.pools, remembered?.pools);

  // GKE (and the fake) run one operation per cluster: the first pool starts, the second waits.
  const r = await ensureClusterCapacity(GKE, s.directory, s.store, { now: s.clock.now() });
  assert.ok(r.ok);
  assert.deepEqual(r.ok && r.restored.map((x) => `${x.pool}:${x.kind}:${x.nodeCount}`), ['l4:resize:1'], '1 per zone, not the total 3');
  assert.deepEqual(r.ok && r.pending, ['auto']);
  assert.deepEqual(
    s.store.scaledDown.get(GKE)?.pools.map((p) => p.name),
    ['auto'],
  );
  assert.equal(s.store.scaledDown.get(GKE)?.restoreRequestedAt, s.clock.now().toISOString());

  // The reconciler goes on with it once the first operation is done.
  const log = memoryLogger();
  assert.deepEqual(await continueCapacityRestores(s.directory, s.store, s.clock, log), { clusters: 1, restored: 0, pending: 1, failed: 0 }, 'still busy');
  s.clock.advance(10_000);
  assert.deepEqual(await continueCapacityRestores(s.directory, s.store, s.clock, log), { clusters: 1, restored: 1, pending: 0, failed: 0 });
  assert.equal(s.store.scaledDown.has(GKE), false, 'every pool is on its way back: the record is gone');
  s.clock.advance(10_000);
  const c = await s.directory.get(GKE);
  assert.deepEqual(
    c?.nodePools.filter((p) => p.name === 'l4').map((p) => [p.nodesPerZone, p.nodeCount]),
    [[1, 3]],
  );
  assert.deepEqual(c?.nodePools.find((p) => p.name === 'auto')?.autoscaling, { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' });
  assert.deepEqual(await continueCapacityRestores(s.directory, s.store, s.clock, log), { clusters: 0, restored: 0, pending: 0, failed: 0 });
});

test('a cluster whose target names the project by number is still seen as serving (never torn down under it)', async () => {
  const s = await setup();
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }],
  });
  s.target('projects/123456789012/locations/us-central1/clusters/gpu', 'm', 1);
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 }, clusterMode: 'delete' } });
  assert.deepEqual(run.results, []);
  assert.deepEqual(
    run.plan.skipped.filter((x) => x.resource.kind === 'cluster').map((x) => x.reason),
    ['DEPLOYMENT_RUNNING'],
  );
  assert.ok(await s.directory.get(GKE));
});

test('a cluster hosting a target with no recorded activity at all is left alone (its creation time does not stand in)', async () => {
  const s = await setup();
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }],
  });
  // Known only from a cache record (no rollout state, never observed): cannot be dated.
  await s.cache('us-central1-a', [{ cluster: GKE, name: 'ghost' }]);
  s.deployments.set(`${GKE}~ns~ghost`, { replicas: 0 });
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } });
  assert.deepEqual(
    run.plan.skipped.filter((x) => x.resource.kind === 'cluster').map((x) => x.reason),
    ['ACTIVITY_UNKNOWN'],
  );
  assert.ok(run.results.every((r) => r.action.kind !== 'scale-node-pools'));
});

test('the run keeps to its deadline: an operation still running is recorded as started, the rest wait for the next run', async () => {
  const s = await setup();
  for (const name of ['gpu', 'gpu2']) {
    s.directory.seed({
      location: 'us-central1',
      name,
      labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
      createTime: s.clock.now().toISOString(),
      nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }],
    });
  }
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, {
    policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } },
    operationPollMs: 1000,
    deadlineMs: 3000,
  });
  assert.deepEqual(
    run.results.map((r) => [r.outcome, r.reason, r.operations.length]),
    [
      ['started', 'OPERATION_RUNNING', 1],
      ['skipped', 'RUN_DEADLINE', 0],
    ],
  );
  assert.deepEqual(run.summary, { planned: 2, done: 0, started: 1, skipped: 1, failed: 0 });
  assert.ok(run.finishedAt, 'the run is recorded as finished');
  assert.equal((await s.directory.get(`${GKE}2`))?.nodePools[0]?.nodeCount, 2, 'the second cluster was not touched');
});

test('an operation GKE started is recorded as started with its name even when following it fails', async () => {
  const s = await setup();
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }],
  });
  s.clock.advance(30 * H);
  s.directory.failNext('getOperation', 'CLUSTER_UNAVAILABLE');
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } }, operationPollMs: 1000 });
  assert.equal(run.results.length, 1);
  assert.equal(run.results[0]!.outcome, 'started');
  assert.equal(run.results[0]!.reason, 'CLUSTER_UNAVAILABLE');
  assert.equal(run.results[0]!.operations.length, 1);
  assert.match(run.results[0]!.operations[0]!, /^projects\/demo-ferry\/locations\/us-central1\/operations\//);
});

test('a disabled cache whose record cannot be updated is reported done (it was disabled), with the lag said', async () => {
  const s = await setup();
  s.target('local', 'idle', 0);
  await s.cache('us-central1-a', [{ cluster: 'local', name: 'idle' }]);
  s.clock.advance(10 * H);
  const mutate = s.records.mutate.bind(s.records);
  let calls = 0;
  s.records.mutate = async (b, z, change) => {
    if (++calls === 1) throw new FerryError('STATE_UNAVAILABLE', 'Firestore is down', { retryable: true });
    return mutate(b, z, change);
  };
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } });
  assert.deepEqual(
    run.results.map((r) => r.outcome),
    ['done'],
  );
  assert.match(run.results[0]!.message, /could not be updated: STATE_UNAVAILABLE/);
  assert.equal((await s.control.get('models', 'us-central1-a'))?.state, 'disabled');
});

test('teardown then a deploy naming the project by number: the pools come back to the remembered sizes, and the record is cleared', async () => {
  const s = await setup({ projectNumber: '123456789012' });
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [{ name: 'l4', nodeCount: 3, autoscaling: null }],
  });
  s.target(GKE, 'm', 0);
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } }, operationPollMs: 1000 });
  assert.deepEqual(
    run.results.map((r) => r.outcome),
    ['done'],
  );
  assert.deepEqual(
    s.store.scaledDown.get(GKE)?.pools,
    [{ name: 'l4', zones: ['us-central1-a'], nodesPerZone: 3, nodeCount: 3, autoscaling: null }],
    'recorded under the name GKE listed (project id)',
  );

  const byNumber = 'projects/123456789012/locations/us-central1/clusters/gpu';
  const r = await ensureClusterCapacity(byNumber, s.directory, s.store, { now: s.clock.now() });
  assert.ok(r.ok);
  assert.deepEqual(r.ok && r.restored.map((x) => `${x.pool}:${x.kind}:${x.nodeCount}`), ['l4:resize:3'], 'the remembered size, not the 1-node fallback');
  assert.equal(s.store.scaledDown.size, 0, 'the record teardown wrote is the one cleared');
  s.clock.advance(10_000);
  assert.equal((await s.directory.get(GKE))?.nodePools[0]?.nodeCount, 3);
});

test('teardown keeps one record per cluster: a record a deploy wrote with the project number is updated, not doubled', async () => {
  const s = await setup({ projectNumber: '123456789012' });
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [{ name: 'l4', nodeCount: 3, autoscaling: null }],
  });
  s.target(GKE, 'm', 0);
  // What ensureClusterCapacity leaves when a deploy by number could not start a pool yet.
  const byNumber = 'projects/123456789012/locations/us-central1/clusters/gpu';
  await s.store.saveScaledDown({
    schemaVersion: 2,
    cluster: byNumber,
    runId: 'deploy',
    at: s.clock.now().toISOString(),
    restoreRequestedAt: s.clock.now().toISOString(),
    pools: [{ name: 'old', zones: ['us-central1-a'], nodesPerZone: 1, nodeCount: 1, autoscaling: null }],
  });
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } }, operationPollMs: 1000 });
  assert.deepEqual(
    run.results.map((r) => r.outcome),
    ['done'],
  );
  assert.deepEqual([...s.store.scaledDown.keys()], [byNumber], 'still the one record, under the name it already had');
  assert.deepEqual(
    s.store.scaledDown.get(byNumber)?.pools.map((p) => [p.name, p.nodeCount]),
    [
      ['l4', 3],
      ['old', 1],
    ],
  );
  assert.equal(s.store.scaledDown.get(byNumber)?.runId, run.id);
});

test('teardown then deploy on a GKE-like directory (pool sizes are guesses): every remembered fixed pool comes back', async () => {
  const s = await setup();
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    createTime: s.clock.now().toISOString(),
    nodePools: [
      { name: 'a', nodeCount: 3, autoscaling: null },
      { name: 'b', nodeCount: 2, autoscaling: null },
    ],
  });
  s.target(GKE, 'm', 0);
  s.clock.advance(30 * H);
  const run = await runTeardown(s.deps, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } }, operationPollMs: 1000 });
  assert.deepEqual(
    run.results.map((r) => r.outcome),
    ['done'],
  );
  // GKE reports no size per pool: once any node runs, the adapter reads a pool as at least 1.
  const gkeLike: ClusterCapacity = {
    get: async (n) => {
      const c = await s.directory.get(n);
      const any = c?.nodePools.some((p) => p.nodeCount > 0);
      return c && { ...c, nodePools: c.nodePools.map((p) => ({ ...p, nodeCount: any ? Math.max(p.nodeCount, 1) : p.nodeCount })) };
    },
    setNodePoolSize: (n, count) => s.directory.setNodePoolSize(n, count),
    setNodePoolAutoscaling: (n, b) => s.directory.setNodePoolAutoscaling(n, b),
  };
  const r = await ensureClusterCapacity(GKE, gkeLike, s.store, { now: s.clock.now() });
  assert.deepEqual(r.ok && r.restored.map((x) => `${x.pool}:${x.nodeCount}`), ['a:3']);
  assert.deepEqual(r.ok && r.pending, ['b']);
  s.clock.advance(10_000); // a's resize is done: b now reads as 1 node
  assert.deepEqual(await continueCapacityRestores(gkeLike, s.store, s.clock, memoryLogger()), { clusters: 1, restored: 1, pending: 0, failed: 0 });
  s.clock.advance(10_000);
  assert.deepEqual(
    (await s.directory.get(GKE))?.nodePools.map((p) => [p.name, p.nodeCount]),
    [
      ['a', 3],
      ['b', 2],
    ],
  );
  assert.equal(s.store.scaledDown.has(GKE), false);
});

test('ensureClusterCapacity: without a teardown record, a fixed pool GKE refuses for now is remembered and finished by the reconciler; a deleted cluster is forgotten', async () => {
  const s = await setup();
  s.directory.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: {},
    nodePools: [
      { name: 'a', nodeCount: 0, autoscaling: null },
      { name: 'b', nodeCount: 0, autoscaling: null },
    ],
  });
  const r = await ensureClusterCapacity(GKE, s.directory, s.store, { now: s.clock.now() });
  assert.deepEqual(r.ok && r.restored.map((x) => [x.pool, x.nodeCount]), [['a', 1]]);
  assert.deepEqual(r.ok && r.pending, ['b']);
  assert.deepEqual(s.store.scaledDown.get(GKE)?.pools, [{ name: 'b', zones: ['us-central1-a'], nodesPerZone: 1, nodeCount: 1, autoscaling: null }]);
  s.clock.advance(10_000);
  assert.deepEqual(await continueCapacityRestores(s.directory, s.store, s.clock, memoryLogger()), { clusters: 1, restored: 1, pending: 0, failed: 0 });
  assert.equal(s.store.scaledDown.has(GKE), false);

  await s.store.saveScaledDown({
    schemaVersion: 2,
    cluster: `${GKE}x`,
    runId: 'r',
    at: s.clock.now().toISOString(),
    restoreRequestedAt: s.clock.now().toISOString(),
    pools: [{ name: 'a', zones: ['us-central1-a'], nodesPerZone: 2, nodeCount: 2, autoscaling: null }],
  });
  const log = memoryLogger();
  assert.deepEqual(await continueCapacityRestores(s.directory, s.store, s.clock, log), { clusters: 1, restored: 0, pending: 0, failed: 0 });
  assert.equal(s.store.scaledDown.size, 0);
  assert.ok(log.entries.some((e) => /is gone/.test(String(e['message']))));
});

test('ensureClusterCapacity: while a resize is running (cluster RECONCILING) no default size is guessed for a pool reading zero', async () => {
  const s = await setup();
  s.directory.seed({ location: 'us-central1', name: 'gpu', labels: {}, nodePools: [{ name: 'a', nodeCount: 0, autoscaling: null }] });
  // An earlier deploy's restore to 3 nodes is still running; its record is already cleared.
  await s.directory.setNodePoolSize(`${GKE}/nodePools/a`, 3);
  const r = await ensureClusterCapacity(GKE, s.directory, s.store, { now: s.clock.now() });
  assert.deepEqual(r.ok && [r.restored, r.pending], [[], []]);
  assert.equal(s.store.scaledDown.has(GKE), false);
  s.clock.advance(10_000);
  assert.equal((await s.directory.get(GKE))?.nodePools[0]?.nodeCount, 3, 'not shrunk to the default');
});

// ---------------------------------------------------------------------------------------------
// The teardown topic (teardownIdle): scheduled ticks, dry runs, chat plans

const CMD = 'sc-20261121-120000-0123456789abcdef';
const tick = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

async function chatSetup(kind: 'teardown-plan' | 'status' = 'teardown-plan') {
  const s = await setup();
  s.target('local', 'idle', 0);
  await s.cache('us-central1-a', [{ cluster: 'local', name: 'idle' }]);
  s.clock.advance(10 * H);
  const commands = new MemoryChatCommands();
  const chat = new RecordingChat();
  await commands.create(
    newChatCommandRecord({
      id: CMD,
      payload: {
        command: '/ferry',
        text: kind === 'status' ? 'status' : 'teardown plan',
        response_url: 'https://hooks.slack.com/commands/T1/2/x',
        user_id: 'U1',
        user_name: 'ann',
        channel_id: 'C1',
        team_id: 'T1',
      },
      command: kind === 'status' ? { kind: 'status', model: null } : { kind: 'teardown-plan' },
      now: s.clock.now(),
    }),
  );
  const policy = { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } };
  return { s, commands, chat, deps: { teardown: s.deps, options: { policy }, reply: { commands, chat } } };
}

test('tick from chat: a dry run recorded with the command, the plan posted back to it once; nothing changed', async () => {
  const { s, chat, commands, deps } = await chatSetup();
  const out = await handleTeardownTick(tick({ tick: 'teardown', dryRun: true, chat: { commandId: CMD } }), deps);
  assert.equal(out.outcome, 'ran');
  assert.equal(out.outcome === 'ran' && out.dryRun, true);
  assert.equal((await s.control.get('models', 'us-central1-a'))?.state, 'running', 'dry run: nothing disabled');
  const run = [...s.store.runs.values()][0]!;
  assert.equal(run.trigger, 'chat');
  assert.equal(run.chatCommandId, CMD);
  assert.equal(chat.posts.length, 1);
  assert.equal(chat.posts[0]!.url, 'https://hooks.slack.com/commands/T1/2/x');
  assert.match(chat.posts[0]!.message.text, /^Teardown plan: 1 action/);
  assert.ok(JSON.stringify(chat.posts[0]!.message).includes('cache gs://models in us-central1-a idle 10h (TTL 1h)'));
  assert.deepEqual(
    commands.docs.get(CMD)!.posts.map((p) => p.key),
    ['teardown-plan'],
  );
  // A redelivery plans again (recorded) but never posts twice.
  await handleTeardownTick(tick({ tick: 'teardown', dryRun: true, chat: { commandId: CMD } }), deps);
  assert.equal(chat.posts.length, 1);
});

test('tick from chat is a dry run even when the message does not say so, and even under a live policy', async () => {
  const { s, deps } = await chatSetup();
  await handleTeardownTick(tick({ chat: { commandId: CMD } }), { ...deps, options: { policy: { ...deps.options.policy, dryRun: false } } });
  assert.equal((await s.control.get('models', 'us-central1-a'))?.state, 'running');
  assert.ok([...s.store.runs.values()].every((r) => r.dryRun));
});

test('tick naming a command that is not a recorded teardown plan runs nothing and posts nothing', async () => {
  const { s, chat, deps } = await chatSetup('status');
  const out = await handleTeardownTick(tick({ chat: { commandId: CMD } }), deps);
  assert.deepEqual(out.outcome === 'refused' && out.reason, 'CHAT_COMMAND_UNKNOWN');
  const missing = await handleTeardownTick(tick({ chat: { commandId: 'sc-20261121-120000-ffffffffffffffff' } }), deps);
  assert.equal(missing.outcome, 'refused');
  assert.equal(s.store.runs.size, 0);
  assert.equal(chat.posts.length, 0);
});

test('a tick that does not parse runs nothing; a plain tick runs the configured policy', async () => {
  const { s, deps } = await chatSetup();
  const bad = await handleTeardownTick(tick({ dryrun: true }), deps);
  assert.equal(bad.outcome, 'refused');
  assert.equal(s.store.runs.size, 0);
  assert.ok((s.deps.logger as ReturnType<typeof memoryLogger>).entries.some((e) => e['code'] === 'TICK_INVALID'));
  const ran = await handleTeardownTick(tick({ tick: 'teardown' }), deps);
  assert.equal(ran.outcome === 'ran' && ran.summary.done, 1);
  assert.equal((await s.control.get('models', 'us-central1-a'))?.state, 'disabled');
});

test('a plan that cannot be made: a retryable failure is redelivered (no post); a final one is posted as an error', async () => {
  const { s, chat, deps } = await chatSetup();
  const failing = (e: FerryError) => ({
    ...deps,
    teardown: {
      ...s.deps,
      store: Object.assign(Object.create(s.store) as MemoryStore, {
        listTargets: async () => {
          throw e;
        },
      }),
    },
  });
  await assert.rejects(
    handleTeardownTick(tick({ chat: { commandId: CMD } }), failing(new FerryError('STATE_UNAVAILABLE', 'Firestore down', { retryable: true }))),
  );
  assert.equal(chat.posts.length, 0);
  const out = await handleTeardownTick(
    tick({ chat: { commandId: CMD } }),
    failing(new FerryError('STATE_FORBIDDEN', 'no access', { hint: 'grant roles/datastore.user' })),
  );
  assert.deepEqual(out, { outcome: 'failed', code: 'STATE_FORBIDDEN', posted: true });
  assert.match(chat.posts[0]!.message.text, /could not finish this command: no access/);
});

test('the chat summary: posted for a run that did something, never for dry runs or runs with nothing to do; a failing post is only logged', async () => {
  const { s } = await chatSetup();
  const posted: TeardownRun[] = [];
  const notify = async (r: TeardownRun) => void posted.push(r);
  await runTeardown({ ...s.deps, notify }, { policy: { dryRun: true, idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } });
  assert.equal(posted.length, 0, 'dry run');
  await runTeardown({ ...s.deps, notify }, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } });
  assert.equal(posted.length, 1);
  assert.equal(posted[0]!.summary.done, 1);
  await runTeardown({ ...s.deps, notify }, { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } });
  assert.equal(posted.length, 1, 'nothing left to do: quiet');
  s.target('local', 'idle2', 0);
  await s.cache('us-central1-b', [{ cluster: 'local', name: 'idle2' }]);
  s.clock.advance(10 * H);
  const log = memoryLogger();
  const run = await runTeardown(
    {
      ...s.deps,
      logger: log,
      notify: async () => {
        throw new FerryError('CHAT_POST_FAILED', 'Slack 500', { retryable: true });
      },
    },
    { policy: { idleTtlSeconds: { cache: 3600, deployment: 3600, cluster: 3600 } } },
  );
  assert.equal(run.summary.done, 1, 'the run is not affected');
  assert.ok(log.entries.some((e) => /could not post the teardown summary/.test(String(e['message']))));
});
