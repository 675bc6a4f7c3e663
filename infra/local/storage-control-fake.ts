/**
 * A stateful fake of the Anywhere Cache part of the Storage Control API (there is no emulator),
 * behind the same CacheControl port as the real adapter and held to the same contract suite
 * (test/contract/cache-control.contract.ts). Time comes from a Clock and is evaluated lazily at each
 * call, so tests can move a manual clock instead of sleeping. What it does, as the service does
 * (storage_control.proto `AnywhereCache`, `DisableAnywhereCache` in @google-cloud/storage-control;
 * cloud.google.com/storage/docs/anywhere-cache):
 *
 * - create → a long-running operation; the cache is CREATING, then RUNNING once `createDelayMs` has
 *   passed (the operation is then done with the cache as its result). A second create in the same
 *   zone fails with ALREADY_EXISTS (whatever the state, disabled included).
 * - the zone must be a zone name inside the bucket's location (shared/domain/cache.ts rules), else
 *   INVALID_ARGUMENT; a bucket without a known location does not exist (NOT_FOUND). TTL must be
 *   whole seconds in 1 h – 7 d, the admission policy one of the two known ones.
 * - update → an operation; `pendingUpdate` is true until `updateDelayMs` has passed, and another
 *   update meanwhile fails with FAILED_PRECONDITION. Only a RUNNING cache can be updated.
 * - disable → DISABLED at once (read-only: it serves what it holds, ingests nothing); resume within
 *   `disabledGraceMs` (1 h) brings it back to RUNNING; after that the cache is gone (NOT_FOUND) and
 *   the zone can get a new one. pause → PAUSED; resume → RUNNING.
 * - states are reported upper-case, as the JSON API does (the port compares them lowercased).
 *
 * Test hooks beyond the port: `setOptions`, `reset`, `stats`, `failNext`.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/ports/clock.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import type { CacheControl, CacheOperation, CacheSettings, CacheErrorCode } from '../../shared/ports/cache-control.ts';
import {
  bucketLocation,
  cacheResourceName,
  normalizeCacheState,
  zoneInBucketLocation,
  DEFAULT_ADMISSION_POLICY,
  DEFAULT_CACHE_TTL_SECONDS,
  DISABLED_GRACE_SECONDS,
  type BucketLocation,
  type LiveCache,
} from '../../shared/domain/cache.ts';
import { CACHE_ADMISSION_POLICIES } from '../../shared/domain/deploy-request.ts';
import { ZONE_RE } from '../../shared/domain/names.ts';
import { cacheError } from '../../shared/adapters/cache-errors.ts';

export interface FakeStorageControlOptions {
  clock?: Clock;
  /** CREATING → RUNNING after this long (default 1500 ms). */
  createDelayMs?: number;
  /** pendingUpdate clears after this long (default 1000 ms). */
  updateDelayMs?: number;
  /** A disabled cache can be resumed this long, then it is deleted (default 1 h). */
  disabledGraceMs?: number;
  /** Location of each known bucket (e.g. `US-CENTRAL1`, or a BucketLocation). */
  bucketLocations?: Record<string, string | BucketLocation>;
  /** Location of any other bucket; without it, other buckets do not exist. */
  defaultLocation?: string | BucketLocation;
}

type FakeState = 'CREATING' | 'RUNNING' | 'PAUSED' | 'DISABLED';
interface Entry {
  bucket: string;
  zone: string;
  state: FakeState;
  ttlSeconds: number;
  admissionPolicy: string;
  createTime: number;
  updateTime: number;
  readyAt: number;
  disabledAt: number | null;
  pending: { applyAt: number; ttlSeconds: number; admissionPolicy: string } | null;
}
interface Op {
  name: string;
  kind: 'create' | 'update';
  bucket: string;
  zone: string;
  doneAt: number;
}

export const FAKE_METHODS = ['get', 'list', 'create', 'update', 'resume', 'pause', 'disable', 'getOperation'] as const;
export type FakeMethod = (typeof FAKE_METHODS)[number];

