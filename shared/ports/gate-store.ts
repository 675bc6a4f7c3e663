/**
 * Where a model's default promotion gate lives (Firestore `models/{model}/settings/gate`): the gate
 * every rollout of the model runs when its deploy request carries none (docs/gate.md).
 */
import type { Gate } from '../domain/gate.ts';

export interface StoredGate {
  model: string;
  gate: Gate;
  updatedAt: string;
  updatedBy: string;
  /** 1 for the first gate set, +1 per change. */
  revision: number;
}

export interface GateStore {
  /** The model's default gate; null when none is set. A stored gate that no longer parses is STATE_CORRUPT. */
  get(model: string): Promise<StoredGate | null>;
  /** Stores `gate` as the model's default (the next revision). */
  set(model: string, gate: Gate, by: string, now: Date): Promise<StoredGate>;
  /** Removes the model's default gate; false when there was none. */
  delete(model: string): Promise<boolean>;
}
