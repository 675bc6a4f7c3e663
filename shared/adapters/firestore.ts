/**
 * Firestore adapter. Every write that depends on what is stored runs in a transaction that reads
 * the documents, asks a pure function in shared/domain what to write, and writes it — so duplicate,
 * late and concurrent events converge. SDK errors become FerryErrors with a retryable flag.
 */
import { Firestore, type Transaction, type DocumentReference, type DocumentSnapshot } from '@google-cloud/firestore';
import { FerryError } from '../domain/errors.ts';
import {
  VersionDoc,
  VersionBrief,
  VERSION_BRIEF_FIELDS,
  VersionSize,
  VERSION_SIZE_FIELDS,
  ModelDoc,
  ValidationClaim,
  newVersionDoc,
  newModelDoc,
  applyIncomplete,
  decideClaim,
  decideAutodeployTake,
  closeClaim,
  pendingTargets,
  applyValidationStart,
  applyValidationResult,
  applyValidationError,
  applyLatestValid,
  type AutodeployTarget,
  type ClaimDecision,
  type VersionHolds,
} from '../domain/version.ts';
import type { CheckpointState, VersionRef } from '../ports/checkpoint-state.ts';
import { pickLatest } from '../domain/latest.ts';
import type { z } from 'zod';

/** gRPC status codes that mean "try again". */
const RETRYABLE = new Set([1, 4, 8, 10, 13, 14]);

/**
 * Transaction contention. Production Firestore answers it with ABORTED (which the SDK retries);
 * the emulator, under concurrent transactions on the same documents, also answers
 * INVALID_ARGUMENT "Transaction is invalid or closed", which the SDK does not retry.
 */
export function isTransactionContention(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  return code === 10 || (code === 3 && /transaction is invalid or closed/i.test(message));
}

/**
 * runTransaction, retried a few more times (with jitter) when it ends in contention, so a burst of
 * concurrent events converges instead of failing. What still fails is thrown as the SDK threw it.
 */
export async function runTransaction<T>(db: Firestore, fn: (t: Transaction) => Promise<T>, maxAttempts = 10): Promise<T> {
  for (let round = 0; ; round++) {
    try {
      return await db.runTransaction(fn, { maxAttempts });
    } catch (e) {
      if (round >= 4 || !isTransactionContention(e)) throw e;
      await new Promise((r) => setTimeout(r, 50 * 2 ** round + Math.random() * 100));
    }
  }
}

export function firestoreError(e: unknown, what: string): FerryError {
  if (e instanceof FerryError) return e;
  const code = typeof (e as { code?: unknown })?.code === 'number' ? (e as { code: number }).code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  if (isTransactionContention(e)) {
    return new FerryError('STATE_CONTENTION', `Firestore ${what} lost to concurrent writes: ${message}`, { retryable: true, cause: e });
  }
  if (code === undefined || RETRYABLE.has(code)) {
    return new FerryError('STATE_UNAVAILABLE', `Firestore ${what} failed: ${message}`, { retryable: true, cause: e });
  }
  if (code === 7 || code === 16) {
    return new FerryError('STATE_FORBIDDEN', `Firestore ${what} was refused: ${message}`, {
      cause: e,
      hint: "Give the function's service account roles/datastore.user.",
    });
  }
  return new FerryError('STATE_ERROR', `Firestore ${what} failed: ${message}`, { cause: e });
}

/** The database every client opens unless told otherwise. */
export const DEFAULT_DATABASE = '(default)';

const shared = new Map<string, Firestore>();
/**
 * One client per process and database (Cloud Functions reuse instances between invocations). The
 * deploy policy may live in a database of its own (FERRY_POLICY_DATABASE); everything else is in
 * `(default)`.
 */
export function firestoreClient(projectId?: string, databaseId: string = DEFAULT_DATABASE): Firestore {
  let db = shared.get(databaseId);
  if (!db) shared.set(databaseId, (db = newFirestoreClient(projectId, databaseId)));
  return db;
}

