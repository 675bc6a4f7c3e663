/**
 * One object as a listing reports it: what the upload gate, content keys and the validator reason
 * about. A plain value (the ObjectStore port, shared/ports/object-store.ts, returns these).
 */
export interface ObjectInfo {
  /** Full object name (for a directory: the path relative to the root). */
  name: string;
  /** Size in bytes. */
  size: number;
  /** GCS generation as a decimal string ("0" for local files that have none). */
  generation: string;
  md5Hash?: string;
  crc32c?: string;
  updated?: string;
  /** Custom metadata (`x-goog-meta-*`), when the listing has any: e.g. ferry upload's marker (shared/domain/manifest.ts). */
  metadata?: Record<string, string>;
  /** GCS metageneration (changes with every metadata PATCH of this generation); absent for local files. */
  metageneration?: string;
  /** The JSON API object resource's `temporaryHold` (storage/v2 storage.proto StorageObject.temporary_hold): true while held. */
  temporaryHold?: boolean;
}
