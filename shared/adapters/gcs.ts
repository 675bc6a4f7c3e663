/**
 * ObjectStore over Cloud Storage (`@google-cloud/storage`), also the Firebase Storage emulator when
 * STORAGE_EMULATOR_HOST is set. Listing uses the SDK, paginated by hand so every page counts as a
 * request. Reads are JSON-API media downloads with a `Range` header (bytes=start-(end-1)), pinned to
 * a generation when one is given, sent with fetch using the SDK client's endpoint and credentials.
 * SDK errors become FerryErrors: 404 → OBJECT_NOT_FOUND, 403/401 → STORAGE_FORBIDDEN,
 * 429/5xx/network → STORAGE_UNAVAILABLE (retryable).
 */
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { FerryError } from '../domain/errors.ts';
import { HOLD_MARKER_KEY } from '../domain/holds.ts';
import type { HoldChange, HoldOutcome, ObjectInfo, ObjectStore, ReadStats } from '../ports/object-store.ts';

/** Where a Storage client talks to; the caller (shared/composition) takes these from its Settings. */
export interface StorageClientOptions {
  /** The Storage emulator (host:port or URL: STORAGE_EMULATOR_HOST); unset: Cloud Storage. */
  emulatorHost?: string | undefined;
  /** The project (GOOGLE_CLOUD_PROJECT); unset: the SDK's own discovery. */
  projectId?: string | undefined;
}

export interface GcsObjectStoreOptions {
  /** A ready client (tests, shared clients). When absent one is built from `client`. */
  storage?: Storage;
  /** Where to build a client for (none: Cloud Storage, the SDK's project). */
  client?: StorageClientOptions;
  /** SDK retry policy (e.g. `{maxRetries: 1}` for an interactive CLI); `maxRetries` also bounds read retries. */
  retryOptions?: StorageOptions['retryOptions'];
  /** fetch used for ranged reads (default: the global fetch). */
  fetch?: typeof fetch;
  /**
   * Issue #20: offer setTemporaryHold (PATCH, storage.objects.update on the bucket). Only the wiring
   * of functions granted that permission sets it (test/unit/infra checks the grant by this flag).
   */
  holds?: boolean;
}

/**
 * Builds a Storage client for the caller's settings (the composition root passes them from its
 * Settings); with an emulator host it talks to the emulator without credentials.
 */
export function storageClient(opts: StorageClientOptions = {}, retryOptions?: StorageOptions['retryOptions']): Storage {
  const emulator = opts.emulatorHost;
  const projectId = opts.projectId;
  const options: StorageOptions = {
    ...(projectId ? { projectId } : {}),
    ...(retryOptions ? { retryOptions } : {}),
  };
  if (emulator) {
    options.apiEndpoint = /^https?:\/\//.test(emulator) ? emulator : `http://${emulator}`;
    options.projectId ??= 'demo-ferry';
  }
  // The SDK's constructor also reads process.env.STORAGE_EMULATOR_HOST (and then prefers it over
  // apiEndpoint). Hide it for the synchronous construction so `opts` alone decides the endpoint.
  const saved = process.env['STORAGE_EMULATOR_HOST'];
  delete process.env['STORAGE_EMULATOR_HOST'];
  try {
    return new Storage(options);
  } finally {
    if (saved !== undefined) process.env['STORAGE_EMULATOR_HOST'] = saved;
  }
}

