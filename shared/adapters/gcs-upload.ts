/**
 * Writes local files to GCS (the `ferry upload` path). Honours STORAGE_EMULATOR_HOST.
 *
 * A transient failure is retried here: an HTTP 408, 429 or 5xx, and a dropped connection
 * (ECONNRESET, EPIPE, "socket hang up", ETIMEDOUT and other timeouts) — recognised anywhere in the
 * error's `cause` chain, since the SDK and gaxios wrap the socket's error. The SDK does not retry
 * uploads without a generation precondition, and one lost request must not fail a 100-shard
 * upload. Before each retry the object is looked up: a failed attempt may have stored it after all
 * (the response was lost), and then it is taken as uploaded — same size and CRC32C — rather than
 * written again as a new generation (which would fire a second finalize event).
 */
import { CRC32C, Storage } from '@google-cloud/storage';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../domain/errors.ts';
import type { Uploader } from '../ports/uploader.ts';

export type { Uploader } from '../ports/uploader.ts';

/** Above this, uploads are resumable (single stream: no chunkSize, which the emulator truncates). */
const RESUMABLE_ABOVE = 32 * 1024 * 1024;

export interface UploaderOptions {
  /** Attempts per file, the first included (default 4). */
  attempts?: number;
  /** Wait before retry n (1-based): default 500 ms × 2^(n-1). */
  backoffMs?: (retry: number) => number;
}

export function gcsUploader(bucket: string, storage = new Storage(), opts: UploaderOptions = {}): Uploader {
  const b = storage.bucket(bucket);
  const attempts = Math.max(1, opts.attempts ?? 4);
  const backoff = opts.backoffMs ?? ((n: number) => 500 * 2 ** (n - 1));
  return {
    async upload(localPath, objectName, callOpts = {}) {
      const { size } = await stat(localPath);
      const onProgress = callOpts.onProgress;
      let crc: string | undefined;
      for (let attempt = 1; ; attempt++) {
        try {
          onProgress?.(0);
          const [file] = await b.upload(localPath, {
            destination: objectName,
            resumable: size > RESUMABLE_ABOVE,
            validation: 'crc32c',
            ...(callOpts.metadata ? { metadata: { metadata: callOpts.metadata } } : {}),
            // UploadOptions.onUploadProgress (@google-cloud/storage@8.4.0 build/esm/src/bucket.d.ts,
            // typed `(progressEvent: any) => void`) is attached to the write stream's 'progress'
            // event: `{ bytesWritten, contentLength }`, bytes of the file handed to the request so
            // far (build/esm/src/nodejs-common/util.js ProgressStream for simple uploads,
            // build/esm/src/resumable-upload.js for resumable ones).
            ...(onProgress ? { onUploadProgress: (evt: { bytesWritten?: unknown }) => onProgress(Number(evt.bytesWritten) || 0) } : {}),
          });
          // `validation: 'crc32c'` made the SDK compare the CRC32C it computed while sending with the
          // one GCS stored (FILE_NO_UPLOAD otherwise), so the stored one is the local file's.
          crc ??= typeof file.metadata.crc32c === 'string' ? file.metadata.crc32c : (await CRC32C.fromFile(localPath)).toString();
          return { size, generation: generationOf(file.metadata.generation), crc32c: crc };
        } catch (e) {
          const err = uploadError(e, objectName);
          if (!err.retryable || attempt >= attempts) throw err;
          await sleep(backoff(attempt));
          // Stored after all? Then this file is done, with the generation that attempt wrote.
          crc ??= (await CRC32C.fromFile(localPath)).toString();
          const stored = await b
            .file(objectName)
            .getMetadata()
            .then(([m]) => m)
            .catch(() => undefined);
          if (stored && Number(stored.size) === size && stored.crc32c === crc) {
            onProgress?.(size);
            return { size, generation: generationOf(stored.generation), crc32c: crc };
          }
        }
      }
    },
    async writeObject(objectName, data, callOpts) {
      const file = b.file(objectName);
      for (let attempt = 1; ; attempt++) {
        try {
          await file.save(Buffer.from(data), {
            resumable: false,
            validation: 'crc32c',
            contentType: callOpts.contentType,
            ...(callOpts.metadata ? { metadata: { metadata: callOpts.metadata } } : {}),
          });
          const [m] = await file.getMetadata();
          return { size: Number(m.size ?? data.length), generation: generationOf(m.generation), crc32c: String(m.crc32c ?? '') };
        } catch (e) {
          const err = uploadError(e, objectName);
          if (!err.retryable || attempt >= attempts) throw err;
          await sleep(backoff(attempt));
        }
      }
    },
  };
}

