/**
 * The rollout state machine, pure. A rollout is one attempt to put a version on a target:
 *
 *   pending ─▶ [caching] ─▶ applying ─▶ progressing ─▶ [verifying] ─▶ succeeded
 *      │                       │             │               │
 *      │                       └─────────────┴───────────────┴──▶ failed ─▶ rolling_back ─▶ rolled_back
 *      │                                                              ▲            │
 *      └─▶ superseded                                                 └────────────┘ (rollback failed)
 *
 * `caching` is entered only by a rollout with a cache plan (request cache.mode ≠ off): its zonal
 * Anywhere Caches must run before the Deployment is applied, so the pods stream the weights through
 * them. It always ends in `applying`: when every cache runs (CachesRunning), when the plan's
 * maxWaitSeconds have passed (CacheWaitExceeded), or when every missing cache failed for good
 * (CachesUnavailable) — the last two with a warning in the history and in `cache.warnings`. A slow
 * or broken cache never stalls or fails a deploy; the weights then stream from the bucket directly.
 *
 * `verifying` is entered only by a rollout with a gate (issue #19): once the Deployment is done,
 * the `run-gate` action asks the new pods the gate's prompts (shared/app/gate-run.ts) and reports
 * a `gate` observation. A verdict that passes ends in `succeeded` (GatePassed); one that does not
 * fails the new version (GateFailed) and rolls back like any failure. Without a verdict within the
 * gate's timeoutSeconds the rollout fails closed (GateTimeout): a gate never passes by default.
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
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { Target } from './names.ts';
import { templateRolloutId, type RenderedSpec } from './rendered-spec.ts';
import type { CacheObservation } from './cache.ts';
import { DeploymentStatus, ROLLOUT_PHASES, Rollout, RolloutPhase, RolloutReason, isTerminalPhase, transition, type RolloutWarning } from './rollout.ts';
import { describeColdStart, slowLoad, summarizeColdStarts, type PodColdStart } from './cold-start.ts';
import { combineVerdicts, describeVerdict, gateSummary, newVerification, type GateRunOutcome, type GateSummary } from './verification.ts';
import { DEFAULT_CRASH_LOOP_MIN_RESTARTS, deploymentStatus } from './deployment-status.ts';

const iso = (d: Date): string => d.toISOString();
const maxIso = (a: string, b: string): string => (a >= b ? a : b);

// ---------------------------------------------------------------------------------------------
// Observations, actions, steps

export type Observation =
  /**
   * What the cluster and the target document show now. `deployment` null = not found. `pods`: the
   * target's pods (selector app.kubernetes.io/instance=<name>); they are matched by rollout id
   * annotation. `lastGoodRolloutId`: the target's last succeeded rollout, read when a pending rollout
   * starts (undefined = keep rollout.previousGoodRolloutId).
   */
  | {
      kind: 'cluster';
      deployment: V1Deployment | null;
      pods?: readonly V1Pod[];
      lastGoodRolloutId?: string | null;
      /**
       * Cold-start figures of the new pods (their timelines and the loads their logs report) and the
       * model's recent load rates (GiB/s), measured when the Deployment is done: recorded as the
       * rollout leaves `progressing` (issue #19).
       */
      coldStart?: { pods: readonly PodColdStart[]; recentRates: readonly number[] };
    }
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
  | { kind: 'caches'; caches: readonly CacheObservation[]; lastGoodRolloutId?: string | null }
  /** What a gate run (the `run-gate` action) brought back: a verdict per pod, or why none. */
  | { kind: 'gate'; outcome: GateRunOutcome };
export const OBSERVATION_KINDS = ['cluster', 'superseded', 'apply-rejected', 'caches', 'gate'] as const;

export type Action =
  /** Server-side apply spec.deployment and spec.service (fieldManager 'ferry', force). */
  | { kind: 'apply'; rolloutId: string; target: Target; spec: RenderedSpec }
  /** Server-side apply the stored spec of rollout `rolloutId` (the previous good one). */
  | { kind: 'reapply-previous'; rolloutId: string; failedRolloutId: string; target: Target }
  /** Set the Deployment's replicas to 0 if it exists (NotFound is success). */
  | { kind: 'scale-to-zero'; rolloutId: string; target: Target }
  /**
   * Send the rollout's gate prompts to the new pods and report a `gate` observation. Emitted while
   * verifying when no run is in flight (verification.runUntil passed); the caller claims the run
   * with claimGateRun before sending anything.
   */
  | { kind: 'run-gate'; rolloutId: string; target: Target }
  /** Tell people (Slack, result topic): the rollout reached a terminal phase (with the gate's verdict, if it ran). */
  | {
      kind: 'notify';
      rolloutId: string;
      target: Target;
      phase: RolloutPhase;
      reason: RolloutReason;
      message: string;
      gate?: GateSummary;
      /** describeColdStart of the rollout's cold start, when measured. */
      coldStart?: string;
      warnings?: RolloutWarning[];
    };
