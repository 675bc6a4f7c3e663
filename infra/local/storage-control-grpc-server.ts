/**
 * A local Storage Control server (Anywhere Cache part) that speaks Google's wire protocol, so the
 * production adapter (shared/adapters/storage-control.ts) runs its real `@google-cloud/storage-control`
 * client against it. There is no emulator for Storage Control.
 *
 * Why gRPC and not REST: the Anywhere Cache RPCs of `google.storage.control.v2.StorageControl`
 * carry no `google.api.http` annotation (storage_control.proto #L185-270 in
 * @google-cloud/storage-control 0.8.2: only routing and method_signature options; the
 * IntelligenceConfig RPCs #L274-325 are the ones with HTTP rules). The client's REST ("fallback")
 * transport transcodes by those rules and refuses every Anywhere Cache call before any I/O
 * ("Cannot build HTTP request … method: GetAnywhereCache"; test/unit/adapters/storage-control-wire.test.ts
 * holds that fact). So this server speaks the API's only wire protocol, gRPC, over plaintext HTTP/2;
 * `FERRY_STORAGE_CONTROL_API_ENDPOINT=http://127.0.0.1:PORT` points the client at it with insecure
 * channel credentials and no Google credentials.
 *
 * The service definition is loaded from the protos the npm package ships (build/protos/protos.json,
 * the same descriptors the client encodes with), so requests and responses are encoded by the
 * proto and cannot drift in shape. The behaviour follows the proto's comments:
 *  - AnywhereCache (#L959-1004): name `projects/{project}/buckets/{bucket}/anywhereCaches/{id}`, the
 *    id is the zone (ferry's rule, S1); `ttl` 1 h – 7 d, whole seconds, default 24 h (#L976-980);
 *    `admission_policy` `admit-on-first-miss` (default) | `admit-on-second-miss` (#L982-986); `state`
 *    RUNNING, CREATING, DISABLED, PAUSED (#L988); `pending_update` rejects further updates (#L1000-1003).
 *  - Create/Update return a google.longrunning.Operation (#L184-212) whose `metadata` is an Any of
 *    Create/UpdateAnywhereCacheMetadata (#L912-957) and whose `response` is an Any of AnywhereCache;
 *    they take time (createDelayMs / updateDelayMs) and can fail (`failNextOperation`). Operations are
 *    polled with google.longrunning.Operations.GetOperation on the same server.
 *  - Disable, Pause, Resume answer at once (#L214-248); a cache disabled for an hour is deleted;
 *    Resume reverts DISABLED or PAUSED. One cache per zone per bucket (ALREADY_EXISTS); a zone
 *    outside the bucket's location is INVALID_ARGUMENT (shared/domain/cache.ts rules, M9).
 *  - Errors are gRPC statuses (code + message), which the client raises as GoogleError with `code`.
 *
 * Time comes from a Clock evaluated lazily at each call, so tests move a manual clock.
 * Test hooks (in process: `server.admin`; across processes: the loopback HTTP admin on `adminHost`,
 * client `storageControlAdmin(adminHost)`): reset, setOptions, failNext, failNextOperation, stats.
 * Simulation plumbing on the same admin (`/admin/cache-reads`, `recordReads`): the serving stand-in
 * (./vllm-sim/) reports the objects a pod in a zone read, and the cache of that zone answers which
 * came from it and ingests misses by its admission policy (./vllm-sim/time-model.ts). Real GCS does
 * this inside the service; the contents live here, with the cache (docs/serving-sim.md "Time").
 *
 * Alone: ./node_modules/.bin/node infra/local/storage-control-grpc-server.ts [--port N] [--location US-CENTRAL1]
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as GrpcJs from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import type * as ProtobufJs from 'protobufjs';
import type { Clock } from '../../shared/ports/clock.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import type { CacheErrorCode } from '../../shared/ports/cache-control.ts';
import { isCacheErrorCode } from '../../shared/adapters/cache-errors.ts';
import {
  bucketLocation,
  zoneInBucketLocation,
  DEFAULT_ADMISSION_POLICY,
  DEFAULT_CACHE_TTL_SECONDS,
  DISABLED_GRACE_SECONDS,
  type BucketLocation,
} from '../../shared/domain/cache.ts';
import { CACHE_ADMISSION_POLICIES } from '../../shared/domain/deploy-request.ts';
import { CacheContents, type ObjectRead, type ReadOutcome } from './vllm-sim/time-model.ts';
import { ZONE_RE } from '../../shared/domain/names.ts';
import { startLoopbackServer, runAlone, bodyText, type JsonAnswer, type LoopbackServer } from './loopback-server.ts';
import { loopbackJson } from '../../shared/adapters/loopback-json.ts';

// The grpc-js, proto-loader and protobufjs the client library itself resolves (no second copy).
const requireFromClient = createRequire(createRequire(import.meta.url).resolve('@google-cloud/storage-control'));
const grpc = requireFromClient('@grpc/grpc-js') as typeof GrpcJs;
const requireFromGax = createRequire(requireFromClient.resolve('google-gax'));
const protoLoader = requireFromGax('@grpc/proto-loader') as typeof ProtoLoader;
const protobuf = requireFromGax('protobufjs') as typeof ProtobufJs;
/** The descriptors @google-cloud/storage-control encodes with (build/protos/protos.json). */
export const STORAGE_CONTROL_PROTOS = requireFromClient('../protos/protos.json') as ProtobufJs.INamespace;