/**
 * A client the caller owns and terminates (a CLI command's realtime listeners). `databaseId` is the
 * SDK's Settings.databaseId (@google-cloud/firestore 9.4.1 types/firestore.d.ts); left out for
 * `(default)`, which is what the SDK opens without it.
 */
export function newFirestoreClient(projectId?: string, databaseId: string = DEFAULT_DATABASE): Firestore {
  return new Firestore({
    ...(projectId ? { projectId } : {}),
    ...(databaseId !== DEFAULT_DATABASE ? { databaseId } : {}),
    ignoreUndefinedProperties: true,
  });
}

/** A stored document, checked against its schema; a mismatch is STATE_CORRUPT, never silently used. */
export function parseDoc<S extends z.ZodType>(schema: S, data: unknown, path: string): z.infer<S> {
  const r = schema.safeParse(data);
  if (!r.success) {
    throw new FerryError(
      'STATE_CORRUPT',
      `document ${path} does not match its schema: ${r.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`,
      {
        hint: 'A document written by an incompatible ferry version; inspect or delete it.',
      },
    );
  }
  return r.data;
}
const parse = parseDoc;

/**
 * How claimValidation fights contention (issue #23: 900 duplicate events at 50 concurrent timed
 * out, each opening a transaction on the same documents retried up to 50 times). Each round first
 * reads the claim (a plain read: once anyone has claimed, everyone else skips), then tries one
 * short transaction; contention backs off with jitter before the next round. What still fails is
 * STATE_CONTENTION, retryable: the event is redelivered later, spread out by Eventarc's backoff.
 */
export const CLAIM_ROUNDS = 4;
const CLAIM_TX_ATTEMPTS = 3;

export class FirestoreCheckpointState implements CheckpointState {
  private readonly db: Firestore;
  /** Claims being decided by this instance, by claim path: concurrent callers share one decision. */
  private readonly claiming = new Map<string, Promise<ClaimDecision>>();
  constructor(db: Firestore) {
    this.db = db;
  }

  private modelRef(model: string): DocumentReference {
    return this.db.collection('models').doc(model);
  }
  private versionRef(model: string, version: string): DocumentReference {
    return this.modelRef(model).collection('versions').doc(version);
  }
  private claimRef(ref: VersionRef, contentKey: string): DocumentReference {
    return this.versionRef(ref.model, ref.version).collection('validations').doc(contentKey);
  }

  private async tx<T>(what: string, fn: (t: Transaction) => Promise<T>): Promise<T> {
    try {
      return await runTransaction(this.db, fn, 10);
    } catch (e) {
      throw firestoreError(e, what);
    }
  }

  private async readVersion(t: Transaction, ref: VersionRef, now: string): Promise<VersionDoc> {
    const snap = await t.get(this.versionRef(ref.model, ref.version));
    return snap.exists ? parse(VersionDoc, snap.data(), snap.ref.path) : newVersionDoc(ref.model, ref.version, ref.uri, now);
  }

  private async readModel(t: Transaction, model: string, now: string): Promise<{ doc: ModelDoc; exists: boolean }> {
    return this.modelOf(await t.get(this.modelRef(model)), model, now);
  }

  private modelOf(snap: DocumentSnapshot, model: string, now: string): { doc: ModelDoc; exists: boolean } {
    return snap.exists ? { doc: parse(ModelDoc, snap.data(), snap.ref.path), exists: true } : { doc: newModelDoc(model, now), exists: false };
  }

