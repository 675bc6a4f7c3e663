/**
 * The target document: at most one active rollout per target and at most one queued behind it.
 * Pure admission and release decisions; the adapter applies them in a transaction.
 */
import { z } from 'zod';
import { Target, targetKey } from './names.ts';
import { Rollout, RolloutId, isTerminalPhase } from './rollout.ts';

const IsoTime = z.iso.datetime();
const iso = (d: Date): string => d.toISOString();
const maxIso = (a: string, b: string): string => (a >= b ? a : b);

// ---------------------------------------------------------------------------------------------
// Target: one active rollout, at most one queued

export const TargetState = z.object({
  schemaVersion: z.literal(1),
  key: z.string(),
  target: Target,
  /** The rollout that owns the target (pending until its first step, then applying…). */
  activeRolloutId: RolloutId.nullable(),
  /** The next rollout; a newer request supersedes it. */
  queuedRolloutId: RolloutId.nullable(),
  /** Last succeeded rollout: what a failed rollout goes back to. */
  lastGood: z.object({ rolloutId: RolloutId, specDigest: z.string(), model: z.string(), version: z.string(), at: IsoTime }).nullable(),
  updatedAt: IsoTime,
});
export type TargetState = z.infer<typeof TargetState>;

export function newTargetState(target: Target, now: Date): TargetState {
  return {
    schemaVersion: 1,
    key: targetKey(target),
    target,
    activeRolloutId: null,
    queuedRolloutId: null,
    lastGood: null,
    updatedAt: iso(now),
  };
}

export interface Admission {
  state: TargetState;
  /** start: it is the active rollout now; queued: it waits; known: already admitted (duplicate). */
  decision: 'start' | 'queued' | 'known';
  /** A queued rollout this one replaced: send it {kind:'superseded', byRolloutId}. */
  supersedes: string | null;
}

/** Admit a new (pending) rollout to its target. Idempotent for the same id. */
export function admitRollout(state: TargetState, rolloutId: string, now: Date): Admission {
  if (state.activeRolloutId === rolloutId || state.queuedRolloutId === rolloutId) {
    return { state, decision: 'known', supersedes: null };
  }
  const updatedAt = maxIso(iso(now), state.updatedAt);
  if (state.activeRolloutId === null) {
    return { state: { ...state, activeRolloutId: rolloutId, updatedAt }, decision: 'start', supersedes: null };
  }
  return {
    state: { ...state, queuedRolloutId: rolloutId, updatedAt },
    decision: 'queued',
    supersedes: state.queuedRolloutId,
  };
}

/**
 * The active rollout reached a terminal phase: free the target, promote the queued rollout (returned
 * as `next`), and remember a success as the new last good. No-op unless `rollout` is the active,
 * terminal one, so a repeated call changes nothing.
 */
export function releaseTarget(state: TargetState, rollout: Rollout, now: Date): { state: TargetState; next: string | null } {
  if (state.activeRolloutId !== rollout.id || !isTerminalPhase(rollout.phase)) return { state, next: null };
  const lastGood =
    rollout.phase === 'succeeded'
      ? { rolloutId: rollout.id, specDigest: rollout.specDigest, model: rollout.model, version: rollout.version, at: rollout.updatedAt }
      : state.lastGood;
  const next = state.queuedRolloutId;
  return {
    state: { ...state, activeRolloutId: next, queuedRolloutId: null, lastGood, updatedAt: maxIso(iso(now), state.updatedAt) },
    next,
  };
}