const V2 = 'google.storage.control.v2';
const root = protobuf.Root.fromJSON(STORAGE_CONTROL_PROTOS);
const typeUrl = (t: string) => `type.googleapis.com/${t}`;
const anyOf = (type: string, value: object) => ({
  typeUrl: typeUrl(type),
  value: Buffer.from(root.lookupType(type).encode(root.lookupType(type).fromObject(value)).finish()),
});

export const ADMIN_METHODS = ['get', 'list', 'create', 'update', 'resume', 'pause', 'disable', 'getOperation'] as const;
export type AdminMethod = (typeof ADMIN_METHODS)[number];

/** CACHE_* (the port's codes) → the gRPC status the real API would send (inverse of cacheCodeOfGrpc). */
const STATUS_OF: Record<CacheErrorCode, GrpcJs.status> = {
  CACHE_ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  CACHE_NOT_FOUND: grpc.status.NOT_FOUND,
  CACHE_INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  CACHE_FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  CACHE_FORBIDDEN: grpc.status.PERMISSION_DENIED,
  CACHE_UNAVAILABLE: grpc.status.UNAVAILABLE,
  CACHE_ERROR: grpc.status.UNKNOWN,
};

class ApiError extends Error {
  readonly status: GrpcJs.status;
  constructor(status: GrpcJs.status, message: string) {
    super(message);
    this.status = status;
  }
}

export interface StorageControlServerOptions {
  clock?: Clock;
  /** CREATING → RUNNING (and the create operation done) after this long (default 1500 ms). */
  createDelayMs?: number;
  /** pending_update clears (and the update operation is done) after this long (default 1000 ms). */
  updateDelayMs?: number;
  /** A disabled cache can be resumed this long, then it is deleted (default 1 h). */
  disabledGraceMs?: number;
  /** Location of each known bucket (`US-CENTRAL1`, `NAM4`, `US`, or a BucketLocation). */
  bucketLocations?: Record<string, string | BucketLocation>;
  /** Location of any other bucket; without it, other buckets do not exist (NOT_FOUND). */
  defaultLocation?: string | BucketLocation;
}

type State = 'CREATING' | 'RUNNING' | 'PAUSED' | 'DISABLED';
interface Entry {
  bucket: string;
  zone: string;
  state: State;
  ttlSeconds: number;
  admissionPolicy: string;
  createTime: number;
  updateTime: number;
  readyAt: number;
  disabledAt: number | null;
  pending: { applyAt: number; ttlSeconds: number; admissionPolicy: string } | null;
  /** What the cache holds (filled on read; simulation plumbing, see recordReads). */
  contents: CacheContents;
}
interface Op {
  name: string;
  kind: 'create' | 'update';
  bucket: string;
  zone: string;
  createTime: number;
  doneAt: number;
  settings: { ttlSeconds: number; admissionPolicy: string };
  /** Set when the operation is to end in failure (the cache is then removed, for a create). */
  failure: { status: GrpcJs.status; message: string } | null;
}

