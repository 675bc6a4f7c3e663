/**
 * Cloud Storage Anywhere Cache control (the Storage Control API's AnywhereCache methods: storage_control.proto),
 * as ferry needs it. Mirrors the API: create and update start long-running operations; resume,
 * pause and disable answer at once. Errors are FerryErrors with the API's meaning in the code:
 *
 * | code                        | gRPC status            | meaning                                          |
 * |-----------------------------|------------------------|--------------------------------------------------|
 * | CACHE_ALREADY_EXISTS        | ALREADY_EXISTS (6)     | create: the zone already has a cache (ferry counts it as success) |
 * | CACHE_NOT_FOUND             | NOT_FOUND (5)          | no such cache, operation or bucket               |
 * | CACHE_INVALID_ARGUMENT      | INVALID_ARGUMENT (3)   | zone outside the bucket's location, bad TTL …    |
 * | CACHE_FAILED_PRECONDITION   | FAILED_PRECONDITION (9)| not in a state that allows it (pendingUpdate, …) |
 * | CACHE_FORBIDDEN             | PERMISSION_DENIED (7), UNAUTHENTICATED (16) | IAM               |
 * | CACHE_UNAVAILABLE (retryable)| UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL | try later |
 *
 * One adapter: shared/adapters/storage-control.ts (the real `@google-cloud/storage-control` client),
 * against the real API or, through FERRY_STORAGE_CONTROL_API_ENDPOINT, the local stack's server that
 * speaks the same wire protocol (infra/local/storage-control-grpc-server.ts). The contract suite
 * test/contract/cache-control.contract.ts holds it to the same behaviour against both.
 */
import type { LiveCache } from '../domain/cache.ts';
import { FerryError } from '../domain/errors.ts';
import { codesOf } from '../domain/reasons/catalogue.ts';
import { CACHE_ERRORS } from '../domain/reasons/errors.ts';

/** The port's error codes; what each means and what to do: domain/reasons/errors.ts CACHE_ERRORS. */
export const CACHE_ERROR_CODES = codesOf(CACHE_ERRORS);
export type CacheErrorCode = (typeof CACHE_ERROR_CODES)[number];

export const isCacheErrorCode = (c: unknown): c is CacheErrorCode => typeof c === 'string' && (CACHE_ERROR_CODES as readonly string[]).includes(c);

/** The port code of an error a CacheControl threw (a FerryError with a CACHE_* code), else null. */
export function cacheCodeOf(e: unknown): CacheErrorCode | null {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof FerryError && isCacheErrorCode(code) ? code : null;
}

export interface CacheSettings {
  /** Whole seconds, 1 h – 7 d (API default 24 h). */
  ttlSeconds?: number | undefined;
  /** `admit-on-first-miss` (default) or `admit-on-second-miss`. */
  admissionPolicy?: string | undefined;
}

/** A long-running operation (create or update) as last seen. */
export interface CacheOperation {
  name: string;
  kind: 'create' | 'update';
  done: boolean;
  /** Set when done and failed. */
  error?: { code: CacheErrorCode; message: string } | undefined;
  /** Set when done and succeeded: the cache as the operation returned it. */
  cache?: LiveCache | undefined;
}

export interface CacheControl {
  /** The zone's cache of the bucket; null when there is none (NOT_FOUND). */
  get(bucket: string, zone: string): Promise<LiveCache | null>;
  /** Every cache of the bucket (all pages), by zone. */
  list(bucket: string): Promise<LiveCache[]>;
  /** Starts creating a cache (state `creating` until the operation is done). */
  create(bucket: string, zone: string, settings?: CacheSettings): Promise<CacheOperation>;
  /** Starts changing TTL and/or admission policy (sets pendingUpdate until done). */
  update(bucket: string, zone: string, settings: CacheSettings): Promise<CacheOperation>;
  /** Paused or disabled (within the 1 h grace) → running. */
  resume(bucket: string, zone: string): Promise<LiveCache>;
  pause(bucket: string, zone: string): Promise<LiveCache>;
  /** Read-only from now; the service deletes it once disabled for an hour. */
  disable(bucket: string, zone: string): Promise<LiveCache>;
  /** Progress of an operation this port returned. */
  getOperation(name: string, kind: 'create' | 'update'): Promise<CacheOperation>;
}
