/**
 * A deploy to a GKE cluster teardown touched (handleDeployRequest with a cluster directory): a
 * deleted cluster is refused with CLUSTER_DELETED before anything is admitted; fixed-size node
 * pools at zero are resized back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleDeployRequest, type RolloutDeps } from '../../../shared/app/rollouts.ts';
import { MemoryPolicyStore, policyWithCluster } from '../../helpers/policy.ts';
import { gkeRest, type GkeRest } from '../../helpers/gke-rest.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import type { RejectedRequest, RolloutState } from '../../../shared/ports/rollout-state.ts';
import type { CheckpointState } from '../../../shared/ports/checkpoint-state.ts';
import type { Rollout } from '../../../shared/domain/rollout.ts';
import { defaultProgressDeadlineSeconds, startupBudgetSeconds } from '../../../shared/domain/render.ts';
import { NODE_PROVISION_SECONDS } from '../../../shared/domain/rendered-spec.ts';

const CLUSTER = 'projects/demo-ferry/locations/us-central1/clusters/gpu';
const clock = { now: () => new Date('2026-06-01T12:00:00.000Z') };

function deps(directory: GkeRest) {
  const rejected: RejectedRequest[] = [];
  let admitted = 0;
  const deadlines: number[] = [];
  const rollouts = {
    recordRejected: async (r: RejectedRequest) => void rejected.push(r),
    admit: async (a: { rollout: Rollout }) => {
      admitted++;
      deadlines.push(a.rollout.spec.deployment.spec!.progressDeadlineSeconds!);
      return { outcome: 'duplicate', by: 'messageId', rolloutId: null };
    },
  } as unknown as RolloutState;
  const versions = {
    getVersion: async () => ({
      model: 'm',
      version: 'v1',
      status: 'valid',
      uri: 'gs://models/models/m/v1/',
      summary: { tensorBytes: 1000, shards: 1 },
      contentKey: 'k',
      errors: [],
      missing: [],
    }),
    getModel: async () => ({ model: 'm' }),
  } as unknown as CheckpointState;
  const d: RolloutDeps = {
    rollouts,
    policy: new MemoryPolicyStore(policyWithCluster(CLUSTER, ['ns'])),
    versions,
    clusters: {
      get: async () => {
        throw new Error('not used');
      },
    },
    publisher: { publishJson: async () => 'id' } as unknown as RolloutDeps['publisher'],
    clock,
    logger: memoryLogger(),
    config: {},
    clusterDirectory: directory,
  };
  return { d, rejected, admittedCalls: () => admitted, deadlines };
}

const msg = (cluster: string) => ({
  messageId: 'msg-1',
  data: new TextEncoder().encode(
    JSON.stringify({
      apiVersion: 'ferry/v1',
      model: 'm',
      version: 'v1',
      target: { cluster, namespace: 'ns', name: 'm' },
      accelerator: { type: 'nvidia-l4', count: 1 },
      requestedBy: { source: 'cli', principal: 't' },
    }),
  ),
});

test('a deploy to a deleted cluster is refused with CLUSTER_DELETED, nothing admitted', async () => {
  const directory = await gkeRest({ clock });
  const { d, rejected, admittedCalls } = deps(directory);
  const out = await handleDeployRequest(msg(CLUSTER), d);
  assert.equal(out.outcome, 'rejected');
  assert.equal(out.outcome === 'rejected' && out.reason, 'CLUSTER_DELETED');
  assert.match(rejected[0]!.message, /does not exist/);
  assert.equal(admittedCalls(), 0);
});

test('a deploy to a cluster whose fixed node pool is at zero resizes it back, then goes on', async () => {
  const directory = await gkeRest({ clock });
  directory.seed({ location: 'us-central1', name: 'gpu', nodePools: [{ name: 'l4', nodeCount: 0, autoscaling: null }] });
  const { d, admittedCalls, deadlines } = deps(directory);
  const out = await handleDeployRequest(msg(CLUSTER), d);
  assert.notEqual(out.outcome, 'rejected');
  assert.equal(admittedCalls(), 1);
  assert.deepEqual(
    directory.calls.filter((c) => c.method === 'setNodePoolSize').map((c) => c.name),
    [`${CLUSTER}/nodePools/l4`],
  );
  // The nodes are still being created: the progress deadline allows for it.
  assert.deepEqual(deadlines, [defaultProgressDeadlineSeconds(startupBudgetSeconds(1000)) + NODE_PROVISION_SECONDS]);
});

test('a deploy to a cluster with capacity gets the usual progress deadline and no GKE writes', async () => {
  const directory = await gkeRest({ clock });
  directory.seed({ location: 'us-central1', name: 'gpu', nodePools: [{ name: 'l4', nodeCount: 2, autoscaling: null }] });
  const { d, deadlines } = deps(directory);
  await handleDeployRequest(msg(CLUSTER), d);
  assert.deepEqual(deadlines, [defaultProgressDeadlineSeconds(startupBudgetSeconds(1000))]);
  assert.deepEqual(
    directory.calls.map((c) => c.method),
    ['get'],
  );
});

test('the local cluster is never looked up in the directory', async () => {
  const directory = await gkeRest({ clock });
  const { d } = deps(directory);
  await handleDeployRequest(msg('local'), d);
  assert.deepEqual(directory.calls, []);
});
