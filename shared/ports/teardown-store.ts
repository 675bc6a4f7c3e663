/**
 * Where teardown keeps its state: `teardownRuns/{id}`, `targetActivity/{targetKey}`,
 * `scaledDownClusters/{id}` (node pool sizes before a scale-to-zero), and the ferry targets.
 */
import type { TargetState } from '../domain/target-state.ts';
import type { TargetActivity, TeardownRun } from '../domain/teardown-run.ts';
import type { ScaledDownCluster } from '../domain/scaled-down-cluster.ts';

/** What a deploy needs to bring back node pools teardown scaled to zero. */
export interface ScaledDownPools {
  /**
   * The record for this cluster, found under either spelling of its project (id or number) —
   * `findScaledDown` over the records when there is none under this exact name.
   */
  getScaledDown(cluster: string): Promise<ScaledDownCluster | undefined>;
  /** Records whose restore a deploy asked for and that still have pools to bring back. */
  listRestoring(): Promise<ScaledDownCluster[]>;
  saveScaledDown(rec: ScaledDownCluster): Promise<void>;
  /** Forget the record (every pool is back); a no-op when there is none. */
  clearScaledDown(cluster: string): Promise<void>;
}

export interface TeardownStore extends ScaledDownPools {
  /** Every ferry target (Firestore `targets`). */
  listTargets(): Promise<TargetState[]>;
  listActivity(): Promise<TargetActivity[]>;
  getActivity(key: string): Promise<TargetActivity | undefined>;
  saveActivity(a: TargetActivity): Promise<void>;
  saveRun(run: TeardownRun): Promise<void>;
  getRun(id: string): Promise<TeardownRun | undefined>;
  /** Newest first. */
  listRuns(limit?: number): Promise<TeardownRun[]>;
}
