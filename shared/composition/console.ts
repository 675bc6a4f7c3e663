/**
 * The web console's deps from one Settings: the Firestore adapters it reads through, and who may
 * read (the IAP verifier when FERRY_CONSOLE_IAP_AUDIENCE is set; the dev token locally).
 */
import type { Logger } from '../ports/logger.ts';
import type { Settings } from '../config.ts';
import type { ConsoleDeps } from '../app/console.ts';
import { firestoreClient, FirestoreCheckpointState } from '../adapters/firestore.ts';
import { FirestoreRolloutState } from '../adapters/firestore-rollouts.ts';
import { FirestoreCacheRecords } from '../adapters/firestore-caches.ts';
import { FirestoreTeardownStore } from '../adapters/firestore-teardown.ts';
import { iapVerifier, type IapKeys } from '../adapters/iap.ts';

export function consoleDeps(s: Settings, log: Logger, opts: { fetchIapKeys?: () => Promise<IapKeys> } = {}): ConsoleDeps {
  const db = firestoreClient(s.GOOGLE_CLOUD_PROJECT);
  return {
    reads: {
      versions: new FirestoreCheckpointState(db),
      rollouts: new FirestoreRolloutState(db),
      caches: new FirestoreCacheRecords(db),
      teardown: new FirestoreTeardownStore(db),
    },
    iap: s.FERRY_CONSOLE_IAP_AUDIENCE
      ? iapVerifier({ audience: s.FERRY_CONSOLE_IAP_AUDIENCE, ...(opts.fetchIapKeys ? { fetchKeys: opts.fetchIapKeys } : {}) })
      : null,
    devToken: s.FERRY_CONSOLE_DEV_TOKEN ?? null,
    pollSeconds: s.FERRY_CONSOLE_POLL_SECONDS,
    logger: log,
  };
}
