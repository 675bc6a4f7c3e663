/**
 * In-memory stand-ins for the ports, for unit tests of use cases. They run the same pure domain
 * decisions the Firestore adapter runs inside its transactions, and can be told to fail.
 */
import { crc32cBase64 } from '../../shared/domain/crc32c.ts';
import type { HoldChange, HoldOutcome, ObjectInfo, ObjectStore, ReadStats } from '../../shared/ports/object-store.ts';
import { HOLD_MARKER_KEY } from '../../shared/domain/holds.ts';
import type { CheckpointState, VersionRef } from '../../shared/ports/checkpoint-state.ts';
import type { Publisher } from '../../shared/ports/publisher.ts';
import { pickLatest } from '../../shared/domain/latest.ts';
import {
  newVersionDoc,
  VersionBrief,
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
  type ModelDoc,
  type VersionDoc,
  type ValidationClaim,
  type AutodeployTarget,
  type VersionHolds,
} from '../../shared/domain/version.ts';
import { FerryError } from '../../shared/domain/errors.ts';

/**
 * A bucket in memory: objects with generations; `failNext` makes the next calls throw.
 *
 * Temporary holds (issue #20), opt-in with `{ holds: 'enforced' }`, as GCS has them: a PATCH of
 * `temporaryHold` and custom metadata bumps the object's metageneration and applies only while the
 * object is at the given generation and metageneration (objects.patch `ifGenerationMatch` /
 * `ifMetagenerationMatch`, else 412); a null metadata value removes the key (File#setMetadata docs);
 * a held object cannot be overwritten or deleted (storage.proto StorageObject.temporary_hold: "the
 * object is protected against deletion and overwrites"). `{ holds: 'unsupported' }` answers like the
 * Storage emulator through the GCS adapter (501 → 'unsupported'). Default: no holds (a local directory).
 */
export class MemoryBucket implements ObjectStore {
  readonly location = 'mem://bucket';
  readonly objects = new Map<
    string,
    { bytes: Uint8Array; generation: string; metadata?: Record<string, string>; metageneration?: number; temporaryHold?: boolean }
  >();
  private gen = 1_700_000_000_000_000n;
  private counters: ReadStats = { requests: 0, bytesRead: 0 };
  /** Fail the `nth` next call of `op` (1 = the very next one). */
  failures: Array<{ op: 'list' | 'read' | 'hold'; error: Error; nth?: number }> = [];
  /** Every hold PATCH asked for, in order (name, change, outcome). */
  readonly holdCalls: Array<{ name: string; hold: boolean; marker: string | null; outcome: HoldOutcome }> = [];
  setTemporaryHold?: ObjectStore['setTemporaryHold'];

  constructor(opts: { holds?: 'enforced' | 'unsupported' } = {}) {
    if (opts.holds === 'enforced') this.setTemporaryHold = (name, change, at) => this.patchHold(name, change, at);
    if (opts.holds === 'unsupported') {
      this.setTemporaryHold = async (name, change) => {
        this.holdCalls.push({ name, ...change, outcome: 'unsupported' });
        return 'unsupported';
      };
    }
  }

