/**
 * The follow function's use case: a follow request `{rolloutId}` (published by handleDeployRequest
 * after it started a rollout) → followDeployment for at most FERRY_DEPLOY_FOLLOW_SECONDS, advancing
 * the rollout on each change of its Deployment and pods. It runs on a subscription of its own, so a
 * follow that holds its push paces only other follows, never deploy requests (Pub/Sub paces a
 * subscription's pushes by their acks: docs/UPSTREAM.md F5). A follow Pub/Sub delays or drops is
 * no loss: the scheduled reconciler advances every rollout in flight anyway.
 *
 * Never throws: a malformed request is logged (EVENT_INVALID) and acked, a rollout already ended
 * (or gone) returns at once, and followDeployment itself never throws.
 */
import { z } from 'zod';
import { isTerminalPhase } from '../domain/rollout.ts';
import { describeIssues } from '../domain/events.ts';
import { asFerryError } from '../domain/errors.ts';
import { followDeployment, type FollowDeploymentDeps, type FollowDeploymentOptions, type FollowReport } from './follow-deployment.ts';
import { advanceRollout, type RolloutDeps } from './rollouts.ts';

/** The follow request: exactly one rollout id, as rolloutIdFor makes them. */
export const FollowRequest = z.strictObject({
  rolloutId: z.string().regex(/^ro-[A-Za-z0-9-]{1,80}$/, 'a rollout id looks like ro-20260101-120000-0123456789'),
});
export type FollowRequest = z.infer<typeof FollowRequest>;

export type FollowOutcome =
  | { outcome: 'malformed'; issues: Array<{ path: string; message: string }> }
  | { outcome: 'disabled'; rolloutId: string }
  | { outcome: 'gone'; rolloutId: string }
  | { outcome: 'terminal'; rolloutId: string; phase: string }
  | { outcome: 'followed'; rolloutId: string; report: FollowReport };

export function parseFollowRequest(data: Uint8Array): { ok: true; request: FollowRequest } | { ok: false; issues: Array<{ path: string; message: string }> } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch {
    return { ok: false, issues: [{ path: '', message: 'not UTF-8 JSON' }] };
  }
  const r = FollowRequest.safeParse(json);
  return r.success ? { ok: true, request: r.data } : { ok: false, issues: describeIssues(r.error) };
}

/** What a follow needs: followDeployment's deps and the budget (FERRY_DEPLOY_FOLLOW_SECONDS). */
export interface FollowRequestDeps extends FollowDeploymentDeps {
  followSeconds: number;
}

/** The follow function's use case, with the rollout step advanceRollout bound to `deps`. */
export function handleFollowRequest(
  msg: { data: Uint8Array; messageId: string },
  deps: RolloutDeps,
  opts: Omit<FollowDeploymentOptions, 'budgetMs'> = {},
): Promise<FollowOutcome> {
  return followRequest(
    msg,
    {
      rollouts: deps.rollouts,
      clusters: deps.clusters,
      advance: (id) => advanceRollout(id, deps),
      logger: deps.logger,
      followSeconds: deps.config.followSeconds ?? 0,
    },
    opts,
  );
}

export async function followRequest(
  msg: { data: Uint8Array; messageId: string },
  deps: FollowRequestDeps,
  opts: Omit<FollowDeploymentOptions, 'budgetMs'> = {},
): Promise<FollowOutcome> {
  const log = deps.logger.child({ messageId: msg.messageId });
  const parsed = parseFollowRequest(msg.data);
  if (!parsed.ok) {
    log.error('malformed follow request; dropped', { code: 'EVENT_INVALID', issues: parsed.issues });
    return { outcome: 'malformed', issues: parsed.issues };
  }
  const { rolloutId } = parsed.request;
  const rlog = log.child({ rolloutId });
  if (deps.followSeconds <= 0) {
    rlog.info('follow request ignored: FERRY_DEPLOY_FOLLOW_SECONDS is 0; the reconciler carries the rollout on');
    return { outcome: 'disabled', rolloutId };
  }
  let rollout: Awaited<ReturnType<FollowDeploymentDeps['rollouts']['getRollout']>> | 'unread';
  try {
    rollout = await deps.rollouts.getRollout(rolloutId);
  } catch (e) {
    // followDeployment reads it again (it never throws and logs its own failures).
    rollout = 'unread';
    rlog.warn('follow: could not read the rollout; following anyway', { error: asFerryError(e) });
  }
  if (rollout === undefined) {
    rlog.info('follow: no such rollout; nothing to follow');
    return { outcome: 'gone', rolloutId };
  }
  if (rollout !== 'unread' && isTerminalPhase(rollout.phase)) {
    rlog.info(`follow: rollout already ${rollout.phase}; nothing to follow`);
    return { outcome: 'terminal', rolloutId, phase: rollout.phase };
  }
  const report = await followDeployment(rolloutId, { ...deps, logger: log }, { ...opts, budgetMs: deps.followSeconds * 1000 });
  return { outcome: 'followed', rolloutId, report };
}
