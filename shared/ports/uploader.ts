/**
 * What `ferry upload` (shared/app/upload-checkpoint.ts) needs from the outside: the files of a local
 * directory, and a way to write one of them to the bucket. Adapters: shared/adapters/local-files.ts,
 * shared/adapters/gcs-upload.ts (GCS / Storage emulator).
 */

export interface LocalFile {
  /** Path relative to the directory, `/`-separated: the object name under the version prefix. */
  name: string;
  /** Where to read it from (what Uploader.upload takes). */
  path: string;
  /** Size in bytes. */
  size: number;
}

export interface LocalFiles {
  /** Every regular file under `dir`, sub-directories included. */
  list(dir: string): Promise<LocalFile[]>;
}

export interface Uploader {
  /** Writes the local file to `objectName`; transient failures are retried by the adapter. */
  upload(localPath: string, objectName: string): Promise<{ size: number; generation: string }>;
}
