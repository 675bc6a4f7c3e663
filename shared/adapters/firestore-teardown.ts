/**
 * Firestore storage for teardown: `teardownRuns/{id}` (TeardownRun), `targetActivity/{key}`
 * (TargetActivity), `scaledDownClusters/{id}` (ScaledDownCluster), reading `targets`.
 */
import { createHash } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { TargetState } from '../domain/target-state.ts';
import { clusterKey } from '../domain/names.ts';
import { TargetActivity, TeardownRun } from '../domain/teardown-run.ts';
import { ScaledDownCluster, findScaledDown } from '../domain/scaled-down-cluster.ts';
import type { TeardownStore } from '../ports/teardown-store.ts';
import { firestoreError, parseDoc } from './firestore.ts';

const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * The document id of a cluster's record: its clusterKey (`P.L.C`, names.ts), or, for a name that
 * is not a valid cluster name, a hash `h-<hex>` (a clusterKey is `local` or holds a `.`, so the two
 * never collide). Ids written before clusterKey (`P~L~C`) are moved by firestore-migrations.ts.
 */
export function scaledDownId(cluster: string): string {
  return clusterKey(cluster) ?? `h-${createHash('sha256').update(cluster).digest('hex').slice(0, 32)}`;
}

export class FirestoreTeardownStore implements TeardownStore {
  private readonly db: Firestore;
  constructor(db: Firestore) {
    this.db = db;
  }

  async listTargets(): Promise<TargetState[]> {
    try {
      const snap = await this.db.collection('targets').get();
      return snap.docs.map((d) => parseDoc(TargetState, d.data(), d.ref.path)).sort((a, b) => a.key.localeCompare(b.key));
    } catch (e) {
      throw firestoreError(e, 'list targets');
    }
  }

  async listActivity(): Promise<TargetActivity[]> {
    try {
      const snap = await this.db.collection('targetActivity').get();
      return snap.docs.map((d) => parseDoc(TargetActivity, d.data(), d.ref.path));
    } catch (e) {
      throw firestoreError(e, 'list target activity');
    }
  }

  async getActivity(key: string): Promise<TargetActivity | undefined> {
    try {
      const snap = await this.db.collection('targetActivity').doc(key).get();
      return snap.exists ? parseDoc(TargetActivity, snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'get target activity');
    }
  }

  async saveActivity(a: TargetActivity): Promise<void> {
    try {
      await this.db
        .collection('targetActivity')
        .doc(a.key)
        .set(TargetActivity.parse(plain(a)));
    } catch (e) {
      throw firestoreError(e, 'save target activity');
    }
  }

  async saveRun(run: TeardownRun): Promise<void> {
    try {
      await this.db
        .collection('teardownRuns')
        .doc(run.id)
        .set(TeardownRun.parse(plain(run)));
    } catch (e) {
      throw firestoreError(e, 'save teardown run');
    }
  }

  async getRun(id: string): Promise<TeardownRun | undefined> {
    try {
      const snap = await this.db.collection('teardownRuns').doc(id).get();
      return snap.exists ? parseDoc(TeardownRun, snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'get teardown run');
    }
  }

  async listRuns(limit = 20): Promise<TeardownRun[]> {
    try {
      const snap = await this.db.collection('teardownRuns').orderBy('startedAt', 'desc').limit(limit).get();
      return snap.docs.map((d) => parseDoc(TeardownRun, d.data(), d.ref.path));
    } catch (e) {
      throw firestoreError(e, 'list teardown runs');
    }
  }

  async getScaledDown(cluster: string): Promise<ScaledDownCluster | undefined> {
    try {
      const snap = await this.db.collection('scaledDownClusters').doc(scaledDownId(cluster)).get();
      if (snap.exists) return parseDoc(ScaledDownCluster, snap.data(), snap.ref.path);
      // Not under this spelling: the record may name the project the other way (id vs number). The
      // collection holds one small document per scaled-down cluster, so reading it all is cheap.
      const all = await this.db.collection('scaledDownClusters').get();
      return findScaledDown(
        all.docs.map((d) => parseDoc(ScaledDownCluster, d.data(), d.ref.path)),
        cluster,
      );
    } catch (e) {
      throw firestoreError(e, 'get scaled-down cluster');
    }
  }

  async listRestoring(): Promise<ScaledDownCluster[]> {
    try {
      // One document per managed cluster at most: a full read is cheaper than an index to keep.
      const snap = await this.db.collection('scaledDownClusters').get();
      return snap.docs.map((d) => parseDoc(ScaledDownCluster, d.data(), d.ref.path)).filter((r) => r.restoreRequestedAt !== null);
    } catch (e) {
      throw firestoreError(e, 'list scaled-down clusters');
    }
  }

  async saveScaledDown(rec: ScaledDownCluster): Promise<void> {
    try {
      await this.db
        .collection('scaledDownClusters')
        .doc(scaledDownId(rec.cluster))
        .set(ScaledDownCluster.parse(plain(rec)));
    } catch (e) {
      throw firestoreError(e, 'save scaled-down cluster');
    }
  }

  async clearScaledDown(cluster: string): Promise<void> {
    try {
      await this.db.collection('scaledDownClusters').doc(scaledDownId(cluster)).delete();
    } catch (e) {
      throw firestoreError(e, 'clear scaled-down cluster');
    }
  }
}
