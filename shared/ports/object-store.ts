/**
 * A bucket (or a local directory) as far as ferry needs it: one listing of a prefix, ranged reads
 * of objects, and (GCS only) temporary holds on objects. Adapters: shared/adapters/gcs.ts (GCS / Storage emulator),
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
  /**
   * Issue #20: sets (`hold: true`) or releases a temporary hold on one object, together with ferry's
   * custom metadata marker (`marker`; null removes it), in one PATCH that applies only while the
   * object is still at `generation` and `metageneration` (what the caller's listing saw). Absent
   * where holds cannot exist (a local directory).
   * - `done`: applied;
   * - `conflict`: the object changed (412: another generation, or its metadata was patched since the
   *   listing), or is gone (404); the caller lists again and decides again;
   * - `unsupported`: this store cannot hold objects (the Storage emulator answers 501 to object
   *   PATCH); once seen, later calls answer it without a request.
   * Anything else fails with a FerryError (HOLD_FAILED, with a next step for a missing permission).
   */
  setTemporaryHold?(name: string, change: HoldChange, at: { generation: string; metageneration: string }): Promise<HoldOutcome>;
}

export interface HoldChange {
  hold: boolean;
  /** ferry's marker value (shared/app/holds.ts HOLD_MARKER), or null to remove the marker. */
  marker: string | null;
}

export type HoldOutcome = 'done' | 'conflict' | 'unsupported';
