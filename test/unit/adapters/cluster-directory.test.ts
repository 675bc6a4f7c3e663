/**
 * The ClusterDirectory contract against the in-process fake (manual clock), and against GKE only
 * with real credentials and FERRY_CONTRACT_GKE_PROJECT / _CLUSTER / _POOL set (a `demo-*` project
 * means no credentials); _PROJECT_NUMBER adds the check that GKE takes the project by number, and
 * _ALLOW_DELETE=1 the deleteCluster test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClusterDirectory } from '../../../shared/adapters/cluster-directory-fake.ts';
import { GkeClusterDirectory, clusterStatusOf, operationStatusOf, gkeError, instanceGroupManagerUrl, nodePoolSize, type GkeDirectoryOptions } from '../../../shared/adapters/cluster-directory-gke.ts';
import { clusterDirectoryContract, type ClusterContractSubject } from '../../contract/cluster-directory.contract.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../../shared/domain/teardown.ts';

function manualClock(start = Date.UTC(2026, 10, 21, 12)) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

clusterDirectoryContract('in-process fake', {
  make: async () => {
    const clock = manualClock();
    const directory = new FakeClusterDirectory({ clock, project: 'demo-ferry', projectNumber: '123456789012' });
    const c = directory.seed({ location: 'us-central1', name: 'gpu', labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE }, nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }] });
    directory.seed({ location: 'us-central1', name: 'other', labels: { team: 'x' }, nodePools: [] });
    const subject: ClusterContractSubject = {
      directory,
      cluster: c.name,
      pool: 'l4',
      poolSize: 2,
      projectNumber: directory.projectNumber,
      advance: clock.advance,
      allowDelete: true,
      async eventually(what, get, done) {
        for (let i = 0; i < 10_000; i++) {
          const v = await get();
          if (done(v)) return v;
          clock.advance(250);
        }
        throw new Error(`${what}: never happened`);
      },
    };
    return subject;
  },
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
  ]) assert.equal(instanceGroupManagerUrl(bad), null, bad);
  assert.equal(nodePoolSize({ initialNodeCount: 3 }, 5, 7), 7, 'the instance groups say');
  assert.equal(nodePoolSize({ initialNodeCount: 3 }, 5, 0), 0, 'a pool at zero in a cluster with nodes');
  assert.equal(nodePoolSize({ initialNodeCount: 3 }, 5, null), 3, 'unreadable: the upper guess');
  assert.equal(nodePoolSize({ initialNodeCount: 0 }, 5, null), 1);
  assert.equal(nodePoolSize({ initialNodeCount: 3 }, 0, null), 0, 'a cluster with no node');
});

test('the GKE adapter reports each pool as the sum of its instance groups, and falls back to the guess when one cannot be read', async () => {
  const url = (zone: string, pool: string) => `https://www.googleapis.com/compute/v1/projects/p-1/zones/${zone}/instanceGroupManagers/gke-gpu-${pool}-${zone}-grp`;
  const cluster = {
    name: 'gpu', location: 'us-central1', status: 'RUNNING', resourceLabels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE }, labelFingerprint: 'f', currentNodeCount: 3,
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
  assert.deepEqual(listed?.nodePools.map((p) => [p.name, p.nodeCount]), [['a', 3], ['b', 0], ['c', 2]], 'a: 2 + 1 across zones; b: really at zero; c: unreadable, guessed');
  assert.ok(asked.every((u) => u.startsWith('https://compute.googleapis.com/compute/v1/projects/p-1/zones/')));
  const got = await directory.get('projects/p-1/locations/us-central1/clusters/gpu');
  assert.equal(got?.name, 'projects/p-1/locations/us-central1/clusters/gpu');
  assert.deepEqual(got?.nodePools.map((p) => p.nodeCount), [3, 0, 2]);
});
