/**
 * Read-only view of a bucket (or a local directory) as far as ferry needs it: one listing of a
 * prefix, and ranged reads of objects. Adapters: shared/adapters/gcs.ts (GCS / Storage emulator),
 * shared/adapters/local-dir.ts (a directory on disk).
 */
import type { ObjectInfo } from '../domain/object-info.ts';

export type { ObjectInfo };

export interface ReadStats {
  requests: number;
  bytesRead: number;
}

export interface ObjectStore {
  /** Human-readable location, e.g. `gs://bucket` or `/path/to/dir`. */
  readonly location: string;
  /** Every object whose name starts with `prefix` (all pages), one logical listing. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /**
   * Bytes [start, endExclusive) of an object, pinned to `generation` when given. May return fewer
   * bytes than asked when the object is shorter. Counts one request in stats().
   */
  read(name: string, start: number, endExclusive: number, generation?: string): Promise<Uint8Array>;
  /** Requests and bytes read through this instance so far. */
  stats(): ReadStats;
}
