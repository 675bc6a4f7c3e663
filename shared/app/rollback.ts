/**
 * Use case: what "roll this target back" means — the newest succeeded rollout of the target whose
 * version differs from what the target runs now (its last good rollout) and that started before it,
 * re-requested as a deploy request. Shared by `ferry rollback` and `/ferry rollback`.
 */
import type { DeployRequest } from '../domain/deploy-request.ts';
import { targetKey, type Target } from '../domain/names.ts';
import type { Rollout } from '../domain/rollout.ts';
import type { TargetState } from '../domain/target-state.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { RollbackRefusal } from '../domain/reasons/rollout.ts';

export type PreviousGood =
  | {
      ok: true;
      /** What the target runs now. */
      current: NonNullable<TargetState['lastGood']>;
      /** The rollout to go back to. */
      previous: Rollout;
      /** The previous rollout's request at its resolved version, without its idempotency key and requester (the caller sets both). */
      request: Omit<DeployRequest, 'idempotencyKey' | 'requestedBy'>;
    }
  | { ok: false; reason: RollbackRefusal; message: string };

export async function previousGoodRequest(rollouts: Pick<RolloutState, 'getTarget' | 'listRollouts'>, target: Target): Promise<PreviousGood> {
  const key = targetKey(target);
  const state = await rollouts.getTarget(target);
  if (!state?.lastGood) {
    return { ok: false, reason: 'NO_GOOD_ROLLOUT', message: `${key} has no succeeded rollout yet; nothing to roll back to` };
  }
  const current = state.lastGood;
  const history = (await rollouts.listRollouts({ targetKey: state.key, limit: 500 })).filter((r) => r.phase === 'succeeded');
  const previous = history.find((r) => r.id !== current.rolloutId && r.version !== current.version && r.createdAt < current.at);
  if (!previous) {
    return { ok: false, reason: 'NO_EARLIER_GOOD_VERSION', message: `${key} runs ${current.model}@${current.version} and has no earlier good version` };
  }
  const { idempotencyKey: _k, requestedBy: _b, ...request } = previous.request;
  return { ok: true, current, previous, request: { ...request, version: previous.version } };
}
