/**
 * Firestore documents for models and versions (versioned zod schemas) and the pure decisions that
 * keep them right under duplicate, late and concurrent events. Adapters read a document, call one
 * of these functions inside a transaction, and write what it returns.
 */
import { z } from 'zod';
import { Target, targetKey } from './names.ts';
import { Accelerator } from './accelerators.ts';
import { Gate } from './gate.ts';
import { CheckpointSummary, ModelConfigSummary } from './checkpoint.ts';
import type { ValidationSkip } from './reasons/upload.ts';
import { compareUploads } from './latest.ts';

export const VERSION_STATUSES = ['incomplete', 'validating', 'valid', 'invalid', 'superseded'] as const;
export const VersionStatus = z.enum(VERSION_STATUSES);
export type VersionStatus = z.infer<typeof VersionStatus>;

export const StoredFinding = z.object({
  code: z.string(),
  severity: z.enum(['error', 'warning']).optional(),
  file: z.string(),
  tensor: z.string().optional(),
  message: z.string(),
});
export type StoredFinding = z.infer<typeof StoredFinding>;

export const PinnedFile = z.object({ name: z.string(), size: z.number().int().nonnegative(), generation: z.string() });
export type PinnedFile = z.infer<typeof PinnedFile>;

export const RUN_OUTCOMES = ['running', 'valid', 'invalid', 'superseded', 'error'] as const;
export const ValidationRun = z.object({
  contentKey: z.string(),
  generation: z.string(),
  eventId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  outcome: z.enum(RUN_OUTCOMES),
  errorCode: z.string().optional(),
});
export type ValidationRun = z.infer<typeof ValidationRun>;

/** What reading a checkpoint's headers cost (ValidationReport.io). */
export const ValidationIo = z.object({ requests: z.number(), bytesRead: z.number() });
export type ValidationIo = z.infer<typeof ValidationIo>;

/** A stored count: a number, or as a digit string (an int64 read back as text) or `{ total }` (early documents). */
const StoredCount = z.preprocess((v) => {
  const x = typeof v === 'object' && v !== null && 'total' in v ? (v as { total: unknown }).total : v;
  return typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x;
}, z.number());

/**
 * `VersionDoc.summary`: the validation report's checkpoint summary (checkpoint.ts CheckpointSummary)
 * plus what the validation read (`io`). Read leniently: every field may be missing (documents
 * written before it existed), counts are normalised to numbers, and fields this ferry does not
 * know are kept when it rewrites the document (`loose`). Code that needs the whole summary parses
 * it with CheckpointSummary.
 */
export const VersionSummary = CheckpointSummary.extend({
  shards: StoredCount,
  tensors: StoredCount,
  parameters: StoredCount,
  tensorBytes: StoredCount,
  headerBytes: StoredCount,
  shardBytes: StoredCount,
  config: ModelConfigSummary.partial().loose().nullable(),
  io: ValidationIo,
})
  .partial()
  .loose();
export type VersionSummary = z.infer<typeof VersionSummary>;

const MAX_RUNS = 20;
const MAX_EVENT_IDS = 50;

export const VersionDoc = z.object({
  schemaVersion: z.literal(1),
  model: z.string(),
  version: z.string(),
  uri: z.string(),
  status: VersionStatus,
  /** How many validation runs this version has had (one per distinct content, plus takeovers). */
  validations: z.number().int().nonnegative(),
  /** Highest object generation among the observations this document reflects (ordering key). */
  observedGeneration: z.string(),
  /** Still missing for the upload to be complete (status incomplete). */
  missing: z.array(z.string()),
  /** The generation-pinned file list of the content last validated or being validated. */
  files: z.array(PinnedFile),
  contentKey: z.string().nullable(),
  summary: VersionSummary.nullable(),
  errors: z.array(StoredFinding),
  warnings: z.array(StoredFinding),
  runs: z.array(ValidationRun),
  eventIds: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
  validatedAt: z.string().nullable(),
  /**
   * Issue #20: set by the reconciler when a served version's content (object, generation) is no
   * longer the validated one — `changed`/`added`/`removed` name the files, `targets` who serves it.
   * null or absent: not seen changed.
   */
  drift: z
    .object({ changed: z.array(z.string()), added: z.array(z.string()), removed: z.array(z.string()), targets: z.array(z.string()), seenAt: z.string() })
    .nullable()
    .optional(),
  /**
   * Issue #20: ferry may hold this version's objects (GCS temporary holds, shared/app/holds.ts):
   * written before the first hold is set, cleared after the reconciler released them all. The
   * reconciler's list of what to look at; which objects ferry holds is the `ferry-hold` marker on
   * the objects themselves. `rolloutId`: the rollout that last set them.
   */
  holds: z.object({ rolloutId: z.string(), at: z.string() }).nullable().optional(),
});
export type VersionDoc = z.infer<typeof VersionDoc>;
export type VersionHolds = NonNullable<VersionDoc['holds']>;

