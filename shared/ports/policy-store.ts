/** Where the deploy policy lives (Firestore `policy/current`, every version in `policyVersions`). */

/** The current policy as stored: the document is parsed by the caller (a bad one refuses every deploy). */
export interface StoredPolicy {
  version: number;
  /** The policy document as written (parsed with PolicyDoc by whoever reads it). */
  policy: unknown;
  updatedAt: string;
  updatedBy: string;
}

/** One change, kept for good: the audit record of `ferry policy set`. */
export interface PolicyAuditRecord {
  version: number;
  previousVersion: number | null;
  policy: unknown;
  by: string;
  at: string;
  /** `+ line` / `- line` of the canonical JSON. */
  diff: string[];
}

export interface PolicyStore {
  current(): Promise<StoredPolicy | null>;
  /**
   * Writes the next version and its audit record in one transaction, only if the current version
   * is still `expectedVersion` (null: no policy yet); otherwise nothing is written.
   */
  replace(change: {
    policy: unknown;
    expectedVersion: number | null;
    by: string;
    now: Date;
    diff: string[];
  }): Promise<{ ok: true; version: number } | { ok: false; currentVersion: number | null }>;
  history(limit: number): Promise<PolicyAuditRecord[]>;
}
