/** Firestore storage for the caches ferry tracks: `caches/{bucket}~{zone}` (CacheRecord, schemaVersion 1). */
import type { Firestore } from '@google-cloud/firestore';
import { CacheRecord } from '../domain/cache-record.ts';
import { cacheId } from '../domain/names.ts';
import type { CacheRecords } from '../ports/cache-records.ts';
import { firestoreError, parseDoc, runTransaction } from './firestore.ts';

/** Firestore keeps what JSON keeps (no undefined). */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class FirestoreCacheRecords implements CacheRecords {
  private readonly db: Firestore;
  constructor(db: Firestore) {
    this.db = db;
  }

  private ref(bucket: string, zone: string) {
    return this.db.collection('caches').doc(cacheId(bucket, zone));
  }

  async get(bucket: string, zone: string): Promise<CacheRecord | undefined> {
    try {
      const snap = await this.ref(bucket, zone).get();
      return snap.exists ? parseDoc(CacheRecord, snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'get cache record');
    }
  }

  async list(filter: { bucket?: string } = {}): Promise<CacheRecord[]> {
    try {
      let q: FirebaseFirestore.Query = this.db.collection('caches');
      if (filter.bucket) q = q.where('bucket', '==', filter.bucket);
      const snap = await q.get();
      return snap.docs.map((d) => parseDoc(CacheRecord, d.data(), d.ref.path)).sort((a, b) => a.id.localeCompare(b.id));
    } catch (e) {
      throw firestoreError(e, 'list cache records');
    }
  }

  async mutate(bucket: string, zone: string, change: (current: CacheRecord | undefined) => CacheRecord | undefined): Promise<CacheRecord | undefined> {
    try {
      return await runTransaction(
        this.db,
        async (t) => {
          const ref = this.ref(bucket, zone);
          const snap = await t.get(ref);
          const current = snap.exists ? parseDoc(CacheRecord, snap.data(), snap.ref.path) : undefined;
          const next = change(current);
          if (next === undefined) return current;
          const stored = CacheRecord.parse(plain(next));
          t.set(ref, stored);
          return stored;
        },
        20,
      );
    } catch (e) {
      throw firestoreError(e, 'save cache record');
    }
  }
}