/**
 * The few fields of a version a list of every model shows (the console's models page): read with a
 * field mask, so the big parts of a version (files, runs, findings) are not shipped.
 */
export const VersionBrief = VersionDoc.pick({ model: true, version: true, status: true, createdAt: true });
export type VersionBrief = z.infer<typeof VersionBrief>;
export const VERSION_BRIEF_FIELDS = Object.keys(VersionBrief.shape) as Array<keyof VersionBrief>;

/** A version read for its size only (field mask `summary.tensorBytes`); no summary: not validated. */
export const VersionSize = z.object({
  model: z.string(),
  version: z.string(),
  summary: VersionSummary.pick({ tensorBytes: true }).nullish(),
});
export type VersionSize = z.infer<typeof VersionSize>;
export const VERSION_SIZE_FIELDS = ['model', 'version', 'summary.tensorBytes'];

/** Where a newly valid version of the model is deployed automatically (fields as in a deploy request). */
export const AutodeployTarget = Target.extend({
  replicas: z.number().int().min(0).max(64).optional(),
  /**
   * Absent: each version's deploy request leaves the accelerator out, and the deploy path sizes it
   * from that version's checkpoint (shared/app/serving-plan.ts resolveAccelerator), as for `ferry deploy`.
   */
  accelerator: Accelerator.optional(),
  /** Promotion gate put on each version's deploy request (docs/gate.md); absent: the model's default gate, if any. */
  gate: Gate.optional(),
});
export type AutodeployTarget = z.infer<typeof AutodeployTarget>;

export const ModelDoc = z.object({
  schemaVersion: z.literal(1),
  model: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The latest valid version (shared/domain/latest.ts: the upload completed last); `generation` is its content's. */
  latestValid: z.object({ version: z.string(), validatedAt: z.string(), contentKey: z.string(), generation: z.string().optional() }).nullable(),
  autodeploy: z.object({ targets: z.array(AutodeployTarget) }),
});
export type ModelDoc = z.infer<typeof ModelDoc>;

/** The claim that makes "one validation per content" true: keyed by the content's (name, generation) set. */
export const ValidationClaim = z.object({
  schemaVersion: z.literal(1),
  contentKey: z.string(),
  generation: z.string(),
  state: z.enum(['running', 'done']),
  attempts: z.number().int().positive(),
  leaseUntil: z.string(),
  eventId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  outcome: z.enum(RUN_OUTCOMES),
  /** Autodeploy targets (target keys) whose deploy request is not yet published. */
  autodeployPending: z.array(z.string()),
});
export type ValidationClaim = z.infer<typeof ValidationClaim>;

const gen = (s: string) => BigInt(/^\d+$/.test(s) ? s : '0');
const pushBounded = <T>(arr: T[], item: T, max: number): T[] => [...arr, item].slice(-max);
const withEvent = (ids: string[], id: string) => (ids.includes(id) ? ids : pushBounded(ids, id, MAX_EVENT_IDS));

export function newVersionDoc(model: string, version: string, uri: string, now: string): VersionDoc {
  return {
    schemaVersion: 1,
    model,
    version,
    uri,
    status: 'incomplete',
    validations: 0,
    observedGeneration: '0',
    missing: [],
    files: [],
    contentKey: null,
    summary: null,
    errors: [],
    warnings: [],
    runs: [],
    eventIds: [],
    createdAt: now,
    updatedAt: now,
    validatedAt: null,
  };
}

