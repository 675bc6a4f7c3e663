/**
 * Firestore migrations: documents stored under an older spelling of a key are moved to the one
 * shared/domain/names.ts builds now. Idempotent (a second run finds nothing to change), safe to run
 * while ferry runs (every change re-reads its documents in a transaction), and it reports each
 * document it changed — or, with `dryRun`, would change. Run it with `ferry migrate [--dry-run]`
 * after deploying a ferry that changed a key.
 *
 * - `autodeploy-pending-target-keys`: validation claims (`models/{m}/versions/{v}/validations/{c}`)
 *   listed the autodeploy targets still to publish as `cluster|namespace|name`; they are now
 *   targetKeys (`clusterKey~namespace~name`), the only key of a target.
 * - `scaled-down-cluster-ids`: `scaledDownClusters/{id}` ids were `project~location~cluster`; they
 *   are now the cluster's clusterKey (`project.location.cluster`), via scaledDownId.
 * - `scaled-down-per-zone`: `scaledDownClusters` records of schema version 1 held each pool's total
 *   (the sum over its instance groups) and per-zone autoscaling limits only; they are rewritten as
 *   version 2 through `upgradeScaledDown` (zones unknown, `nodesPerZone` null: a deploy divides the
 *   total by the pool's zones then). ferry reads version 1 the same way without it; the migration
 *   makes the stored records say so (docs/UPSTREAM.md M1).
 */
import type { Firestore } from '@google-cloud/firestore';
import { clusterKey, targetKey } from '../domain/names.ts';
import { firestoreError, runTransaction } from './firestore.ts';
import { scaledDownId } from './firestore-teardown.ts';
import { ScaledDownCluster, ScaledDownClusterV2 } from '../domain/scaled-down-cluster.ts';

export const MIGRATIONS = ['autodeploy-pending-target-keys', 'scaled-down-cluster-ids', 'scaled-down-per-zone'] as const;
export type MigrationName = (typeof MIGRATIONS)[number];

export interface MigrationChange {
  migration: MigrationName;
  /** The document changed (for a move: where it was). */
  path: string;
  action: 'rewrite' | 'move' | 'delete';
  /** What changed, in words. */
  detail: string;
}

export interface MigrationReport {
  dryRun: boolean;
  /** Documents read, per migration. */
  scanned: Record<MigrationName, number>;
  changes: MigrationChange[];
  /** Documents a migration could not change (left as they are), with why. */
  problems: Array<{ migration: MigrationName; path: string; message: string }>;
}

/**
 * A key in the old autodeploy spelling (`cluster|namespace|name`) → its targetKey; a targetKey (or
 * anything without `|`) → itself; null when it cannot be read as a target.
 */
export function upgradeAutodeployKey(key: string): string | null {
  if (!key.includes('|')) return key;
  const parts = key.split('|');
  if (parts.length !== 3 || clusterKey(parts[0]!) === null) return null;
  return targetKey({ cluster: parts[0]!, namespace: parts[1]!, name: parts[2]! });
}

/** The pending list with every key upgraded (order kept, duplicates dropped), or what stops it. */
function upgradePending(pending: unknown): { next: string[]; changed: boolean } | { error: string } {
  if (!Array.isArray(pending) || pending.some((k) => typeof k !== 'string')) return { error: 'autodeployPending is not a list of strings' };
  const next: string[] = [];
  for (const k of pending as string[]) {
    const up = upgradeAutodeployKey(k);
    if (up === null) return { error: `autodeploy key ${JSON.stringify(k)} names no valid target` };
    if (!next.includes(up)) next.push(up);
  }
  return { next, changed: next.length !== pending.length || next.some((k, i) => k !== pending[i]) };
}

async function autodeployPendingTargetKeys(db: Firestore, dryRun: boolean, report: MigrationReport): Promise<void> {
  const migration = 'autodeploy-pending-target-keys';
  const snap = await db.collectionGroup('validations').get();
  for (const doc of snap.docs) {
    // Only claims: models/{model}/versions/{version}/validations/{contentKey}.
    if (doc.ref.path.split('/')[0] !== 'models') continue;
    report.scanned[migration]++;
    const seen = upgradePending(doc.get('autodeployPending') ?? []);
    if ('error' in seen) {
      report.problems.push({ migration, path: doc.ref.path, message: seen.error });
      continue;
    }
    if (!seen.changed) continue;
    let detail = `autodeployPending ${JSON.stringify(doc.get('autodeployPending'))} → ${JSON.stringify(seen.next)}`;
    if (!dryRun) {
      const done = await runTransaction(db, async (t) => {
        const fresh = await t.get(doc.ref);
        if (!fresh.exists) return null;
        const up = upgradePending(fresh.get('autodeployPending') ?? []);
        if ('error' in up || !up.changed) return null;
        t.update(doc.ref, { autodeployPending: up.next });
        return `autodeployPending ${JSON.stringify(fresh.get('autodeployPending'))} → ${JSON.stringify(up.next)}`;
      });
      if (done === null) continue; // changed meanwhile (published, or already migrated)
      detail = done;
    }
    report.changes.push({ migration, path: doc.ref.path, action: 'rewrite', detail });
  }
}

