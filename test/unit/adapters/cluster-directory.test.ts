/**
 * The ClusterDirectory contract against the in-process fake (manual clock), and against GKE only
 * with real credentials and FERRY_CONTRACT_GKE_PROJECT / _CLUSTER / _POOL set (a `demo-*` project
 * means no credentials); _PROJECT_NUMBER adds the check that GKE takes the project by number, and
 * _ALLOW_DELETE=1 the deleteCluster test.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClusterDirectory } from '../../../infra/local/cluster-directory-fake.ts';
import { HttpClusterDirectory, clusterDirectoryFakeAdmin } from '../../../shared/adapters/cluster-directory-http.ts';
import { startClusterDirectoryServer, type ClusterDirectoryServer } from '../../../infra/local/cluster-directory-server.ts';
import type { ClusterDirectory } from '../../../shared/ports/cluster-directory.ts';
import {
  GkeClusterDirectory,
  clusterStatusOf,
  operationStatusOf,
  gkeError,
  instanceGroupManagerUrl,
  poolSize,
  autoscalingOf,
  autoscalingWire,
  type GkeDirectoryOptions,
} from '../../../shared/adapters/cluster-directory-gke.ts';
import { clusterDirectoryContract, type ClusterContractSubject } from '../../contract/cluster-directory.contract.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../../shared/domain/teardown-inventory.ts';
import { manualClock, type ManualClock } from '../../helpers/manual-clock.ts';

/** The contract subject over a seeded fake, reached directly or through `through` (e.g. HTTP). */
function fakeSubject(
  fake: FakeClusterDirectory,
  clock: ManualClock,
  through: ClusterDirectory = fake,
  setLabels: ClusterContractSubject['setLabels'] = (n, l) => fake.setLabels(n, l),
): ClusterContractSubject {
  const c = fake.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }],
  });
  fake.seed({ location: 'us-central1', name: 'other', labels: { team: 'x' }, nodePools: [] });
  return {
    directory: through,
    cluster: c.name,
    pool: 'l4',
    poolSize: 2,
    projectNumber: fake.projectNumber,
    setLabels,
    advance: clock.advance,
    allowDelete: true,
    eventually: clock.eventually,
  };
}

clusterDirectoryContract('in-process fake', {
  make: async () => {
    const clock = manualClock();
    return fakeSubject(new FakeClusterDirectory({ clock, project: 'demo-ferry', projectNumber: '123456789012' }), clock);
  },
});

let server: ClusterDirectoryServer | undefined;
after(async () => server?.stop());
clusterDirectoryContract('fake over loopback HTTP (the local stack)', {
  make: async () => {
    const clock = manualClock();
    server = await startClusterDirectoryServer({ clock, project: 'demo-ferry', projectNumber: '123456789012' });
    const admin = clusterDirectoryFakeAdmin(server.host);
    return fakeSubject(server.fake, clock, new HttpClusterDirectory(server.host), async (n, l) => void (await admin.setLabels(n, l)));
  },
});

