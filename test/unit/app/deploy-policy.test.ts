/**
 * The deploy path's gates in handleDeployRequest: the policy (missing, refused, allowed), the
 * serving namespaces, the model bucket. A refused request is recorded with its reason and never
 * admitted; the policy is checked before any cluster is touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { handleDeployRequest, type RolloutDeps } from '../../../shared/app/rollouts.ts';
import { handleCheckpointUpload } from '../../../shared/app/checkpoint-upload.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import type { RejectedRequest, RolloutState } from '../../../shared/ports/rollout-state.ts';
import { MemoryBucket, MemoryCheckpointState, MemoryPublisher } from '../../helpers/memory.ts';
import { LOCAL_POLICY, MemoryPolicyStore } from '../../helpers/policy.ts';

const LLAMA = join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const clock = { now: () => new Date('2026-06-01T12:00:00.000Z') };

async function validVersion(): Promise<MemoryCheckpointState> {
  const bucket = new MemoryBucket();
  const state = new MemoryCheckpointState();
  for (const f of readdirSync(LLAMA)) bucket.put(`models/llama/v1/${f}`, readFileSync(join(LLAMA, f)));
  await handleCheckpointUpload(
    {
      id: 'e1',
      source: '//storage.googleapis.com/projects/_/buckets/ferry-models',
      type: 'google.cloud.storage.object.v1.finalized',
      data: { bucket: 'ferry-models', name: 'models/llama/v1/config.json', generation: bucket.objects.get('models/llama/v1/config.json')!.generation },
    },
    {
      objects: () => bucket,
      state,
      publisher: new MemoryPublisher(),
      clock,
      logger: memoryLogger(),
      config: { modelBuckets: ['ferry-models'], modelPrefix: 'models/', validationConcurrency: 4, claimLeaseMs: 60_000, deployTopic: 'd' },
    },
  );
  return state;
}

function deps(versions: MemoryCheckpointState, policy: MemoryPolicyStore, config: RolloutDeps['config'] = {}) {
  const rejected: RejectedRequest[] = [];
  let admitted = 0;
  const rollouts = {
    recordRejected: async (r: RejectedRequest) => void rejected.push(r),
    admit: async () => {
      admitted++;
      return { outcome: 'duplicate', by: 'messageId', rolloutId: null };
    },
  } as unknown as RolloutState;
  const d: RolloutDeps = {
    rollouts,
    policy,
    versions,
    clusters: { get: async () => assert.fail('no cluster is touched') },
    publisher: new MemoryPublisher(),
    clock,
    logger: memoryLogger(),
    config,
  };
  return { d, rejected, admitted: () => admitted };
}

const msg = (over: Record<string, unknown> = {}, topic: string | null = 'ferry-deploy-requests') => ({
  messageId: `m-${Math.random()}`,
  topic,
  data: new TextEncoder().encode(
    JSON.stringify({
      apiVersion: 'ferry/v1',
      model: 'llama',
      version: 'v1',
      target: { cluster: 'local', namespace: 'ml', name: 'llama' },
      accelerator: { type: 'nvidia-l4', count: 1 },
      requestedBy: { source: 'pubsub', principal: 'ci' },
      ...over,
    }),
  ),
});

test('no policy: refused POLICY_MISSING, recorded, never admitted', async () => {
  const { d, rejected, admitted } = deps(await validVersion(), new MemoryPolicyStore());
  const out = await handleDeployRequest(msg(), d);
  assert.equal(out.outcome === 'rejected' && out.reason, 'POLICY_MISSING');
  assert.deepEqual(
    rejected.map((r) => r.reason),
    ['POLICY_MISSING'],
  );
  assert.equal(admitted(), 0);
});

test('a stored policy that no longer parses refuses everything (POLICY_INVALID)', async () => {
  const { d } = deps(await validVersion(), new MemoryPolicyStore({ ...LOCAL_POLICY, targets: 'all' }));
  const out = await handleDeployRequest(msg(), d);
  assert.equal(out.outcome === 'rejected' && out.reason, 'POLICY_INVALID');
});

test('the policy refuses before any cluster is touched; an allowed request is admitted', async () => {
  const versions = await validVersion();
  const { d, rejected, admitted } = deps(versions, new MemoryPolicyStore(LOCAL_POLICY));
  const refused = await handleDeployRequest(msg({ target: { cluster: 'local', namespace: 'kube-system', name: 'x' } }), d);
  assert.equal(refused.outcome === 'rejected' && refused.reason, 'POLICY_SYSTEM_NAMESPACE');
  assert.match(rejected[0]!.message, /refused by policy rule systemNamespaces/);
  const flag = await handleDeployRequest(msg({ vllmArgs: ['--trust-remote-code'] }), d);
  assert.equal(flag.outcome === 'rejected' && flag.reason, 'POLICY_FLAG');
  assert.equal(admitted(), 0);
  const ok = await handleDeployRequest(msg(), d);
  assert.equal(ok.outcome, 'duplicate', 'reached admission (the fake answers duplicate)');
  assert.equal(admitted(), 1);
});

test('a grant by topic: the same request on another topic is refused', async () => {
  const policy = { ...LOCAL_POLICY, grants: [{ name: 'trusted', sources: ['pubsub'], topics: ['ferry-deploy-requests'], targets: ['local/*'] }] };
  const { d } = deps(await validVersion(), new MemoryPolicyStore(policy));
  const out = await handleDeployRequest(msg({}, 'ferry-untrusted'), d);
  assert.equal(out.outcome === 'rejected' && out.reason, 'POLICY_SOURCE');
  assert.equal((await handleDeployRequest(msg({}, 'ferry-deploy-requests'), d)).outcome, 'duplicate');
});

test('serving namespaces and model buckets from configuration gate the deploy too', async () => {
  const versions = await validVersion();
  const ns = deps(versions, new MemoryPolicyStore(LOCAL_POLICY), { servingNamespaces: ['serving'] });
  const a = await handleDeployRequest(msg(), ns.d);
  assert.equal(a.outcome === 'rejected' && a.reason, 'NAMESPACE_NOT_SERVING');
  const bucket = deps(versions, new MemoryPolicyStore(LOCAL_POLICY), { modelBuckets: ['another-bucket'] });
  const b = await handleDeployRequest(msg(), bucket.d);
  assert.equal(b.outcome === 'rejected' && b.reason, 'VERSION_BUCKET_FOREIGN');
});