  put(name: string, bytes: Uint8Array, metadata?: Record<string, string>): string {
    if (this.objects.get(name)?.temporaryHold) throw new FerryError('STORAGE_FORBIDDEN', `${name} is under a temporary hold: it cannot be overwritten`);
    this.gen += 1n;
    this.objects.set(name, { bytes, generation: this.gen.toString(), metageneration: 1, ...(metadata ? { metadata } : {}) });
    return this.gen.toString();
  }
  delete(name: string): void {
    if (this.objects.get(name)?.temporaryHold) throw new FerryError('STORAGE_FORBIDDEN', `${name} is under a temporary hold: it cannot be deleted`);
    this.objects.delete(name);
  }
  /** Someone other than ferry holds the object (no ferry marker). */
  holdAsOthers(name: string): void {
    const o = this.objects.get(name);
    if (!o) throw new Error(`no object ${name}`);
    this.objects.set(name, { ...o, temporaryHold: true, metageneration: (o.metageneration ?? 1) + 1 });
  }
  private async patchHold(name: string, change: HoldChange, at: { generation: string; metageneration: string }): Promise<HoldOutcome> {
    this.counters.requests++;
    this.maybeFail('hold');
    const o = this.objects.get(name);
    let outcome: HoldOutcome = 'conflict';
    if (o && o.generation === at.generation && String(o.metageneration ?? 1) === at.metageneration) {
      const metadata = { ...o.metadata };
      if (change.marker === null) delete metadata[HOLD_MARKER_KEY];
      else metadata[HOLD_MARKER_KEY] = change.marker;
      this.objects.set(name, { ...o, temporaryHold: change.hold, metadata, metageneration: (o.metageneration ?? 1) + 1 });
      outcome = 'done';
    }
    this.holdCalls.push({ name, ...change, outcome });
    return outcome;
  }
  private maybeFail(op: 'list' | 'read' | 'hold'): void {
    const i = this.failures.findIndex((f) => f.op === op);
    if (i < 0) return;
    const f = this.failures[i]!;
    if ((f.nth ?? 1) > 1) {
      f.nth = (f.nth ?? 1) - 1;
      return;
    }
    this.failures.splice(i, 1);
    throw f.error;
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    this.counters.requests++;
    this.maybeFail('list');
    return (
      [...this.objects.entries()]
        .filter(([n]) => n.startsWith(prefix))
        // Like GCS, every listed object has its CRC32C (and custom metadata when it was set).
        .map(([name, o]) => ({
          name,
          size: o.bytes.length,
          generation: o.generation,
          crc32c: crc32cBase64(o.bytes),
          ...(o.metadata && Object.keys(o.metadata).length ? { metadata: o.metadata } : {}),
          ...(this.setTemporaryHold ? { metageneration: String(o.metageneration ?? 1) } : {}),
          ...(o.temporaryHold ? { temporaryHold: true } : {}),
        }))
        .sort((a, b) => a.name.localeCompare(b.name))
    );
  }
  async read(name: string, start: number, endExclusive: number, generation?: string): Promise<Uint8Array> {
    this.counters.requests++;
    this.maybeFail('read');
    const o = this.objects.get(name);
    if (!o || (generation && generation !== o.generation)) throw new FerryError('OBJECT_NOT_FOUND', `${name}#${generation} not found`);
    const out = o.bytes.subarray(start, Math.min(endExclusive, o.bytes.length));
    this.counters.bytesRead += out.length;
    return out;
  }
  stats(): ReadStats {
    return { ...this.counters };
  }
}

export class MemoryCheckpointState implements CheckpointState {
  readonly models = new Map<string, ModelDoc>();
  readonly versions = new Map<string, VersionDoc>();
  readonly claims = new Map<string, ValidationClaim>();
  private vkey = (r: { model: string; version: string }) => `${r.model}/${r.version}`;
  private ckey = (r: VersionRef, k: string) => `${this.vkey(r)}/${k}`;
  private version(ref: VersionRef, now: string) {
    return this.versions.get(this.vkey(ref)) ?? newVersionDoc(ref.model, ref.version, ref.uri, now);
  }
  private model(m: string, now: string) {
    return this.models.get(m) ?? newModelDoc(m, now);
  }

