/**
 * Firestore storage for rollouts: `rollouts/{id}`, `targets/{targetKey}` (one active rollout per
 * target, at most one queued, the last good spec), `deployRequests/{messageId}` and
 * `idempotencyKeys/{key}` (exactly-once), `rejectedRequests/{messageId}`.
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { Rollout, isTerminalPhase, ROLLOUT_PHASES, TERMINAL_PHASES } from '../domain/rollout.ts';
import { TargetState, admitRollout, releaseTarget, newTargetState } from '../domain/target-state.ts';
import { targetKey, type Target } from '../domain/names.ts';
import type { AdmitResult, RejectedRequest, RolloutState } from '../ports/rollout-state.ts';
import { firestoreError, parseDoc, runTransaction } from './firestore.ts';

const IN_FLIGHT = ROLLOUT_PHASES.filter((p) => !(TERMINAL_PHASES as readonly string[]).includes(p));
/** Idempotency records are kept this long (a Firestore TTL policy on `expireAt` deletes them). */
const IDEMPOTENCY_TTL_MS = 7 * 24 * 3600 * 1000;

const parse = parseDoc;

/** recentLoadRates reads at most this many succeeded rollouts looking for measured rates. */
const LOAD_RATE_SCAN = 200;
const LOAD_RATE_PAGE = 50;

