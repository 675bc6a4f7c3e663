/** Deploy policies for tests: an in-memory store (the port's contract) and the local stack's policy. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyAuditRecord, PolicyStore, StoredPolicy } from '../../shared/ports/policy-store.ts';
import type { PolicyInput } from '../../shared/domain/policy.ts';

/** infra/local/policy.json: what `npm start` seeds, and what the demo and the tests deploy within. */
export const LOCAL_POLICY = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'infra', 'local', 'policy.json'), 'utf8')) as PolicyInput;

/** The local policy with one more cluster (every namespace pattern of `local`) granted to every source. */
export function policyWithCluster(cluster: string, namespaces?: string[]): PolicyInput {
  const local = LOCAL_POLICY.targets[0]!;
  return {
    ...LOCAL_POLICY,
    targets: [...LOCAL_POLICY.targets, { ...local, cluster, ...(namespaces ? { namespaces } : {}) }],
    grants: [...LOCAL_POLICY.grants, { name: 'extra-cluster', sources: ['pubsub', 'slack', 'autodeploy', 'cli'], targets: [`${cluster}/*`] }],
  };
}

export class MemoryPolicyStore implements PolicyStore {
  stored: StoredPolicy | null = null;
  readonly audit: PolicyAuditRecord[] = [];
  constructor(policy?: unknown) {
    if (policy !== undefined) this.stored = { version: 1, policy, updatedAt: new Date(0).toISOString(), updatedBy: 'test' };
  }
  async current(): Promise<StoredPolicy | null> {
    return this.stored ? structuredClone(this.stored) : null;
  }
  async replace(change: { policy: unknown; expectedVersion: number | null; by: string; now: Date; diff: string[] }) {
    const currentVersion = this.stored?.version ?? null;
    if (currentVersion !== change.expectedVersion) return { ok: false as const, currentVersion };
    const version = (currentVersion ?? 0) + 1;
    const at = change.now.toISOString();
    this.stored = { version, policy: structuredClone(change.policy), updatedAt: at, updatedBy: change.by };
    this.audit.push({ version, previousVersion: currentVersion, policy: structuredClone(change.policy), by: change.by, at, diff: change.diff });
    return { ok: true as const, version };
  }
  async history(limit: number): Promise<PolicyAuditRecord[]> {
    return [...this.audit].reverse().slice(0, limit);
  }
}
