/**
 * What the read-only web console reads (the same Firestore ports the functions write through) and
 * who may read it: an IAP assertion verifier (production) and a dev token (local stack).
 */
import type { CheckpointState } from './checkpoint-state.ts';
import type { RolloutState } from './rollout-state.ts';
import type { CacheRecords } from './cache-records.ts';
import type { TeardownStore } from './teardown-store.ts';

/** The outcome of checking one `x-goog-iap-jwt-assertion` header. */
export type IapVerdict =
  | { ok: true; email: string | null; subject: string }
  /** `unavailable`: Google's public keys could not be fetched (no data is served either way). */
  | { ok: false; why: string; unavailable?: boolean };

export interface IapVerifier {
  verify(assertion: string): Promise<IapVerdict>;
}

export interface ConsoleReads {
  versions: Pick<CheckpointState, 'listModels' | 'listVersions' | 'listVersionBriefs' | 'getModel' | 'getVersion' | 'getTensorBytes'>;
  rollouts: Pick<RolloutState, 'listRollouts' | 'getRollout' | 'getRollouts' | 'listRejected'>;
  caches: Pick<CacheRecords, 'list'>;
  teardown: Pick<TeardownStore, 'listRuns' | 'listTargets'>;
}
