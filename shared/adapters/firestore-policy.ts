/**
 * The deploy policy in Firestore: `policy/current` {version, policy, updatedAt, updatedBy} and one
 * `policyVersions/{version}` audit record per change (who, when, the diff, the whole document).
 * It lives in a database of its own (FERRY_POLICY_DATABASE, infra/firestore.tf): Firestore IAM lets
 * ferry's functions only read it and only policy_admins write it (infra/iam.tf).
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import type { PolicyAuditRecord, PolicyStore, StoredPolicy } from '../ports/policy-store.ts';
import { FerryError } from '../domain/errors.ts';
import { firestoreError, parseDoc, runTransaction } from './firestore.ts';

const Stored = z.object({ version: z.int().min(1), policy: z.unknown(), updatedAt: z.string(), updatedBy: z.string() });
const Audit = z.object({
  version: z.int().min(1),
  previousVersion: z.int().min(1).nullable(),
  policy: z.unknown(),
  by: z.string(),
  at: z.string(),
  diff: z.array(z.string()),
});

const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class FirestorePolicyStore implements PolicyStore {
  private readonly db: Firestore;
  constructor(db: Firestore) {
    this.db = db;
  }

  async current(): Promise<StoredPolicy | null> {
    try {
      const snap = await this.db.collection('policy').doc('current').get();
      return snap.exists ? (parseDoc(Stored, snap.data(), snap.ref.path) as StoredPolicy) : null;
    } catch (e) {
      throw firestoreError(e, 'read the deploy policy');
    }
  }

  async replace(change: { policy: unknown; expectedVersion: number | null; by: string; now: Date; diff: string[] }) {
    try {
      return await runTransaction(this.db, async (t) => {
        const ref = this.db.collection('policy').doc('current');
        const snap = await t.get(ref);
        const cur = snap.exists ? parseDoc(Stored, snap.data(), ref.path) : null;
        const currentVersion = cur?.version ?? null;
        if (currentVersion !== change.expectedVersion) return { ok: false as const, currentVersion };
        const version = (currentVersion ?? 0) + 1;
        const at = change.now.toISOString();
        t.set(ref, { version, policy: plain(change.policy), updatedAt: at, updatedBy: change.by });
        const audit: PolicyAuditRecord = { version, previousVersion: currentVersion, policy: plain(change.policy), by: change.by, at, diff: change.diff };
        t.create(this.db.collection('policyVersions').doc(String(version).padStart(8, '0')), audit);
        return { ok: true as const, version };
      });
    } catch (e) {
      const err = firestoreError(e, 'write the deploy policy');
      // In production only policy_admins may write the policy's database (infra/iam.tf), and
      // `ferry policy set` runs with the caller's own credentials: say so, not "give the function…".
      if (err.code === 'STATE_FORBIDDEN')
        throw new FerryError(err.code, err.message, {
          cause: e,
          hint: 'Ask to be added to policy_admins (Terraform): only they may change the deploy policy, with their own credentials (docs/policy.md).',
        });
      throw err;
    }
  }

  async history(limit: number): Promise<PolicyAuditRecord[]> {
    try {
      const snap = await this.db.collection('policyVersions').orderBy('version', 'desc').limit(limit).get();
      return snap.docs.map((d) => parseDoc(Audit, d.data(), d.ref.path) as PolicyAuditRecord);
    } catch (e) {
      throw firestoreError(e, 'read the deploy policy history');
    }
  }
}