const toLocation = (l: string | BucketLocation): BucketLocation => (typeof l === 'string' ? bucketLocation(l) : l);

export class FakeStorageControl implements CacheControl {
  private clock: Clock;
  private createDelayMs: number;
  private updateDelayMs: number;
  private graceMs: number;
  private readonly locations = new Map<string, BucketLocation>();
  private defaultLocation: BucketLocation | undefined;
  private readonly caches = new Map<string, Entry>();
  private readonly ops = new Map<string, Op>();
  private calls: Record<FakeMethod, number> = FakeStorageControl.zeroCalls();
  /** Injected failures: the next call of `method` throws `code` (then the entry is used up). */
  private failures: Array<{ method: FakeMethod; code: CacheErrorCode; message: string }> = [];

  constructor(opts: FakeStorageControlOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.createDelayMs = opts.createDelayMs ?? 1500;
    this.updateDelayMs = opts.updateDelayMs ?? 1000;
    this.graceMs = opts.disabledGraceMs ?? DISABLED_GRACE_SECONDS * 1000;
    for (const [b, l] of Object.entries(opts.bucketLocations ?? {})) this.locations.set(b, toLocation(l));
    this.defaultLocation = opts.defaultLocation ? toLocation(opts.defaultLocation) : undefined;
  }

  private static zeroCalls(): Record<FakeMethod, number> {
    return Object.fromEntries(FAKE_METHODS.map((m) => [m, 0])) as Record<FakeMethod, number>;
  }

  // ---- test hooks ------------------------------------------------------------------------------

  setOptions(o: { createDelayMs?: number; updateDelayMs?: number; disabledGraceMs?: number; bucketLocations?: Record<string, string | BucketLocation> }): void {
    if (o.createDelayMs !== undefined) this.createDelayMs = o.createDelayMs;
    if (o.updateDelayMs !== undefined) this.updateDelayMs = o.updateDelayMs;
    if (o.disabledGraceMs !== undefined) this.graceMs = o.disabledGraceMs;
    for (const [b, l] of Object.entries(o.bucketLocations ?? {})) this.locations.set(b, toLocation(l));
  }

  /** Forget every cache and operation (of one bucket, or all) and zero the call counts. */
  reset(bucket?: string): void {
    for (const [k, e] of [...this.caches]) if (!bucket || e.bucket === bucket) this.caches.delete(k);
    for (const [k, o] of [...this.ops]) if (!bucket || o.bucket === bucket) this.ops.delete(k);
    this.calls = FakeStorageControl.zeroCalls();
    this.failures = [];
  }

  stats(): { calls: Record<FakeMethod, number>; caches: number } {
    this.tick();
    return { calls: { ...this.calls }, caches: this.caches.size };
  }

  failNext(method: FakeMethod, code: CacheErrorCode, message = `injected ${code}`): void {
    this.failures.push({ method, code, message });
  }

  // ---- the port ----------------------------------------------------------------------------------

  async get(bucket: string, zone: string): Promise<LiveCache | null> {
    this.enter('get');
    this.bucket(bucket);
    const e = this.caches.get(key(bucket, zone));
    return e ? this.view(e) : null;
  }

  async list(bucket: string): Promise<LiveCache[]> {
    this.enter('list');
    this.bucket(bucket);
    return [...this.caches.values()]
      .filter((e) => e.bucket === bucket)
      .sort((a, b) => a.zone.localeCompare(b.zone))
      .map((e) => this.view(e));
  }

