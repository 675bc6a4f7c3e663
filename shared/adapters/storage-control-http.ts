/**
 * CacheControl over loopback HTTP: the client half of the local stack's Storage Control fake
 * (infra/local/storage-control-server.ts serves a FakeStorageControl). The functions host, the CLI
 * and the tests all run in different processes; through this they share one fake, as they would
 * share the one real API. `FERRY_STORAGE_CONTROL_EMULATOR_HOST=127.0.0.1:PORT` selects it.
 *
 * Protocol (JSON both ways): `POST /v2/<method>` with `{bucket, zone, settings}` or `{name, kind}`
 * → 200 `{"result": …}`, or an error status with `{"error": {"code": "CACHE_…", "message"}}`.
 * Test hooks: `POST /fake/reset {bucket?}`, `POST /fake/options {...}`, `POST /fake/fail
 * {method, code}`, `GET /fake/stats`.
 */
import type { CacheControl, CacheOperation, CacheSettings, CacheErrorCode } from '../ports/cache-control.ts';
import type { LiveCache } from '../domain/cache.ts';
import { cacheError, isCacheErrorCode } from './cache-errors.ts';
import { loopbackJson } from './loopback-json.ts';

async function call<T>(host: string, path: string, body: unknown, fetchImpl: typeof fetch): Promise<T> {
  const reply = await loopbackJson('Storage Control fake', host, path, body, fetchImpl, (m, cause) => cacheError('CACHE_UNAVAILABLE', m, cause));
  const payload = reply.payload as { result?: T; error?: { code?: string; message?: string } };
  if (!reply.ok || payload.error) {
    const code: CacheErrorCode = isCacheErrorCode(payload.error?.code) ? payload.error.code : 'CACHE_ERROR';
    throw cacheError(code, payload.error?.message ?? `HTTP ${reply.status}`);
  }
  return payload.result as T;
}

export class HttpCacheControl implements CacheControl {
  private readonly host: string;
  private readonly fetchImpl: typeof fetch;
  constructor(host: string, fetchImpl: typeof fetch = fetch) {
    this.host = host;
    this.fetchImpl = fetchImpl;
  }
  private post<T>(method: string, body: Record<string, unknown>): Promise<T> {
    return call<T>(this.host, `/v2/${method}`, body, this.fetchImpl);
  }
  get(bucket: string, zone: string): Promise<LiveCache | null> {
    return this.post('get', { bucket, zone });
  }
  list(bucket: string): Promise<LiveCache[]> {
    return this.post('list', { bucket });
  }
  create(bucket: string, zone: string, settings: CacheSettings = {}): Promise<CacheOperation> {
    return this.post('create', { bucket, zone, settings });
  }
  update(bucket: string, zone: string, settings: CacheSettings): Promise<CacheOperation> {
    return this.post('update', { bucket, zone, settings });
  }
  resume(bucket: string, zone: string): Promise<LiveCache> {
    return this.post('resume', { bucket, zone });
  }
  pause(bucket: string, zone: string): Promise<LiveCache> {
    return this.post('pause', { bucket, zone });
  }
  disable(bucket: string, zone: string): Promise<LiveCache> {
    return this.post('disable', { bucket, zone });
  }
  getOperation(name: string, kind: 'create' | 'update'): Promise<CacheOperation> {
    return this.post('getOperation', { name, kind });
  }
}

/** The fake's test hooks, over the same loopback connection. */
export function storageControlFakeAdmin(host: string, fetchImpl: typeof fetch = fetch) {
  return {
    reset: (bucket?: string) => call<null>(host, '/fake/reset', bucket ? { bucket } : {}, fetchImpl),
    setOptions: (o: { createDelayMs?: number; updateDelayMs?: number; disabledGraceMs?: number; bucketLocations?: Record<string, string> }) =>
      call<null>(host, '/fake/options', o, fetchImpl),
    failNext: (method: string, code: CacheErrorCode) => call<null>(host, '/fake/fail', { method, code }, fetchImpl),
    stats: () => call<{ calls: Record<string, number>; caches: number }>(host, '/fake/stats', undefined, fetchImpl),
  };
}