const generationOf = (g: unknown): string => (g === undefined || g === null ? '0' : String(g));

function uploadError(e: unknown, objectName: string): FerryError {
  const msg = e instanceof Error ? e.message : String(e);
  const c = classifyUploadFailure(e);
  if (c.status === 403 || c.status === 401) {
    return new FerryError('STORAGE_FORBIDDEN', `upload of ${objectName} refused: ${msg}`, {
      cause: e,
      hint: 'You need roles/storage.objectCreator on the bucket.',
    });
  }
  if (c.code === 'ECONNREFUSED') {
    return new FerryError('STORAGE_UNAVAILABLE', `upload of ${objectName} failed: nothing answered (${msg})`, {
      cause: e,
      hint: 'If you upload to the local stack, start it with `npm start` (and keep it running); otherwise check your network.',
    });
  }
  return new FerryError('UPLOAD_FAILED', `upload of ${objectName} failed: ${msg}`, {
    cause: e,
    retryable: c.retryable,
    hint: 'Run the same `ferry upload` again: files already there are written again, and the version is validated once it is complete.',
  });
}

/**
 * Socket-level codes of a dropped or stalled connection. The SDK's own list
 * (RETRYABLE_ERR_FN_DEFAULT in @google-cloud/storage@8.4.0 build/esm/src/storage.js: ECONNRESET,
 * EPIPE, EAI_AGAIN, "unexpected connection closure", "socket connection timeout") plus Node's
 * timeouts and undici's socket errors (https://undici.nodejs.org/#/docs/api/Errors).
 */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETRESET',
  'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ABORT_ERR',
  'FILE_NO_UPLOAD', // FILE_NO_UPLOAD: the SDK's CRC32C/MD5 check of what arrived failed
]);
const TRANSIENT_MESSAGE =
  /socket hang up|\bECONNRESET\b|\bEPIPE\b|\bETIMEDOUT\b|timed? ?out|premature close|other side closed|unexpected connection closure|socket connection timeout/i;
const TRANSIENT_NAMES = new Set(['TimeoutError', 'AbortError']);

/**
 * Why an upload attempt failed, from the error and everything it wraps (`cause`, AggregateError's
 * `errors`): the HTTP status if any answered, else the first socket/system code. Retryable when the
 * status is 408, 429 or 5xx, or, with no status, when a dropped connection or a timeout shows
 * anywhere in the chain — or when nothing in it says what happened at all. A local error (ENOENT,
 * EACCES of the file being read) is not retried.
 */
export function classifyUploadFailure(e: unknown): { status?: number; code?: string; retryable: boolean } {
  const seen = new Set<unknown>();
  const queue: unknown[] = [e];
  let status: number | undefined;
  let code: string | undefined;
  let transient = false;
  while (queue.length && seen.size < 16) {
    const x = queue.shift();
    if (x === null || typeof x !== 'object' || seen.has(x)) continue;
    seen.add(x);
    const o = x as { code?: unknown; status?: unknown; response?: { status?: unknown }; message?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
    const st = [o.status, o.response?.status, o.code].find((v) => typeof v === 'number' && v >= 100 && v <= 599) as number | undefined;
    if (status === undefined && st !== undefined) status = st;
    if (typeof o.code === 'string' && !/^\d{3}$/.test(o.code)) {
      code ??= o.code;
      if (TRANSIENT_CODES.has(o.code.toUpperCase())) transient = true;
    }
    if (typeof o.code === 'string' && /^\d{3}$/.test(o.code) && status === undefined) status = Number(o.code);
    if (typeof o.message === 'string' && TRANSIENT_MESSAGE.test(o.message)) transient = true;
    if (typeof o.name === 'string' && TRANSIENT_NAMES.has(o.name)) transient = true;
    if (o.cause !== undefined) queue.push(o.cause);
    if (Array.isArray(o.errors)) queue.push(...o.errors);
  }
  const retryable = status !== undefined ? status === 408 || status === 429 || status >= 500 : transient || code === undefined;
  return { ...(status !== undefined ? { status } : {}), ...(code !== undefined ? { code } : {}), retryable };
}