const toLocation = (l: string | BucketLocation): BucketLocation => (typeof l === 'string' ? bucketLocation(l) : l);
const key = (bucket: string, zone: string): string => `${bucket}/${zone}`;
const timestamp = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
const NAME_RE = /^projects\/([^/]+)\/buckets\/([^/]+)\/anywhereCaches\/([^/]+)$/;
const PARENT_RE = /^projects\/([^/]+)\/buckets\/([^/]+)$/;
const OP_RE = /^projects\/([^/]+)\/buckets\/([^/]+)\/operations\/([^/]+)$/;

/** The Anywhere Cache state machine behind the gRPC service (and its test hooks). */
export class AnywhereCacheModel {
  private clock: Clock;
  private createDelayMs: number;
  private updateDelayMs: number;
  private graceMs: number;
  private readonly locations = new Map<string, BucketLocation>();
  private readonly defaultLocation: BucketLocation | undefined;
  private readonly caches = new Map<string, Entry>();
  private readonly ops = new Map<string, Op>();
  private calls: Record<AdminMethod, number> = AnywhereCacheModel.zero();
  private failures: Array<{ method: AdminMethod; code: CacheErrorCode; message: string }> = [];
  private opFailures: Array<{ code: CacheErrorCode; message: string }> = [];

  constructor(opts: StorageControlServerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.createDelayMs = opts.createDelayMs ?? 1500;
    this.updateDelayMs = opts.updateDelayMs ?? 1000;
    this.graceMs = opts.disabledGraceMs ?? DISABLED_GRACE_SECONDS * 1000;
    for (const [b, l] of Object.entries(opts.bucketLocations ?? {})) this.locations.set(b, toLocation(l));
    this.defaultLocation = opts.defaultLocation ? toLocation(opts.defaultLocation) : undefined;
  }

  private static zero(): Record<AdminMethod, number> {
    return Object.fromEntries(ADMIN_METHODS.map((m) => [m, 0])) as Record<AdminMethod, number>;
  }

  // ---- test hooks ------------------------------------------------------------------------------

  setOptions(o: {
    createDelayMs?: number;
    updateDelayMs?: number;
    disabledGraceMs?: number;
    bucketLocations?: Record<string, string | BucketLocation>;
    /** In process only (tests that move a manual clock). */
    clock?: Clock;
  }): void {
    if (o.clock) this.clock = o.clock;
    if (o.createDelayMs !== undefined) this.createDelayMs = o.createDelayMs;
    if (o.updateDelayMs !== undefined) this.updateDelayMs = o.updateDelayMs;
    if (o.disabledGraceMs !== undefined) this.graceMs = o.disabledGraceMs;
    for (const [b, l] of Object.entries(o.bucketLocations ?? {})) this.locations.set(b, toLocation(l));
  }
  reset(bucket?: string): void {
    for (const [k, e] of [...this.caches]) if (!bucket || e.bucket === bucket) this.caches.delete(k);
    for (const [k, o] of [...this.ops]) if (!bucket || o.bucket === bucket) this.ops.delete(k);
    this.calls = AnywhereCacheModel.zero();
    this.failures = [];
    this.opFailures = [];
  }
  stats(): { calls: Record<AdminMethod, number>; caches: number } {
    this.tick();
    return { calls: { ...this.calls }, caches: this.caches.size };
  }
  /** The next call of `method` fails with the gRPC status of `code`. */
  failNext(method: AdminMethod, code: CacheErrorCode, message = `injected ${code}`): void {
    this.failures.push({ method, code, message });
  }
  /** The next create or update operation ends done with this error (a failed create leaves no cache). */
  failNextOperation(code: CacheErrorCode, message = `injected operation failure ${code}`): void {
    this.opFailures.push({ code, message });
  }

  // ---- RPCs (request/response objects as the proto's camelCase JSON-ish objects) ------------------

  getAnywhereCache(req: { name?: string }): object {
    this.enter('get');
    const { bucket, zone } = this.parseName(req.name);
    return this.view(this.entry(bucket, zone));
  }

