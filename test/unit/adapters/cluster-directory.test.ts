/**
 * The ClusterDirectory contract: the production adapter (the real `@google-cloud/container`
 * client, REST transport) against the local GKE + Compute REST server (infra/local/gke-server.ts,
 * manual clock), and against GKE only with real credentials and FERRY_CONTRACT_GKE_PROJECT /
 * _CLUSTER / _POOL set (a `demo-*` project means no credentials); _PROJECT_NUMBER adds the check
 * that GKE takes the project by number, and _ALLOW_DELETE=1 the deleteCluster test.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGkeServer, type GkeServer } from '../../../infra/local/gke-server.ts';
import {
  GkeClusterDirectory,
  clusterStatusOf,
  operationStatusOf,
  gkeError,
  instanceGroupManagerUrl,
  poolSize,
  autoscalingOf,
  autoscalingWire,
  parseEndpoint,
  type GkeDirectoryOptions,
} from '../../../shared/adapters/cluster-directory-gke.ts';
import { clusterDirectoryContract } from '../../contract/cluster-directory.contract.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../../shared/domain/teardown-inventory.ts';
import { nodePoolName } from '../../../shared/ports/cluster-directory.ts';
import { manualClock } from '../../helpers/manual-clock.ts';

const Z3 = ['us-central1-a', 'us-central1-b', 'us-central1-c'];
const servers: GkeServer[] = [];
const directories: GkeClusterDirectory[] = [];
after(async () => {
  for (const d of directories) await d.close();
  for (const s of servers) await s.stop();
});
async function rest(opts: Parameters<typeof startGkeServer>[0] = {}): Promise<{ srv: GkeServer; dir: GkeClusterDirectory }> {
  const srv = await startGkeServer({ project: 'demo-ferry', projectNumber: '123456789012', ...opts });
  servers.push(srv);
  const dir = new GkeClusterDirectory('demo-ferry', { apiEndpoint: srv.endpoint, computeEndpoint: srv.endpoint });
  directories.push(dir);
  return { srv, dir };
}

clusterDirectoryContract('the production adapter against the local GKE REST server (regional cluster)', {
  make: async () => {
    const clock = manualClock();
    const { srv, dir } = await rest({ clock });
    const cluster = srv.state.seed({
      location: 'us-central1',
      name: 'gpu',
      labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
      nodePools: [{ name: 'l4', nodeCount: 1, autoscaling: null }],
    });
    srv.state.seed({ location: 'us-central1', name: 'other', labels: { team: 'x' }, nodePools: [] });
    return {
      directory: dir,
      cluster,
      pool: 'l4',
      poolSize: 1,
      projectNumber: srv.state.projectNumber,
      setLabels: (n, l) => srv.state.setLabels(n, l),
      advance: clock.advance,
      allowDelete: true,
      eventually: clock.eventually,
    };
  },
});

test('REST server: a regional pool is 1 node per zone in 3 zones, read from one instance group per zone', async () => {
  const { srv, dir } = await rest({ pendingMs: 0, durationMs: 0 });
  const name = srv.state.seed({
    location: 'us-central1',
    name: 'gpu',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    nodePools: [
      { name: 'l4', nodeCount: 1, autoscaling: null },
      { name: 'tot', nodeCount: 1, autoscaling: { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' } },
      { name: 'one', nodeCount: 2, zones: ['us-central1-b'], autoscaling: { minNodeCount: 1, maxNodeCount: 3 } },
    ],
  });
  const c = await dir.get(name);
  assert.deepEqual(
    c?.nodePools.map((p) => [p.name, p.zones, p.nodesPerZone, p.nodeCount, p.autoscaling]),
    [
      ['l4', Z3, 1, 3, null],
      ['tot', Z3, 1, 3, { limits: 'total', minNodeCount: 2, maxNodeCount: 6, locationPolicy: 'ANY' }],
      ['one', ['us-central1-b'], 2, 2, { limits: 'per-zone', minNodeCount: 1, maxNodeCount: 3, locationPolicy: null }],
    ],
  );
  assert.equal(srv.state.calls.filter((x) => x.method === 'getInstanceGroupManager').length, 7, 'one instance group per zone of each pool');
  // setNodePoolSize is per zone: 2 → 2 in each of the 3 zones.
  await dir.setNodePoolSize(nodePoolName(name, 'l4'), 2);
  await dir
    .getOperation(
      (await dir.setNodePoolAutoscaling(nodePoolName(name, 'tot'), { limits: 'total', minNodeCount: 0, maxNodeCount: 6, locationPolicy: 'ANY' })).name,
    )
    .catch(() => undefined);
  const after1 = await dir.get(name);
  assert.deepEqual(after1?.nodePools.find((p) => p.name === 'l4')?.nodeCount, 6);
});

test('REST server: the request the client sends for total limits carries only total_* fields, and mixing both kinds is INVALID_ARGUMENT', async () => {
  const { srv, dir } = await rest({ pendingMs: 0, durationMs: 0 });
  const name = srv.state.seed({
    location: 'us-central1-a',
    name: 'zonal',
    nodePools: [{ name: 'tot', nodeCount: 2, autoscaling: { limits: 'total', minNodeCount: 2, maxNodeCount: 4, locationPolicy: 'BALANCED' } }],
  });
  await dir.setNodePoolAutoscaling(nodePoolName(name, 'tot'), { limits: 'total', minNodeCount: 0, maxNodeCount: 4, locationPolicy: 'BALANCED' });
  await dir.getOperation(`projects/demo-ferry/locations/us-central1-a/operations/none`).catch(() => undefined);
  assert.deepEqual(
    (await dir.get(name))?.nodePools[0]?.autoscaling,
    { limits: 'total', minNodeCount: 0, maxNodeCount: 4, locationPolicy: 'BALANCED' },
    'still total limits',
  );
  // A raw request with both kinds (what ferry never sends) is refused as GKE documents.
  const res = await fetch(`${srv.endpoint}/v1/${name}/nodePools/tot:setAutoscaling`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: `${name}/nodePools/tot`, autoscaling: { enabled: true, minNodeCount: 1, maxNodeCount: 2, totalMaxNodeCount: 4 } }),
  });
  const body = (await res.json()) as { error: { code: number; status: string; message: string } };
  assert.deepEqual([res.status, body.error.code, body.error.status], [400, 400, 'INVALID_ARGUMENT']);
  assert.match(body.error.message, /mutually exclusive/);
});

test('REST server: errors keep their codes across the wire, failed operations carry their error, unknown fields are refused', async () => {
  const clock = manualClock();
  const { srv, dir } = await rest({ clock });
  const name = srv.state.seed({
    location: 'us-central1',
    name: 'wire',
    labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
    nodePools: [{ name: 'p', nodeCount: 1, autoscaling: null }],
  });
  const code = (c: string, retryable?: boolean) => (e: unknown) =>
    (e as { code?: string }).code === c && (retryable === undefined || (e as { retryable?: boolean }).retryable === retryable);
  srv.state.failNext('get', 'PERMISSION_DENIED');
  await assert.rejects(dir.get(name), code('CLUSTER_FORBIDDEN', false));
  // ListClusters is retried on UNAVAILABLE by the client itself ("idempotent" retry codes in
  // @google-cloud/container build/src/v1/cluster_manager_client_config.json); SetNodePoolSize is not.
  srv.state.failNext('list', 'UNAVAILABLE');
  const before = srv.state.calls.filter((x) => x.method === 'list').length;
  assert.equal((await dir.list()).length, 1);
  assert.equal(srv.state.calls.filter((x) => x.method === 'list').length - before, 2, 'answered UNAVAILABLE once, retried');
  srv.state.failNext('setNodePoolSize', 'UNAVAILABLE');
  await assert.rejects(dir.setNodePoolSize(`${name}/nodePools/p`, 1), code('CLUSTER_UNAVAILABLE', true));
  await assert.rejects(dir.setNodePoolSize(`${name}/nodePools/p`, -1), code('CLUSTER_INVALID'));
  // An operation that fails: DONE with google.rpc.Status, and nothing changed.
  srv.state.failNextOperation('setNodePoolSize', 'Insufficient regional quota to satisfy request');
  const op = await dir.setNodePoolSize(`${name}/nodePools/p`, 3);
  assert.equal((await dir.get(name))?.status, 'RECONCILING');
  await assert.rejects(dir.deleteCluster(name), code('CLUSTER_CONFLICT'), 'one operation per cluster: FAILED_PRECONDITION');
  const fin = await clock.eventually(
    'the operation ends',
    () => dir.getOperation(op.name),
    (o) => o.status === 'DONE',
  );
  assert.equal(fin.kind, 'set-node-pool-size', 'SET_NODE_POOL_SIZE came back as the number 14 (the client asks enum-encoding=int)');
  assert.deepEqual(fin.error, { code: '13', message: 'Insufficient regional quota to satisfy request' });
  assert.equal((await dir.get(name))?.nodePools[0]?.nodesPerZone, 1, 'a failed resize changes nothing');
  // Wire details: the error body, numeric enums on request, unknown fields refused.
  const raw = await fetch(`${srv.endpoint}/v1/projects/demo-ferry/locations/us-central1/clusters/nope`);
  assert.deepEqual([raw.status, ((await raw.json()) as { error: { status: string } }).error.status], [404, 'NOT_FOUND']);
  const listed = (await (await fetch(`${srv.endpoint}/v1/projects/demo-ferry/locations/-/clusters?$alt=json%3Benum-encoding=int`)).json()) as {
    clusters: Array<{ status: unknown }>;
  };
  assert.equal(listed.clusters[0]?.status, 2, 'RUNNING as its number when asked');
  const bad = await fetch(`${srv.endpoint}/v1/${name}/nodePools/p:setSize`, { method: 'POST', body: JSON.stringify({ nodeCount: 1, node_count: 1 }) });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /node_count: no such field/);
  assert.throws(() => parseEndpoint('localhost:8080'), /not an API endpoint/);
  assert.deepEqual(parseEndpoint('http://127.0.0.1:9'), { protocol: 'http', host: '127.0.0.1', port: 9 });
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
              poolSize: Math.max(1, before?.nodePools.find((p) => p.name === gkePool)?.nodesPerZone ?? 1),
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

test("REST server: every route ferry uses is the proto's google.api.http path for that rpc (cluster_service.proto)", async () => {
  // The oracle is the proto the client is generated from: the server's paths are read from it here.
  const proto = readFileSync(
    join(import.meta.dirname, '../../../node_modules/@google-cloud/container/build/protos/google/container/v1/cluster_service.proto'),
    'utf8',
  );
  const http = (rpc: string): { verb: string; template: string } => {
    const m = new RegExp(`rpc ${rpc}\\([^)]*\\)[^{]*\\{\\s*option \\(google\\.api\\.http\\) = \\{\\s*(get|post|delete|put|patch): "([^"]+)"`).exec(proto);
    assert.ok(m, `${rpc} has a google.api.http annotation`);
    return { verb: m[1]!.toUpperCase(), template: m[2]! };
  };
  const { srv } = await rest({ pendingMs: 0, durationMs: 0 });
  const cluster = srv.state.seed({ location: 'us-central1', name: 'paths', nodePools: [{ name: 'p', nodeCount: 1, autoscaling: null }] });
  const fill = (template: string, name: string) => template.replace(/\{[a-z_]+=[^}]+\}/, name);
  const cases: Array<[string, string, unknown]> = [
    ['ListClusters', 'projects/demo-ferry/locations/-', undefined],
    ['GetCluster', cluster, undefined],
    ['SetNodePoolSize', `${cluster}/nodePools/p`, { nodeCount: 1 }],
    ['SetNodePoolAutoscaling', `${cluster}/nodePools/p`, { autoscaling: { enabled: true, minNodeCount: 1, maxNodeCount: 2 } }],
  ];
  for (const [rpc, name, body] of cases) {
    const { verb, template } = http(rpc);
    const res = await fetch(`${srv.endpoint}${fill(template, name)}`, { method: verb, ...(body ? { body: JSON.stringify(body) } : {}) });
    assert.ok(res.status === 200 || res.status === 400, `${rpc}: ${verb} ${template} is served (HTTP ${res.status})`);
    if (res.status === 400) assert.equal(((await res.json()) as { error: { status: string } }).error.status, 'FAILED_PRECONDITION', `${rpc}: only busy`);
  }
  const op = (await (await fetch(`${srv.endpoint}${fill(http('DeleteCluster').template, cluster)}`, { method: http('DeleteCluster').verb })).json()) as {
    name: string;
  };
  const got = await fetch(`${srv.endpoint}${fill(http('GetOperation').template, `projects/demo-ferry/locations/us-central1/operations/${op.name}`)}`);
  assert.equal(got.status, 200, 'GetOperation at its annotated path');
});
