/**
 * The ClusterDirectory contract against the in-process fake (manual clock), and against GKE only
 * with real credentials and FERRY_CONTRACT_GKE_PROJECT / _CLUSTER / _POOL set (a `demo-*` project
 * means no credentials).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClusterDirectory } from '../../../shared/adapters/cluster-directory-fake.ts';
import { GkeClusterDirectory, clusterStatusOf, operationStatusOf, gkeError } from '../../../shared/adapters/cluster-directory-gke.ts';
import { clusterDirectoryContract, type ClusterContractSubject } from '../../contract/cluster-directory.contract.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../../shared/domain/teardown.ts';

function manualClock(start = Date.UTC(2026, 10, 21, 12)) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

clusterDirectoryContract('in-process fake', {
  make: async () => {
    const clock = manualClock();
    const directory = new FakeClusterDirectory({ clock, project: 'demo-ferry' });
    const c = directory.seed({ location: 'us-central1', name: 'gpu', labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE }, nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }] });
    directory.seed({ location: 'us-central1', name: 'other', labels: { team: 'x' }, nodePools: [] });
    const subject: ClusterContractSubject = {
      directory,
      cluster: c.name,
      pool: 'l4',
      poolSize: 2,
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
