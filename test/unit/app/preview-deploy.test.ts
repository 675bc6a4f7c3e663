/**
 * `ferry render`'s use case: the objects a deploy would apply, from the deploy path's own steps —
 * compared with what handleDeployRequest admits for the same request and version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { previewDeploy, PREVIEW_ROLLOUT_ID } from '../../../shared/app/preview-deploy.ts';
import { handleDeployRequest, type RolloutDeps } from '../../../shared/app/rollouts.ts';
import { LOCAL_POLICY, MemoryPolicyStore } from '../../helpers/policy.ts';
import { handleCheckpointUpload } from '../../../shared/app/checkpoint-upload.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import { DeployRequest } from '../../../shared/domain/deploy-request.ts';
import { objectsToApply } from '../../../shared/domain/rendered-spec.ts';
import type { Rollout } from '../../../shared/domain/rollout.ts';
import type { RolloutState } from '../../../shared/ports/rollout-state.ts';
import { MemoryBucket, MemoryCheckpointState, MemoryPublisher } from '../../helpers/memory.ts';

const LLAMA = join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const clock = { now: () => new Date('2026-06-01T12:00:00.000Z') };

/** A valid llama@v1 in memory, validated by the real upload use case. */
async function validVersion(): Promise<MemoryCheckpointState> {
  const bucket = new MemoryBucket();
  const state = new MemoryCheckpointState();
  for (const f of readdirSync(LLAMA)) bucket.put(`models/llama/v1/${f}`, readFileSync(join(LLAMA, f)));
  const out = await handleCheckpointUpload(
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
  assert.equal(out.outcome === 'validated' && out.valid, true);
  return state;
}

const request = (extra: Record<string, unknown> = {}) =>
  DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'llama',
    version: 'latest',
    target: { cluster: 'local', namespace: 'ml', name: 'llama' },
    requestedBy: { source: 'cli', principal: 't' },
    ...extra,
  });

test('the preview is exactly what the deploy path admits (the rollout id aside), with the accelerator sized from the checkpoint', async () => {
  const versions = await validVersion();
  const preview = await previewDeploy(request(), { versions, logger: memoryLogger() });
  assert.ok(preview.ok, JSON.stringify(preview));
  assert.equal(preview.recommended, true);
  assert.equal(preview.request.version, 'v1', 'latest resolved');
  assert.ok(preview.request.accelerator);
  assert.deepEqual(
    preview.objects.map((o) => o.kind),
    ['Service', 'Deployment'],
  );

  let admitted: Rollout | undefined;
  const rollouts = {
    admit: async (a: { rollout: Rollout }) => {
      admitted = a.rollout;
      return { outcome: 'duplicate', by: 'messageId', rolloutId: null };
    },
    recordRejected: async () => assert.fail('not rejected'),
  } as unknown as RolloutState;
  const deps: RolloutDeps = {
    rollouts,
    policy: new MemoryPolicyStore(LOCAL_POLICY),
    versions,
    clusters: { get: async () => assert.fail('no cluster access') },
    publisher: new MemoryPublisher(),
    clock,
    logger: memoryLogger(),
    config: {},
  };
  await handleDeployRequest({ messageId: 'm1', data: new TextEncoder().encode(JSON.stringify(request())) }, deps);
  assert.ok(admitted);
  const applied = JSON.stringify(objectsToApply(admitted.spec)).replaceAll(admitted.id, PREVIEW_ROLLOUT_ID);
  assert.equal(JSON.stringify(preview.objects), applied);
});

test('autoscaling and capacity add the ComputeClass, PodMonitoring and HPA, in apply order', async () => {
  const versions = await validVersion();
  const preview = await previewDeploy(
    request({
      accelerator: { type: 'nvidia-l4', count: 1 },
      autoscaling: { profile: 'throughput', maxReplicas: 3 },
      capacity: { computeClass: 'spot-then-flex-start' },
    }),
    { versions, logger: memoryLogger() },
  );
  assert.ok(preview.ok, JSON.stringify(preview));
  assert.equal(preview.recommended, false);
  assert.deepEqual(
    preview.objects.map((o) => o.kind),
    ['ComputeClass', 'Service', 'Deployment', 'PodMonitoring', 'HorizontalPodAutoscaler'],
  );
});

test('what a deploy would be rejected for, a preview reports', async () => {
  const versions = await validVersion();
  const unknown = await previewDeploy(request({ version: 'v9' }), { versions, logger: memoryLogger() });
  assert.deepEqual(unknown.ok ? null : unknown.reason, 'UNKNOWN_VERSION');
  const cache = await previewDeploy(request({ cache: { mode: 'all-zones' } }), { versions, logger: memoryLogger() });
  assert.deepEqual(cache.ok ? null : cache.reason, 'CACHE_NOT_CONFIGURED');
});
