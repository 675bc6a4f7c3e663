/**
 * The local stack's Storage Control fake, served over loopback HTTP: one FakeStorageControl
 * (infra/local/storage-control-fake.ts) shared by every process of the stack — the functions
 * host, the `ferry` CLI and the tests — through HttpCacheControl (shared/adapters/storage-control-http.ts).
 * A fake is allowed only where no emulator exists, and none exists for Storage Control.
 *
 * Alone: ./node_modules/.bin/node infra/local/storage-control-server.ts [--port N] [--location US-CENTRAL1]
 */
import type { IncomingMessage } from 'node:http';
import { startLoopbackServer, runAlone, bodyText, type JsonAnswer } from './loopback-server.ts';
import { FakeStorageControl, FAKE_METHODS, type FakeStorageControlOptions, type FakeMethod } from './storage-control-fake.ts';
import { cacheCodeOf, isCacheErrorCode } from '../../shared/adapters/cache-errors.ts';

export interface StorageControlServer {
  /** `127.0.0.1:PORT` (the value of FERRY_STORAGE_CONTROL_EMULATOR_HOST). */
  host: string;
  fake: FakeStorageControl;
  stop(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await bodyText(req);
  if (!text) return {};
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('body must be a JSON object');
  return v as Record<string, unknown>;
}

const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || !v) throw Object.assign(new Error(`${name} must be a non-empty string`), { status: 400 });
  return v;
};

const STATUS: Record<string, number> = {
  CACHE_ALREADY_EXISTS: 409,
  CACHE_NOT_FOUND: 404,
  CACHE_INVALID_ARGUMENT: 400,
  CACHE_FAILED_PRECONDITION: 412,
  CACHE_FORBIDDEN: 403,
  CACHE_UNAVAILABLE: 503,
};

async function dispatch(fake: FakeStorageControl, path: string, b: Record<string, unknown>): Promise<unknown> {
  const settings = (b['settings'] ?? {}) as { ttlSeconds?: number; admissionPolicy?: string };
  switch (path) {
    case '/v2/get':
      return fake.get(str(b['bucket'], 'bucket'), str(b['zone'], 'zone'));
    case '/v2/list':
      return fake.list(str(b['bucket'], 'bucket'));
    case '/v2/create':
      return fake.create(str(b['bucket'], 'bucket'), str(b['zone'], 'zone'), settings);
    case '/v2/update':
      return fake.update(str(b['bucket'], 'bucket'), str(b['zone'], 'zone'), settings);
    case '/v2/resume':
      return fake.resume(str(b['bucket'], 'bucket'), str(b['zone'], 'zone'));
    case '/v2/pause':
      return fake.pause(str(b['bucket'], 'bucket'), str(b['zone'], 'zone'));
    case '/v2/disable':
      return fake.disable(str(b['bucket'], 'bucket'), str(b['zone'], 'zone'));
    case '/v2/getOperation':
      return fake.getOperation(str(b['name'], 'name'), b['kind'] === 'update' ? 'update' : 'create');
    case '/fake/reset':
      fake.reset(typeof b['bucket'] === 'string' ? b['bucket'] : undefined);
      return null;
    case '/fake/options':
      fake.setOptions(b as Parameters<FakeStorageControl['setOptions']>[0]);
      return null;
    case '/fake/fail': {
      const method = str(b['method'], 'method');
      const code = b['code'];
      if (!(FAKE_METHODS as readonly string[]).includes(method) || !isCacheErrorCode(code)) {
        throw Object.assign(new Error('fail needs a known method and CACHE_* code'), { status: 400 });
      }
      fake.failNext(method as FakeMethod, code);
      return null;
    }
    case '/fake/stats':
      return fake.stats();
    default:
      throw Object.assign(new Error(`no such endpoint ${path}`), { status: 404 });
  }
}

export async function startStorageControlServer(opts: FakeStorageControlOptions & { port?: number } = {}): Promise<StorageControlServer> {
  const fake = new FakeStorageControl(opts);
  const server = await startLoopbackServer(opts.port ?? 0, async (req): Promise<JsonAnswer> => {
    try {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const b = req.method === 'POST' ? await body(req) : {};
      return { status: 200, payload: { result: (await dispatch(fake, path, b)) ?? null } };
    } catch (e) {
      const code = cacheCodeOf(e);
      if (code) return { status: STATUS[code] ?? 500, payload: { error: { code, message: (e as Error).message } } };
      const status = (e as { status?: number }).status ?? 400;
      return {
        status,
        payload: { error: { code: status === 404 ? 'CACHE_NOT_FOUND' : 'CACHE_INVALID_ARGUMENT', message: e instanceof Error ? e.message : String(e) } },
      };
    }
  });
  return { ...server, fake };
}

await runAlone(
  import.meta.url,
  (arg) => startStorageControlServer({ port: Number(arg('--port') ?? 0), defaultLocation: arg('--location') ?? 'US-CENTRAL1' }),
  (host) => `Storage Control fake on ${host} (FERRY_STORAGE_CONTROL_EMULATOR_HOST=${host})`,
);