export function newModelDoc(model: string, now: string): ModelDoc {
  return { schemaVersion: 1, model, createdAt: now, updatedAt: now, latestValid: null, autodeploy: { targets: [] } };
}

/** An incomplete listing: record what is missing, unless a later observation is already reflected. */
export function applyIncomplete(doc: VersionDoc, obs: { generation: string; missing: string[]; eventId: string; now: string }): VersionDoc | null {
  if (gen(obs.generation) < gen(doc.observedGeneration)) return null;
  if (doc.status === 'incomplete' && sameList(doc.missing, obs.missing) && doc.eventIds.includes(obs.eventId)) return null;
  return {
    ...doc,
    status: 'incomplete',
    missing: obs.missing,
    observedGeneration: obs.generation,
    eventIds: withEvent(doc.eventIds, obs.eventId),
    updatedAt: obs.now,
  };
}

export type ClaimDecision = { action: 'claim'; claim: ValidationClaim } | { action: 'skip'; reason: ValidationSkip; claim: ValidationClaim };

/** Claim the validation of one content, or take over a claim whose holder stopped renewing it. */
export function decideClaim(
  existing: ValidationClaim | undefined,
  req: { contentKey: string; generation: string; eventId: string; now: Date; leaseMs: number },
): ClaimDecision {
  if (existing?.state === 'done') return { action: 'skip', reason: 'ALREADY_VALIDATED', claim: existing };
  if (existing && new Date(existing.leaseUntil).getTime() > req.now.getTime()) {
    return { action: 'skip', reason: 'VALIDATION_IN_PROGRESS', claim: existing };
  }
  const now = req.now.toISOString();
  return {
    action: 'claim',
    claim: {
      schemaVersion: 1,
      contentKey: req.contentKey,
      generation: req.generation,
      state: 'running',
      attempts: (existing?.attempts ?? 0) + 1,
      leaseUntil: new Date(req.now.getTime() + req.leaseMs).toISOString(),
      eventId: req.eventId,
      startedAt: now,
      finishedAt: null,
      outcome: 'running',
      autodeployPending: [],
    },
  };
}

/**
 * Who publishes the autodeploy requests a finished claim still lists as pending. The worker that
 * finished the validation holds them for one lease (finishValidation sets `leaseUntil`): late and
 * duplicate events of the same version that arrive meanwhile must not publish them a second time
 * (they did: two identical deploy requests for one upload). A redelivery of the claim holder's
 * own event (same id: its publish failed or its instance died) takes over at once; any other event
 * only once the lease has run out, and then becomes the holder for one lease.
 */
/**
 * A claim closed by its validation: its outcome, and the autodeploy targets (by target key) still
 * to publish. The finishing worker holds those for one lease (see decideAutodeployTake).
 */
export function closeClaim(
  claim: ValidationClaim,
  r: { applied: boolean; valid: boolean; now: string; pending: readonly AutodeployTarget[]; publishLeaseMs: number },
): ValidationClaim {
  return {
    ...claim,
    state: 'done',
    finishedAt: r.now,
    outcome: r.applied ? (r.valid ? 'valid' : 'invalid') : 'superseded',
    autodeployPending: r.pending.map(targetKey),
    ...(r.pending.length ? { leaseUntil: new Date(Date.parse(r.now) + r.publishLeaseMs).toISOString() } : {}),
  };
}

/** The model's autodeploy targets a take named (a target removed since is not published). */
export const pendingTargets = (targets: readonly AutodeployTarget[], pending: readonly string[]): AutodeployTarget[] =>
  targets.filter((t) => pending.includes(targetKey(t)));

export type AutodeployTake =
  { action: 'none' } | { action: 'held'; until: string; by: string } | { action: 'publish'; pending: string[]; claim: ValidationClaim };

