/**
 * CacheControl over the real Storage Control API (`@google-cloud/storage-control` v2,
 * `StorageControlClient`, gRPC; the API is its build/protos/google/storage/control/v2/
 * storage_control.proto). Resource names use the project `_` (the bucket names
 * the project), the cache id is the zone. Create and update return their long-running operation
 * without waiting for it (a function must not block on a cache creation); the reconciler polls it
 * with `getOperation` (checkCreate/UpdateAnywhereCacheProgress, which decode the result).
 * gRPC errors become port errors (shared/ports/cache-control.ts).
 *
 * `apiEndpoint` (FERRY_STORAGE_CONTROL_API_ENDPOINT, `http://host:port`) points the same client at
 * another server, like STORAGE_EMULATOR_HOST does for GCS: plaintext gRPC with insecure channel
 * credentials and no Google credentials (the local stack's infra/local/storage-control-grpc-server.ts).
 * It stays gRPC because the Anywhere Cache RPCs have no `google.api.http` rules in the package's
 * storage_control.proto (#L185-270), so the client's REST ("fallback") transport cannot send them
 * (docs/UPSTREAM.md S9).
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as GrpcJs from '@grpc/grpc-js';
import { v2 } from '@google-cloud/storage-control';
import type { CacheControl, CacheOperation, CacheSettings } from '../ports/cache-control.ts';
import { normalizeCacheState, cacheResourceName, type LiveCache } from '../domain/cache.ts';
import { cacheError, cacheCodeOfGrpc } from './cache-errors.ts';
import { FerryError } from '../domain/errors.ts';

type Client = InstanceType<typeof v2.StorageControlClient>;

/**
 * Retries inside the client per call. The package's storage_control_client_config.json retries
 * UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL and UNAVAILABLE on every Anywhere Cache
 * RPC with 1 s ×2 backoff for up to `total_timeout_millis` 600000: an unreachable API would block a
 * function for ten minutes. ferry retries CACHE_UNAVAILABLE itself (the reconciler), so it keeps the
 * package's codes and backoff but gives up after CALL_TOTAL_TIMEOUT_MS (DEADLINE_EXCEEDED →
 * CACHE_UNAVAILABLE). The first attempt keeps the package's 60 s RPC timeout (gax shortens only the
 * retries to the deadline; google-gax 5.0.8 normalCalls/retries.js), so a slow but working call is not
 * cut off. (`maxRetries` would be simpler, but gax refuses it on paged calls: "Cannot set both
 * totalTimeoutMillis and maxRetries".)
 */
export const CALL_TOTAL_TIMEOUT_MS = 5000;
export const CALL_OPTIONS = {
  retry: {
    retryCodes: [2, 4, 8, 13, 14], // UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE
    backoffSettings: {
      initialRetryDelayMillis: 1000,
      retryDelayMultiplier: 2,
      maxRetryDelayMillis: 60_000,
      initialRpcTimeoutMillis: 60_000,
      rpcTimeoutMultiplier: 1,
      maxRpcTimeoutMillis: 60_000,
      totalTimeoutMillis: CALL_TOTAL_TIMEOUT_MS,
    },
  },
};
interface ApiCache {
  name?: string | null;
  zone?: string | null;
  ttl?: { seconds?: number | string | { toString(): string } | null } | null;
  admissionPolicy?: string | null;
  state?: string | null;
  createTime?: { seconds?: number | string | { toString(): string } | null; nanos?: number | null } | null;
  updateTime?: { seconds?: number | string | { toString(): string } | null; nanos?: number | null } | null;
  pendingUpdate?: boolean | null;
}
interface ApiOperation {
  name?: string | null;
  done?: boolean | null;
  error?: { code?: number; message?: string } | null;
  result?: unknown;
  latestResponse?: { error?: { code?: number | null; message?: string | null } | null } | null;
}

const seconds = (v: { toString(): string } | number | string | null | undefined): number | null =>
  v === null || v === undefined ? null : Number(v.toString());