  async recordIncomplete(ref: VersionRef, obs: { generation: string; missing: string[]; eventId: string; now: Date }) {
    const now = obs.now.toISOString();
    const next = applyIncomplete(this.version(ref, now), { ...obs, now });
    this.models.set(ref.model, this.model(ref.model, now));
    if (next) this.versions.set(this.vkey(ref), next);
  }
  async claimValidation(ref: VersionRef, run: Parameters<CheckpointState['claimValidation']>[1]) {
    const now = run.now.toISOString();
    const d = decideClaim(this.claims.get(this.ckey(ref, run.contentKey)), run);
    if (d.action === 'skip') return d;
    const started = applyValidationStart(this.version(ref, now), { ...run, now });
    if (!started) return { action: 'skip' as const, reason: 'ALREADY_VALIDATED' as const, claim: d.claim };
    this.models.set(ref.model, this.model(ref.model, now));
    this.claims.set(this.ckey(ref, run.contentKey), d.claim);
    this.versions.set(this.vkey(ref), started);
    return d;
  }
  async finishValidation(ref: VersionRef, o: Parameters<CheckpointState['finishValidation']>[1]) {
    const { doc, applied } = applyValidationResult(this.version(ref, o.now), o);
    const model = this.model(ref.model, o.now);
    const targets = applied && o.valid ? model.autodeploy.targets : [];
    this.versions.set(this.vkey(ref), doc);
    if (applied)
      this.models.set(
        ref.model,
        applyLatestValid(model, { version: ref.version, validatedAt: o.now, contentKey: o.contentKey, generation: o.generation }, o.valid),
      );
    const c = this.claims.get(this.ckey(ref, o.contentKey));
    if (c)
      this.claims.set(this.ckey(ref, o.contentKey), closeClaim(c, { applied, valid: o.valid, now: o.now, pending: targets, publishLeaseMs: o.publishLeaseMs }));
    return { applied, autodeploy: targets };
  }
  async releaseClaim(ref: VersionRef, contentKey: string, now: Date) {
    const c = this.claims.get(this.ckey(ref, contentKey));
    if (c?.state === 'running') this.claims.set(this.ckey(ref, contentKey), { ...c, leaseUntil: now.toISOString() });
  }
  async failValidation(ref: VersionRef, r: { contentKey: string; code: string; message: string; now: Date }) {
    const now = r.now.toISOString();
    const next = applyValidationError(this.version(ref, now), { ...r, now });
    if (next) this.versions.set(this.vkey(ref), next);
    const c = this.claims.get(this.ckey(ref, r.contentKey));
    if (c) this.claims.set(this.ckey(ref, r.contentKey), { ...c, state: 'done', finishedAt: now, outcome: 'error' });
  }
  async takePendingAutodeploy(ref: VersionRef, contentKey: string, req: { eventId: string; now: Date; leaseMs: number }) {
    const take = decideAutodeployTake(this.claims.get(this.ckey(ref, contentKey)), req);
    if (take.action === 'none') return { targets: [] };
    if (take.action === 'held') return { targets: [], held: { until: take.until, by: take.by } };
    this.claims.set(this.ckey(ref, contentKey), take.claim);
    const m = this.models.get(ref.model);
    return { targets: pendingTargets(m?.autodeploy.targets ?? [], take.pending) };
  }
  async autodeployPublished(ref: VersionRef, contentKey: string, targetKey: string) {
    const c = this.claims.get(this.ckey(ref, contentKey));
    if (c) this.claims.set(this.ckey(ref, contentKey), { ...c, autodeployPending: c.autodeployPending.filter((k) => k !== targetKey) });
  }
  async getClaim(ref: VersionRef, contentKey: string) {
    return this.claims.get(this.ckey(ref, contentKey));
  }
  async getModel(m: string) {
    return this.models.get(m);
  }
  async getVersion(m: string, v: string) {
    return this.versions.get(`${m}/${v}`);
  }
  async recordDrift(m: string, v: string, drift: NonNullable<VersionDoc['drift']> | null) {
    const doc = this.versions.get(`${m}/${v}`);
    if (doc) this.versions.set(`${m}/${v}`, { ...doc, drift });
  }
  async recordHolds(m: string, v: string, holds: VersionHolds | null, opts: { ifRolloutId?: string } = {}) {
    const doc = this.versions.get(`${m}/${v}`);
    if (!doc) return false;
    if (holds === null && opts.ifRolloutId !== undefined && doc.holds?.rolloutId !== opts.ifRolloutId) return false;
    this.versions.set(`${m}/${v}`, { ...doc, holds });
    return true;
  }
  async listHeldVersions() {
    return [...this.versions.values()].filter((v) => v.holds);
  }
  async listModels() {
    return [...this.models.values()];
  }
  async listVersions(m: string) {
    return [...this.versions.values()].filter((v) => v.model === m);
  }
  async getTensorBytes(refs: ReadonlyArray<{ model: string; version: string }>) {
    return refs.flatMap((r) => {
      const v = this.versions.get(this.vkey(r));
      return v ? [{ model: v.model, version: v.version, tensorBytes: v.summary?.tensorBytes ?? null }] : [];
    });
  }
  async listVersionBriefs() {
    return [...this.versions.values()].map((v) => VersionBrief.parse(v));
  }
  async listVersionsWithStatus(m: string, status: VersionDoc['status']) {
    return (await this.listVersions(m)).filter((v) => v.status === status);
  }
  async latestValidVersion(m: string) {
    return pickLatest((await this.listVersions(m)).filter((v) => v.status === 'valid'));
  }
  async setAutodeploy(m: string, targets: AutodeployTarget[], now: Date) {
    const next = { ...this.model(m, now.toISOString()), autodeploy: { targets } };
    this.models.set(m, next);
    return next;
  }
}

export class MemoryPublisher implements Publisher {
  readonly messages: Array<{ topic: string; data: unknown; attributes: Record<string, string> }> = [];
  failures: Error[] = [];
  /** When set, every publish waits for it: a test can act while a publish is in flight. */
  gate: Promise<void> | undefined;
  async publishJson(topic: string, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
    if (this.gate) await this.gate;
    const f = this.failures.shift();
    if (f) throw f;
    this.messages.push({ topic, data, attributes });
    return String(this.messages.length);
  }
}
