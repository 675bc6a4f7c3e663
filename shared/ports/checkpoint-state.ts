/** Where models, versions and validation claims live (Firestore in production and locally). */
import type {
  AutodeployTarget,
  ClaimDecision,
  ModelDoc,
  PinnedFile,
  ValidationClaim,
  ValidationOutcome,
  VersionBrief,
  VersionDoc,
  VersionHolds,
} from '../domain/version.ts';

export interface VersionRef {
  model: string;
  version: string;
  uri: string;
}

export interface CheckpointState {
  /** Record an incomplete observation (ignored when a later one is already reflected). */
  recordIncomplete(ref: VersionRef, obs: { generation: string; missing: string[]; eventId: string; now: Date }): Promise<void>;
  /**
   * Atomically claim the validation of one content and mark the version `validating`.
   * `skip` when it is already validated or a live claim holds it.
   */
  claimValidation(
    ref: VersionRef,
    run: { contentKey: string; generation: string; files: PinnedFile[]; eventId: string; now: Date; leaseMs: number },
  ): Promise<ClaimDecision>;
  /**
   * Atomically store the result on the version (unless superseded), close the claim, update the
   * model's latest valid version, and note which autodeploy targets still need a deploy request.
   */
  finishValidation(
    ref: VersionRef,
    /** publishLeaseMs: how long the finishing worker holds the autodeploy requests it is about to publish. */
    outcome: ValidationOutcome & { publishLeaseMs: number },
  ): Promise<{ applied: boolean; autodeploy: AutodeployTarget[] }>;
  /** Give up a claim after a retryable failure, so the redelivered event can take it over. */
  releaseClaim(ref: VersionRef, contentKey: string, now: Date): Promise<void>;
  /** A permanent failure to validate: the version becomes invalid with that code. */
  failValidation(ref: VersionRef, r: { contentKey: string; code: string; message: string; now: Date }): Promise<void>;
  /**
   * Atomically take the autodeploy targets a finished claim still lists as unpublished, for one
   * lease (`decideAutodeployTake`): `held` when the finishing worker (another event) holds them.
   */
  takePendingAutodeploy(
    ref: VersionRef,
    contentKey: string,
    req: { eventId: string; now: Date; leaseMs: number },
  ): Promise<{ targets: AutodeployTarget[]; held?: { until: string; by: string } }>;
  /** The deploy request for this target is published. */
  autodeployPublished(ref: VersionRef, contentKey: string, targetKey: string): Promise<void>;

  /** The validation claim of one content, if any (a plain read). */
  getClaim(ref: VersionRef, contentKey: string): Promise<ValidationClaim | undefined>;
  getModel(model: string): Promise<ModelDoc | undefined>;
  getVersion(model: string, version: string): Promise<VersionDoc | undefined>;
  /** Issue #20: flag (or with null clear) content changed after validation on the version. */
  recordDrift(model: string, version: string, drift: NonNullable<VersionDoc['drift']> | null): Promise<void>;
  /**
   * Issue #20: note that ferry may hold the version's objects (`holds`), or with null that it holds
   * none any more. A clear with `ifRolloutId` applies only while the stored `holds.rolloutId` is
   * that one (a rollout that set holds since then keeps its note). False when nothing was written.
   */
  recordHolds(model: string, version: string, holds: VersionHolds | null, opts?: { ifRolloutId?: string }): Promise<boolean>;
  /** Every version whose `holds` note is set (per model: a single-field query that reads only the matches). */
  listHeldVersions(): Promise<VersionDoc[]>;
  listModels(): Promise<ModelDoc[]>;
  listVersions(model: string): Promise<VersionDoc[]>;
  /**
   * Every version of every model, only the VersionBrief fields, in one read (not one per model):
   * what a page listing all models needs.
   */
  listVersionBriefs(): Promise<VersionBrief[]>;
  /**
   * The tensor bytes of each of these versions that exists (null: not validated), in one batched
   * read of only those fields; missing versions are left out.
   */
  getTensorBytes(refs: ReadonlyArray<{ model: string; version: string }>): Promise<Array<{ model: string; version: string; tensorBytes: number | null }>>;
  /** Versions of a model in one status (a single-field query: it reads only the matches). */
  listVersionsWithStatus(model: string, status: VersionDoc['status']): Promise<VersionDoc[]>;
  /** Newest valid version of a model (by validation time), if any. */
  latestValidVersion(model: string): Promise<VersionDoc | undefined>;
  setAutodeploy(model: string, targets: AutodeployTarget[], now: Date): Promise<ModelDoc>;
}