const time = (t: ApiCache['createTime']): string | undefined => {
  const s = seconds(t?.seconds);
  return s === null ? undefined : new Date(s * 1000 + Math.floor((t?.nanos ?? 0) / 1e6)).toISOString();
};

export function liveCacheOf(bucket: string, c: ApiCache): LiveCache {
  const zone = c.zone ?? c.name?.split('/').pop() ?? '';
  return {
    name: c.name ?? cacheResourceName(bucket, zone),
    bucket,
    zone,
    state: normalizeCacheState(c.state),
    rawState: c.state ?? '',
    ttlSeconds: seconds(c.ttl?.seconds),
    admissionPolicy: c.admissionPolicy || null,
    pendingUpdate: c.pendingUpdate ?? false,
    createTime: time(c.createTime),
    updateTime: time(c.updateTime),
  };
}

function mapError(e: unknown, what: string): FerryError {
  if (e instanceof FerryError) return e;
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  return cacheError(cacheCodeOfGrpc(typeof code === 'number' ? code : undefined), `${what}: ${message}`, e);
}

export interface StorageControlOptions {
  client?: Client;
  projectId?: string;
  /** `http://host:port` (plaintext, no credentials) or `https://host[:port]` (TLS, application default credentials). */
  apiEndpoint?: string;
}

/** Client options for an endpoint URL (see the file comment). */
export function endpointOptions(apiEndpoint: string): {
  apiEndpoint: string;
  port: number;
  sslCreds?: GrpcJs.ChannelCredentials;
  clientOptions?: { universeDomain: string };
} {
  const u = new URL(apiEndpoint);
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search)
    throw new FerryError('CONFIG_INVALID', `Storage Control endpoint must be http://host:port or https://host[:port], got ${apiEndpoint}`);
  const port = Number(u.port || (u.protocol === 'http:' ? 80 : 443));
  if (u.protocol === 'https:') return { apiEndpoint: u.hostname, port };
  // The grpc-js the client library loads itself, so the credentials are of its own class.
  const grpc = createRequire(createRequire(import.meta.url).resolve('@google-cloud/storage-control'))('@grpc/grpc-js') as typeof GrpcJs;
  // The universe domain is given so google-auth-library does not ask the GCE metadata server for
  // it (gax checks it against the credentials' even when the channel carries none).
  return { apiEndpoint: u.hostname, port, sslCreds: grpc.credentials.createInsecure(), clientOptions: { universeDomain: 'googleapis.com' } };
}

export class StorageControlCacheControl implements CacheControl {
  private readonly client: Client;
  constructor(opts: StorageControlOptions = {}) {
    this.client =
      opts.client ??
      new v2.StorageControlClient({
        ...(opts.projectId ? { projectId: opts.projectId } : {}),
        ...(opts.apiEndpoint ? endpointOptions(opts.apiEndpoint) : {}),
      });
  }

