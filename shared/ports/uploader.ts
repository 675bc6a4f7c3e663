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
}

export interface UploadCallOptions {
  /**
   * Bytes of this file sent so far in the current attempt. Called with 0 when an attempt starts,
   * so after a retry the count starts again from zero.
   */
  onProgress?: (bytesSent: number) => void;
}

export interface Uploader {
  upload(localPath: string, objectName: string, opts?: UploadCallOptions): Promise<{ size: number; generation: string }>;
}