test('fake over HTTP: admin hooks work, errors keep their codes across the wire, bad requests are named', async () => {
  const srv = await startClusterDirectoryServer({ project: 'demo-ferry', pendingMs: 0, durationMs: 0 });
  try {
    const dir = new HttpClusterDirectory(srv.host);
    const admin = clusterDirectoryFakeAdmin(srv.host);
    const seeded = await admin.seed({
      location: 'us-central1',
      name: 'wire',
      labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
      nodePools: [{ name: 'p', nodeCount: 2, autoscaling: null }],
      createTime: '2026-11-01T00:00:00.000Z',
    });
    assert.equal(seeded.name, 'projects/demo-ferry/locations/us-central1/clusters/wire');
    assert.deepEqual(
      (await dir.list({ label: { key: MANAGED_LABEL_KEY, value: MANAGED_LABEL_VALUE } })).map((c) => [c.name, c.createTime]),
      [[seeded.name, '2026-11-01T00:00:00.000Z']],
    );
    const code = (c: string, retryable?: boolean) => (e: unknown) =>
      (e as { code?: string }).code === c && (retryable === undefined || (e as { retryable?: boolean }).retryable === retryable);
    await admin.failNext('get', 'CLUSTER_FORBIDDEN');
    await assert.rejects(dir.get(seeded.name), code('CLUSTER_FORBIDDEN', false));
    await assert.rejects(dir.setNodePoolSize(`${seeded.name}/nodePools/nope`, 1), code('CLUSTER_NOT_FOUND'));
    await assert.rejects(dir.setNodePoolSize(`${seeded.name}/nodePools/p`, -1), code('CLUSTER_INVALID'));
    await assert.rejects(dir.getOperation('projects/demo-ferry/locations/us-central1/operations/none'), code('CLUSTER_NOT_FOUND'));
    await admin.setLabels(seeded.name, { team: 'x' });
    assert.deepEqual((await dir.get(seeded.name))?.labels, { team: 'x' });
    await assert.rejects(
      admin.seed({ location: 'nowhere', name: 'Bad_Name' }),
      (e: unknown) => code('CLUSTER_INVALID')(e) && /GKE region or zone/.test((e as Error).message) && /GKE cluster name/.test((e as Error).message),
    );
    // A request the fake does not know, or a malformed body, is refused with a reason, not a crash.
    const raw = async (path: string, body: string) => {
      const res = await fetch(`http://${srv.host}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
    };
    assert.deepEqual(await raw('/v1/get', '{"name": 3}').then((r) => [r.status, r.body.error?.code]), [400, 'CLUSTER_INVALID']);
    assert.deepEqual(await raw('/v1/get', 'not json').then((r) => [r.status, r.body.error?.message]), [400, 'the body must be JSON']);
    assert.deepEqual(await raw('/v1/get', '{"name": "x", "extra": 1}').then((r) => r.status), 400);
    assert.deepEqual(await raw('/v1/nothing', '{}').then((r) => r.status), 404);
    // Unreachable or answering nonsense: retryable CLUSTER_UNAVAILABLE.
    await assert.rejects(new HttpClusterDirectory('127.0.0.1:1').list(), code('CLUSTER_UNAVAILABLE', true));
    const liar = new HttpClusterDirectory(srv.host, async () => new Response(JSON.stringify({ result: [{ name: 'x' }] }), { status: 200 }));
    await assert.rejects(liar.list(), (e: unknown) => code('CLUSTER_UNAVAILABLE', true)(e) && /unexpected shape/.test((e as Error).message));
  } finally {
    await srv.stop();
  }
});

const project = process.env.FERRY_CONTRACT_GKE_PROJECT;
const gkeCluster = process.env.FERRY_CONTRACT_GKE_CLUSTER;
const gkePool = process.env.FERRY_CONTRACT_GKE_POOL;
clusterDirectoryContract(
  'GKE',
  !project || project.startsWith('demo-')
    ? { skip: 'set FERRY_CONTRACT_GKE_PROJECT (not demo-*), FERRY_CONTRACT_GKE_CLUSTER and FERRY_CONTRACT_GKE_POOL, with credentials, to run against GKE' }
    : !gkeCluster || !gkePool
      ? { skip: 'FERRY_CONTRACT_GKE_CLUSTER (projects/P/locations/L/clusters/C, labelled managed-by=ferry) and FERRY_CONTRACT_GKE_POOL are needed' }
      : {
          make: async () => {
            const directory = new GkeClusterDirectory(project);
            const before = await directory.get(gkeCluster);
            return {
              directory,
              cluster: gkeCluster,
              pool: gkePool,
              poolSize: Math.max(1, before?.nodePools.find((p) => p.name === gkePool)?.nodeCount ?? 1),
              projectNumber: process.env.FERRY_CONTRACT_GKE_PROJECT_NUMBER,
              allowDelete: process.env.FERRY_CONTRACT_GKE_ALLOW_DELETE === '1',
              timeoutMs: 30 * 60_000,
              async eventually(what, get, done) {
                const deadline = Date.now() + 30 * 60_000;
                while (Date.now() < deadline) {
                  const v = await get();
                  if (done(v)) return v;
                  await new Promise((r) => setTimeout(r, 10_000));
                }
                throw new Error(`${what}: timed out`);
              },
              cleanup: () => directory.close(),
            };
          },
        },
);

test('GKE enums come as strings or numbers', () => {
  assert.equal(clusterStatusOf(2), 'RUNNING');
  assert.equal(clusterStatusOf('reconciling'), 'RECONCILING');
  assert.equal(clusterStatusOf('nope'), 'UNKNOWN');
  assert.equal(operationStatusOf(3), 'DONE');
  assert.equal(operationStatusOf('PENDING'), 'PENDING');
});

test('GKE errors map to port codes', () => {
  assert.equal(gkeError(Object.assign(new Error('x'), { code: 5 }), 'get').code, 'CLUSTER_NOT_FOUND');
  assert.equal(gkeError(Object.assign(new Error('x'), { code: 9 }), 'get').code, 'CLUSTER_CONFLICT');
  const u = gkeError(Object.assign(new Error('x'), { code: 14 }), 'get');
  assert.equal(u.code, 'CLUSTER_UNAVAILABLE');
  assert.equal(u.retryable, true);
});

test('node pool sizes: only instance group manager URLs are read, canonicalised to the Compute Engine host', () => {
  const igm = 'projects/p-1/zones/us-central1-a/instanceGroupManagers/gke-gpu-l4-1a2b3c4d-grp';
  assert.equal(instanceGroupManagerUrl(`https://www.googleapis.com/compute/v1/${igm}`), `https://compute.googleapis.com/compute/v1/${igm}`);
  assert.equal(instanceGroupManagerUrl(`https://compute.googleapis.com/compute/v1/${igm}`), `https://compute.googleapis.com/compute/v1/${igm}`);
  for (const bad of [
    `http://www.googleapis.com/compute/v1/${igm}`,
    `https://evil.example/compute/v1/${igm}`,
    `https://www.googleapis.com/compute/v1/projects/p-1/zones/us-central1-a/instanceGroupManagers/../../x`,
    `https://www.googleapis.com/compute/v1/projects/p-1/zones/us-central1-a/instanceGroups/gke-grp`,
    `https://www.googleapis.com/compute/v1/${igm}?alt=media`,
  ])
    assert.equal(instanceGroupManagerUrl(bad), null, bad);
  const Z3 = ['us-central1-a', 'us-central1-b', 'us-central1-c'];
  const g = (zone: string, targetSize: number) => ({ zone, targetSize });
  assert.deepEqual(
    poolSize({ initialNodeCount: 3 }, Z3, 5, [g(Z3[0]!, 1), g(Z3[1]!, 1), g(Z3[2]!, 1)]),
    { zones: Z3, nodesPerZone: 1, nodeCount: 3 },
    'one group per zone: 1 per zone, 3 in all',
  );
  // Blue-green upgrade: instance_group_urls lists the blue and the green group of each zone (G8).
  // terraform-provider-google (flattenNodePool) divides the total by the number of groups; the
  // largest group per zone is the pool's size per zone, and a sum would double it.
  assert.deepEqual(poolSize({}, Z3, 5, [g(Z3[0]!, 1), g(Z3[1]!, 1), g(Z3[2]!, 1), g(Z3[0]!, 0), g(Z3[1]!, 1), g(Z3[2]!, 0)]), {
    zones: Z3,
    nodesPerZone: 1,
    nodeCount: 4,
  });
  assert.deepEqual(
    poolSize({}, [], 5, [g('us-east1-b', 2)]),
    { zones: ['us-east1-b'], nodesPerZone: 2, nodeCount: 2 },
    'zones from the groups when none are listed',
  );
  assert.deepEqual(poolSize({ initialNodeCount: 3 }, Z3, 5, null), { zones: Z3, nodesPerZone: 3, nodeCount: 9 }, 'unreadable: the upper guess, per zone');
  assert.deepEqual(poolSize({ initialNodeCount: 0 }, ['z-a'], 5, null), { zones: ['z-a'], nodesPerZone: 1, nodeCount: 1 });
  assert.deepEqual(poolSize({ initialNodeCount: 3 }, Z3, 0, null), { zones: Z3, nodesPerZone: 0, nodeCount: 0 }, 'a cluster with no node');
});

test('M2: autoscaling limits are read in the mode the pool uses (per zone or total), with its location policy, and sent back in that mode only', () => {
  // The gRPC client fills unset int32 with 0 (G6): a pool with total limits reads min/max 0.
  const grpcTotal = { enabled: true, minNodeCount: 0, maxNodeCount: 0, totalMinNodeCount: 2, totalMaxNodeCount: 6, locationPolicy: 'ANY' };
  assert.deepEqual(autoscalingOf(grpcTotal), { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' });
  // REST (proto3 JSON) omits unset fields; enums may come as numbers.
  assert.deepEqual(autoscalingOf({ enabled: true, totalMaxNodeCount: 4, locationPolicy: 1 }), {
    limits: 'total',
    minNodeCount: 0,
    maxNodeCount: 4,
    locationPolicy: 'BALANCED',
  });
  assert.deepEqual(
    autoscalingOf({
      enabled: true,
      minNodeCount: 1,
      maxNodeCount: 3,
      totalMinNodeCount: 0,
      totalMaxNodeCount: 0,
      locationPolicy: 'LOCATION_POLICY_UNSPECIFIED',
    }),
    {
      limits: 'per-zone',
      minNodeCount: 1,
      maxNodeCount: 3,
      locationPolicy: null,
    },
  );
  assert.equal(autoscalingOf({ enabled: false, minNodeCount: 1, maxNodeCount: 3 }), null);
  // The total_* and *_node_count fields exclude each other (cluster_service.proto #L6026-6036).
  assert.deepEqual(autoscalingWire({ limits: 'total', minNodeCount: 0, maxNodeCount: 6, locationPolicy: 'ANY' }), {
    enabled: true,
    totalMinNodeCount: 0,
    totalMaxNodeCount: 6,
    locationPolicy: 'ANY',
  });
  assert.deepEqual(autoscalingWire({ limits: 'per-zone', minNodeCount: 1, maxNodeCount: 3, locationPolicy: null }), {
    enabled: true,
    minNodeCount: 1,
    maxNodeCount: 3,
  });
});

test('M1: the GKE adapter reports each pool per zone (and in total) from its instance groups, and falls back to the guess when one cannot be read', async () => {
  const url = (zone: string, pool: string) =>
    `https://www.googleapis.com/compute/v1/projects/p-1/zones/${zone}/instanceGroupManagers/gke-gpu-${pool}-${zone}-grp`;
  const cluster = {
    name: 'gpu',
    location: 'us-central1',
    status: 'RUNNING',
    resourceLabels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    labelFingerprint: 'f',
    currentNodeCount: 3,
    nodePools: [
      { name: 'a', initialNodeCount: 4, instanceGroupUrls: [url('us-central1-a', 'a'), url('us-central1-b', 'a')] },
      { name: 'b', initialNodeCount: 2, instanceGroupUrls: [url('us-central1-a', 'b')] },
      { name: 'c', initialNodeCount: 2, instanceGroupUrls: [url('us-central1-a', 'c')] },
    ],
  };
  const client = {
    listClusters: async () => [{ clusters: [cluster] }],
    getCluster: async () => [cluster],
  } as unknown as NonNullable<GkeDirectoryOptions['client']>;
  const sizes: Record<string, number> = { [url('us-central1-a', 'a')]: 2, [url('us-central1-b', 'a')]: 1, [url('us-central1-a', 'b')]: 0 };
  const asked: string[] = [];
  const directory = new GkeClusterDirectory('p-1', {
    client,
    groupSize: async (u) => {
      asked.push(u);
      const n = sizes[u.replace('https://compute.googleapis.com', 'https://www.googleapis.com')];
      if (n === undefined) throw new Error('403 compute.instanceGroupManagers.get denied');
      return n;
    },
  });
  const [listed] = await directory.list();
  assert.deepEqual(
    listed?.nodePools.map((p) => [p.name, p.nodesPerZone, p.zones.length, p.nodeCount]),
    [
      ['a', 2, 2, 3],
      ['b', 0, 1, 0],
      ['c', 2, 1, 2],
    ],
    'a: 2 and 1 in two zones (per zone: the larger, never the sum); b: really at zero; c: unreadable, guessed',
  );
  assert.ok(asked.every((u) => u.startsWith('https://compute.googleapis.com/compute/v1/projects/p-1/zones/')));
  const got = await directory.get('projects/p-1/locations/us-central1/clusters/gpu');
  assert.equal(got?.name, 'projects/p-1/locations/us-central1/clusters/gpu');
  assert.deepEqual(
    got?.nodePools.map((p) => p.nodeCount),
    [3, 0, 2],
  );
  assert.deepEqual(got?.nodePools[0]?.zones, ['us-central1-a', 'us-central1-b']);
});

test("GKE operations: the type numbers are the proto's (SET_NODE_POOL_SIZE, DELETE_CLUSTER), names as well as numbers", async () => {
  // The oracle is the proto the installed client is generated from, not a number typed from memory.
  const proto = readFileSync(
    join(import.meta.dirname, '../../../node_modules/@google-cloud/container/build/protos/google/container/v1/cluster_service.proto'),
    'utf8',
  );
  const enumValue = (name: string) => Number(new RegExp(`\\b${name} = (\\d+)`).exec(proto)?.[1]);
  const resize = enumValue('SET_NODE_POOL_SIZE');
  const del = enumValue('DELETE_CLUSTER');
  const masterAuth = enumValue('SET_MASTER_AUTH');
  assert.ok(Number.isInteger(resize) && Number.isInteger(del) && Number.isInteger(masterAuth), 'the proto names all three');
  const ops: Record<string, unknown> = {
    a: { name: 'a', operationType: resize, status: 'DONE', location: 'us-central1' },
    b: { name: 'b', operationType: 'SET_NODE_POOL_SIZE', status: 'RUNNING', location: 'us-central1' },
    c: { name: 'c', operationType: del, status: 'DONE', location: 'us-central1' },
    d: { name: 'd', operationType: masterAuth, status: 'DONE', location: 'us-central1' },
  };
  const client = { getOperation: async ({ name }: { name: string }) => [ops[name.split('/').pop()!]] } as unknown as NonNullable<GkeDirectoryOptions['client']>;
  const directory = new GkeClusterDirectory('p-1', { client });
  const kinds = [];
  for (const n of ['a', 'b', 'c', 'd']) kinds.push((await directory.getOperation(`projects/p-1/locations/us-central1/operations/${n}`)).kind);
  assert.deepEqual(kinds, ['set-node-pool-size', 'set-node-pool-size', 'delete-cluster', 'other']);
});

test("GKE operations are named in the project of the cluster they act on, not the directory's", async () => {
  const client = {
    setNodePoolSize: async () => [{ name: 'operation-1', location: 'us-central1', status: 'RUNNING' }],
    deleteCluster: async () => [{ name: 'operation-2', zone: 'us-central1-a', status: 'RUNNING' }],
  } as unknown as NonNullable<GkeDirectoryOptions['client']>;
  const directory = new GkeClusterDirectory('home-project', { client });
  const resize = await directory.setNodePoolSize('projects/other-project/locations/us-central1/clusters/gpu/nodePools/l4', 0);
  assert.equal(resize.name, 'projects/other-project/locations/us-central1/operations/operation-1');
  const del = await directory.deleteCluster('projects/123456789012/locations/us-central1-a/clusters/old');
  assert.equal(del.name, 'projects/123456789012/locations/us-central1-a/operations/operation-2');
});