  /** Closes the client's channel (tests and short-lived processes). */
  close(): Promise<void> {
    return this.client.close();
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw mapError(e, what);
    }
  }

  async get(bucket: string, zone: string): Promise<LiveCache | null> {
    try {
      const [c] = await this.client.getAnywhereCache({ name: cacheResourceName(bucket, zone) }, CALL_OPTIONS);
      return liveCacheOf(bucket, c as ApiCache);
    } catch (e) {
      const err = mapError(e, `get ${cacheResourceName(bucket, zone)}`);
      if (err.code === 'CACHE_NOT_FOUND') return null;
      throw err;
    }
  }

  list(bucket: string): Promise<LiveCache[]> {
    return this.run(`list caches of gs://${bucket}`, async () => {
      const out: LiveCache[] = [];
      for await (const c of this.client.listAnywhereCachesAsync(
        { parent: `projects/_/buckets/${bucket}`, pageSize: 1000 },
        { ...CALL_OPTIONS, autoPaginate: false },
      )) {
        out.push(liveCacheOf(bucket, c as ApiCache));
      }
      return out.sort((a, b) => a.zone.localeCompare(b.zone));
    });
  }

  create(bucket: string, zone: string, settings: CacheSettings = {}): Promise<CacheOperation> {
    return this.run(`create ${cacheResourceName(bucket, zone)}`, async () => {
      const [op] = await this.client.createAnywhereCache(
        {
          parent: `projects/_/buckets/${bucket}`,
          anywhereCache: {
            zone,
            ...(settings.ttlSeconds !== undefined ? { ttl: { seconds: settings.ttlSeconds } } : {}),
            ...(settings.admissionPolicy !== undefined ? { admissionPolicy: settings.admissionPolicy } : {}),
          },
          requestId: randomUUID(),
        },
        CALL_OPTIONS,
      );
      return operationOf('create', bucket, op as unknown as ApiOperation);
    });
  }

  update(bucket: string, zone: string, settings: CacheSettings): Promise<CacheOperation> {
    return this.run(`update ${cacheResourceName(bucket, zone)}`, async () => {
      const paths: string[] = [];
      if (settings.ttlSeconds !== undefined) paths.push('ttl');
      if (settings.admissionPolicy !== undefined) paths.push('admission_policy');
      const [op] = await this.client.updateAnywhereCache(
        {
          anywhereCache: {
            name: cacheResourceName(bucket, zone),
            ...(settings.ttlSeconds !== undefined ? { ttl: { seconds: settings.ttlSeconds } } : {}),
            ...(settings.admissionPolicy !== undefined ? { admissionPolicy: settings.admissionPolicy } : {}),
          },
          updateMask: { paths },
          requestId: randomUUID(),
        },
        CALL_OPTIONS,
      );
      return operationOf('update', bucket, op as unknown as ApiOperation);
    });
  }

  resume(bucket: string, zone: string): Promise<LiveCache> {
    return this.run(`resume ${cacheResourceName(bucket, zone)}`, async () =>
      liveCacheOf(bucket, (await this.client.resumeAnywhereCache({ name: cacheResourceName(bucket, zone) }, CALL_OPTIONS))[0] as ApiCache),
    );
  }

  pause(bucket: string, zone: string): Promise<LiveCache> {
    return this.run(`pause ${cacheResourceName(bucket, zone)}`, async () =>
      liveCacheOf(bucket, (await this.client.pauseAnywhereCache({ name: cacheResourceName(bucket, zone) }, CALL_OPTIONS))[0] as ApiCache),
    );
  }

  disable(bucket: string, zone: string): Promise<LiveCache> {
    return this.run(`disable ${cacheResourceName(bucket, zone)}`, async () =>
      liveCacheOf(bucket, (await this.client.disableAnywhereCache({ name: cacheResourceName(bucket, zone) }, CALL_OPTIONS))[0] as ApiCache),
    );
  }

  getOperation(name: string, kind: 'create' | 'update'): Promise<CacheOperation> {
    return this.run(`operation ${name}`, async () => {
      const op = kind === 'create' ? await this.client.checkCreateAnywhereCacheProgress(name) : await this.client.checkUpdateAnywhereCacheProgress(name);
      const bucket = /buckets\/([^/]+)\//.exec(name)?.[1] ?? '';
      return operationOf(kind, bucket, op as unknown as ApiOperation);
    });
  }
}

function operationOf(kind: 'create' | 'update', bucket: string, op: ApiOperation): CacheOperation {
  const name = op.name ?? '';
  if (!op.done) return { name, kind, done: false };
  const err = op.error ?? op.latestResponse?.error ?? null;
  if (err && (err.code ?? 0) !== 0) {
    return { name, kind, done: true, error: { code: cacheCodeOfGrpc(err.code ?? undefined), message: err.message ?? 'operation failed' } };
  }
  return { name, kind, done: true, ...(op.result ? { cache: liveCacheOf(bucket, op.result as ApiCache) } : {}) };
}