export function decideAutodeployTake(claim: ValidationClaim | undefined, req: { eventId: string; now: Date; leaseMs: number }): AutodeployTake {
  if (!claim || claim.state !== 'done' || claim.outcome !== 'valid' || claim.autodeployPending.length === 0) return { action: 'none' };
  if (claim.eventId !== req.eventId && new Date(claim.leaseUntil).getTime() > req.now.getTime()) {
    return { action: 'held', until: claim.leaseUntil, by: claim.eventId };
  }
  return {
    action: 'publish',
    pending: claim.autodeployPending,
    claim: { ...claim, eventId: req.eventId, leaseUntil: new Date(req.now.getTime() + req.leaseMs).toISOString() },
  };
}

/** The version starts validating this content, unless it already reflects a later observation. */
export function applyValidationStart(
  doc: VersionDoc,
  run: { contentKey: string; generation: string; files: PinnedFile[]; eventId: string; now: string },
): VersionDoc | null {
  if (gen(run.generation) < gen(doc.observedGeneration)) return null;
  return {
    ...doc,
    status: 'validating',
    missing: [],
    files: run.files,
    contentKey: run.contentKey,
    observedGeneration: run.generation,
    validations: doc.validations + 1,
    runs: pushBounded(
      doc.runs,
      { contentKey: run.contentKey, generation: run.generation, eventId: run.eventId, startedAt: run.now, outcome: 'running' },
      MAX_RUNS,
    ),
    eventIds: withEvent(doc.eventIds, run.eventId),
    updatedAt: run.now,
  };
}

export interface ValidationOutcome {
  contentKey: string;
  generation: string;
  valid: boolean;
  summary: VersionSummary;
  errors: StoredFinding[];
  warnings: StoredFinding[];
  now: string;
}

/**
 * A finished validation. Applied only when the version still shows this content; a result for
 * content that was overwritten meanwhile is recorded on its run as `superseded` and changes
 * nothing else — an earlier result never overwrites a later one.
 */
export function applyValidationResult(doc: VersionDoc, r: ValidationOutcome): { doc: VersionDoc; applied: boolean } {
  // Only a running run can finish: a repeated result (a duplicate worker) changes nothing.
  if (!doc.runs.some((run) => run.contentKey === r.contentKey && run.outcome === 'running')) return { doc, applied: false };
  const current = doc.contentKey === r.contentKey;
  const outcome = current ? (r.valid ? 'valid' : 'invalid') : 'superseded';
  const runs = doc.runs.map((run) =>
    run.contentKey === r.contentKey && run.outcome === 'running' ? { ...run, outcome, finishedAt: r.now } : run,
  ) as ValidationRun[];
  if (!current) return { doc: { ...doc, runs, updatedAt: r.now }, applied: false };
  return {
    applied: true,
    doc: {
      ...doc,
      status: r.valid ? 'valid' : 'invalid',
      summary: r.summary,
      errors: r.errors,
      warnings: r.warnings,
      runs,
      validatedAt: r.now,
      updatedAt: r.now,
    },
  };
}

/** A validation that could not finish for a permanent reason (e.g. the object vanished). */
export function applyValidationError(doc: VersionDoc, r: { contentKey: string; code: string; message: string; now: string }): VersionDoc | null {
  if (doc.contentKey !== r.contentKey) return null;
  return {
    ...doc,
    status: 'invalid',
    errors: [{ code: r.code, severity: 'error', file: '', message: r.message }],
    warnings: [],
    runs: doc.runs.map((run) =>
      run.contentKey === r.contentKey && run.outcome === 'running' ? { ...run, outcome: 'error' as const, errorCode: r.code, finishedAt: r.now } : run,
    ),
    validatedAt: r.now,
    updatedAt: r.now,
  };
}

/** "latest" = the valid version whose upload completed last (shared/domain/latest.ts). */
export function applyLatestValid(
  model: ModelDoc,
  v: { version: string; validatedAt: string; contentKey: string; generation?: string },
  valid: boolean,
): ModelDoc {
  if (valid) {
    if (model.latestValid && model.latestValid.version !== v.version && compareUploads(model.latestValid, v) > 0) return model;
    return { ...model, latestValid: v, updatedAt: v.validatedAt };
  }
  // The version that was latest turned invalid (its content was overwritten with a bad one).
  if (model.latestValid?.version === v.version) return { ...model, latestValid: null, updatedAt: v.validatedAt };
  return model;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
