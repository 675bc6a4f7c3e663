/** Scheduled teardown (shared/domain/teardown.ts, shared/app/teardown.ts, shared/app/teardown-tick.ts). */
import type { Catalogue } from './catalogue.ts';

/** Why the planner leaves a resource alone (a run's `skipped` list). */
export const SKIP_REASON_CATALOGUE = {
  NOT_MANAGED: {
    meaning: 'ferry did not create it (no ferry label, or a cache ferry has no record of).',
    hint: 'Nothing to do: ferry never tears down what it does not manage.',
  },
  PROTECTED: {
    meaning: 'It carries the protect label (FERRY_TEARDOWN_PROTECT_LABEL), or a protected target uses it.',
    hint: 'Remove the label if it may be torn down when idle.',
  },
  IN_USE_BY_DEPLOYMENT: {
    meaning: 'A running Deployment reads through this cache.',
    hint: 'Nothing to do: it is torn down once no Deployment uses it.',
  },
  IN_USE_BY_ROLLOUT: {
    meaning: 'An in-flight rollout uses this cache.',
    hint: 'Nothing to do: the next run looks again once the rollout is over.',
  },
  ROLLOUT_IN_FLIGHT: {
    meaning: 'A rollout is in flight on this target or cluster.',
    hint: 'Nothing to do: the next run looks again once the rollout is over.',
  },
  DEPLOYMENT_RUNNING: {
    meaning: 'A Deployment on this cluster has replicas.',
    hint: 'Nothing to do: the cluster is idle only once its Deployments are scaled to zero.',
  },
  RECENTLY_ACTIVE: {
    meaning: 'It was active within its idle TTL.',
    hint: 'Nothing to do; lower FERRY_TEARDOWN_*_IDLE_SECONDS to tear down sooner.',
  },
  ACTIVITY_UNKNOWN: {
    meaning: 'ferry has no recorded activity for a target on it, so it cannot tell it is idle.',
    hint: 'Nothing to do: activity is recorded by the next reconcile; until then the resource is kept.',
  },
  NOT_ACTIVE_STATE: {
    meaning: 'It is in a state that cannot be torn down now (being created, updated or repaired).',
    hint: 'Nothing to do: the next run looks again.',
  },
  ALREADY_TORN_DOWN: {
    meaning: 'It is already disabled, absent or scaled to zero.',
    hint: 'Nothing to do.',
  },
  POLICY_OFF: {
    meaning: 'The policy does not scale idle Deployments.',
    hint: 'Set FERRY_TEARDOWN_SCALE_DEPLOYMENTS=1 to scale idle Deployments to zero.',
  },
  MAX_ACTIONS: {
    meaning: 'The run reached FERRY_TEARDOWN_MAX_ACTIONS; the rest waits for the next run.',
    hint: 'Nothing to do; raise FERRY_TEARDOWN_MAX_ACTIONS to do more per run.',
  },
} as const satisfies Catalogue;

/** Why the planner tears a resource down. */
export const ACTION_REASON_CATALOGUE = {
  IDLE_CACHE: {
    meaning: 'No Deployment or rollout used the cache for FERRY_TEARDOWN_CACHE_IDLE_SECONDS; it is disabled.',
    hint: 'Nothing to do: the next deploy that plans a cache there creates it again.',
  },
  IDLE_DEPLOYMENT: {
    meaning: 'The Deployment served nothing for FERRY_TEARDOWN_DEPLOYMENT_IDLE_SECONDS; it is scaled to zero.',
    hint: 'Deploy the target again to bring it back.',
  },
  IDLE_CLUSTER: {
    meaning: 'No Deployment on the cluster was active for FERRY_TEARDOWN_CLUSTER_IDLE_SECONDS; its node pools are scaled to zero (or it is deleted).',
    hint: 'Deploy to the cluster again: ferry brings its node pools back first.',
  },
} as const satisfies Catalogue;

/** Why a planned action is not carried out at its re-check just before acting (beside the skip reasons). */
export const CONFIRM_REASONS = {
  CHANGED: {
    meaning: 'The resource changed since it was planned, or is no longer planned.',
    hint: 'Nothing to do: the next run plans it again from what it finds.',
  },
  GONE: {
    meaning: 'The resource disappeared since it was planned.',
    hint: 'Nothing to do.',
  },
} as const satisfies Catalogue;

/** How a run left an action (beside the plan's reason and an error code). */
export const RUN_REASONS = {
  RUN_DEADLINE: {
    meaning: "The run's time was up before it got to this action.",
    hint: 'Nothing to do: the next run plans it again.',
  },
  OPERATION_RUNNING: {
    meaning: 'The GKE operation was still running when the run stopped waiting for it.',
    hint: 'Nothing to do: GKE finishes it; the next run sees the result.',
  },
} as const satisfies Catalogue;

/** Why a teardown tick message ran nothing (shared/app/teardown-tick.ts). */
export const TICK_REFUSALS = {
  TICK_INVALID: {
    meaning: 'The teardown tick message does not match its schema; nothing ran.',
    hint: 'Check what published to FERRY_TEARDOWN_TOPIC: a tick is a JSON object such as {"tick":"teardown"} or {"dryRun":true}.',
  },
  CHAT_NOT_CONFIGURED: {
    meaning: 'A teardown plan was asked for from chat, but chat-ops is not set up in teardownIdle.',
    hint: 'Set the FERRY_SLACK_* settings on teardownIdle (see Configuration).',
  },
  CHAT_COMMAND_UNKNOWN: {
    meaning: 'The tick names a chat command that does not exist or is not a teardown plan.',
    hint: 'Run `/ferry teardown plan` in Slack; ticks naming commands come only from there.',
  },
} as const satisfies Catalogue;

export type ConfirmReason = keyof typeof CONFIRM_REASONS;
export type RunReason = keyof typeof RUN_REASONS;
export type TickRefusal = keyof typeof TICK_REFUSALS;
