/**
 * Writes local files to GCS (the `ferry upload` path). Honours STORAGE_EMULATOR_HOST.
 *
 * A transient failure (network, 429, 5xx) is retried here: the SDK does not retry uploads without
 * a generation precondition, and one lost request must not fail a 100-shard upload. Before each
 * retry the object is looked up: a failed attempt may have stored it after all (the response was
 * lost), and then it is taken as uploaded — same size and CRC32C — rather than written again as a
 * new generation (which would fire a second finalize event).
 */
import { CRC32C, Storage } from '@google-cloud/storage';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../domain/errors.ts';
import type { Uploader } from '../ports/uploader.ts';

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
    async upload(localPath, objectName) {
      const { size } = await stat(localPath);
      let crc: string | undefined;
      for (let attempt = 1; ; attempt++) {
        try {
          const [file] = await b.upload(localPath, { destination: objectName, resumable: size > RESUMABLE_ABOVE, validation: 'crc32c' });
          return { size, generation: generationOf(file.metadata.generation) };
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
          if (stored && Number(stored.size) === size && stored.crc32c === crc) return { size, generation: generationOf(stored.generation) };
        }
      }
    },
  };
}

const generationOf = (g: unknown): string => (g === undefined || g === null ? '0' : String(g));

function uploadError(e: unknown, objectName: string): FerryError {
  const code = (e as { code?: number }).code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 403 || code === 401) {
    return new FerryError('STORAGE_FORBIDDEN', `upload of ${objectName} refused: ${msg}`, { cause: e, hint: 'You need roles/storage.objectCreator on the bucket.' });
  }
  return new FerryError('UPLOAD_FAILED', `upload of ${objectName} failed: ${msg}`, {
    cause: e,
    retryable: code === undefined || code === 408 || code === 429 || (code ?? 0) >= 500,
    hint: 'Run the same `ferry upload` again: files already there are written again, and the version is validated once it is complete.',
  });
}