  listAnywhereCaches(req: { parent?: string; pageSize?: number; pageToken?: string }): object {
    this.enter('list');
    const bucket = this.parseParent(req.parent);
    const all = [...this.caches.values()].filter((e) => e.bucket === bucket).sort((a, b) => a.zone.localeCompare(b.zone));
    const size = req.pageSize && req.pageSize > 0 ? req.pageSize : 1000;
    const start = req.pageToken ? Number(Buffer.from(req.pageToken, 'base64url').toString()) : 0;
    if (!Number.isInteger(start) || start < 0) throw new ApiError(grpc.status.INVALID_ARGUMENT, 'invalid page_token');
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? Buffer.from(String(start + size)).toString('base64url') : '';
    return { anywhereCaches: page.map((e) => this.view(e)), nextPageToken: next };
  }

  createAnywhereCache(req: {
    parent?: string;
    anywhereCache?: { zone?: string; ttl?: { seconds?: string; nanos?: number }; admissionPolicy?: string };
  }): object {
    this.enter('create');
    const bucket = this.parseParent(req.parent);
    const loc = this.bucket(bucket);
    const c = req.anywhereCache ?? {};
    const zone = c.zone ?? '';
    if (!ZONE_RE.test(zone)) throw new ApiError(grpc.status.INVALID_ARGUMENT, `anywhere_cache.zone: invalid zone ${JSON.stringify(zone)}`);
    const verdict = zoneInBucketLocation(zone, bucket, loc);
    if (verdict.ok === false) throw new ApiError(grpc.status.INVALID_ARGUMENT, verdict.reason);
    const ttl = this.ttl(c.ttl) ?? DEFAULT_CACHE_TTL_SECONDS;
    const policy = this.policy(c.admissionPolicy) ?? DEFAULT_ADMISSION_POLICY;
    if (this.caches.has(key(bucket, zone)))
      throw new ApiError(grpc.status.ALREADY_EXISTS, `projects/_/buckets/${bucket}/anywhereCaches/${zone} already exists`);
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
      contents: new CacheContents(),
    });
    return this.opView(this.newOp('create', bucket, zone, now, { ttlSeconds: ttl, admissionPolicy: policy }));
  }

  updateAnywhereCache(req: {
    anywhereCache?: { name?: string; ttl?: { seconds?: string; nanos?: number }; admissionPolicy?: string };
    updateMask?: { paths?: string[] };
  }): object {
    this.enter('update');
    const { bucket, zone } = this.parseName(req.anywhereCache?.name);
    const e = this.entry(bucket, zone);
    const paths = req.updateMask?.paths ?? [];
    const unknown = paths.filter((p) => p !== 'ttl' && p !== 'admission_policy');
    if (paths.length === 0 || unknown.length > 0)
      throw new ApiError(
        grpc.status.INVALID_ARGUMENT,
        `update_mask must name ttl and/or admission_policy${unknown.length ? `, not ${unknown.join(', ')}` : ''}`,
      );
    const ttl = paths.includes('ttl') ? (this.ttl(req.anywhereCache?.ttl) ?? DEFAULT_CACHE_TTL_SECONDS) : undefined;
    const policy = paths.includes('admission_policy') ? (this.policy(req.anywhereCache?.admissionPolicy) ?? DEFAULT_ADMISSION_POLICY) : undefined;
    if (e.pending) throw new ApiError(grpc.status.FAILED_PRECONDITION, `${this.nameOf(e)} has a pending update`);
    if (e.state !== 'RUNNING') throw new ApiError(grpc.status.FAILED_PRECONDITION, `${this.nameOf(e)} is ${e.state}; only a RUNNING cache can be updated`);
    const now = this.now();
    const settings = { ttlSeconds: ttl ?? e.ttlSeconds, admissionPolicy: policy ?? e.admissionPolicy };
    e.pending = { applyAt: now + this.updateDelayMs, ...settings };
    e.updateTime = now;
    return this.opView(this.newOp('update', bucket, zone, now, settings));
  }

  resumeAnywhereCache(req: { name?: string }): object {
    this.enter('resume');
    const e = this.entry(...this.bz(req.name));
    if (e.state !== 'PAUSED' && e.state !== 'DISABLED')
      throw new ApiError(grpc.status.FAILED_PRECONDITION, `${this.nameOf(e)} is ${e.state}; only a paused or disabled cache can be resumed`);
    e.state = 'RUNNING';
    e.disabledAt = null;
    e.updateTime = this.now();
    return this.view(e);
  }

  pauseAnywhereCache(req: { name?: string }): object {
    this.enter('pause');
    const e = this.entry(...this.bz(req.name));
    if (e.state !== 'RUNNING') throw new ApiError(grpc.status.FAILED_PRECONDITION, `${this.nameOf(e)} is ${e.state}; only a RUNNING cache can be paused`);
    e.state = 'PAUSED';
    e.updateTime = this.now();
    return this.view(e);
  }

  disableAnywhereCache(req: { name?: string }): object {
    this.enter('disable');
    const e = this.entry(...this.bz(req.name));
    if (e.state !== 'RUNNING' && e.state !== 'PAUSED')
      throw new ApiError(grpc.status.FAILED_PRECONDITION, `${this.nameOf(e)} is ${e.state}; only a running or paused cache can be disabled`);
    const now = this.now();
    e.state = 'DISABLED';
    e.disabledAt = now;
    e.pending = null;
    e.updateTime = now;
    return this.view(e);
  }

  /**
   * Simulation plumbing, not an API of Google's (docs/serving-sim.md "Time"): the serving stand-in
   * reads the bytes from the Storage emulator and reports here, per object, the reads a client in
   * `zone` made. Real GCS serves and fills the cache inside the service; here the cache's contents
   * live in this server with the cache they belong to (created, deleted, reset with it). A cache
   * serves and ingests only while RUNNING; otherwise every read is the bucket's.
   */
  recordReads(bucket: string, zone: string, objects: readonly ObjectRead[]): { state: string | null; reads: ReadOutcome[]; storedBytes: number } {
    this.tick();
    const e = this.caches.get(key(bucket, zone));
    const now = this.now();
    if (!e || e.state !== 'RUNNING') {
      return {
        state: e?.state ?? null,
        reads: objects.map((o) => ({ name: o.name, bytes: o.bytes, source: 'bucket', ingested: false })),
        storedBytes: e ? e.contents.storedBytes(now, e.ttlSeconds) : 0,
      };
    }
    const reads = objects.map((o) => e.contents.read(o, e.admissionPolicy, now, e.ttlSeconds));
    return { state: e.state, reads, storedBytes: e.contents.storedBytes(now, e.ttlSeconds) };
  }

  getOperation(req: { name?: string }): object {
    this.enter('getOperation');
    const name = req.name ?? '';
    if (!OP_RE.test(name))
      throw new ApiError(grpc.status.INVALID_ARGUMENT, `name must be projects/{project}/buckets/{bucket}/operations/{id}, got ${JSON.stringify(name)}`);
    const op = this.ops.get(name.replace(OP_RE, 'projects/_/buckets/$2/operations/$3'));
    if (!op) throw new ApiError(grpc.status.NOT_FOUND, `operation ${name} not found`);
    return this.opView(op);
  }

  // ---- internals -----------------------------------------------------------------------------------

  private now(): number {
    return this.clock.now().getTime();
  }

  private enter(method: AdminMethod): void {
    this.calls[method] += 1;
    this.tick();
    const i = this.failures.findIndex((f) => f.method === method);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw new ApiError(STATUS_OF[f!.code], f!.message);
    }
  }

  private tick(): void {
    const now = this.now();
    for (const op of this.ops.values()) {
      if (op.failure && now >= op.doneAt && op.kind === 'create') {
        const e = this.caches.get(key(op.bucket, op.zone));
        if (e && e.state === 'CREATING' && e.createTime === op.createTime) this.caches.delete(key(op.bucket, op.zone));
      }
    }
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

  private parseName(name: string | undefined): { bucket: string; zone: string } {
    const m = NAME_RE.exec(name ?? '');
    if (!m)
      throw new ApiError(
        grpc.status.INVALID_ARGUMENT,
        `name must be projects/{project}/buckets/{bucket}/anywhereCaches/{anywhere_cache}, got ${JSON.stringify(name ?? '')}`,
      );
    return { bucket: m[2]!, zone: m[3]! };
  }
  private bz(name: string | undefined): [string, string] {
    const { bucket, zone } = this.parseName(name);
    this.bucket(bucket);
    return [bucket, zone];
  }
  private parseParent(parent: string | undefined): string {
    const m = PARENT_RE.exec(parent ?? '');
    if (!m) throw new ApiError(grpc.status.INVALID_ARGUMENT, `parent must be projects/{project}/buckets/{bucket}, got ${JSON.stringify(parent ?? '')}`);
    return m[2]!;
  }
  private bucket(bucket: string): BucketLocation {
    const loc = this.locations.get(bucket) ?? this.defaultLocation;
    if (!loc) throw new ApiError(grpc.status.NOT_FOUND, `bucket ${bucket} not found`);
    return loc;
  }
  private entry(bucket: string, zone: string): Entry {
    this.bucket(bucket);
    const e = this.caches.get(key(bucket, zone));
    if (!e) throw new ApiError(grpc.status.NOT_FOUND, `projects/_/buckets/${bucket}/anywhereCaches/${zone} not found`);
    return e;
  }
  private nameOf(e: Entry): string {
    return `projects/_/buckets/${e.bucket}/anywhereCaches/${e.zone}`;
  }
  /** storage_control.proto #L976-980: 1 h – 7 d, whole seconds. */
  private ttl(d: { seconds?: string; nanos?: number } | undefined): number | undefined {
    if (!d) return undefined;
    const s = Number(d.seconds ?? 0);
    if ((d.nanos ?? 0) !== 0 || !Number.isInteger(s) || s < 3600 || s > 7 * 86_400)
      throw new ApiError(grpc.status.INVALID_ARGUMENT, `ttl must be whole seconds between 1h and 7d, got ${s}s${d.nanos ? ` + ${d.nanos}ns` : ''}`);
    return s;
  }
  /** storage_control.proto #L982-986. */
  private policy(v: string | undefined): string | undefined {
    if (v === undefined || v === '') return undefined;
    if (!(CACHE_ADMISSION_POLICIES as readonly string[]).includes(v))
      throw new ApiError(grpc.status.INVALID_ARGUMENT, `unknown admission_policy ${JSON.stringify(v)}`);
    return v;
  }
  private newOp(kind: Op['kind'], bucket: string, zone: string, now: number, settings: Op['settings']): Op {
    const f = this.opFailures.shift();
    const op: Op = {
      name: `projects/_/buckets/${bucket}/operations/${randomBytes(8).toString('hex')}`,
      kind,
      bucket,
      zone,
      createTime: now,
      doneAt: now + (kind === 'create' ? this.createDelayMs : this.updateDelayMs),
      settings,
      failure: f ? { status: STATUS_OF[f.code], message: f.message } : null,
    };
    this.ops.set(op.name, op);
    if (op.failure && kind === 'update') {
      const e = this.caches.get(key(bucket, zone));
      if (e) e.pending = null; // a failed update changes nothing
    }
    return op;
  }
  /** google.longrunning.Operation with Any metadata / response (storage_control.proto #L184-212, #L912-957). */
  private opView(op: Op): object {
    const now = this.now();
    const done = now >= op.doneAt;
    const metadataType = `${V2}.${op.kind === 'create' ? 'Create' : 'Update'}AnywhereCacheMetadata`;
    const metadata = anyOf(metadataType, {
      commonMetadata: {
        createTime: timestamp(op.createTime),
        updateTime: timestamp(Math.min(now, op.doneAt)),
        ...(done ? { endTime: timestamp(op.doneAt) } : {}),
        type: op.kind === 'create' ? 'create-anywhere-cache' : 'update-anywhere-cache',
        progressPercent: done ? 100 : 0,
      },
      anywhereCacheId: op.zone,
      zone: op.zone,
      ttl: { seconds: String(op.settings.ttlSeconds) },
      admissionPolicy: op.settings.admissionPolicy,
    });
    if (!done) return { name: op.name, metadata, done: false };
    if (op.failure) return { name: op.name, metadata, done: true, error: { code: op.failure.status, message: op.failure.message, details: [] } };
    const e = this.caches.get(key(op.bucket, op.zone));
    if (!e)
      return { name: op.name, metadata, done: true, error: { code: grpc.status.NOT_FOUND, message: `${op.zone}: the cache no longer exists`, details: [] } };
    return { name: op.name, metadata, done: true, response: anyOf(`${V2}.AnywhereCache`, this.view(e)) };
  }
  /** AnywhereCache (storage_control.proto #L959-1004). */
  private view(e: Entry): object {
    return {
      name: this.nameOf(e),
      zone: e.zone,
      ttl: { seconds: String(e.ttlSeconds), nanos: 0 },
      admissionPolicy: e.admissionPolicy,
      state: e.state,
      createTime: timestamp(e.createTime),
      updateTime: timestamp(e.updateTime),
      pendingUpdate: e.pending !== null,
    };
  }
}