  async create(bucket: string, zone: string, settings: CacheSettings = {}): Promise<CacheOperation> {
    this.enter('create');
    const loc = this.bucket(bucket);
    if (!ZONE_RE.test(zone)) throw cacheError('CACHE_INVALID_ARGUMENT', `invalid zone ${JSON.stringify(zone)}`);
    const verdict = zoneInBucketLocation(zone, bucket, loc);
    if (verdict.ok === false) throw cacheError('CACHE_INVALID_ARGUMENT', verdict.reason);
    const ttl = this.ttl(settings.ttlSeconds) ?? DEFAULT_CACHE_TTL_SECONDS;
    const policy = this.policy(settings.admissionPolicy) ?? DEFAULT_ADMISSION_POLICY;
    if (this.caches.has(key(bucket, zone))) {
      throw cacheError('CACHE_ALREADY_EXISTS', `${cacheResourceName(bucket, zone)} already exists`);
    }
    const now = this.now();
    this.caches.set(key(bucket, zone), {
      bucket,
      zone,
      state: 'CREATING',
      ttlSeconds: ttl,
      admissionPolicy: policy,
      createTime: now,
      updateTime: now,
      readyAt: now + this.createDelayMs,
      disabledAt: null,
      pending: null,
    });
    const op = this.newOp('create', bucket, zone, now + this.createDelayMs);
    return this.opView(op);
  }

  async update(bucket: string, zone: string, settings: CacheSettings): Promise<CacheOperation> {
    this.enter('update');
    this.bucket(bucket);
    const e = this.entry(bucket, zone);
    const ttl = this.ttl(settings.ttlSeconds);
    const policy = this.policy(settings.admissionPolicy);
    if (ttl === undefined && policy === undefined) throw cacheError('CACHE_INVALID_ARGUMENT', 'update: nothing to change (give ttl and/or admission policy)');
    if (e.pending) throw cacheError('CACHE_FAILED_PRECONDITION', `${cacheResourceName(bucket, zone)} has a pending update; try again when it is done`);
    if (e.state !== 'RUNNING')
      throw cacheError('CACHE_FAILED_PRECONDITION', `${cacheResourceName(bucket, zone)} is ${e.state}; only a RUNNING cache can be updated`);
    const now = this.now();
    e.pending = { applyAt: now + this.updateDelayMs, ttlSeconds: ttl ?? e.ttlSeconds, admissionPolicy: policy ?? e.admissionPolicy };
    e.updateTime = now;
    return this.opView(this.newOp('update', bucket, zone, now + this.updateDelayMs));
  }

  async resume(bucket: string, zone: string): Promise<LiveCache> {
    this.enter('resume');
    this.bucket(bucket);
    const e = this.entry(bucket, zone);
    if (e.state !== 'PAUSED' && e.state !== 'DISABLED') {
      throw cacheError('CACHE_FAILED_PRECONDITION', `${cacheResourceName(bucket, zone)} is ${e.state}; only a paused or disabled cache can be resumed`);
    }
    e.state = 'RUNNING';
    e.disabledAt = null;
    e.updateTime = this.now();
    return this.view(e);
  }

  async pause(bucket: string, zone: string): Promise<LiveCache> {
    this.enter('pause');
    this.bucket(bucket);
    const e = this.entry(bucket, zone);
    if (e.state !== 'RUNNING')
      throw cacheError('CACHE_FAILED_PRECONDITION', `${cacheResourceName(bucket, zone)} is ${e.state}; only a RUNNING cache can be paused`);
    e.state = 'PAUSED';
    e.updateTime = this.now();
    return this.view(e);
  }

  async disable(bucket: string, zone: string): Promise<LiveCache> {
    this.enter('disable');
    this.bucket(bucket);
    const e = this.entry(bucket, zone);
    if (e.state !== 'RUNNING' && e.state !== 'PAUSED') {
      throw cacheError('CACHE_FAILED_PRECONDITION', `${cacheResourceName(bucket, zone)} is ${e.state}; only a running or paused cache can be disabled`);
    }
    const now = this.now();
    e.state = 'DISABLED';
    e.disabledAt = now;
    e.pending = null;
    e.updateTime = now;
    return this.view(e);
  }