  /**
   * The claim, the version and the model in one read of the transaction (Transaction.getAll: one
   * BatchGetDocuments, the same locks as three gets; @google-cloud/firestore 9.4.1
   * types/firestore.d.ts `Transaction.getAll`). On the validation path these were three sequential
   * round trips in each of the two transactions.
   */
  private async readForValidation(t: Transaction, ref: VersionRef, contentKey: string, now: string) {
    const [claimSnap, versionSnap, modelSnap] = await t.getAll(
      this.claimRef(ref, contentKey),
      this.versionRef(ref.model, ref.version),
      this.modelRef(ref.model),
    );
    const doc = versionSnap!.exists ? parse(VersionDoc, versionSnap!.data(), versionSnap!.ref.path) : newVersionDoc(ref.model, ref.version, ref.uri, now);
    return { claimSnap: claimSnap!, doc, model: this.modelOf(modelSnap!, ref.model, now) };
  }

  async recordIncomplete(ref: VersionRef, obs: { generation: string; missing: string[]; eventId: string; now: Date }): Promise<void> {
    const now = obs.now.toISOString();
    await this.tx('recordIncomplete', async (t) => {
      // One read for both (Transaction.getAll): every event of an upload still in progress runs this.
      const [versionSnap, modelSnap] = await t.getAll(this.versionRef(ref.model, ref.version), this.modelRef(ref.model));
      const doc = versionSnap!.exists ? parse(VersionDoc, versionSnap!.data(), versionSnap!.ref.path) : newVersionDoc(ref.model, ref.version, ref.uri, now);
      const model = this.modelOf(modelSnap!, ref.model, now);
      const next = applyIncomplete(doc, { ...obs, now });
      if (!model.exists) t.set(this.modelRef(ref.model), model.doc);
      if (next) t.set(this.versionRef(ref.model, ref.version), next);
    });
  }

  async claimValidation(
    ref: VersionRef,
    run: { contentKey: string; generation: string; files: VersionDoc['files']; eventId: string; now: Date; leaseMs: number },
  ): Promise<ClaimDecision> {
    // Single flight in this instance: concurrent deliveries of one content wait for the first
    // one's decision. If it claimed, they skip (it is validating); if it skipped, so do they; if it
    // failed, they fail the same way and are redelivered later instead of storming the documents.
    const key = this.claimRef(ref, run.contentKey).path;
    const running = this.claiming.get(key);
    if (running) {
      const d = await running;
      return d.action === 'claim' ? { action: 'skip', reason: 'VALIDATION_IN_PROGRESS', claim: d.claim } : d;
    }
    const p = this.claimRounds(ref, run).finally(() => this.claiming.delete(key));
    this.claiming.set(key, p);
    return p;
  }

  private async claimRounds(
    ref: VersionRef,
    run: { contentKey: string; generation: string; files: VersionDoc['files']; eventId: string; now: Date; leaseMs: number },
  ): Promise<ClaimDecision> {
    for (let round = 0; ; round++) {
      // Late and duplicate events far outnumber the one that claims: they find the claim with a
      // plain read and skip. Only a missing or expired claim goes on to the transaction, which
      // decides again from what it reads.
      try {
        const pre = await this.claimRef(ref, run.contentKey).get();
        if (pre.exists) {
          const decision = decideClaim(parse(ValidationClaim, pre.data(), pre.ref.path), run);
          if (decision.action === 'skip') return decision;
        }
      } catch (e) {
        throw firestoreError(e, 'claimValidation');
      }
      try {
        return await this.db.runTransaction((t) => this.claimTx(t, ref, run), { maxAttempts: CLAIM_TX_ATTEMPTS });
      } catch (e) {
        if (round + 1 >= CLAIM_ROUNDS || !isTransactionContention(e)) throw firestoreError(e, 'claimValidation');
        await new Promise((r) => setTimeout(r, 100 * 2 ** round + Math.random() * 200));
      }
    }
  }

