/** Writes local files to GCS (the `ferry upload` path). Honours STORAGE_EMULATOR_HOST. */
import { Storage } from '@google-cloud/storage';
import { stat } from 'node:fs/promises';
import { FerryError } from '../domain/errors.ts';

/** Above this, uploads are resumable (single stream: no chunkSize, which the emulator truncates). */
const RESUMABLE_ABOVE = 32 * 1024 * 1024;

export interface Uploader {
  upload(localPath: string, objectName: string): Promise<{ size: number; generation: string }>;
}

export function gcsUploader(bucket: string, storage = new Storage()): Uploader {
  const b = storage.bucket(bucket);
  return {
    async upload(localPath, objectName) {
      const { size } = await stat(localPath);
      try {
        const [file] = await b.upload(localPath, { destination: objectName, resumable: size > RESUMABLE_ABOVE, validation: 'crc32c' });
        const gen = file.metadata.generation;
        return { size, generation: gen === undefined ? '0' : String(gen) };
      } catch (e) {
        const code = (e as { code?: number }).code;
        const msg = e instanceof Error ? e.message : String(e);
        if (code === 403 || code === 401) {
          throw new FerryError('STORAGE_FORBIDDEN', `upload of ${objectName} refused: ${msg}`, { cause: e, hint: 'You need roles/storage.objectCreator on the bucket.' });
        }
        throw new FerryError('UPLOAD_FAILED', `upload of ${objectName} failed: ${msg}`, { cause: e, retryable: code === undefined || code === 429 || (code ?? 0) >= 500 });
      }
    },
  };
}