/** Firestore keeps what JSON keeps; a round trip drops undefined and normalises the spec objects. */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class FirestoreRolloutState implements RolloutState {
  private readonly db: Firestore;
  /** Admissions in flight in this instance, by target and spec digest. */
  private readonly admitting = new Map<string, Promise<AdmitResult>>();
  constructor(db: Firestore) {
    this.db = db;
  }

  private rolloutRef(id: string) {
    return this.db.collection('rollouts').doc(id);
  }
  private targetRef(key: string) {
    return this.db.collection('targets').doc(key);
  }

  private async tx<T>(what: string, fn: (t: Transaction) => Promise<T>): Promise<T> {
    try {
      return await runTransaction(this.db, fn, 20);
    } catch (e) {
      throw firestoreError(e, what);
    }
  }

  async admit(req: Parameters<RolloutState['admit']>[0]): Promise<AdmitResult> {
    // Requests for one spec on one target arriving together in this instance: the first decides
    // (in its transaction), the others wait for it and are then duplicates read without one (a burst
    // of 60 otherwise opened 60 transactions on the target document at the same moment).
    const sameSpec = `${req.rollout.targetKey}\n${req.rollout.specDigest}`;
    const ahead = this.admitting.get(sameSpec);
    if (ahead) {
      await ahead.catch(() => undefined);
      return this.admitOnce(req);
    }
    const decided = this.admitOnce(req);
    this.admitting.set(sameSpec, decided);
    try {
      return await decided;
    } finally {
      if (this.admitting.get(sameSpec) === decided) this.admitting.delete(sameSpec);
    }
  }

  /** Duplicates first, without a transaction; any doubt (or error) leaves it to the transaction. */
  private async admitOnce(req: Parameters<RolloutState['admit']>[0]): Promise<AdmitResult> {
    const fast = await this.admitDuplicate(req).catch(() => null);
    return fast ?? this.admitInTransaction(req);
  }

  private async admitInTransaction(req: Parameters<RolloutState['admit']>[0]): Promise<AdmitResult> {
    const { rollout, now } = req;
    const expireAt = new Date(now.getTime() + IDEMPOTENCY_TTL_MS);
    const keyId = req.idempotencyKey ? encodeURIComponent(req.idempotencyKey).slice(0, 1400) : undefined;
    return this.tx('admit', async (t) => {
      const msgRef = this.db.collection('deployRequests').doc(encodeURIComponent(req.messageId));
      const keyRef = keyId ? this.db.collection('idempotencyKeys').doc(keyId) : undefined;
      const tRef = this.targetRef(rollout.targetKey);
      const [msgSnap, keySnap, tSnap] = await Promise.all([t.get(msgRef), keyRef ? t.get(keyRef) : undefined, t.get(tRef)]);
      if (msgSnap.exists) return { outcome: 'duplicate', by: 'messageId', rolloutId: (msgSnap.get('rolloutId') as string | null) ?? null };
      if (keySnap?.exists) {
        // A new message with a known key: remember which rollout it maps to, so it can be followed.
        const rolloutId = (keySnap.get('rolloutId') as string | null) ?? null;
        t.create(msgRef, { messageId: req.messageId, rolloutId, outcome: 'duplicate-idempotency-key', at: now.toISOString(), expireAt });
        return { outcome: 'duplicate', by: 'idempotencyKey', rolloutId };
      }
      const state = tSnap.exists ? parse(TargetState, tSnap.data(), tSnap.ref.path) : newTargetState(rollout.target, now);
      // The same rendered spec for the same target: already there, or already on its way.
      const activeOrQueued = [state.activeRolloutId, state.queuedRolloutId].filter((x): x is string => x !== null);
      const others = await Promise.all(activeOrQueued.map((id) => t.get(this.rolloutRef(id))));
      const sameInFlight = others.find((s) => s.exists && s.get('specDigest') === rollout.specDigest && !isTerminalPhase(s.get('phase')));
      const sameOnTarget = state.activeRolloutId === null && state.lastGood?.specDigest === rollout.specDigest;
      const record = (rolloutId: string | null, outcome: string) => {
        t.create(msgRef, { messageId: req.messageId, rolloutId, outcome, at: now.toISOString(), expireAt });
        if (keyRef) t.create(keyRef, { key: req.idempotencyKey, rolloutId, at: now.toISOString(), expireAt });
      };
      if (sameInFlight || sameOnTarget) {
        const rolloutId = sameInFlight ? sameInFlight.id : state.lastGood!.rolloutId;
        record(rolloutId, 'duplicate-spec');
        return { outcome: 'duplicate', by: 'specDigest', rolloutId };
      }
      const admission = admitRollout(state, rollout.id, now);
      let superseded: Rollout | null = null;
      if (admission.supersedes) {
        const snap = others.find((s) => s.id === admission.supersedes);
        if (snap?.exists) {
          superseded = req.supersede(parse(Rollout, snap.data(), snap.ref.path));
          t.set(snap.ref, plain(superseded));
        }
      }
      t.create(this.rolloutRef(rollout.id), plain(rollout));
      t.set(tRef, plain(admission.state));
      record(rollout.id, admission.decision);
      return { outcome: 'admitted', decision: admission.decision === 'queued' ? 'queued' : 'start', rollout, superseded };
    });
  }

  /**
   * The duplicate outcomes of `admit`, decided from plain reads and recorded with create-only
   * writes, so a redelivery or a repeated request never opens a transaction on its target. Found by
   * `npm run soak -- load`: 60 concurrent deliveries of one spec (distinct message ids) each opened
   * a transaction that reads the target document; they serialised on it and the last was answered
   * after 146 s (p50 107 s) of a 240 s deadline.
   *
   * Sound because nothing here writes the target or a rollout: a known message id is final; a known
   * idempotency key maps to what it mapped to; a spec in flight or on the target (as the transaction
   * would judge it) was so when it was read, which is the moment this request is ordered at. The
   * message (and key) records are created only if absent, in one batch: when another delivery got
   * there first the batch fails and the transaction decides. Returns null when it is not a duplicate.
   */
  private async admitDuplicate(req: Parameters<RolloutState['admit']>[0]): Promise<AdmitResult | null> {
    const { rollout, now } = req;
    const msgRef = this.db.collection('deployRequests').doc(encodeURIComponent(req.messageId));
    const keyId = req.idempotencyKey ? encodeURIComponent(req.idempotencyKey).slice(0, 1400) : undefined;
    const keyRef = keyId ? this.db.collection('idempotencyKeys').doc(keyId) : undefined;
    const [msgSnap, keySnap, tSnap] = await Promise.all([msgRef.get(), keyRef?.get(), this.targetRef(rollout.targetKey).get()]);
    if (msgSnap.exists) return { outcome: 'duplicate', by: 'messageId', rolloutId: (msgSnap.get('rolloutId') as string | null) ?? null };
    let found: { by: 'idempotencyKey' | 'specDigest'; rolloutId: string | null; outcome: string } | undefined;
    if (keySnap?.exists) {
      found = { by: 'idempotencyKey', rolloutId: (keySnap.get('rolloutId') as string | null) ?? null, outcome: 'duplicate-idempotency-key' };
    } else if (tSnap.exists) {
      const state = parse(TargetState, tSnap.data(), tSnap.ref.path);
      if (state.activeRolloutId === null && state.lastGood?.specDigest === rollout.specDigest) {
        found = { by: 'specDigest', rolloutId: state.lastGood.rolloutId, outcome: 'duplicate-spec' };
      } else {
        const ids = [state.activeRolloutId, state.queuedRolloutId].filter((x): x is string => x !== null);
        const snaps = ids.length ? await this.db.getAll(...ids.map((id) => this.rolloutRef(id))) : [];
        const same = snaps.find((x) => x.exists && x.get('specDigest') === rollout.specDigest && !isTerminalPhase(x.get('phase')));
        if (same) found = { by: 'specDigest', rolloutId: same.id, outcome: 'duplicate-spec' };
      }
    }
    if (!found) return null;
    const expireAt = new Date(now.getTime() + IDEMPOTENCY_TTL_MS);
    const batch = this.db.batch();
    batch.create(msgRef, { messageId: req.messageId, rolloutId: found.rolloutId, outcome: found.outcome, at: now.toISOString(), expireAt });
    if (keyRef && found.by !== 'idempotencyKey') batch.create(keyRef, { key: req.idempotencyKey, rolloutId: found.rolloutId, at: now.toISOString(), expireAt });
    await batch.commit(); // ALREADY_EXISTS when another delivery recorded it first: admit falls back to the transaction
    return { outcome: 'duplicate', by: found.by, rolloutId: found.rolloutId };
  }

  async recordRejected(r: RejectedRequest): Promise<void> {
    try {
      await this.db
        .collection('rejectedRequests')
        .doc(encodeURIComponent(r.messageId))
        .set({ ...r, expireAt: new Date(Date.parse(r.receivedAt) + 30 * 24 * 3600 * 1000) });
    } catch (e) {
      throw firestoreError(e, 'recordRejected');
    }
  }

  async rolloutIdForMessage(messageId: string): Promise<string | null> {
    try {
      const snap = await this.db.collection('deployRequests').doc(encodeURIComponent(messageId)).get();
      return snap.exists ? ((snap.get('rolloutId') as string | null) ?? null) : null;
    } catch (e) {
      throw firestoreError(e, 'rolloutIdForMessage');
    }
  }

  async listRejected(model?: string, limit = 50): Promise<RejectedRequest[]> {
    try {
      const snap = await this.db.collection('rejectedRequests').get();
      return snap.docs
        .map((d) => {
          const { expireAt: _e, ...rest } = d.data() as RejectedRequest & { expireAt?: unknown };
          return rest;
        })
        .filter((r) => model === undefined || r.model === model)
        .sort((a, b) => b.receivedAt.localeCompare(a.receivedAt))
        .slice(0, limit);
    } catch (e) {
      throw firestoreError(e, 'listRejected');
    }
  }

  async getRollout(id: string): Promise<Rollout | undefined> {
    try {
      const snap = await this.rolloutRef(id).get();
      return snap.exists ? parse(Rollout, snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'getRollout');
    }
  }

  async getRollouts(ids: readonly string[]): Promise<Rollout[]> {
    if (!ids.length) return [];
    try {
      const snaps = await this.db.getAll(...ids.map((id) => this.rolloutRef(id)));
      return snaps.filter((s) => s.exists).map((s) => parse(Rollout, s.data(), s.ref.path));
    } catch (e) {
      throw firestoreError(e, 'getRollouts');
    }
  }

  async getTarget(target: Target): Promise<TargetState | undefined> {
    try {
      const snap = await this.targetRef(targetKey(target)).get();
      return snap.exists ? parse(TargetState, snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'getTarget');
    }
  }

  async listInFlight(): Promise<Rollout[]> {
    try {
      const snap = await this.db.collection('rollouts').where('phase', 'in', IN_FLIGHT).get();
      return snap.docs.map((d) => parse(Rollout, d.data(), d.ref.path));
    } catch (e) {
      throw firestoreError(e, 'listInFlight');
    }
  }

  async listRollouts(filter: { model?: string; targetKey?: string; limit?: number }): Promise<Rollout[]> {
    try {
      let q: FirebaseFirestore.Query = this.db.collection('rollouts');
      if (filter.model) q = q.where('model', '==', filter.model);
      if (filter.targetKey) q = q.where('targetKey', '==', filter.targetKey);
      const snap = await q.get();
      return snap.docs
        .map((d) => parse(Rollout, d.data(), d.ref.path))
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(0, filter.limit ?? 100);
    } catch (e) {
      throw firestoreError(e, 'listRollouts');
    }
  }

  /**
   * where(model ==).where(phase == succeeded).orderBy(createdAt desc): the composite index
   * rollouts(model, phase, createdAt desc) in infra/firestore.tf. Reads only the rate and the order
   * key (field mask), a page at a time, until `limit` rates or LOAD_RATE_SCAN documents.
   */
  async recentLoadRates(model: string, limit: number): Promise<number[]> {
    const want = Math.max(0, Math.min(Math.floor(limit), LOAD_RATE_SCAN));
    const rates: number[] = [];
    if (want === 0) return rates;
    try {
      let scanned = 0;
      let after: FirebaseFirestore.QueryDocumentSnapshot | undefined;
      while (rates.length < want && scanned < LOAD_RATE_SCAN) {
        let q = this.db
          .collection('rollouts')
          .where('model', '==', model)
          .where('phase', '==', 'succeeded')
          .orderBy('createdAt', 'desc')
          .select('coldStart.measured.gibPerSecond', 'createdAt')
          .limit(Math.min(LOAD_RATE_PAGE, LOAD_RATE_SCAN - scanned));
        if (after) q = q.startAfter(after);
        const snap = await q.get();
        for (const d of snap.docs) {
          const rate: unknown = d.get('coldStart.measured.gibPerSecond');
          if (typeof rate === 'number' && Number.isFinite(rate) && rate > 0 && rates.length < want) rates.push(rate);
        }
        scanned += snap.size;
        if (snap.size === 0 || snap.size < LOAD_RATE_PAGE) break;
        after = snap.docs[snap.docs.length - 1];
      }
      return rates;
    } catch (e) {
      throw firestoreError(e, 'recentLoadRates');
    }
  }

  async saveStep(rollout: Rollout, expectedUpdatedAt: string, now: Date): Promise<{ saved: boolean; next: string | null }> {
    return this.tx('saveStep', async (t) => {
      const ref = this.rolloutRef(rollout.id);
      const tRef = this.targetRef(rollout.targetKey);
      const [snap, tSnap] = await Promise.all([t.get(ref), t.get(tRef)]);
      if (!snap.exists || snap.get('updatedAt') !== expectedUpdatedAt) return { saved: false, next: null };
      t.set(ref, plain(rollout));
      if (!isTerminalPhase(rollout.phase) || !tSnap.exists) return { saved: true, next: null };
      const released = releaseTarget(parse(TargetState, tSnap.data(), tSnap.ref.path), rollout, now);
      t.set(tRef, plain(released.state));
      return { saved: true, next: released.next };
    });
  }
}
