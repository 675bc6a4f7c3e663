import { test } from 'node:test';
import assert from 'node:assert/strict';
import { previousGoodRequest } from '../../../shared/app/rollback.ts';
import { DeployRequest } from '../../../shared/domain/deploy-request.ts';
import { targetKey, type Target } from '../../../shared/domain/names.ts';
import { Rollout } from '../../../shared/domain/rollout.ts';
import type { TargetState } from '../../../shared/domain/target-state.ts';
import { FakeRollouts } from '../../helpers/chat-fakes.ts';

const TARGET: Target = { cluster: 'local', namespace: 'serving', name: 'llama' };

function rollout(id: string, version: string, createdAt: string, over: Record<string, unknown> = {}, request: Record<string, unknown> = {}): Rollout {
  const req = DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'llama',
    version,
    target: TARGET,
    accelerator: { type: 'nvidia-l4', count: 1 },
    requestedBy: { source: 'pubsub', principal: 'ci' },
    idempotencyKey: `key-${id}`,
    ...request,
  });
  return Rollout.parse({
    schemaVersion: 1,
    id,
    target: TARGET,
    targetKey: targetKey(TARGET),
    model: 'llama',
    version,
    phase: 'succeeded',
    reason: 'RolloutComplete',
    message: 'ok',
    history: [{ phase: 'pending', reason: 'Created', at: createdAt }],
    specDigest: `d-${id}`,
    spec: { deployment: { kind: 'Deployment' }, service: { kind: 'Service' } },
    request: req,
    createdAt,
    updatedAt: createdAt,
    attempts: 1,
    previousGoodRolloutId: null,
    timeoutSeconds: null,
    detail: null,
    supersededBy: null,
    ...over,
  });
}

function store(rollouts: Rollout[], lastGood: Rollout | null): FakeRollouts {
  const s = new FakeRollouts();
  for (const r of rollouts) s.rollouts.set(r.id, r);
  const state: TargetState = {
    schemaVersion: 1,
    key: targetKey(TARGET),
    target: TARGET,
    activeRolloutId: null,
    queuedRolloutId: null,
    updatedAt: '2026-03-01T00:00:00.000Z',
    lastGood: lastGood
      ? { rolloutId: lastGood.id, specDigest: lastGood.specDigest, model: lastGood.model, version: lastGood.version, at: lastGood.updatedAt }
      : null,
  };
  s.targets.set(state.key, state);
  return s;
}

test('the previous good version: newest succeeded rollout of another version, from before the current one', async () => {
  const v1 = rollout('ro-1', 'v1', '2026-02-01T00:00:00.000Z', {}, { replicas: 3, vllmArgs: ['--max-num-seqs=16'] });
  const v1b = rollout('ro-1b', 'v1', '2026-02-02T00:00:00.000Z', {}, { replicas: 4 });
  const failed = rollout('ro-bad', 'v0', '2026-02-03T00:00:00.000Z', { phase: 'rolled_back', reason: 'RolledBack' });
  const v2 = rollout('ro-2', 'v2', '2026-02-04T00:00:00.000Z');
  const v2again = rollout('ro-2b', 'v2', '2026-02-05T00:00:00.000Z');
  const later = rollout('ro-3', 'v3', '2026-02-06T00:00:00.000Z');
  const r = await previousGoodRequest(store([v1, v1b, failed, v2, v2again, later], v2again), TARGET);
  assert.ok(r.ok);
  assert.equal(r.previous.id, 'ro-1b', 'newest good v1; not the failed v0, not v2 itself, not anything after the current one');
  assert.equal(r.current.rolloutId, 'ro-2b');
  assert.equal(r.request.version, 'v1');
  assert.equal(r.request.replicas, 4);
  assert.ok(!('idempotencyKey' in r.request) && !('requestedBy' in r.request), 'the caller sets its own key and requester');
});

test('a resolved latest is re-requested at its version', async () => {
  const v1 = rollout('ro-1', 'v1', '2026-02-01T00:00:00.000Z', {}, { version: 'latest' });
  const v2 = rollout('ro-2', 'v2', '2026-02-04T00:00:00.000Z');
  const r = await previousGoodRequest(store([v1, v2], v2), TARGET);
  assert.ok(r.ok);
  assert.equal(r.request.version, 'v1');
});

test('nothing to roll back to: no good rollout yet, or no earlier good version', async () => {
  assert.deepEqual(await previousGoodRequest(new FakeRollouts(), TARGET), {
    ok: false,
    reason: 'NO_GOOD_ROLLOUT',
    message: 'local~serving~llama has no succeeded rollout yet; nothing to roll back to',
  });
  const v2 = rollout('ro-2', 'v2', '2026-02-04T00:00:00.000Z');
  assert.deepEqual(await previousGoodRequest(store([v2], v2), TARGET), {
    ok: false,
    reason: 'NO_EARLIER_GOOD_VERSION',
    message: 'local~serving~llama runs llama@v2 and has no earlier good version',
  });
});