  private async claimTx(
    t: Transaction,
    ref: VersionRef,
    run: { contentKey: string; generation: string; files: VersionDoc['files']; eventId: string; now: Date; leaseMs: number },
  ): Promise<ClaimDecision> {
    const now = run.now.toISOString();
    const { claimSnap, doc, model } = await this.readForValidation(t, ref, run.contentKey, now);
    const existing = claimSnap.exists ? parse(ValidationClaim, claimSnap.data(), claimSnap.ref.path) : undefined;
    const decision = decideClaim(existing, run);
    if (decision.action === 'skip') return decision;
    const started = applyValidationStart(doc, { ...run, now });
    if (!started) {
      // A later observation already owns the version: this content is stale before it starts.
      return { action: 'skip', reason: 'ALREADY_VALIDATED', claim: decision.claim } as ClaimDecision;
    }
    if (!model.exists) t.set(this.modelRef(ref.model), model.doc);
    t.set(this.claimRef(ref, run.contentKey), decision.claim);
    t.set(this.versionRef(ref.model, ref.version), started);
    return decision;
  }

  async getClaim(ref: VersionRef, contentKey: string): Promise<ValidationClaim | undefined> {
    try {
      const snap = await this.claimRef(ref, contentKey).get();
      return snap.exists ? parse(ValidationClaim, snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'getClaim');
    }
  }

  async finishValidation(
    ref: VersionRef,
    outcome: Parameters<CheckpointState['finishValidation']>[1],
  ): Promise<{ applied: boolean; autodeploy: AutodeployTarget[] }> {
    return this.tx('finishValidation', async (t) => {
      const { claimSnap, doc, model } = await this.readForValidation(t, ref, outcome.contentKey, outcome.now);
      const { doc: next, applied } = applyValidationResult(doc, outcome);
      const targets = applied && outcome.valid ? model.doc.autodeploy.targets : [];
      t.set(this.versionRef(ref.model, ref.version), next);
      if (applied) {
        t.set(
          this.modelRef(ref.model),
          applyLatestValid(
            model.doc,
            { version: ref.version, validatedAt: outcome.now, contentKey: outcome.contentKey, generation: outcome.generation },
            outcome.valid,
          ),
        );
      }
      if (claimSnap.exists) {
        const claim = parse(ValidationClaim, claimSnap.data(), claimSnap.ref.path);
        t.set(
          this.claimRef(ref, outcome.contentKey),
          closeClaim(claim, { applied, valid: outcome.valid, now: outcome.now, pending: targets, publishLeaseMs: outcome.publishLeaseMs }),
        );
      }
      return { applied, autodeploy: targets };
    });
  }

  async failValidation(ref: VersionRef, r: { contentKey: string; code: string; message: string; now: Date }): Promise<void> {
    const now = r.now.toISOString();
    await this.tx('failValidation', async (t) => {
      const claimSnap = await t.get(this.claimRef(ref, r.contentKey));
      const doc = await this.readVersion(t, ref, now);
      const next = applyValidationError(doc, { ...r, now });
      if (next) t.set(this.versionRef(ref.model, ref.version), next);
      if (claimSnap.exists) {
        const claim = parse(ValidationClaim, claimSnap.data(), claimSnap.ref.path);
        t.set(this.claimRef(ref, r.contentKey), { ...claim, state: 'done', finishedAt: now, outcome: 'error' } satisfies ValidationClaim);
      }
    });
  }

  async releaseClaim(ref: VersionRef, contentKey: string, now: Date): Promise<void> {
    await this.tx('releaseClaim', async (t) => {
      const snap = await t.get(this.claimRef(ref, contentKey));
      if (!snap.exists) return;
      const claim = parse(ValidationClaim, snap.data(), snap.ref.path);
      if (claim.state === 'running') t.set(snap.ref, { ...claim, leaseUntil: now.toISOString() } satisfies ValidationClaim);
    });
  }

