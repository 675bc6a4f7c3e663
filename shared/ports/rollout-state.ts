/** Where rollouts, targets and deploy-request bookkeeping live (Firestore). */
import type { Rollout } from '../domain/rollout.ts';
import type { TargetState } from '../domain/target-state.ts';
import type { Target } from '../domain/names.ts';

export interface RejectedRequest {
  messageId: string;
  reason: string;
  message: string;
  issues: Array<{ path: string; message: string }>;
  source: string;
  receivedAt: string;
  /** The request's model, when it could be read (for `ferry status <model>`). */
  model: string | null;
}

export type AdmitResult =
  | { outcome: 'admitted'; decision: 'start' | 'queued'; rollout: Rollout; superseded: Rollout | null }
  | { outcome: 'duplicate'; by: 'messageId' | 'idempotencyKey' | 'specDigest'; rolloutId: string | null };

export interface RolloutState {
  /**
   * Atomically (a duplicate may be answered from plain reads and create-only records, never by
   * writing the target): refuse a message id or idempotency key seen before, or a spec already on
   * (or heading to) the target; otherwise store the rollout, admit it to its target (start or
   * queue, superseding a queued one via `supersede`), and remember the message id and key.
   */
  admit(req: {
    messageId: string;
    idempotencyKey: string | undefined;
    rollout: Rollout;
    now: Date;
    supersede: (queued: Rollout) => Rollout;
  }): Promise<AdmitResult>;
  recordRejected(r: RejectedRequest): Promise<void>;
  /** The rollout a deploy request message started (or duplicated), once it was handled. */
  rolloutIdForMessage(messageId: string): Promise<string | null>;
  listRejected(model?: string, limit?: number): Promise<RejectedRequest[]>;

  getRollout(id: string): Promise<Rollout | undefined>;
  /** These rollouts, in one batched read; ids with no rollout are left out. */
  getRollouts(ids: readonly string[]): Promise<Rollout[]>;
  getTarget(target: Target): Promise<TargetState | undefined>;
  /** Rollouts not in a terminal phase. */
  listInFlight(): Promise<Rollout[]>;
  listRollouts(filter: { model?: string; targetKey?: string; limit?: number }): Promise<Rollout[]>;
  /**
   * The measured weight-load rates (GiB/s, `coldStart.measured.gibPerSecond`) of the model's most
   * recent succeeded rollouts, newest first, at most `limit`; rollouts without one are skipped.
   * What SLOW_LOAD compares a new load with (shared/domain/cold-start.ts slowLoad).
   */
  recentLoadRates(model: string, limit: number): Promise<number[]>;
  /**
   * Save a step's result if the stored rollout is still `expectedUpdatedAt` (else another worker
   * got there first: returns false). A terminal rollout releases its target in the same
   * transaction; the returned `next` is the queued rollout promoted to active.
   */
  saveStep(rollout: Rollout, expectedUpdatedAt: string, now: Date): Promise<{ saved: boolean; next: string | null }>;
}