async function scaledDownClusterIds(db: Firestore, dryRun: boolean, report: MigrationReport): Promise<void> {
  const migration = 'scaled-down-cluster-ids';
  const coll = db.collection('scaledDownClusters');
  const snap = await coll.get();
  for (const doc of snap.docs) {
    report.scanned[migration]++;
    const cluster = doc.get('cluster');
    if (typeof cluster !== 'string' || cluster === '') {
      report.problems.push({ migration, path: doc.ref.path, message: 'no cluster field to derive the id from' });
      continue;
    }
    const want = scaledDownId(cluster);
    if (doc.id === want) continue;
    const to = coll.doc(want);
    let action: 'move' | 'delete';
    if (dryRun) {
      action = (await to.get()).exists ? 'delete' : 'move';
    } else {
      const done = await runTransaction(db, async (t) => {
        const [old, current] = [await t.get(doc.ref), await t.get(to)];
        if (!old.exists) return null;
        // A record already under the new id was written by the ferry that uses it: it is the newer one.
        if (!current.exists) t.create(to, old.data()!);
        t.delete(doc.ref);
        return current.exists ? ('delete' as const) : ('move' as const);
      });
      if (done === null) continue;
      action = done;
    }
    report.changes.push({
      migration,
      path: doc.ref.path,
      action,
      detail: action === 'move' ? `moved to ${to.path}` : `deleted: ${to.path} already holds the record of ${cluster}`,
    });
  }
}

async function scaledDownPerZone(db: Firestore, dryRun: boolean, report: MigrationReport): Promise<void> {
  const migration = 'scaled-down-per-zone';
  const snap = await db.collection('scaledDownClusters').get();
  for (const doc of snap.docs) {
    report.scanned[migration]++;
    if (doc.get('schemaVersion') !== 1) continue;
    const parsed = ScaledDownCluster.safeParse(doc.data());
    if (!parsed.success) {
      report.problems.push({ migration, path: doc.ref.path, message: `not a scaledDownClusters record: ${parsed.error.issues[0]?.message ?? 'invalid'}` });
      continue;
    }
    if (!dryRun) {
      const done = await runTransaction(db, async (t) => {
        const fresh = await t.get(doc.ref);
        if (!fresh.exists || fresh.get('schemaVersion') !== 1) return false;
        const up = ScaledDownCluster.safeParse(fresh.data());
        if (!up.success) return false;
        t.set(doc.ref, ScaledDownClusterV2.parse(up.data));
        return true;
      });
      if (!done) continue;
    }
    report.changes.push({
      migration,
      path: doc.ref.path,
      action: 'rewrite',
      detail: `schema version 1 → 2: ${parsed.data.pools.map((p) => `${p.name} ${p.nodeCount} nodes in total (zones not recorded)`).join(', ') || 'no pools'}`,
    });
  }
}

/** Runs every migration in order; `dryRun` reads and reports without writing. */
export async function migrateFirestore(db: Firestore, opts: { dryRun: boolean }): Promise<MigrationReport> {
  const report: MigrationReport = {
    dryRun: opts.dryRun,
    scanned: { 'autodeploy-pending-target-keys': 0, 'scaled-down-cluster-ids': 0, 'scaled-down-per-zone': 0 },
    changes: [],
    problems: [],
  };
  const steps: Record<MigrationName, (db: Firestore, dryRun: boolean, report: MigrationReport) => Promise<void>> = {
    'autodeploy-pending-target-keys': autodeployPendingTargetKeys,
    'scaled-down-cluster-ids': scaledDownClusterIds,
    'scaled-down-per-zone': scaledDownPerZone,
  };
  for (const name of MIGRATIONS) {
    try {
      await steps[name](db, opts.dryRun, report);
    } catch (e) {
      throw firestoreError(e, `migration ${name}`);
    }
  }
  return report;
}
