/**
 * Builds each function's dependencies from the environment: config parsed with zod (a bad
 * variable fails with its name), SDK clients created once per instance. Imported lazily by the
 * function files, so loading the entry module stays cheap.
 */
import { parseConfig, BaseConfig, StorageConfig, DeployConfig } from '../shared/config.ts';
import { systemClock } from '../shared/ports/clock.ts';
import { firestoreClient, FirestoreCheckpointState } from '../shared/adapters/firestore.ts';
import { gcsObjectStore, storageClient } from '../shared/adapters/gcs.ts';
import { PubSubPublisher, pubsubClient } from '../shared/adapters/pubsub.ts';
import { logger } from './edge.ts';
import type { UploadDeps } from '../shared/app/checkpoint-upload.ts';
import type { RolloutDeps } from '../shared/app/rollouts.ts';
import { FirestoreRolloutState } from '../shared/adapters/firestore-rollouts.ts';
import { clusterProvider } from '../shared/adapters/kubernetes.ts';
import { CacheConfig } from '../shared/config.ts';
import { cacheDeps } from '../shared/adapters/cache-wiring.ts';

const env = process.env as Record<string, string | undefined>;

export function uploadDeps(): UploadDeps {
  const base = parseConfig(BaseConfig, env);
  const storage = parseConfig(StorageConfig, env);
  const deploy = parseConfig(DeployConfig.pick({ FERRY_DEPLOY_TOPIC: true }), env);
  const gcs = storageClient(env);
  return {
    // One Storage client per instance; a fresh store per event so its request counts are its own.
    objects: (bucket) => gcsObjectStore(bucket, { storage: gcs }),
    state: new FirestoreCheckpointState(firestoreClient(base.GOOGLE_CLOUD_PROJECT)),
    publisher: new PubSubPublisher(pubsubClient(base.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: logger(),
    config: {
      modelPrefix: storage.FERRY_MODEL_PREFIX,
      validationConcurrency: storage.FERRY_VALIDATION_CONCURRENCY,
      claimLeaseMs: storage.FERRY_VALIDATION_LEASE_SECONDS * 1000,
      deployTopic: deploy.FERRY_DEPLOY_TOPIC,
    },
  };
}

export function rolloutDeps(): RolloutDeps {
  const base = parseConfig(BaseConfig, env);
  const deploy = parseConfig(DeployConfig, env);
  const db = firestoreClient(base.GOOGLE_CLOUD_PROJECT);
  const clusters = clusterProvider({ ...(deploy.KUBECONFIG ? { localKubeconfig: deploy.KUBECONFIG } : {}) });
  const cacheConfig = parseConfig(CacheConfig, env);
  return {
    rollouts: new FirestoreRolloutState(db),
    versions: new FirestoreCheckpointState(db),
    clusters,
    caches: cacheDeps({ config: cacheConfig, db, clusters, storage: () => storageClient(env), projectId: base.GOOGLE_CLOUD_PROJECT }),
    publisher: new PubSubPublisher(pubsubClient(base.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: logger(),
    config: { resultsTopic: deploy.FERRY_RESULTS_TOPIC, serviceAccountName: deploy.FERRY_VLLM_SERVICE_ACCOUNT },
  };
}
