/**
 * Writing local files to the bucket (the `ferry upload` path). Adapter: shared/adapters/gcs-upload.ts.
 */

/** A local file to upload: its object name (relative, `/`-separated) and the bytes to send. */
export interface SourceFile {
  /** Name relative to the checkpoint folder, `/`-separated: for a symlink, the link's own name. */
  name: string;
  /** Absolute path of the bytes: the file itself, or the regular file a symlink resolves to. */
  path: string;
  size: number;
  /** The sha256 of the bytes in hex, when known and checked (a Hugging Face blob named by it). */
  sha256?: string;
}

export interface UploadCallOptions {
  /**
   * Bytes of this file sent so far in the current attempt. Called with 0 when an attempt starts,
   * so after a retry the count starts again from zero.
   */
  onProgress?: (bytesSent: number) => void;
  /** Custom metadata to store on the object (e.g. ferry upload's marker, shared/domain/manifest.ts). */
  metadata?: Record<string, string>;
}

/** What one upload stored: its size, generation and the CRC32C (base64) the bucket stored. */
export interface UploadedObject {
  size: number;
  generation: string;
  /** GCS's `crc32c` of the stored object (absent only from fakes that do not compute it). */
  crc32c?: string;
}

export interface Uploader {
  upload(localPath: string, objectName: string, opts?: UploadCallOptions): Promise<UploadedObject>;
  /** Writes a small object from memory (the manifest): one request, with a CRC32C check. */
  writeObject?(objectName: string, data: Uint8Array, opts: { contentType: string; metadata?: Record<string, string> }): Promise<UploadedObject>;
}
