/**
 * What the CLI's commands need, built from the same Settings the functions use (the CLI parses
 * them from its merged env on first use: shared/cli/settings.ts). Every adapter is loaded when a
 * command asks for it, so `ferry --help` and the commands that need no backend stay instant.
 */
import type { Settings } from '../config.ts';
import type { Logger } from '../ports/logger.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { Uploader } from '../ports/uploader.ts';
import type { RolloutWatch } from '../ports/rollout-watch.ts';
import type { CacheControl } from '../ports/cache-control.ts';
import type { PreviewDeps } from '../app/preview-deploy.ts';
import type { TeardownDeps, TeardownOptions } from '../app/teardown.ts';
import type { MigrationReport } from '../adapters/firestore-migrations.ts';

export type { LocalFile } from '../adapters/local-dir.ts';
export type { MigrationReport } from '../adapters/firestore-migrations.ts';

/** What a Cloud Storage client needs: commands that read or write a bucket need no project. */
export type StorageSettings = Partial<Pick<Settings, 'STORAGE_EMULATOR_HOST' | 'GOOGLE_CLOUD_PROJECT'>>;

/** Firestore's stores, over the process's one client. */
export async function firestoreStores(s: Settings) {
  const [{ firestoreClient, FirestoreCheckpointState }, { FirestoreRolloutState }, { FirestoreCacheRecords }] = await Promise.all([
    import('../adapters/firestore.ts'),
    import('../adapters/firestore-rollouts.ts'),
    import('../adapters/firestore-caches.ts'),
  ]);
  const db = firestoreClient(s.GOOGLE_CLOUD_PROJECT);
  return {
    state: new FirestoreCheckpointState(db),
    rollouts: new FirestoreRolloutState(db),
    cacheRecords: new FirestoreCacheRecords(db),
    /**
     * `ferry policy`: the deploy policy and its audit records, in FERRY_POLICY_DATABASE, with the
     * caller's own credentials (in production only policy_admins may write that database).
     */
    policy: new (await import('../adapters/firestore-policy.ts')).FirestorePolicyStore(firestoreClient(s.GOOGLE_CLOUD_PROJECT, s.FERRY_POLICY_DATABASE)),
    /** `ferry gate`: models' default promotion gates (models/{model}/settings/gate). */
    gates: new (await import('../adapters/firestore-gates.ts')).FirestoreGateStore(db),
    /** `ferry migrate`: stored keys moved to the spelling ferry uses now. */
    migrate: async (opts: { dryRun: boolean }): Promise<MigrationReport> => (await import('../adapters/firestore-migrations.ts')).migrateFirestore(db, opts),
  };
}

/** The Storage Control API (locally: the stack's fake), as the functions get it. */
export async function cacheControlOf(s: Settings): Promise<CacheControl> {
  const { cacheControl } = await import('./cache-control.ts');
  return cacheControl(s, s.GOOGLE_CLOUD_PROJECT);
}

/** Publishes deploy requests on a Pub/Sub client of its own, closed by `close()`. */
export async function deployPublisher(s: Settings) {
  const { PubSubPublisher, newPubsubClient } = await import('../adapters/pubsub.ts');
  const client = newPubsubClient(s.GOOGLE_CLOUD_PROJECT);
  const publisher = new PubSubPublisher(client);
  return {
    topic: s.FERRY_DEPLOY_TOPIC,
    publish: (data: unknown, attributes: Record<string, string>) => publisher.publishJson(s.FERRY_DEPLOY_TOPIC, data, attributes),
    close: () => client.close(),
  };
}

/**
 * Follows rollouts on a Firestore client of its own, terminated by `close()`: the listeners'
 * channels go with it, and the process's shared client (other commands in the same process: tests,
 * scripts) stays usable.
 */
export async function rolloutFollower(s: Settings): Promise<{ watch: RolloutWatch; close(): Promise<void> }> {
  const [{ newFirestoreClient }, { FirestoreRolloutWatch }] = await Promise.all([
    import('../adapters/firestore.ts'),
    import('../adapters/firestore-rollout-watch.ts'),
  ]);
  const db = newFirestoreClient(s.GOOGLE_CLOUD_PROJECT);
  return { watch: new FirestoreRolloutWatch(db), close: () => db.terminate().catch(() => undefined) };
}

