/** Where ferry tracks the caches it relies on: Firestore `caches/{bucket}~{zone}`. */
import type { CacheRecord } from '../domain/cache-record.ts';

export interface CacheRecords {
  get(bucket: string, zone: string): Promise<CacheRecord | undefined>;
  /** Every record, or those of one bucket. */
  list(filter?: { bucket?: string }): Promise<CacheRecord[]>;
  /**
   * Read-modify-write in one transaction: `change` gets the stored record (or undefined) and returns
   * the record to store (undefined: leave it). Returns what is stored afterwards.
   */
  mutate(bucket: string, zone: string, change: (current: CacheRecord | undefined) => CacheRecord | undefined): Promise<CacheRecord | undefined>;
}
