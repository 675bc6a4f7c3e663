/**
 * The deps of the Cloud Functions' use cases (upload, rollout, reconcile, teardown), each built from
 * one Settings object (functions/settings.ts parses it once per instance; the CLI builds the same
 * from its merged env) and the logger of the caller. SDK clients are created once per process
 * (firestoreClient, pubsubClient) or once per deps object. Imported lazily by the function files,
 * so loading the entry module stays cheap. The chat functions' deps are in ./chat.ts, kept apart.
 */
import { systemClock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { firestoreClient, FirestoreCheckpointState } from '../adapters/firestore.ts';
import { gcsObjectStore, storageClient } from '../adapters/gcs.ts';
import { PubSubPublisher, pubsubClient } from '../adapters/pubsub.ts';
import type { UploadDeps } from '../app/checkpoint-upload.ts';
import type { RolloutDeps } from '../app/rollouts.ts';
import type { ReconcileDeps } from '../app/reconcile-tick.ts';
import { FirestoreRolloutState } from '../adapters/firestore-rollouts.ts';
import { FirestorePolicyStore } from '../adapters/firestore-policy.ts';
import { clusterProvider } from '../adapters/kubernetes.ts';
import { cacheDeps } from './cache-control.ts';
import type { Settings } from '../config.ts';
import type { TeardownTickDeps } from '../app/teardown-tick.ts';
import type { TeardownRun } from '../domain/teardown-run.ts';
import { teardownMessage } from '../domain/chat-teardown.ts';
import { FerryError } from '../domain/errors.ts';
import { FirestoreChatCommands } from '../adapters/firestore-chat.ts';
import { SlackResponseUrlChat, slackWebhook } from '../adapters/slack.ts';
import type { TeardownDeps, TeardownOptions } from '../app/teardown.ts';
import { FirestoreGateStore } from '../adapters/firestore-gates.ts';
import { FirestoreTeardownStore } from '../adapters/firestore-teardown.ts';
import { capacityDirectory, clusterDirectory } from './cluster-directory.ts';

/** A Storage client for these Settings (the emulator's, locally). */
export function gcsClient(s: Settings) {
  return storageClient({ emulatorHost: s.STORAGE_EMULATOR_HOST, projectId: s.GOOGLE_CLOUD_PROJECT });
}

/** The Kubernetes clusters: `local` from KUBECONFIG (the local stack), GKE by name otherwise. */
export function kubeClusters(s: Settings) {
  return clusterProvider({ ...(s.KUBECONFIG ? { localKubeconfig: s.KUBECONFIG } : {}) });
}

/** The model buckets ferry owns; the upload function does not start without one. */
function modelBuckets(s: Settings): readonly string[] {
  if (s.FERRY_MODEL_BUCKETS.length === 0) {
    throw new FerryError('CONFIG_INVALID', 'invalid configuration: FERRY_MODEL_BUCKETS is not set (the model bucket(s) ferry owns)', {
      hint: 'Set FERRY_MODEL_BUCKETS to the model bucket name (Terraform sets it from bucket_name; locally `npm start` writes it).',
      details: { problems: ['FERRY_MODEL_BUCKETS is not set'] },
    });
  }
  return s.FERRY_MODEL_BUCKETS;
}

/**
 * The deploy policy's store, on the database FERRY_POLICY_DATABASE names: in production a database
 * of its own that the functions may only read (roles/datastore.viewer conditioned on it,
 * infra/iam.tf); changes come from `ferry policy set` with a policy admin's own credentials.
 */
export function policyStore(s: Settings): FirestorePolicyStore {
  return new FirestorePolicyStore(firestoreClient(s.GOOGLE_CLOUD_PROJECT, s.FERRY_POLICY_DATABASE));
}

export function uploadDeps(s: Settings, log: Logger): UploadDeps {
  const gcs = gcsClient(s);
  return {
    // One Storage client per instance; a fresh store per event so its request counts are its own.
    objects: (bucket) => gcsObjectStore(bucket, { storage: gcs }),
    state: new FirestoreCheckpointState(firestoreClient(s.GOOGLE_CLOUD_PROJECT)),
    publisher: new PubSubPublisher(pubsubClient(s.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: log,
    config: {
      modelBuckets: modelBuckets(s),
      modelPrefix: s.FERRY_MODEL_PREFIX,
      validationConcurrency: s.FERRY_VALIDATION_CONCURRENCY,
      claimLeaseMs: s.FERRY_VALIDATION_LEASE_SECONDS * 1000,
      deployTopic: s.FERRY_DEPLOY_TOPIC,
    },
  };
}

export function rolloutDeps(s: Settings, log: Logger): RolloutDeps {
  const db = firestoreClient(s.GOOGLE_CLOUD_PROJECT);
  let gcs: ReturnType<typeof gcsClient> | undefined;
  const clusters = kubeClusters(s);
  return {
    rollouts: new FirestoreRolloutState(db),
    policy: policyStore(s),
    versions: new FirestoreCheckpointState(db),
    clusters,
    caches: cacheDeps({ config: cacheSettings(s), db, clusters, storage: () => gcsClient(s), projectId: s.GOOGLE_CLOUD_PROJECT }),
    publisher: new PubSubPublisher(pubsubClient(s.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: log,
    config: {
      resultsTopic: s.FERRY_RESULTS_TOPIC,
      serviceAccountName: s.FERRY_VLLM_SERVICE_ACCOUNT,
      modelBuckets: s.FERRY_MODEL_BUCKETS,
      servingNamespaces: s.FERRY_SERVING_NAMESPACES,
      followSeconds: s.FERRY_DEPLOY_FOLLOW_SECONDS,
    },
    // Where teardown may scale GKE clusters down, a deploy brings their node pools back (and the
    // reconciler finishes what GKE could not start at once); a deleted cluster is refused.
    clusterDirectory: capacityDirectory({
      mode: s.FERRY_TEARDOWN_CLUSTERS,
      project: s.FERRY_GKE_PROJECT ?? s.GOOGLE_CLOUD_PROJECT,
      apiEndpoint: s.FERRY_GKE_API_ENDPOINT,
      computeEndpoint: s.FERRY_COMPUTE_API_ENDPOINT,
    }),
    scaledDown: new FirestoreTeardownStore(db),
    // The version is re-listed before each apply (CONTENT_CHANGED), and its objects are held while
    // served (temporary holds: storage.objects.update, infra/iam.tf model_object_holder): issue #20.
    objects: (bucket) => gcsObjectStore(bucket, { storage: (gcs ??= gcsClient(s)), holds: true }),
    // Models' default promotion gates (`ferry gate set`), for requests that carry none: issue #19.
    gates: new FirestoreGateStore(db),
  };
}

/**
 * The deploy function's deps: the rollout deps, plus the follow topic it hands started rollouts to
 * (followRollout follows them on its own subscription). Apart from rolloutDeps so only the deploy
 * function publishes follow requests.
 */
export function deployDeps(s: Settings, log: Logger): RolloutDeps {
  const deps = rolloutDeps(s, log);
  return { ...deps, config: { ...deps.config, followTopic: s.FERRY_FOLLOW_TOPIC } };
}

export function teardownDeps(s: Settings, log: Logger): { deps: TeardownDeps; options: TeardownOptions; reply: TeardownTickDeps['reply'] } {
  const chat = new SlackResponseUrlChat({ allowLocal: s.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL });
  // The run summary to Slack (an incoming webhook; the URL is checked here, at start).
  const notify = s.FERRY_TEARDOWN_SLACK_WEBHOOK_URL
    ? slackWebhook(s.FERRY_TEARDOWN_SLACK_WEBHOOK_URL, { allowLocal: s.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL, setting: 'FERRY_TEARDOWN_SLACK_WEBHOOK_URL' })
    : undefined;
  const db = firestoreClient(s.GOOGLE_CLOUD_PROJECT);
  const clusters = kubeClusters(s);
  const caches = cacheDeps({ config: cacheSettings(s), db, clusters, storage: () => gcsClient(s), projectId: s.GOOGLE_CLOUD_PROJECT });
  return {
    deps: {
      control: caches.control,
      records: caches.records,
      rollouts: new FirestoreRolloutState(db),
      store: new FirestoreTeardownStore(db),
      clusters,
      directory: clusterDirectory({
        mode: s.FERRY_TEARDOWN_CLUSTERS,
        project: s.FERRY_GKE_PROJECT ?? s.GOOGLE_CLOUD_PROJECT,
        apiEndpoint: s.FERRY_GKE_API_ENDPOINT,
        computeEndpoint: s.FERRY_COMPUTE_API_ENDPOINT,
      }),
      clock: systemClock,
      logger: log,
      ...(notify ? { notify: (run: TeardownRun) => notify(teardownMessage(run)) } : {}),
    },
    options: { policy: teardownPolicyFromConfig(s) },
    // `/ferry teardown plan`: the plan is posted back to the command that asked.
    reply: { commands: new FirestoreChatCommands(db), chat },
  };
}

export function teardownPolicyFromConfig(cfg: Settings): NonNullable<TeardownOptions['policy']> {
  return {
    dryRun: cfg.FERRY_TEARDOWN_DRY_RUN,
    idleTtlSeconds: {
      cache: cfg.FERRY_TEARDOWN_CACHE_IDLE_SECONDS,
      deployment: cfg.FERRY_TEARDOWN_DEPLOYMENT_IDLE_SECONDS,
      cluster: cfg.FERRY_TEARDOWN_CLUSTER_IDLE_SECONDS,
    },
    maxActions: cfg.FERRY_TEARDOWN_MAX_ACTIONS,
    clusterMode: cfg.FERRY_TEARDOWN_CLUSTER_MODE,
    scaleDeployments: cfg.FERRY_TEARDOWN_SCALE_DEPLOYMENTS,
    protectLabel: cfg.FERRY_TEARDOWN_PROTECT_LABEL,
  };
}

/** The reconciler: the deploy and upload dependencies, and where target activity is recorded. */
export function reconcileDeps(s: Settings, log: Logger): ReconcileDeps {
  // Drift alerts (issue #20) to Slack, only when the alerts webhook is set (the URL is checked here, at start).
  const alert = s.FERRY_ALERTS_SLACK_WEBHOOK_URL
    ? slackWebhook(s.FERRY_ALERTS_SLACK_WEBHOOK_URL, { allowLocal: s.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL, setting: 'FERRY_ALERTS_SLACK_WEBHOOK_URL' })
    : undefined;
  return {
    rollout: rolloutDeps(s, log),
    upload: uploadDeps(s, log),
    activity: new FirestoreTeardownStore(firestoreClient(s.GOOGLE_CLOUD_PROJECT)),
    ...(alert ? { alert } : {}),
  };
}

export function cacheSettings(s: Settings) {
  return {
    FERRY_STORAGE_CONTROL_API_ENDPOINT: s.FERRY_STORAGE_CONTROL_API_ENDPOINT,
    FERRY_BUCKET_LOCATION: s.FERRY_BUCKET_LOCATION,
    FERRY_CACHE_MAX_WAIT_SECONDS: s.FERRY_CACHE_MAX_WAIT_SECONDS,
  };
}
