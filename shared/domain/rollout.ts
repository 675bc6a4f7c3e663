/**
 * The rollout state machine, pure. A rollout is one attempt to put a version on a target:
 *
 *   pending ─▶ [caching] ─▶ applying ─▶ progressing ─▶ succeeded
 *      │                       │             │
 *      │                       └─────────────┴──▶ failed ─▶ rolling_back ─▶ rolled_back
 *      │                                              ▲            │
 *      └─▶ superseded                                 └────────────┘ (rollback failed)
 *
 * `caching` is entered only by a rollout with a cache plan (request cache.mode ≠ off): its zonal
 * Anywhere Caches must run before the Deployment is applied, so the pods stream the weights through
 * them. It always ends in `applying`: when every cache runs (CachesRunning), when the plan's
 * maxWaitSeconds have passed (CacheWaitExceeded), or when every missing cache failed for good
 * (CachesUnavailable) — the last two with a warning in the history and in `cache.warnings`. A slow
 * or broken cache never stalls or fails a deploy; the weights then stream from the bucket directly.
 *
 * Terminal: succeeded, failed, rolled_back, superseded. `failed → rolling_back` is taken only in the
 * same step that enters `failed` (so a stored `failed` rollout is final), at most once, and only when
 * there is a previous good rollout to go back to.
 *
 * Success and failure of a Deployment are decided exactly as `kubectl rollout status` does
 * (kubectl pkg/polymorphichelpers/rollout_status.go), plus early failure when a pod of the new template is crash-looping or cannot pull its
 * image. The reconciler calls `nextStep(rollout, observation, now)` as often as it likes; it returns
 * the new rollout and the actions to carry out. A step is idempotent: feeding the same observation
 * again (to the input or to the output) adds no history and asks for nothing new.
 */