/** `ferry render`: the deploy path's own deps; caches only when the request asks for one (the planner reads the bucket and cluster). */
export async function previewDeps(s: Settings, opts: { caches: boolean; logger: Logger }): Promise<PreviewDeps> {
  const { firestoreClient, FirestoreCheckpointState } = await import('../adapters/firestore.ts');
  const db = firestoreClient(s.GOOGLE_CLOUD_PROJECT);
  let caches: PreviewDeps['caches'];
  if (opts.caches) {
    const [{ cacheDeps }, { kubeClusters, gcsClient, cacheSettings }] = await Promise.all([import('./cache-control.ts'), import('./functions.ts')]);
    caches = cacheDeps({ config: cacheSettings(s), db, clusters: kubeClusters(s), storage: () => gcsClient(s), projectId: s.GOOGLE_CLOUD_PROJECT });
  }
  return { versions: new FirestoreCheckpointState(db), caches, serviceAccountName: s.FERRY_VLLM_SERVICE_ACCOUNT, logger: opts.logger };
}

/**
 * `ferry teardown`: the teardownIdle function's deps and policy (FERRY_TEARDOWN_*), without its
 * Slack summary; `close()` ends the cluster directory's connections when the command is done.
 */
export async function teardownCliDeps(
  s: Settings,
  log: Logger,
): Promise<{ deps: TeardownDeps; policy: NonNullable<TeardownOptions['policy']>; close(): Promise<void> }> {
  const [
    { firestoreClient },
    { FirestoreRolloutState },
    { FirestoreTeardownStore },
    { FirestoreCacheRecords },
    { cacheControl },
    { clusterDirectory },
    { kubeClusters, teardownPolicyFromConfig },
  ] = await Promise.all([
    import('../adapters/firestore.ts'),
    import('../adapters/firestore-rollouts.ts'),
    import('../adapters/firestore-teardown.ts'),
    import('../adapters/firestore-caches.ts'),
    import('./cache-control.ts'),
    import('./cluster-directory.ts'),
    import('./functions.ts'),
  ]);
  const db = firestoreClient(s.GOOGLE_CLOUD_PROJECT);
  const directory = clusterDirectory({
    mode: s.FERRY_TEARDOWN_CLUSTERS,
    project: s.FERRY_GKE_PROJECT ?? s.GOOGLE_CLOUD_PROJECT,
    apiEndpoint: s.FERRY_GKE_API_ENDPOINT,
    computeEndpoint: s.FERRY_COMPUTE_API_ENDPOINT,
  });
  return {
    deps: {
      control: cacheControl(s, s.GOOGLE_CLOUD_PROJECT),
      records: new FirestoreCacheRecords(db),
      rollouts: new FirestoreRolloutState(db),
      store: new FirestoreTeardownStore(db),
      clusters: kubeClusters(s),
      directory,
      clock: { now: () => new Date() },
      logger: log,
    },
    policy: teardownPolicyFromConfig(s),
    close: async () => {
      await directory?.close();
    },
  };
}

/** A checkpoint in a bucket; an interactive CLI retries a failed request once (`maxRetries: 1`). */
export async function bucketObjects(bucket: string, s: StorageSettings): Promise<ObjectStore> {
  const { gcsObjectStore, storageClient } = await import('../adapters/gcs.ts');
  const retryOptions = { maxRetries: 1 };
  return gcsObjectStore(bucket, {
    storage: storageClient({ emulatorHost: s.STORAGE_EMULATOR_HOST, projectId: s.GOOGLE_CLOUD_PROJECT }, retryOptions),
    retryOptions,
  });
}

/** Uploads into a bucket with the SDK's own retry policy. */
export async function bucketUploader(bucket: string, s: StorageSettings): Promise<Uploader> {
  const [{ storageClient }, { gcsUploader }] = await Promise.all([import('../adapters/gcs.ts'), import('../adapters/gcs-upload.ts')]);
  return gcsUploader(bucket, storageClient({ emulatorHost: s.STORAGE_EMULATOR_HOST, projectId: s.GOOGLE_CLOUD_PROJECT }));
}

/** A checkpoint in a local folder (a Hugging Face cache snapshot's symlinks followed to their blobs). */
export async function localCheckpoint(dir: string): Promise<ObjectStore> {
  return (await import('../adapters/local-dir.ts')).localDirObjectStore(dir);
}

/** The files of a local folder, to upload. */
export async function localCheckpointFiles(dir: string) {
  return (await import('../adapters/local-dir.ts')).listLocalFiles(dir);
}

/** Hugging Face blobs named by their sha256, hashed and checked before an upload (issue #20). */
export async function checkHfBlobs(files: readonly import('../adapters/local-dir.ts').LocalFile[], opts: { onBytes?: (n: number) => void } = {}) {
  return (await import('../adapters/local-dir.ts')).checkHfBlobHashes(files, opts);
}
