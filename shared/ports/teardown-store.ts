/** Where teardown keeps its state: `teardownRuns/{id}`, `targetActivity/{targetKey}`, and the ferry targets. */
import type { TargetState } from '../domain/rollout.ts';
import type { TargetActivity, TeardownRun } from '../domain/teardown.ts';

export interface TeardownStore {
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