  async takePendingAutodeploy(
    ref: VersionRef,
    contentKey: string,
    req: { eventId: string; now: Date; leaseMs: number },
  ): ReturnType<CheckpointState['takePendingAutodeploy']> {
    // As in claimValidation: the many late events find nothing to take with a plain read; only a
    // take that looks possible opens the transaction, which decides again from what it reads.
    try {
      const pre = await this.claimRef(ref, contentKey).get();
      const seen = decideAutodeployTake(pre.exists ? parse(ValidationClaim, pre.data(), pre.ref.path) : undefined, req);
      if (seen.action === 'none') return { targets: [] };
      if (seen.action === 'held') return { targets: [], held: { until: seen.until, by: seen.by } };
    } catch (e) {
      throw firestoreError(e, 'takePendingAutodeploy');
    }
    return this.tx('takePendingAutodeploy', async (t) => {
      const claimSnap = await t.get(this.claimRef(ref, contentKey));
      const modelSnap = await t.get(this.modelRef(ref.model));
      const take = decideAutodeployTake(claimSnap.exists ? parse(ValidationClaim, claimSnap.data(), claimSnap.ref.path) : undefined, req);
      if (take.action === 'none') return { targets: [] };
      if (take.action === 'held') return { targets: [], held: { until: take.until, by: take.by } };
      t.set(claimSnap.ref, take.claim);
      const model = modelSnap.exists ? parse(ModelDoc, modelSnap.data(), modelSnap.ref.path) : undefined;
      return { targets: pendingTargets(model?.autodeploy.targets ?? [], take.pending) };
    });
  }

  async autodeployPublished(ref: VersionRef, contentKey: string, key: string): Promise<void> {
    await this.tx('autodeployPublished', async (t) => {
      const snap = await t.get(this.claimRef(ref, contentKey));
      if (!snap.exists) return;
      const claim = parse(ValidationClaim, snap.data(), snap.ref.path);
      t.set(snap.ref, { ...claim, autodeployPending: claim.autodeployPending.filter((k) => k !== key) } satisfies ValidationClaim);
    });
  }

  async recordDrift(model: string, version: string, drift: NonNullable<VersionDoc['drift']> | null): Promise<void> {
    try {
      // update(): only the one field, and never creates a version document that is not there.
      await this.versionRef(model, version).update({ drift });
    } catch (e) {
      if ((e as { code?: unknown }).code === 5) return; // NOT_FOUND: the version is gone
      throw firestoreError(e, 'recordDrift');
    }
  }

  async recordHolds(model: string, version: string, holds: VersionHolds | null, opts: { ifRolloutId?: string } = {}): Promise<boolean> {
    const ref = this.versionRef(model, version);
    if (holds !== null || opts.ifRolloutId === undefined) {
      try {
        // update(): only the one field, and never creates a version document that is not there.
        await ref.update({ holds });
        return true;
      } catch (e) {
        if ((e as { code?: unknown }).code === 5) return false; // NOT_FOUND: the version is gone
        throw firestoreError(e, 'recordHolds');
      }
    }
    const expected = opts.ifRolloutId;
    return this.tx('recordHolds', async (t) => {
      const snap = await t.get(ref);
      if (!snap.exists) return false;
      const cur = parse(VersionDoc, snap.data(), snap.ref.path);
      if (cur.holds?.rolloutId !== expected) return false; // a rollout set holds since: its note stays
      t.update(ref, { holds: null });
      return true;
    });
  }

  async listHeldVersions(): Promise<VersionDoc[]> {
    try {
      const out: VersionDoc[] = [];
      for (const m of await this.db
        .collection('models')
        .get()
        .then((s) => s.docs)) {
        // `!= null` matches documents where the field is set and not null (automatic single-field index).
        const snap = await m.ref.collection('versions').where('holds', '!=', null).get();
        out.push(...snap.docs.map((d) => parse(VersionDoc, d.data(), d.ref.path)));
      }
      return out;
    } catch (e) {
      throw firestoreError(e, 'listHeldVersions');
    }
  }

  async getModel(model: string): Promise<ModelDoc | undefined> {
    try {
      const snap = await this.modelRef(model).get();
      return snap.exists ? parse(ModelDoc, snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'getModel');
    }
  }

  async getVersion(model: string, version: string): Promise<VersionDoc | undefined> {
    try {
      const snap = await this.versionRef(model, version).get();
      return snap.exists ? parse(VersionDoc, snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'getVersion');
    }
  }

