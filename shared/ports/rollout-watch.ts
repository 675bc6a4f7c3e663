/** Live updates of deploy requests and rollouts (Firestore listeners), for following a rollout as it happens. */
import type { Rollout } from '../domain/rollout.ts';
import type { RejectedRequest } from './rollout-state.ts';

export type Unsubscribe = () => void;

/** What the deploy function made of a published request, once it handled it. */
export type RequestFate =
  /** `outcome`: start | queued | duplicate-…; `rolloutId` null when a duplicate maps to no rollout. */
  { kind: 'admitted'; rolloutId: string | null; outcome: string } | { kind: 'rejected'; rejected: RejectedRequest };

export interface RolloutWatch {
  /** Calls `onFate` when the request has been handled (at once if it already was). */
  watchRequest(messageId: string, onFate: (fate: RequestFate) => void, onError: (e: unknown) => void): Unsubscribe;
  /** Calls `onChange` with the rollout as it is now, then on every change. */
  watchRollout(id: string, onChange: (r: Rollout) => void, onError: (e: unknown) => void): Unsubscribe;
}