export function gcsObjectStore(bucketName: string, opts: GcsObjectStoreOptions = {}): ObjectStore {
  const storage = opts.storage ?? storageClient(opts.client ?? {}, opts.retryOptions);
  const bucket = storage.bucket(bucketName);
  const counters: ReadStats = { requests: 0, bytesRead: 0 };
  // Reads go through fetch with the client's endpoint and credentials: the SDK's stream download
  // costs ~1.7 ms of CPU per small ranged read and warns (MaxListenersExceededWarning) on each one.
  const fetchImpl = opts.fetch ?? fetch;
  const needsAuth = !(storage.customEndpoint && !storage.useAuthWithCustomEndpoint);
  const maxRetries = opts.retryOptions?.maxRetries ?? 3;

  return {
    location: `gs://${bucketName}`,

    async list(prefix: string): Promise<ObjectInfo[]> {
      const out: ObjectInfo[] = [];
      let pageToken: string | undefined;
      do {
        counters.requests++;
        let files;
        let next;
        try {
          [files, next] = await bucket.getFiles({
            prefix,
            autoPaginate: false,
            maxResults: 1000,
            ...(pageToken ? { pageToken } : {}),
          });
        } catch (e) {
          throw mapStorageError(e, `listing gs://${bucketName}/${prefix}`);
        }
        for (const f of files) {
          const m = f.metadata;
          out.push({
            name: f.name,
            size: Number(m.size ?? 0),
            generation: String(m.generation ?? f.generation ?? '0'),
            ...(m.md5Hash ? { md5Hash: m.md5Hash } : {}),
            ...(m.crc32c ? { crc32c: m.crc32c } : {}),
            ...(m.updated ? { updated: m.updated } : {}),
            ...(m.metadata && typeof m.metadata === 'object' ? { metadata: customMetadata(m.metadata) } : {}),
            ...(m.metageneration !== undefined ? { metageneration: String(m.metageneration) } : {}),
            // The JSON API object resource's `temporaryHold` (storage.proto StorageObject.temporary_hold).
            ...(m.temporaryHold === true ? { temporaryHold: true } : {}),
          });
        }
        pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      } while (pageToken);
      return out;
    },

    async read(name: string, start: number, endExclusive: number, generation?: string): Promise<Uint8Array> {
      if (endExclusive <= start) return new Uint8Array(0);
      const url = new URL(`${storage.apiEndpoint.replace(/\/+$/, '')}/storage/v1/b/${encodeURIComponent(bucketName)}/o/${encodeURIComponent(name)}`);
      url.searchParams.set('alt', 'media');
      if (generation && generation !== '0') url.searchParams.set('generation', generation);
      const what = `reading gs://${bucketName}/${name}${generation ? `#${generation}` : ''} [${start}, ${endExclusive})`;
      for (let attempt = 0; ; attempt++) {
        counters.requests++;
        try {
          const headers = new Headers(needsAuth ? await storage.authClient.getRequestHeaders(url) : undefined);
          headers.set('Range', `bytes=${start}-${endExclusive - 1}`);
          headers.set('Accept-Encoding', 'identity');
          const res = await fetchImpl(url, { headers });
          if (res.status === 416) {
            await res.body?.cancel();
            return new Uint8Array(0); // the range starts at/after the end: nothing there
          }
          if (!res.ok) throw new HttpStatusError(res.status, (await res.text().catch(() => '')).slice(0, 300));
          const body = new Uint8Array(await res.arrayBuffer());
          counters.bytesRead += body.length;
          return res.status === 206 ? body : body.subarray(start, endExclusive); // 200: the range was ignored
        } catch (e) {
          const err = mapStorageError(e, what);
          if (!err.retryable || attempt >= maxRetries) throw err;
          await new Promise((r) => setTimeout(r, 100 * 4 ** attempt));
        }
      }
    },

    stats: () => ({ ...counters }),

    ...(opts.holds ? { setTemporaryHold } : {}),
  };

  async function setTemporaryHold(name: string, change: HoldChange, at: { generation: string; metageneration: string }): Promise<HoldOutcome> {
    if (holdsUnsupported.has(storage)) return 'unsupported';
    counters.requests++;
    try {
      // One objects.patch: `temporaryHold` and the custom `metadata` key together (a null value
      // removes a key: the SDK's File#setMetadata docs), only while the object is at the generation
      // and metageneration the caller listed (`ifGenerationMatch`/`ifMetagenerationMatch` query
      // parameters; with the metageneration precondition the SDK also retries it safely).
      await bucket
        .file(name)
        .setMetadata(
          { temporaryHold: change.hold, metadata: { [HOLD_MARKER_KEY]: change.marker } },
          { ifGenerationMatch: at.generation, ifMetagenerationMatch: at.metageneration },
        );
      return 'done';
    } catch (e) {
      const status = statusOf(e);
      if (status === 412 || status === 404) return 'conflict';
      if (status === 501) {
        // The Storage emulator has no object PATCH on the JSON API path (docs/UPSTREAM.md H4).
        holdsUnsupported.add(storage);
        return 'unsupported';
      }
      const what = `${change.hold ? 'setting' : 'releasing'} a temporary hold on gs://${bucketName}/${name}#${at.generation}`;
      if (status === 401 || status === 403) {
        throw new FerryError('HOLD_FAILED', `${what}: permission denied (${e instanceof Error ? e.message : String(e)})`, {
          cause: e,
          hint: `Grant this function's service account storage.objects.update on gs://${bucketName} (Terraform: google_storage_bucket_iam_member.model_object_holder in infra/iam.tf, then terraform apply).`,
        });
      }
      throw mapStorageError(e, what);
    }
  }
}