  async listModels(): Promise<ModelDoc[]> {
    try {
      const snap = await this.db.collection('models').get();
      return snap.docs.map((d) => parse(ModelDoc, d.data(), d.ref.path));
    } catch (e) {
      throw firestoreError(e, 'listModels');
    }
  }

  async listVersions(model: string): Promise<VersionDoc[]> {
    try {
      const snap = await this.modelRef(model).collection('versions').get();
      return snap.docs.map((d) => parse(VersionDoc, d.data(), d.ref.path));
    } catch (e) {
      throw firestoreError(e, 'listVersions');
    }
  }

  async listVersionBriefs(): Promise<VersionBrief[]> {
    try {
      // One collection-group query over every models/{m}/versions instead of one query per model;
      // select() sends only the brief's fields (StructuredQuery.select, a Projection: "the fields
      // to return"; @google-cloud/firestore@9.4.1 build/protos/google/firestore/v1/query.proto#L259).
      // It neither filters nor orders on a field, so it needs no collection-group field index
      // (those are not maintained by default): only document-name order, the order the SDK's own
      // CollectionGroup.getPartitions queries by (build/src/collection-group.js#L71).
      const snap = await this.db
        .collectionGroup('versions')
        .select(...VERSION_BRIEF_FIELDS)
        .get();
      // Only versions under models/ (a `versions` collection anywhere else is not ours to read).
      return snap.docs.filter((d) => d.ref.parent.parent?.parent.id === 'models').map((d) => parse(VersionBrief, d.data(), d.ref.path));
    } catch (e) {
      throw firestoreError(e, 'listVersionBriefs');
    }
  }

  async getTensorBytes(
    refs: ReadonlyArray<{ model: string; version: string }>,
  ): Promise<Array<{ model: string; version: string; tensorBytes: number | null }>> {
    if (!refs.length) return [];
    try {
      // One BatchGetDocuments for all of them, with a field mask (@google-cloud/firestore@9.4.1
      // build/protos/google/firestore/v1/firestore.proto#L458 BatchGetDocumentsRequest.mask).
      const snaps = await this.db.getAll(...refs.map((r) => this.versionRef(r.model, r.version)), { fieldMask: VERSION_SIZE_FIELDS });
      return snaps
        .filter((s) => s.exists)
        .map((s) => parse(VersionSize, s.data(), s.ref.path))
        .map((v) => ({ model: v.model, version: v.version, tensorBytes: v.summary?.tensorBytes ?? null }));
    } catch (e) {
      throw firestoreError(e, 'getTensorBytes');
    }
  }

  async listVersionsWithStatus(model: string, status: VersionDoc['status']): Promise<VersionDoc[]> {
    try {
      const snap = await this.modelRef(model).collection('versions').where('status', '==', status).get();
      return snap.docs.map((d) => parse(VersionDoc, d.data(), d.ref.path));
    } catch (e) {
      throw firestoreError(e, 'listVersionsWithStatus');
    }
  }

  async latestValidVersion(model: string): Promise<VersionDoc | undefined> {
    try {
      // "latest" is by upload order (shared/domain/latest.ts), which no index orders: a model has
      // few valid versions, so read them and pick.
      const snap = await this.modelRef(model).collection('versions').where('status', '==', 'valid').get();
      return pickLatest(snap.docs.map((d) => parse(VersionDoc, d.data(), d.ref.path)));
    } catch (e) {
      throw firestoreError(e, 'latestValidVersion');
    }
  }

  async setAutodeploy(model: string, targets: AutodeployTarget[], now: Date): Promise<ModelDoc> {
    const iso = now.toISOString();
    return this.tx('setAutodeploy', async (t) => {
      const m = await this.readModel(t, model, iso);
      const next: ModelDoc = { ...m.doc, autodeploy: { targets }, updatedAt: iso };
      t.set(this.modelRef(model), next);
      return next;
    });
  }
}