import { z } from 'zod';
import type { V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { FerryError } from './errors.ts';
import { codesOf } from './reasons/catalogue.ts';
import { POD_FAILURE_REASON_CATALOGUE, ROLLOUT_REASON_CATALOGUE, STATUS_REASON_CATALOGUE } from './reasons/rollout.ts';
import { DeployRequest, LATEST, Target, targetKey } from './deploy-request.ts';
import { ANNOTATIONS, ROLLOUT_ID_RE, specDigest, specOf, templateRolloutId, type RenderedSpec } from './render.ts';
import { RolloutCachePlan, type CacheObservation } from './cache.ts';

// ---------------------------------------------------------------------------------------------
// Phases and transitions

export const ROLLOUT_PHASES = [
  'pending',
  'caching',
  'applying',
  'progressing',
  'succeeded',
  'failed',
  'rolling_back',
  'rolled_back',
  'superseded',
] as const;
export const RolloutPhase = z.enum(ROLLOUT_PHASES);
export type RolloutPhase = z.infer<typeof RolloutPhase>;

export const TERMINAL_PHASES = ['succeeded', 'failed', 'rolled_back', 'superseded'] as const satisfies readonly RolloutPhase[];
export const isTerminalPhase = (p: RolloutPhase): boolean => (TERMINAL_PHASES as readonly RolloutPhase[]).includes(p);
/** Phases in which the target is busy with this rollout (one per target). */
export const ACTIVE_PHASES = ['caching', 'applying', 'progressing', 'rolling_back'] as const satisfies readonly RolloutPhase[];

export const LEGAL_TRANSITIONS: Readonly<Record<RolloutPhase, readonly RolloutPhase[]>> = {
  pending: ['caching', 'applying', 'superseded'],
  caching: ['applying'],
  applying: ['progressing', 'failed'],
  progressing: ['succeeded', 'failed'],
  failed: ['rolling_back'],
  rolling_back: ['rolled_back', 'failed'],
  succeeded: [],
  rolled_back: [],
  superseded: [],
};
export const isLegalTransition = (from: RolloutPhase, to: RolloutPhase): boolean => LEGAL_TRANSITIONS[from].includes(to);

// ---------------------------------------------------------------------------------------------
// Reason codes

/** Container waiting reasons that fail a rollout early (before the progress deadline). */
export const POD_FAILURE_REASONS = codesOf(POD_FAILURE_REASON_CATALOGUE);
export type PodFailureReason = (typeof POD_FAILURE_REASONS)[number];

export const DEPLOYMENT_STATES = ['waiting', 'done', 'failed'] as const;
/** deploymentStatus reasons: one per `kubectl rollout status` branch, plus the pod failures. */
export const STATUS_REASONS = codesOf(STATUS_REASON_CATALOGUE);
export type StatusReason = (typeof STATUS_REASONS)[number];

/** Why a rollout is in its phase; what each means and what to do: reasons/rollout.ts. */
export const ROLLOUT_REASONS = codesOf(ROLLOUT_REASON_CATALOGUE);
export const RolloutReason = z.enum(ROLLOUT_REASONS);
export type RolloutReason = z.infer<typeof RolloutReason>;

// ---------------------------------------------------------------------------------------------
// Schemas

const IsoTime = z.iso.datetime();
export const RolloutId = z.string().regex(ROLLOUT_ID_RE, 'rollout ids are 1-128 chars of A-Z a-z 0-9 . _ -');

export const HistoryEntry = z.object({
  phase: RolloutPhase,
  reason: RolloutReason,
  at: IsoTime,
  message: z.string().optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const DeploymentStatus = z.object({
  state: z.enum(DEPLOYMENT_STATES),
  reason: z.enum(STATUS_REASONS),
  message: z.string(),
});
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const RenderedSpecSchema = z.custom<RenderedSpec>(
  (v) =>
    isRecord(v) &&
    isRecord(v.deployment) &&
    v.deployment.kind === 'Deployment' &&
    isRecord(v.service) &&
    v.service.kind === 'Service' &&
    (v.extras === undefined ||
      (Array.isArray(v.extras) && v.extras.every((o) => isRecord(o) && typeof o.apiVersion === 'string' && typeof o.kind === 'string' && isRecord(o.metadata) && typeof o.metadata.name === 'string'))),
  'spec must be {deployment: Deployment, service: Service, extras?: Kubernetes objects}',
);

export const Rollout = z.object({
  schemaVersion: z.literal(1),
  id: RolloutId,
  target: Target,
  /** targetKey(target): the Firestore id of the target document. */
  targetKey: z.string(),
  model: z.string(),
  /** The resolved version (request.version may be "latest"). */
  version: z.string(),
  phase: RolloutPhase,
  /** Reason of the last transition (= history.at(-1).reason). */
  reason: RolloutReason,
  /** Message of the last transition. */
  message: z.string(),
  history: z.array(HistoryEntry).min(1),
  /** specDigest(spec): the same digest means the same thing would run. */
  specDigest: z.string(),
  /** The rendered Deployment + Service this rollout applies (stored: rollbacks re-apply it). */
  spec: RenderedSpecSchema,
  request: DeployRequest,
  createdAt: IsoTime,
  /** Last change to this document's content (≥ every history `at`). */
  updatedAt: IsoTime,
  /** Changes ferry asked of the cluster for this rollout: apply, rollback, scale to zero (re-sends not counted). */
  attempts: z.int().min(0),
  /** The target's last succeeded rollout when this one started: the rollback target. */
  previousGoodRolloutId: RolloutId.nullable(),
  /** Budget for applying+progressing (and again for rolling_back); null = only the progress deadline. */
  timeoutSeconds: z.int().positive().nullable(),
  /** Latest deploymentStatus while progressing / rolling back. */
  detail: DeploymentStatus.nullable(),
  supersededBy: RolloutId.nullable(),
  /** The zonal caches to have running before applying (null: cache.mode off). */
  cache: RolloutCachePlan.nullable().default(null),
});
export type Rollout = z.infer<typeof Rollout>;

// ---------------------------------------------------------------------------------------------
// Construction and transitions

const iso = (d: Date): string => d.toISOString();
const maxIso = (a: string, b: string): string => (a >= b ? a : b);

export interface NewRolloutInput {
  id: string;
  request: DeployRequest;
  /** Resolved version; defaults to request.version (which then must not be "latest"). */
  version?: string;
  /** render(...) output (deployment + service; extra fields are ignored). */
  spec: RenderedSpec;
  timeoutSeconds?: number | null;
  /** Usually left out: nextStep fills it from the target when the rollout starts. */
  previousGoodRolloutId?: string | null;
  /** planCache(...) output; null/absent: no caching phase. */
  cache?: RolloutCachePlan | null;
  now: Date;
}

/** A new pending rollout. Throws FerryError INVALID_ROLLOUT when the pieces do not belong together. */
export function newRollout(input: NewRolloutInput): Rollout {
  const version = input.version ?? input.request.version;
  const bad = (message: string): never => {
    throw new FerryError('INVALID_ROLLOUT', message);
  };
  if (version === LATEST) bad('a rollout needs a resolved version, not "latest"');
  if (input.request.version !== LATEST && input.request.version !== version) {
    bad(`version ${version} does not match the request's ${input.request.version}`);
  }
  const spec: RenderedSpec = specOf(input.spec);
  if (templateRolloutId(spec.deployment) !== input.id) {
    bad(`the spec's pod template is annotated ${ANNOTATIONS.rolloutId}=${templateRolloutId(spec.deployment)}, not ${input.id}`);
  }
  const { target } = input.request;
  if (spec.deployment.metadata?.name !== target.name || spec.deployment.metadata?.namespace !== target.namespace) {
    bad('the spec does not render the request target');
  }
  const at = iso(input.now);
  const message = `deploy ${input.request.model}/${version} to ${targetKey(target)}`;
  return Rollout.parse({
    schemaVersion: 1,
    id: input.id,
    target,
    targetKey: targetKey(target),
    model: input.request.model,
    version,
    phase: 'pending',
    reason: 'Created',
    message,
    history: [{ phase: 'pending', reason: 'Created', at, message }],
    specDigest: specDigest(spec),
    spec,
    request: input.request,
    createdAt: at,
    updatedAt: at,
    attempts: 0,
    previousGoodRolloutId: input.previousGoodRolloutId ?? null,
    timeoutSeconds: input.timeoutSeconds ?? null,
    detail: null,
    supersededBy: null,
    cache: input.cache ?? null,
  });
}

/**
 * One legal transition, recorded in history. `at` is max(now, rollout.updatedAt) so history stays
 * ordered even when clocks of two instances disagree. Throws FerryError ILLEGAL_TRANSITION.
 */
export function transition(
  rollout: Rollout,
  phase: RolloutPhase,
  reason: RolloutReason,
  now: Date,
  message?: string,
): Rollout {
  const illegal = (why: string): never => {
    throw new FerryError('ILLEGAL_TRANSITION', `rollout ${rollout.id}: ${rollout.phase} → ${phase} ${why}`, {
      details: { rolloutId: rollout.id, from: rollout.phase, to: phase, reason },
    });
  };
  if (!isLegalTransition(rollout.phase, phase)) illegal('is not allowed');
  if (phase === 'rolling_back') {
    if (rollout.previousGoodRolloutId === null) illegal('needs a previous good rollout');
    if (rollout.history.some((h) => h.phase === 'rolling_back')) illegal('(a rollout rolls back at most once)');
  }
  const at = maxIso(iso(now), rollout.updatedAt);
  const entry: HistoryEntry = { phase, reason, at, ...(message !== undefined ? { message } : {}) };
  return { ...rollout, phase, reason, message: message ?? '', history: [...rollout.history, entry], updatedAt: at };
}

// ---------------------------------------------------------------------------------------------
// Deployment status (kubectl rollout status + early pod failure)

export interface DeploymentStatusOptions {
  /** Judge pods annotated with this rollout id; default: the Deployment template's rollout id. */
  rolloutId?: string;
  /** Also require this `pod-template-hash` label (the new ReplicaSet's), when known. */
  podTemplateHash?: string;
  /** CrashLoopBackOff counts once the container restarted this many times (default 2). */
  crashLoopMinRestarts?: number;
}

export const DEFAULT_CRASH_LOOP_MIN_RESTARTS = 2;

const status = (state: DeploymentStatus['state'], reason: StatusReason, message: string): DeploymentStatus => ({
  state,
  reason,
  message,
});

/**
 * `kubectl rollout status` (kubectl polymorphichelpers/rollout_status.go), in order:
 * 1. generation > observedGeneration → waiting (SpecUpdateNotObserved)
 * 2. Progressing condition reason ProgressDeadlineExceeded → failed
 * 3. spec.replicas set and updatedReplicas < spec.replicas → waiting (ReplicasUpdating)
 * 4. replicas > updatedReplicas → waiting (OldReplicasTerminating)
 * 5. availableReplicas < updatedReplicas → waiting (ReplicasBecomingAvailable)
 * 6. done (RolloutComplete)
 * Early failure turns a *waiting* answer of 3–5 into failed when a live pod of the new template has
 * a container waiting with a POD_FAILURE_REASONS reason (CrashLoopBackOff only after N restarts).
 * A missing Deployment is waiting (DeploymentMissing): whether that is a failure is the caller's call.
 */
export function deploymentStatus(
  deployment: V1Deployment | null | undefined,
  pods: readonly V1Pod[] = [],
  options: DeploymentStatusOptions = {},
): DeploymentStatus {
  if (!deployment) return status('waiting', 'DeploymentMissing', 'deployment not found');
  const name = deployment.metadata?.name ?? '';
  const generation = deployment.metadata?.generation ?? 0;
  const st = deployment.status ?? {};
  if (generation > (st.observedGeneration ?? 0)) {
    return status('waiting', 'SpecUpdateNotObserved', 'Waiting for deployment spec update to be observed...');
  }
  const progressing = st.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return status('failed', 'ProgressDeadlineExceeded', `deployment "${name}" exceeded its progress deadline`);
  }
  const specReplicas = deployment.spec?.replicas;
  const replicas = st.replicas ?? 0;
  const updated = st.updatedReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const prefix = `Waiting for deployment "${name}" rollout to finish: `;
  let waiting: DeploymentStatus | null = null;
  if (specReplicas !== undefined && updated < specReplicas) {
    waiting = status('waiting', 'ReplicasUpdating', `${prefix}${updated} out of ${specReplicas} new replicas have been updated...`);
  } else if (replicas > updated) {
    waiting = status('waiting', 'OldReplicasTerminating', `${prefix}${replicas - updated} old replicas are pending termination...`);
  } else if (available < updated) {
    waiting = status('waiting', 'ReplicasBecomingAvailable', `${prefix}${available} of ${updated} updated replicas are available...`);
  }
  if (!waiting) return status('done', 'RolloutComplete', `deployment "${name}" successfully rolled out`);
  const podFailure = findPodFailure(pods, {
    rolloutId: options.rolloutId ?? templateRolloutId(deployment),
    podTemplateHash: options.podTemplateHash,
    minRestarts: options.crashLoopMinRestarts ?? DEFAULT_CRASH_LOOP_MIN_RESTARTS,
  });
  return podFailure ?? waiting;
}

function findPodFailure(
  pods: readonly V1Pod[],
  opts: { rolloutId: string | undefined; podTemplateHash: string | undefined; minRestarts: number },
): DeploymentStatus | null {
  const candidates = pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .filter((p) => opts.rolloutId === undefined || p.metadata?.annotations?.[ANNOTATIONS.rolloutId] === opts.rolloutId)
    .filter((p) => opts.podTemplateHash === undefined || p.metadata?.labels?.['pod-template-hash'] === opts.podTemplateHash)
    .sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
  for (const pod of candidates) {
    const containers: V1ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const cs of containers) {
      const waiting = cs.state?.waiting;
      const reason = waiting?.reason as PodFailureReason | undefined;
      if (!reason || !POD_FAILURE_REASONS.includes(reason)) continue;
      if (reason === 'CrashLoopBackOff' && (cs.restartCount ?? 0) < opts.minRestarts) continue;
      const last = cs.lastState?.terminated;
      const parts = [
        `pod ${pod.metadata?.name ?? '?'} container ${cs.name}: ${reason}`,
        reason === 'CrashLoopBackOff' ? ` after ${cs.restartCount} restarts` : '',
        last ? ` (last exit: ${last.reason ?? 'exit code'} ${last.exitCode})` : '',
        waiting?.message ? `: ${waiting.message}` : '',
      ];
      return status('failed', reason, parts.join(''));
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Observations, actions, steps

export type Observation =
  /**
   * What the cluster and the target document show now. `deployment` null = not found. `pods`: the
   * target's pods (selector app.kubernetes.io/instance=<name>); they are matched by rollout id
   * annotation. `lastGoodRolloutId`: the target's last succeeded rollout, read when a pending rollout
   * starts (undefined = keep rollout.previousGoodRolloutId).
   */
  | { kind: 'cluster'; deployment: V1Deployment | null; pods?: readonly V1Pod[]; lastGoodRolloutId?: string | null }
  /** A newer request took this queued rollout's place (see admitRollout). */
  | { kind: 'superseded'; byRolloutId: string }
  /**
   * Carrying out this rollout's `apply` or `reapply-previous` action failed for good (4xx other than
   * 409/429). Naming the action keeps a repeated report harmless: it only acts in the phase that
   * emits that action (applying / rolling_back).
   */
  | { kind: 'apply-rejected'; action: 'apply' | 'reapply-previous'; message: string; code?: string }
  /**
   * The planned caches' states (after ensuring them: created, resumed, updated as needed). Starts a
   * pending rollout (like `cluster`, with `lastGoodRolloutId`) and decides when `caching` ends. A
   * planned zone missing from `caches` counts as `unknown`.
   */
  | { kind: 'caches'; caches: readonly CacheObservation[]; lastGoodRolloutId?: string | null };
export const OBSERVATION_KINDS = ['cluster', 'superseded', 'apply-rejected', 'caches'] as const;

export type Action =
  /** Server-side apply spec.deployment and spec.service (fieldManager 'ferry', force). */
  | { kind: 'apply'; rolloutId: string; target: Target; spec: RenderedSpec }
  /** Server-side apply the stored spec of rollout `rolloutId` (the previous good one). */
  | { kind: 'reapply-previous'; rolloutId: string; failedRolloutId: string; target: Target }
  /** Set the Deployment's replicas to 0 if it exists (NotFound is success). */
  | { kind: 'scale-to-zero'; rolloutId: string; target: Target }
  /** Tell people (Slack, result topic): the rollout reached a terminal phase. */
  | { kind: 'notify'; rolloutId: string; target: Target; phase: RolloutPhase; reason: RolloutReason; message: string };
export const ACTION_KINDS = ['apply', 'reapply-previous', 'scale-to-zero', 'notify'] as const satisfies readonly Action['kind'][];

export interface StepOptions {
  /** How long an apply may take to show up in the Deployment's template (default 300 s). */
  applyObserveTimeoutSeconds?: number;
  crashLoopMinRestarts?: number;
}
export const DEFAULT_APPLY_OBSERVE_TIMEOUT_SECONDS = 300;

export interface StepResult {
  rollout: Rollout;
  /** To carry out in order, before saving `rollout`. Empty = nothing to do. */
  actions: Action[];
}

interface Ctx {
  now: Date;
  actions: Action[];
  applyObserveTimeoutSeconds: number;
  crashLoopMinRestarts: number;
}

/**
 * One reconcile step. Pure and idempotent; see the module comment. Contract for the caller:
 * - call it only for the target's active rollout, except `superseded` for a queued one;
 * - carry out `actions` first, then save `rollout` (a crash in between repeats safe actions);
 * - if carrying out an apply / reapply-previous fails for good, call nextStep(result.rollout,
 *   {kind:'apply-rejected', …}) and carry out + save that instead; retryable errors: just retry later.
 */
export function nextStep(rollout: Rollout, observation: Observation, now: Date, options: StepOptions = {}): StepResult {
  if (isTerminalPhase(rollout.phase)) return { rollout, actions: [] };
  const ctx: Ctx = {
    now,
    actions: [],
    applyObserveTimeoutSeconds: options.applyObserveTimeoutSeconds ?? DEFAULT_APPLY_OBSERVE_TIMEOUT_SECONDS,
    crashLoopMinRestarts: options.crashLoopMinRestarts ?? DEFAULT_CRASH_LOOP_MIN_RESTARTS,
  };
  let r = rollout;
  switch (observation.kind) {
    case 'superseded':
      if (r.phase === 'pending' && observation.byRolloutId !== r.id) {
        r = transition(r, 'superseded', 'Superseded', now, `superseded by ${observation.byRolloutId}`);
        r = { ...r, supersededBy: observation.byRolloutId };
        notify(r, ctx);
      }
      break;
    case 'apply-rejected': {
      const why = `${observation.code ? `${observation.code}: ` : ''}${observation.message}`;
      if (observation.action === 'apply' && r.phase === 'applying') {
        r = failNewVersion(r, 'ApplyRejected', `apply rejected: ${why}`, ctx);
        if (r.phase === 'rolling_back') ctx.actions.push(reapply(r));
      } else if (observation.action === 'reapply-previous' && r.phase === 'rolling_back') {
        r = handsOff(r, 'RollbackFailed', `re-applying ${r.previousGoodRolloutId} was rejected: ${why}`, ctx);
      }
      break;
    }
    case 'caches':
      if (r.phase === 'pending') r = start(r, observation.lastGoodRolloutId, ctx);
      if (r.phase === 'caching') r = cachingStep(r, observation.caches, ctx);
      break;
    case 'cluster':
      // Follow the observation through as many phases as it justifies (pending → applying →
      // progressing → succeeded in one step if the cluster already shows it), so that a second call
      // with the same observation finds nothing left to do.
      for (let i = 0; i < ROLLOUT_PHASES.length; i++) {
        const before = r.phase;
        r = clusterStep(r, observation, ctx);
        if (r.phase === before || isTerminalPhase(r.phase)) break;
      }
      break;
  }
  return { rollout: r, actions: dedupe(ctx.actions) };
}

function clusterStep(r: Rollout, obs: Extract<Observation, { kind: 'cluster' }>, ctx: Ctx): Rollout {
  const d = obs.deployment;
  const seen = templateRolloutId(d);
  switch (r.phase) {
    case 'pending':
      return start(r, obs.lastGoodRolloutId, ctx);
    case 'caching':
      // The cluster says nothing about caches: only the wait budget can end the phase here.
      return cachingStep(r, null, ctx);
    case 'applying': {
      if (d && seen === r.id) return transition(r, 'progressing', 'Applied', ctx.now, `deployment ${r.target.name} now rolls to ${r.id}`);
      if (overBudget(r, 'applying', r.timeoutSeconds, ctx)) {
        return failNewVersion(r, 'RolloutTimeout', `no progress within ${r.timeoutSeconds}s`, ctx);
      }
      if (overBudget(r, 'applying', ctx.applyObserveTimeoutSeconds, ctx)) {
        return handsOff(r, 'ApplyNotObserved', `after ${ctx.applyObserveTimeoutSeconds}s the Deployment still rolls to ${seen ?? (d ? 'an unknown template' : 'nothing (not found)')}`, ctx);
      }
      ctx.actions.push({ kind: 'apply', rolloutId: r.id, target: r.target, spec: r.spec });
      return r;
    }
    case 'progressing': {
      if (!d) return handsOff(r, 'DeploymentDeleted', `deployment ${r.target.name} was deleted during the rollout`, ctx);
      if (seen !== r.id) {
        return handsOff(r, 'DeploymentChanged', `deployment ${r.target.name} now rolls to ${seen ?? 'a template without a ferry rollout id'}`, ctx);
      }
      const st = deploymentStatus(d, obs.pods, { rolloutId: r.id, crashLoopMinRestarts: ctx.crashLoopMinRestarts });
      r = withDetail(r, st, ctx);
      if (st.state === 'done') {
        const ok = transition(r, 'succeeded', 'RolloutComplete', ctx.now, st.message);
        notify(ok, ctx);
        return ok;
      }
      if (st.state === 'failed') return failNewVersion(r, st.reason as RolloutReason, st.message, ctx);
      if (overBudget(r, 'applying', r.timeoutSeconds, ctx)) {
        return failNewVersion(r, 'RolloutTimeout', `not done within ${r.timeoutSeconds}s: ${st.message}`, ctx);
      }
      return r;
    }
    case 'rolling_back': {
      const prev = r.previousGoodRolloutId!;
      // A missing Deployment is re-created by the re-apply, like a stale template is replaced.
      if (!d || seen !== prev) {
        if (overBudget(r, 'rolling_back', ctx.applyObserveTimeoutSeconds, ctx)) {
          const shows = d ? (seen ?? 'an unknown template') : 'nothing (not found)';
          return handsOff(r, 'RollbackFailed', `after ${ctx.applyObserveTimeoutSeconds}s the Deployment still rolls to ${shows}, not ${prev}`, ctx);
        }
        ctx.actions.push(reapply(r));
        return r;
      }
      const st = deploymentStatus(d, obs.pods, { rolloutId: prev, crashLoopMinRestarts: ctx.crashLoopMinRestarts });
      r = withDetail(r, st, ctx);
      if (st.state === 'done') {
        const back = transition(r, 'rolled_back', 'RolledBack', ctx.now, `back on ${prev}: ${st.message}`);
        notify(back, ctx);
        return back;
      }
      if (st.state === 'failed') return handsOff(r, 'RollbackFailed', `${st.reason}: ${st.message}`, ctx);
      if (overBudget(r, 'rolling_back', r.timeoutSeconds, ctx)) {
        return handsOff(r, 'RollbackFailed', `rollback not done within ${r.timeoutSeconds}s: ${st.message}`, ctx);
      }
      return r;
    }
    default:
      return r;
  }
}

/** pending → caching (with a cache plan) or applying; remembers the target's last good rollout. */
function start(r: Rollout, lastGoodRolloutId: string | null | undefined, ctx: Ctx): Rollout {
  const lastGood = lastGoodRolloutId === undefined ? r.previousGoodRolloutId : lastGoodRolloutId;
  const started = { ...r, previousGoodRolloutId: lastGood === r.id ? null : lastGood, attempts: r.attempts + 1 };
  if (r.cache) {
    const zones = r.cache.zones.join(', ');
    const pin = r.cache.pinnedZone ? `; pods pinned to ${r.cache.pinnedZone}` : '';
    return transition(started, 'caching', 'Started', ctx.now, `caching gs://${r.cache.bucket} in ${zones} before applying ${r.model}/${r.version}${pin}`);
  }
  return transition(started, 'applying', 'Started', ctx.now, `applying ${r.model}/${r.version} to ${r.targetKey}`);
}

const describeCaches = (observed: readonly CacheObservation[]): string =>
  observed.map((c) => `${c.zone}: ${c.state}${c.message ? ` (${c.message})` : ''}`).join(', ');

/**
 * The caching phase. With an observation (`caches`): record the states, then go on to applying
 * when every planned cache runs. With or without one: go on (with a warning) once maxWaitSeconds
 * have passed since entering caching, or when every cache that does not run has failed for good.
 */
function cachingStep(r: Rollout, caches: readonly CacheObservation[] | null, ctx: Ctx): Rollout {
  const plan = r.cache;
  if (!plan) return transition(r, 'applying', 'CachesRunning', ctx.now, 'no caches planned');
  let observed = plan.observed;
  if (caches) {
    observed = plan.zones.map((zone) => caches.find((c) => c.zone === zone) ?? { zone, state: 'unknown' as const });
    if (JSON.stringify(observed) !== JSON.stringify(plan.observed)) {
      r = { ...r, cache: { ...plan, observed }, updatedAt: maxIso(iso(ctx.now), r.updatedAt) };
    }
    if (observed.every((c) => c.state === 'running')) {
      return transition(r, 'applying', 'CachesRunning', ctx.now, `caches running in ${plan.zones.join(', ')}; applying ${r.model}/${r.version} to ${r.targetKey}`);
    }
  }
  const notRunning = observed.filter((c) => c.state !== 'running');
  const warn = (reason: RolloutReason, message: string): Rollout => {
    const cur = r.cache!;
    return transition({ ...r, cache: { ...cur, warnings: [...cur.warnings, message] } }, 'applying', reason, ctx.now, message);
  };
  const entered = r.history.findLast((h) => h.phase === 'caching');
  const waited = entered ? (ctx.now.getTime() - Date.parse(entered.at)) / 1000 : 0;
  if (entered && waited >= plan.maxWaitSeconds) {
    const states = notRunning.length ? describeCaches(notRunning) : plan.zones.map((z) => `${z}: not observed`).join(', ');
    return warn('CacheWaitExceeded', `caches not running after ${plan.maxWaitSeconds}s (${states}); applying anyway — the pods read the bucket directly until the caches run`);
  }
  if (caches && notRunning.length > 0 && notRunning.every((c) => c.state === 'failed')) {
    return warn('CachesUnavailable', `no cache in ${notRunning.map((c) => c.zone).join(', ')}: ${describeCaches(notRunning)}; applying without it`);
  }
  return r;
}

/** The new version failed: roll back to the previous good rollout, or scale to zero when there is none. */
function failNewVersion(r: Rollout, reason: RolloutReason, message: string, ctx: Ctx): Rollout {
  if (r.previousGoodRolloutId !== null) {
    const failed = transition(r, 'failed', reason, ctx.now, message);
    // The reapply-previous action is emitted by the rolling_back phase itself (clusterStep, or the
    // apply-rejected branch of nextStep), so it is only ever asked for while rolling back.
    return transition({ ...failed, attempts: failed.attempts + 1 }, 'rolling_back', 'RollingBack', ctx.now, `re-applying the spec of ${r.previousGoodRolloutId}`);
  }
  const failed = transition({ ...r, attempts: r.attempts + 1 }, 'failed', reason, ctx.now, `${message}; no previous good rollout: scaled to zero`);
  ctx.actions.push({ kind: 'scale-to-zero', rolloutId: r.id, target: r.target });
  notify(failed, ctx);
  return failed;
}

/** Someone else changed the target (or the rollback itself failed): stop, touch nothing. */
function handsOff(r: Rollout, reason: RolloutReason, message: string, ctx: Ctx): Rollout {
  const failed = transition(r, 'failed', reason, ctx.now, message);
  notify(failed, ctx);
  return failed;
}

const reapply = (r: Rollout): Action => ({
  kind: 'reapply-previous',
  rolloutId: r.previousGoodRolloutId!,
  failedRolloutId: r.id,
  target: r.target,
});

function notify(r: Rollout, ctx: Ctx): void {
  ctx.actions.push({ kind: 'notify', rolloutId: r.id, target: r.target, phase: r.phase, reason: r.reason, message: r.message });
}

function withDetail(r: Rollout, st: DeploymentStatus, ctx: Ctx): Rollout {
  const d = r.detail;
  if (d && d.state === st.state && d.reason === st.reason && d.message === st.message) return r;
  return { ...r, detail: st, updatedAt: maxIso(iso(ctx.now), r.updatedAt) };
}

/** Seconds since the rollout last entered `phase` exceed `budget` (null budget = never). */
function overBudget(r: Rollout, phase: RolloutPhase, budget: number | null, ctx: Ctx): boolean {
  if (budget === null) return false;
  const entered = r.history.findLast((h) => h.phase === phase);
  if (!entered) return false;
  return (ctx.now.getTime() - Date.parse(entered.at)) / 1000 > budget;
}

function dedupe(actions: Action[]): Action[] {
  const seen = new Set<string>();
  return actions.filter((a) => {
    const key = a.kind === 'apply' ? `apply:${a.rolloutId}` : JSON.stringify(a);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Target: one active rollout, at most one queued

export const TargetState = z.object({
  schemaVersion: z.literal(1),
  key: z.string(),
  target: Target,
  /** The rollout that owns the target (pending until its first step, then applying…). */
  activeRolloutId: RolloutId.nullable(),
  /** The next rollout; a newer request supersedes it. */
  queuedRolloutId: RolloutId.nullable(),
  /** Last succeeded rollout: what a failed rollout goes back to. */
  lastGood: z
    .object({ rolloutId: RolloutId, specDigest: z.string(), model: z.string(), version: z.string(), at: IsoTime })
    .nullable(),
  updatedAt: IsoTime,
});
export type TargetState = z.infer<typeof TargetState>;

export function newTargetState(target: Target, now: Date): TargetState {
  return {
    schemaVersion: 1,
    key: targetKey(target),
    target,
    activeRolloutId: null,
    queuedRolloutId: null,
    lastGood: null,
    updatedAt: iso(now),
  };
}

export interface Admission {
  state: TargetState;
  /** start: it is the active rollout now; queued: it waits; known: already admitted (duplicate). */
  decision: 'start' | 'queued' | 'known';
  /** A queued rollout this one replaced: send it {kind:'superseded', byRolloutId}. */
  supersedes: string | null;
}

/** Admit a new (pending) rollout to its target. Idempotent for the same id. */
export function admitRollout(state: TargetState, rolloutId: string, now: Date): Admission {
  if (state.activeRolloutId === rolloutId || state.queuedRolloutId === rolloutId) {
    return { state, decision: 'known', supersedes: null };
  }
  const updatedAt = maxIso(iso(now), state.updatedAt);
  if (state.activeRolloutId === null) {
    return { state: { ...state, activeRolloutId: rolloutId, updatedAt }, decision: 'start', supersedes: null };
  }
  return {
    state: { ...state, queuedRolloutId: rolloutId, updatedAt },
    decision: 'queued',
    supersedes: state.queuedRolloutId,
  };
}

/**
 * The active rollout reached a terminal phase: free the target, promote the queued rollout (returned
 * as `next`), and remember a success as the new last good. No-op unless `rollout` is the active,
 * terminal one, so a repeated call changes nothing.
 */
export function releaseTarget(state: TargetState, rollout: Rollout, now: Date): { state: TargetState; next: string | null } {
  if (state.activeRolloutId !== rollout.id || !isTerminalPhase(rollout.phase)) return { state, next: null };
  const lastGood =
    rollout.phase === 'succeeded'
      ? { rolloutId: rollout.id, specDigest: rollout.specDigest, model: rollout.model, version: rollout.version, at: rollout.updatedAt }
      : state.lastGood;
  const next = state.queuedRolloutId;
  return {
    state: { ...state, activeRolloutId: next, queuedRolloutId: null, lastGood, updatedAt: maxIso(iso(now), state.updatedAt) },
    next,
  };
}
