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
import type { ReconcileDeps } from '../shared/app/reconcile-tick.ts';
import { FirestoreRolloutState } from '../shared/adapters/firestore-rollouts.ts';
import { clusterProvider } from '../shared/adapters/kubernetes.ts';
import { CacheConfig } from '../shared/config.ts';
import { cacheDeps } from '../shared/adapters/cache-wiring.ts';
import { TeardownConfig, SlackConfig } from '../shared/config.ts';
import type { TeardownTickDeps } from '../shared/app/teardown-tick.ts';
import type { TeardownRun } from '../shared/domain/teardown.ts';
import { teardownMessage } from '../shared/domain/chat-blocks.ts';
import { checkResponseUrl } from '../shared/domain/slack.ts';
import { FerryError } from '../shared/domain/errors.ts';
import { FirestoreChatCommands } from '../shared/adapters/firestore-chat.ts';
import { SlackResponseUrlChat } from '../shared/adapters/slack.ts';
import type { TeardownDeps, TeardownOptions } from '../shared/app/teardown.ts';
import { FirestoreTeardownStore } from '../shared/adapters/firestore-teardown.ts';
import { capacityDirectory, clusterDirectory } from '../shared/adapters/cluster-directory-wiring.ts';

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
  const gke = parseConfig(TeardownConfig.pick({ FERRY_TEARDOWN_CLUSTERS: true, FERRY_GKE_PROJECT: true, FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST: true }), env);
  return {
    rollouts: new FirestoreRolloutState(db),
    versions: new FirestoreCheckpointState(db),
    clusters,
    caches: cacheDeps({ config: cacheConfig, db, clusters, storage: () => storageClient(env), projectId: base.GOOGLE_CLOUD_PROJECT }),
    publisher: new PubSubPublisher(pubsubClient(base.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: logger(),
    config: { resultsTopic: deploy.FERRY_RESULTS_TOPIC, serviceAccountName: deploy.FERRY_VLLM_SERVICE_ACCOUNT },
    // Where teardown may scale GKE clusters down, a deploy brings their node pools back (and the
    // reconciler finishes what GKE could not start at once); a deleted cluster is refused.
    clusterDirectory: capacityDirectory({ mode: gke.FERRY_TEARDOWN_CLUSTERS, project: gke.FERRY_GKE_PROJECT ?? base.GOOGLE_CLOUD_PROJECT, emulatorHost: gke.FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST }),
    scaledDown: new FirestoreTeardownStore(db),
  };
}

export function teardownDeps(): { deps: TeardownDeps; options: TeardownOptions; reply: TeardownTickDeps['reply'] } {
  const base = parseConfig(BaseConfig, env);
  const deploy = parseConfig(DeployConfig.pick({ KUBECONFIG: true }), env);
  const cfg = parseConfig(TeardownConfig, env);
  const slack = parseConfig(SlackConfig.pick({ FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL: true }), env);
  const chat = new SlackResponseUrlChat({ allowLocal: slack.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL });
  const webhook = cfg.FERRY_TEARDOWN_SLACK_WEBHOOK_URL;
  if (webhook) {
    const ok = checkResponseUrl(webhook, { allowLocal: slack.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL });
    if (!ok.ok) throw new FerryError('CONFIG_INVALID', `invalid configuration: FERRY_TEARDOWN_SLACK_WEBHOOK_URL (value hidden): must be a Slack incoming webhook (https://hooks.slack.com/services/…)`, { hint: 'Create an incoming webhook in the Slack app and store its URL in the teardown webhook secret.' });
  }
  const cacheConfig = parseConfig(CacheConfig, env);
  const db = firestoreClient(base.GOOGLE_CLOUD_PROJECT);
  const clusters = clusterProvider({ ...(deploy.KUBECONFIG ? { localKubeconfig: deploy.KUBECONFIG } : {}) });
  const caches = cacheDeps({ config: cacheConfig, db, clusters, storage: () => storageClient(env), projectId: base.GOOGLE_CLOUD_PROJECT });
  return {
    deps: {
      control: caches.control,
      records: caches.records,
      rollouts: new FirestoreRolloutState(db),
      store: new FirestoreTeardownStore(db),
      clusters,
      directory: clusterDirectory({ mode: cfg.FERRY_TEARDOWN_CLUSTERS, project: cfg.FERRY_GKE_PROJECT ?? base.GOOGLE_CLOUD_PROJECT, emulatorHost: cfg.FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST }),
      clock: systemClock,
      logger: logger(),
      ...(webhook ? { notify: (run: TeardownRun) => chat.respond(webhook, teardownMessage(run)) } : {}),
    },
    options: { policy: teardownPolicyFromConfig(cfg) },
    // `/ferry teardown plan`: the plan is posted back to the command that asked.
    reply: { commands: new FirestoreChatCommands(db), chat },
  };
}

export function teardownPolicyFromConfig(cfg: ReturnType<typeof TeardownConfig.parse>): NonNullable<TeardownOptions['policy']> {
  return {
    dryRun: cfg.FERRY_TEARDOWN_DRY_RUN,
    idleTtlSeconds: { cache: cfg.FERRY_TEARDOWN_CACHE_IDLE_SECONDS, deployment: cfg.FERRY_TEARDOWN_DEPLOYMENT_IDLE_SECONDS, cluster: cfg.FERRY_TEARDOWN_CLUSTER_IDLE_SECONDS },
    maxActions: cfg.FERRY_TEARDOWN_MAX_ACTIONS,
    clusterMode: cfg.FERRY_TEARDOWN_CLUSTER_MODE,
    scaleDeployments: cfg.FERRY_TEARDOWN_SCALE_DEPLOYMENTS,
    protectLabel: cfg.FERRY_TEARDOWN_PROTECT_LABEL,
  };
}

/** The reconciler: the deploy and upload dependencies, and where target activity is recorded. */
export function reconcileDeps(): ReconcileDeps {
  const base = parseConfig(BaseConfig, env);
  return { rollout: rolloutDeps(), upload: uploadDeps(), activity: new FirestoreTeardownStore(firestoreClient(base.GOOGLE_CLOUD_PROJECT)) };
}