export const ACTION_KINDS = ['apply', 'reapply-previous', 'scale-to-zero', 'run-gate', 'notify'] as const satisfies readonly Action['kind'][];

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
    case 'gate':
      if (r.phase === 'verifying') {
        r = gateStep(r, observation.outcome, ctx);
        if (r.phase === 'rolling_back') ctx.actions.push(reapply(r));
      }
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
        return handsOff(
          r,
          'ApplyNotObserved',
          `after ${ctx.applyObserveTimeoutSeconds}s the Deployment still rolls to ${seen ?? (d ? 'an unknown template' : 'nothing (not found)')}`,
          ctx,
        );
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
        if (obs.coldStart) r = recordColdStart(r, obs.coldStart, ctx);
        if (r.gate) {
          const n = r.gate.prompts.length;
          const verifying = transition(r, 'verifying', 'Verifying', ctx.now, `${st.message}; asking the new pods ${n} gate prompt${n === 1 ? '' : 's'}`);
          return { ...verifying, verification: newVerification(verifying.updatedAt) };
        }
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
    case 'verifying': {
      if (!d) return handsOff(r, 'DeploymentDeleted', `deployment ${r.target.name} was deleted during the gate`, ctx);
      if (seen !== r.id) {
        return handsOff(r, 'DeploymentChanged', `deployment ${r.target.name} now rolls to ${seen ?? 'a template without a ferry rollout id'}`, ctx);
      }
      // The new pods may still crash while the gate runs: that fails the version like before.
      const st = deploymentStatus(d, obs.pods, { rolloutId: r.id, crashLoopMinRestarts: ctx.crashLoopMinRestarts });
      if (st.state === 'failed') return failNewVersion(withDetail(r, st, ctx), st.reason as RolloutReason, st.message, ctx);
      if (gateTimedOut(r, ctx)) return failGateTimeout(r, ctx);
      const v = r.verification;
      if (!v?.runUntil || Date.parse(v.runUntil) <= ctx.now.getTime()) ctx.actions.push({ kind: 'run-gate', rolloutId: r.id, target: r.target });
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

/**
 * The new pods' cold start, recorded once the Deployment is done: the slowest pod's load is the
 * rollout's measured figure; a rate under half the model's recent median adds a SLOW_LOAD warning.
 */
function recordColdStart(r: Rollout, measured: { pods: readonly PodColdStart[]; recentRates: readonly number[] }, ctx: Ctx): Rollout {
  const summary = summarizeColdStarts(measured.pods, r.coldStart?.predicted ?? null);
  const rate = summary.measured?.gibPerSecond;
  const warnings = [...r.warnings];
  if (typeof rate === 'number' && !warnings.some((w) => w.code === 'SLOW_LOAD')) {
    const judged = slowLoad(rate, measured.recentRates);
    if (judged.slow) warnings.push({ code: 'SLOW_LOAD', message: `${describeColdStart(summary)}: ${judged.message}`, at: iso(ctx.now) });
  }
  return { ...r, coldStart: summary, warnings, updatedAt: maxIso(iso(ctx.now), r.updatedAt) };
}

/** A gate run's outcome, while verifying: the verdict decides; no verdict waits for the timeout. */
function gateStep(r: Rollout, outcome: GateRunOutcome, ctx: Ctx): Rollout {
  const v = r.verification ?? newVerification(iso(ctx.now));
  const updatedAt = maxIso(iso(ctx.now), r.updatedAt);
  if (outcome.kind === 'unreachable') {
    r = { ...r, verification: { ...v, runUntil: null, lastError: outcome.message, pods: [...outcome.pods] }, updatedAt };
    return gateTimedOut(r, ctx) ? failGateTimeout(r, ctx) : r;
  }
  if (outcome.verdicts.length === 0) {
    r = { ...r, verification: { ...v, runUntil: null, lastError: 'no new pod answered', pods: [] }, updatedAt };
    return gateTimedOut(r, ctx) ? failGateTimeout(r, ctx) : r;
  }
  const verdict = combineVerdicts(outcome.verdicts);
  const firstAnswers = outcome.firstAnswers ?? {};
  const coldStart = r.coldStart && {
    ...r.coldStart,
    pods: r.coldStart.pods.map((p) => (p.firstAnswerAt === null && firstAnswers[p.pod] ? { ...p, firstAnswerAt: firstAnswers[p.pod]! } : p)),
  };
  r = {
    ...r,
    coldStart,
    verification: {
      ...v,
      runUntil: null,
      lastError: null,
      pods: outcome.verdicts.map((x) => x.pod),
      verdict,
      baselineFrom: outcome.baselineFrom,
      firstAnswerAt: v.firstAnswerAt ?? outcome.firstAnswerAt,
    },
    updatedAt,
  };
  if (!verdict.passed) return failNewVersion(r, 'GateFailed', describeVerdict(verdict), ctx);
  const ok = transition(r, 'succeeded', 'GatePassed', ctx.now, describeVerdict(verdict));
  notify(ok, ctx);
  return ok;
}

/** The gate's timeoutSeconds have passed since the rollout entered `verifying`. */
const gateTimedOut = (r: Rollout, ctx: Ctx): boolean => r.gate !== null && overBudget(r, 'verifying', r.gate.timeoutSeconds, ctx);

function failGateTimeout(r: Rollout, ctx: Ctx): Rollout {
  const v = r.verification;
  const last = v?.lastError ? `; last error: ${v.lastError}` : v && v.attempts === 0 ? '; no gate run was started' : '';
  return failNewVersion(r, 'GateTimeout', `no gate verdict within ${r.gate!.timeoutSeconds}s after ${v?.attempts ?? 0} run(s)${last}`, ctx);
}

/**
 * Claim the gate run asked for by a `run-gate` action: count the attempt and mark it in flight until
 * `until` (other workers see runUntil and leave the gate alone). Save the result conditionally
 * before sending any prompt; a lost save means another worker runs it.
 */
export function claimGateRun(r: Rollout, now: Date, until: Date): Rollout {
  if (r.phase !== 'verifying') return r;
  const v = r.verification ?? newVerification(iso(now));
  // Strictly later than the stored updatedAt, so a worker that read the rollout before this claim
  // cannot save over it (saves are conditional on updatedAt).
  const updatedAt = iso(new Date(Math.max(now.getTime(), Date.parse(r.updatedAt) + 1)));
  return { ...r, verification: { ...v, attempts: v.attempts + 1, runUntil: iso(until) }, updatedAt };
}

/**
 * Claim the right to act for this rollout until `until`: saved (conditionally) before a step's
 * actions (apply, rollback, scale, notify) are carried out. Without it, a second worker (the follow
 * and the reconciler's tick run at once) could observe the cluster after the first worker's apply
 * but before its save, judge that apply as someone else's change (DeploymentChanged), tell people
 * so and save first. updatedAt moves strictly on, so a worker that read the rollout before the claim
 * loses its claim and does nothing.
 */
export function claimAction(r: Rollout, now: Date, until: Date): Rollout {
  const updatedAt = iso(new Date(Math.max(now.getTime(), Date.parse(r.updatedAt) + 1)));
  return { ...r, actingUntil: iso(until), updatedAt };
}

/** A claim another worker holds now (its actions may be half-way). */
export const isClaimed = (r: Rollout, now: Date): boolean => r.actingUntil !== null && Date.parse(r.actingUntil) > now.getTime();

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
      return transition(
        r,
        'applying',
        'CachesRunning',
        ctx.now,
        `caches running in ${plan.zones.join(', ')}; applying ${r.model}/${r.version} to ${r.targetKey}`,
      );
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
    return warn(
      'CacheWaitExceeded',
      `caches not running after ${plan.maxWaitSeconds}s (${states}); applying anyway — the pods read the bucket directly until the caches run`,
    );
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
    return transition(
      { ...failed, attempts: failed.attempts + 1 },
      'rolling_back',
      'RollingBack',
      ctx.now,
      `re-applying the spec of ${r.previousGoodRolloutId}`,
    );
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
  const verdict = r.verification?.verdict;
  ctx.actions.push({
    kind: 'notify',
    rolloutId: r.id,
    target: r.target,
    phase: r.phase,
    reason: r.reason,
    message: r.message,
    ...(verdict ? { gate: gateSummary(verdict) } : {}),
    ...(r.coldStart?.measured ? { coldStart: describeColdStart(r.coldStart) } : {}),
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
  });
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
