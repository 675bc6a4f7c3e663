/**
 * Rollouts, pure: the phases and their legal transitions, the reason codes, the stored `Rollout`
 * document, `newRollout` and `transition`. The step function that moves a rollout through these
 * phases is rollout-step.ts; how a Deployment's progress is judged is deployment-status.ts; the
 * one-active-rollout-per-target document is target-state.ts.
 */
import { z } from 'zod';
import { FerryError } from './errors.ts';
import { codesOf } from './reasons/catalogue.ts';
import { POD_FAILURE_REASON_CATALOGUE, ROLLOUT_REASON_CATALOGUE, ROLLOUT_WARNING_CATALOGUE, STATUS_REASON_CATALOGUE } from './reasons/rollout.ts';
import { DeployRequest } from './deploy-request.ts';
import { LATEST, Target, targetKey } from './names.ts';
import { ANNOTATIONS, ROLLOUT_ID_RE, specDigest, specOf, templateRolloutId, type RenderedSpec } from './rendered-spec.ts';
import { RolloutCachePlan } from './cache.ts';
import { Gate } from './gate.ts';
import { Verification } from './verification.ts';
import { ColdStartSummarySchema, type ColdStartSummary } from './cold-start.ts';

// ---------------------------------------------------------------------------------------------
// Phases and transitions

export const ROLLOUT_PHASES = [
  'pending',
  'caching',
  'applying',
  'progressing',
  'verifying',
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
export const ACTIVE_PHASES = ['caching', 'applying', 'progressing', 'verifying', 'rolling_back'] as const satisfies readonly RolloutPhase[];

export const LEGAL_TRANSITIONS: Readonly<Record<RolloutPhase, readonly RolloutPhase[]>> = {
  pending: ['caching', 'applying', 'superseded'],
  caching: ['applying'],
  applying: ['progressing', 'failed'],
  progressing: ['verifying', 'succeeded', 'failed'],
  verifying: ['succeeded', 'failed'],
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

/** Warnings a rollout can carry without failing (reasons/rollout.ts ROLLOUT_WARNING_CATALOGUE). */
export const ROLLOUT_WARNINGS = codesOf(ROLLOUT_WARNING_CATALOGUE);

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
      (Array.isArray(v.extras) &&
        v.extras.every(
          (o) => isRecord(o) && typeof o.apiVersion === 'string' && typeof o.kind === 'string' && isRecord(o.metadata) && typeof o.metadata.name === 'string',
        ))),
  'spec must be {deployment: Deployment, service: Service, extras?: Kubernetes objects}',
);

export const RolloutWarning = z.object({ code: z.enum(ROLLOUT_WARNINGS), message: z.string(), at: IsoTime });
export type RolloutWarning = z.infer<typeof RolloutWarning>;

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
  /**
   * The promotion gate this rollout must pass before it succeeds (the request's, or the model's
   * default gate when the request has none; null: no gate, `progressing → succeeded` directly).
   */
  gate: Gate.nullable().default(null),
  /** The gate's run (`verifying`): attempts, pods asked, the verdict and its answers. */
  verification: Verification.nullable().default(null),
  /**
   * Cold-start telemetry (issue #19): the load predicted at admission, then, once the Deployment
   * is done, each new pod's timeline and the weights' load as its logs report it.
   */
  coldStart: ColdStartSummarySchema.nullable().default(null),
  /** Things to look at that did not fail the rollout (SLOW_LOAD). */
  warnings: z.array(RolloutWarning).default([]),
  /**
   * A worker is changing the cluster for this rollout until then (claimAction): others leave the
   * rollout alone, so none of them judges the cluster half-way through another's apply.
   */
  actingUntil: IsoTime.nullable().default(null),
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
  /** The gate to pass (request.gate or the model's default); null/absent: none. */
  gate?: Gate | null;
  /** The cold start predicted before applying (summarizeColdStarts([], predictLoad(…))); null/absent: none. */
  coldStart?: ColdStartSummary | null;
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
    gate: input.gate ?? null,
    verification: null,
    coldStart: input.coldStart ?? null,
    warnings: [],
    actingUntil: null,
  });
}

/**
 * One legal transition, recorded in history. `at` is max(now, rollout.updatedAt) so history stays
 * ordered even when clocks of two instances disagree. Throws FerryError ILLEGAL_TRANSITION.
 */
export function transition(rollout: Rollout, phase: RolloutPhase, reason: RolloutReason, now: Date, message?: string): Rollout {
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