/** Storage clients that answered 501 to an object PATCH (the Storage emulator): holds are not tried again. */
const holdsUnsupported = new WeakSet<Storage>();

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ECONNABORTED',
]);

class HttpStatusError extends Error {
  readonly status: number;
  constructor(status: number, body: string) {
    super(`HTTP ${status}${body ? `: ${body}` : ''}`);
    this.status = status;
  }
}

function statusOf(e: unknown): number | undefined {
  const err = e as { code?: unknown; status?: unknown; response?: { status?: unknown } } | null;
  for (const v of [err?.code, err?.status, err?.response?.status]) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && /^\d{3}$/.test(v)) return Number(v);
  }
  return undefined;
}

function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns an SDK error into a FerryError with a stable code, a retryable flag and a hint. */
export function mapStorageError(e: unknown, what: string): FerryError {
  if (e instanceof FerryError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const status = statusOf(e);
  if (status === 404) {
    return new FerryError('OBJECT_NOT_FOUND', `${what}: not found (${message})`, {
      cause: e,
      hint: 'The object or bucket does not exist, or the object was replaced since it was listed (generation changed).',
    });
  }
  if (status === 401 || status === 403) {
    return new FerryError('STORAGE_FORBIDDEN', `${what}: permission denied (${message})`, {
      cause: e,
      hint: 'Grant the caller roles/storage.objectViewer (storage.objects.list and storage.objects.get) on the bucket, or check the credentials in use.',
    });
  }
  if (status === 429 || (status !== undefined && status >= 500)) {
    return new FerryError('STORAGE_UNAVAILABLE', `${what}: Cloud Storage answered ${status} (${message})`, { retryable: true, cause: e });
  }
  const net = networkCode(e);
  if (net !== undefined) {
    return new FerryError('STORAGE_UNAVAILABLE', `${what}: ${net} (${message})`, {
      retryable: true,
      cause: e,
      hint: 'Check the network, or STORAGE_EMULATOR_HOST if you meant to use the local Storage emulator.',
    });
  }
  if (status === undefined && /credential|authenticat|token/i.test(message)) {
    return new FerryError('STORAGE_FORBIDDEN', `${what}: no usable credentials (${message})`, {
      cause: e,
      hint: 'Run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS; for the local stack set STORAGE_EMULATOR_HOST.',
    });
  }
  return new FerryError('STORAGE_ERROR', `${what}: ${status !== undefined ? `Cloud Storage answered ${status}` : 'request failed'} (${message})`, {
    cause: e,
  });
}

/** Custom metadata as strings (the JSON API's `metadata` map; a null value means "removed"). */
function customMetadata(m: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (v !== null && v !== undefined) out[k] = String(v);
  return out;
}