  async getOperation(name: string, kind: 'create' | 'update'): Promise<CacheOperation> {
    this.enter('getOperation');
    const op = this.ops.get(name);
    if (!op || op.kind !== kind) throw cacheError('CACHE_NOT_FOUND', `operation ${name} not found`);
    return this.opView(op);
  }

  // ---- internals -----------------------------------------------------------------------------------

  private now(): number {
    return this.clock.now().getTime();
  }

  /** Counts the call, lets time act, and throws an injected failure if one is due. */
  private enter(method: FakeMethod): void {
    this.calls[method] += 1;
    this.tick();
    const i = this.failures.findIndex((f) => f.method === method);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw cacheError(f!.code, f!.message);
    }
  }

  /** Time-driven transitions, evaluated lazily. */
  private tick(): void {
    const now = this.now();
    for (const [k, e] of this.caches) {
      if (e.state === 'CREATING' && now >= e.readyAt) {
        e.state = 'RUNNING';
        e.updateTime = e.readyAt;
      }
      if (e.pending && now >= e.pending.applyAt) {
        e.ttlSeconds = e.pending.ttlSeconds;
        e.admissionPolicy = e.pending.admissionPolicy;
        e.updateTime = e.pending.applyAt;
        e.pending = null;
      }
      if (e.state === 'DISABLED' && e.disabledAt !== null && now >= e.disabledAt + this.graceMs) this.caches.delete(k);
    }
  }

  private bucket(bucket: string): BucketLocation {
    const loc = this.locations.get(bucket) ?? this.defaultLocation;
    if (!loc) throw cacheError('CACHE_NOT_FOUND', `bucket ${bucket} not found`);
    return loc;
  }

  private entry(bucket: string, zone: string): Entry {
    const e = this.caches.get(key(bucket, zone));
    if (!e) throw cacheError('CACHE_NOT_FOUND', `${cacheResourceName(bucket, zone)} not found`);
    return e;
  }

  private ttl(v: number | undefined): number | undefined {
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < 3600 || v > 7 * 86_400)
      throw cacheError('CACHE_INVALID_ARGUMENT', `ttl must be whole seconds between 1 h and 7 d, got ${v}`);
    return v;
  }

  private policy(v: string | undefined): string | undefined {
    if (v === undefined) return undefined;
    if (!(CACHE_ADMISSION_POLICIES as readonly string[]).includes(v))
      throw cacheError('CACHE_INVALID_ARGUMENT', `unknown admission policy ${JSON.stringify(v)}`);
    return v;
  }

  private newOp(kind: Op['kind'], bucket: string, zone: string, doneAt: number): Op {
    const op: Op = { name: `projects/_/buckets/${bucket}/operations/${randomBytes(8).toString('hex')}`, kind, bucket, zone, doneAt };
    this.ops.set(op.name, op);
    return op;
  }

  private opView(op: Op): CacheOperation {
    const done = this.now() >= op.doneAt;
    if (!done) return { name: op.name, kind: op.kind, done: false };
    const e = this.caches.get(key(op.bucket, op.zone));
    if (!e)
      return {
        name: op.name,
        kind: op.kind,
        done: true,
        error: { code: 'CACHE_NOT_FOUND', message: `${cacheResourceName(op.bucket, op.zone)} no longer exists` },
      };
    return { name: op.name, kind: op.kind, done: true, cache: this.view(e) };
  }

  private view(e: Entry): LiveCache {
    return {
      name: cacheResourceName(e.bucket, e.zone),
      bucket: e.bucket,
      zone: e.zone,
      state: normalizeCacheState(e.state),
      rawState: e.state,
      ttlSeconds: e.ttlSeconds,
      admissionPolicy: e.admissionPolicy,
      pendingUpdate: e.pending !== null,
      createTime: new Date(e.createTime).toISOString(),
      updateTime: new Date(e.updateTime).toISOString(),
    };
  }
}

const key = (bucket: string, zone: string): string => `${bucket}/${zone}`;