// ---- the gRPC server ---------------------------------------------------------------------------------

export interface StorageControlGrpcServer {
  /** `http://127.0.0.1:PORT`, the value of FERRY_STORAGE_CONTROL_API_ENDPOINT. */
  endpoint: string;
  /** `127.0.0.1:PORT` of the loopback HTTP admin (test hooks across processes). */
  adminHost: string;
  admin: AnywhereCacheModel;
  stop(): Promise<void>;
}

type Handler = (call: { request: Record<string, unknown> }, cb: (err: GrpcJs.ServiceError | null, value?: unknown) => void) => void;
const unary =
  (fn: (req: never) => object): Handler =>
  (call, cb) => {
    try {
      cb(null, fn(call.request as never));
    } catch (e) {
      const status = e instanceof ApiError ? e.status : grpc.status.INTERNAL;
      cb(
        Object.assign(new Error(e instanceof Error ? e.message : String(e)), {
          code: status,
          details: e instanceof Error ? e.message : String(e),
          metadata: new grpc.Metadata(),
        }),
      );
    }
  };

/** The gRPC service definitions of the package's protos (proto-loader over protos.json). */
function services() {
  const def = protoLoader.fromJSON(STORAGE_CONTROL_PROTOS, { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    google: { storage: { control: { v2: { StorageControl: GrpcJs.ServiceClientConstructor } } }; longrunning: { Operations: GrpcJs.ServiceClientConstructor } };
  };
  return { control: pkg.google.storage.control.v2.StorageControl.service, operations: pkg.google.longrunning.Operations.service };
}

export async function startStorageControlGrpcServer(
  opts: StorageControlServerOptions & { port?: number; adminPort?: number } = {},
): Promise<StorageControlGrpcServer> {
  const model = new AnywhereCacheModel(opts);
  const server = new grpc.Server();
  const { control, operations } = services();
  const unimplemented: Handler = (_call, cb) =>
    cb(
      Object.assign(new Error('not implemented by the local server'), {
        code: grpc.status.UNIMPLEMENTED,
        details: 'not implemented by the local server',
        metadata: new grpc.Metadata(),
      }),
    );
  const controlImpl: Record<string, Handler> = Object.fromEntries(Object.keys(control).map((m) => [m, unimplemented]));
  Object.assign(controlImpl, {
    CreateAnywhereCache: unary((r) => model.createAnywhereCache(r)),
    UpdateAnywhereCache: unary((r) => model.updateAnywhereCache(r)),
    DisableAnywhereCache: unary((r) => model.disableAnywhereCache(r)),
    PauseAnywhereCache: unary((r) => model.pauseAnywhereCache(r)),
    ResumeAnywhereCache: unary((r) => model.resumeAnywhereCache(r)),
    GetAnywhereCache: unary((r) => model.getAnywhereCache(r)),
    ListAnywhereCaches: unary((r) => model.listAnywhereCaches(r)),
  });
  const opsImpl: Record<string, Handler> = Object.fromEntries(Object.keys(operations).map((m) => [m, unimplemented]));
  opsImpl['GetOperation'] = unary((r) => model.getOperation(r));
  server.addService(control, controlImpl as unknown as GrpcJs.UntypedServiceImplementation);
  server.addService(operations, opsImpl as unknown as GrpcJs.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const adminServer = await startLoopbackServer(opts.adminPort ?? 0, (req) => adminAnswer(model, req));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    adminHost: adminServer.host,
    admin: model,
    stop: async () => {
      await adminServer.stop();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

// ---- the loopback HTTP admin (test hooks across processes) --------------------------------------------

const isObjectRead = (o: unknown): o is ObjectRead => {
  const r = o as Partial<ObjectRead> | null;
  return !!r && typeof r.name === 'string' && typeof r.generation === 'string' && Number.isSafeInteger(r.bytes) && (r.bytes ?? -1) >= 0;
};

async function adminAnswer(model: AnywhereCacheModel, req: import('node:http').IncomingMessage): Promise<JsonAnswer> {
  try {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const text = req.method === 'POST' ? await bodyText(req) : '';
    const b = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    switch (path) {
      case '/admin/reset':
        model.reset(typeof b['bucket'] === 'string' ? b['bucket'] : undefined);
        return { status: 200, payload: { result: null } };
      case '/admin/options':
        model.setOptions({ ...(b as Parameters<AnywhereCacheModel['setOptions']>[0]), clock: undefined });
        return { status: 200, payload: { result: null } };
      case '/admin/fail': {
        const method = b['method'];
        const code = b['code'];
        if (!(ADMIN_METHODS as readonly unknown[]).includes(method) || !isCacheErrorCode(code)) throw new Error('fail needs a known method and a CACHE_* code');
        model.failNext(method as AdminMethod, code);
        return { status: 200, payload: { result: null } };
      }
      case '/admin/fail-operation': {
        const code = b['code'];
        if (!isCacheErrorCode(code)) throw new Error('fail-operation needs a CACHE_* code');
        model.failNextOperation(code);
        return { status: 200, payload: { result: null } };
      }
      case '/admin/stats':
        return { status: 200, payload: { result: model.stats() } };
      case '/admin/cache-reads': {
        const objects = Array.isArray(b['objects']) ? (b['objects'] as unknown[]) : null;
        if (typeof b['bucket'] !== 'string' || typeof b['zone'] !== 'string' || !objects || !objects.every(isObjectRead))
          return { status: 400, payload: { error: { message: 'cache-reads needs {bucket, zone, objects: [{name, generation, bytes}]}' } } };
        return { status: 200, payload: { result: model.recordReads(b['bucket'], b['zone'], objects) } };
      }
      default:
        return { status: 404, payload: { error: { message: `no such admin endpoint ${path}` } } };
    }
  } catch (e) {
    return { status: 400, payload: { error: { message: e instanceof Error ? e.message : String(e) } } };
  }
}

/** The test hooks of a server in another process (its `adminHost`). */
export function storageControlAdmin(adminHost: string) {
  const call = async <T>(path: string, body?: unknown): Promise<T> => {
    const reply = await loopbackJson('Storage Control admin', adminHost, path, body, fetch, (m, cause) => new Error(m, { cause }));
    const payload = reply.payload as { result?: T; error?: { message?: string } };
    if (!reply.ok || payload.error) throw new Error(payload.error?.message ?? `HTTP ${reply.status}`);
    return payload.result as T;
  };
  return {
    reset: (bucket?: string) => call<null>('/admin/reset', bucket ? { bucket } : {}),
    setOptions: (o: { createDelayMs?: number; updateDelayMs?: number; disabledGraceMs?: number; bucketLocations?: Record<string, string> }) =>
      call<null>('/admin/options', o),
    failNext: (method: AdminMethod, code: CacheErrorCode) => call<null>('/admin/fail', { method, code }),
    failNextOperation: (code: CacheErrorCode) => call<null>('/admin/fail-operation', { code }),
    stats: () => call<{ calls: Record<AdminMethod, number>; caches: number }>('/admin/stats'),
    /** Simulation plumbing for the serving stand-in (AnywhereCacheModel.recordReads). */
    recordReads: (bucket: string, zone: string, objects: ObjectRead[]) =>
      call<{ state: string | null; reads: ReadOutcome[]; storedBytes: number }>('/admin/cache-reads', { bucket, zone, objects }),
  };
}

await runAlone(
  import.meta.url,
  async (arg): Promise<LoopbackServer> => {
    const s = await startStorageControlGrpcServer({ port: Number(arg('--port') ?? 0), defaultLocation: arg('--location') ?? 'US-CENTRAL1' });
    return { host: `${s.endpoint} (admin ${s.adminHost})`, stop: s.stop };
  },
  (host) => `Storage Control (gRPC) on ${host}; FERRY_STORAGE_CONTROL_API_ENDPOINT=${host.split(' ')[0]}`,
);
