/**
 * FerryError codes (shared/domain/errors.ts), per feature. A FerryError accepts only these codes,
 * and takes its hint from here unless the thrower knows a more specific one.
 */
import type { Catalogue } from './catalogue.ts';
import { INTEGRITY_ERRORS } from './integrity.ts';

export { INTEGRITY_ERRORS };

/** Cloud Storage, and the local file system the CLI reads checkpoints from. */
export const STORAGE_ERRORS = {
  OBJECT_NOT_FOUND: {
    meaning: 'An object, file or bucket ferry needs does not exist, or was replaced since it was listed.',
    hint: 'Check the path (gs://<bucket>/models/<model>/<version>/…) and upload what is missing; a replaced object is read again on the next try.',
  },
  OBJECT_CHANGED: {
    meaning: 'An object changed while ferry was reading it (it is shorter than its listing says).',
    hint: 'Let the upload finish; the version is validated again by itself.',
  },
  NOT_A_DIRECTORY: {
    meaning: 'A local path given as a checkpoint directory is not a directory.',
    hint: 'Pass the directory that holds the .safetensors files, config.json and the tokenizer.',
  },
  STORAGE_FORBIDDEN: {
    meaning: 'Cloud Storage (or the local file system) refused access.',
    hint: 'Grant roles/storage.objectViewer (to read) or roles/storage.objectCreator (to upload) on the bucket, or check the credentials and file permissions.',
  },
  STORAGE_UNAVAILABLE: {
    meaning: 'Cloud Storage did not answer, or answered with a transient error; the work is retried.',
    hint: 'Nothing to do if a retry passes; otherwise check the network, or STORAGE_EMULATOR_HOST for the local stack.',
  },
  STORAGE_ERROR: {
    meaning: 'Cloud Storage failed in a way ferry does not classify.',
    hint: "Read the message (it carries Cloud Storage's answer), fix what it names and run again.",
  },
  UPLOAD_FAILED: {
    meaning: 'A file could not be written to the bucket.',
    hint: 'Run the same `ferry upload` again: files already there are written again, and the version is validated once it is complete.',
  },
  BUCKET_NOT_FOUND: {
    meaning: "The bucket of a version's gs:// URI does not exist.",
    hint: 'Check FERRY_BUCKET and the bucket name in the version; create the bucket (Terraform does in production).',
  },
  BUCKET_LOCATION_UNKNOWN: {
    meaning: "ferry could not learn the bucket's location, which planning Anywhere Caches needs.",
    hint: 'Set FERRY_BUCKET_LOCATION (e.g. US-CENTRAL1), or grant storage.buckets.get on the bucket.',
  },
  SYMLINK_BROKEN: {
    meaning: 'A symlink in a local checkpoint folder points at nothing (or at itself, in a loop).',
    hint: 'Download the model again (e.g. `hf download <repo>`), or remove the link.',
  },
  SYMLINK_TO_DIRECTORY: {
    meaning: 'A symlink in a local checkpoint folder points at a directory; only links to files are followed.',
    hint: 'Upload the linked folder itself, or replace the link with the files.',
  },
  SYMLINK_OUTSIDE_ROOT: {
    meaning: 'A symlink leaves the folder being uploaded (or, for a Hugging Face cache snapshot, its models--<org>--<name>/ folder).',
    hint: 'Replace the link with a copy of the file (cp -L), or upload the folder the link points into.',
  },
  SYMLINK_NOT_A_FILE: {
    meaning: 'A symlink in a local checkpoint folder points at a device, socket or pipe.',
    hint: 'Remove the link.',
  },
  NOT_A_REGULAR_FILE: {
    meaning: 'A local checkpoint folder holds a device, socket or pipe.',
    hint: 'Remove it: a checkpoint folder holds files and folders only.',
  },
  HF_CACHE_NOT_A_SNAPSHOT: {
    meaning: 'A Hugging Face cache repository folder (models--<org>--<name>) was given instead of one of its snapshots.',
    hint: 'Pass …/models--<org>--<name>/snapshots/<revision>/ (the message lists the snapshots).',
  },
} as const satisfies Catalogue;

/** Firestore, where ferry keeps its state. */
export const STATE_ERRORS = {
  STATE_UNAVAILABLE: {
    meaning: 'Firestore did not answer, or answered with a transient error; the work is retried.',
    hint: "Nothing to do if a retry passes; otherwise check Firestore's status, or FIRESTORE_EMULATOR_HOST for the local stack.",
  },
  STATE_CONTENTION: {
    meaning: 'A Firestore transaction lost to concurrent writes; the work is retried.',
    hint: 'Nothing to do: the retry reads the new state. If it keeps happening, look for a process writing the same documents in a loop.',
  },
  STATE_FORBIDDEN: {
    meaning: 'Firestore refused access.',
    hint: "Give the function's service account roles/datastore.user.",
  },
  STATE_ERROR: {
    meaning: 'Firestore failed in a way ferry does not classify.',
    hint: "Read the message (it carries Firestore's answer), fix what it names and run again.",
  },
  STATE_CORRUPT: {
    meaning: "A Firestore document does not match ferry's schema.",
    hint: 'A document written by an incompatible ferry version: inspect it, then fix or delete it.',
  },
} as const satisfies Catalogue;

/** Pub/Sub publishing (deploy requests, results, chat work, teardown ticks). */
export const PUBLISH_ERRORS = {
  TOPIC_NOT_FOUND: {
    meaning: 'The Pub/Sub topic ferry publishes to does not exist.',
    hint: 'Create the topic (Terraform does in production; `npm start` does locally), or fix the FERRY_*_TOPIC setting.',
  },
  PUBLISH_FORBIDDEN: {
    meaning: 'Pub/Sub refused the publish.',
    hint: 'Grant roles/pubsub.publisher on the topic.',
  },
  PUBLISH_FAILED: {
    meaning: 'Publishing to Pub/Sub failed (retried when the failure is transient).',
    hint: 'Nothing to do if a retry passes; otherwise check the network, or PUBSUB_EMULATOR_HOST for the local stack.',
  },
} as const satisfies Catalogue;

/** Kubernetes clusters and the GKE API (clusters, node pools, operations). */
export const CLUSTER_ERRORS = {
  CLUSTER_NOT_FOUND: {
    meaning: 'A Kubernetes object or GKE resource (cluster, node pool, operation) does not exist.',
    hint: "Check the target's cluster, namespace and name; a resource deleted meanwhile is no error for teardown.",
  },
  CLUSTER_CONFLICT: {
    meaning: 'Kubernetes or GKE refused a change because of a concurrent one (HTTP 409, another GKE operation running).',
    hint: 'Nothing to do: ferry tries again at its next step, once the other change is done.',
  },
  CLUSTER_FORBIDDEN: {
    meaning: 'Kubernetes or GKE refused access.',
    hint: "Grant ferry's identity the cluster permissions it needs (roles/container.clusterViewer and the gke_rbac_manifest ClusterRole on GKE; the ferry GKE teardown role for node pools and clusters).",
  },
  CLUSTER_INVALID: {
    meaning: 'GKE (or its local fake) refused a request as invalid.',
    hint: 'Read the message: it names the field. If ferry built the request, report it as a bug.',
  },
  CLUSTER_UNAVAILABLE: {
    meaning: 'The cluster or the GKE API did not answer, or failed transiently; the work is retried.',
    hint: 'Nothing to do if a retry passes; otherwise check that the cluster runs (locally: keep `npm start` running).',
  },
  CLUSTER_DELETED: {
    meaning: 'The target GKE cluster does not exist (deleted, e.g. by teardown).',
    hint: 'Create the cluster again, or deploy to another target.',
  },
  CLUSTER_NOT_CONFIGURED: {
    meaning: 'The target cluster is "local" but no KUBECONFIG is configured.',
    hint: 'Start the local stack with `npm start` (it writes KUBECONFIG to .ferry/local.env), or target a GKE cluster.',
  },
  CLUSTER_API_MISSING: {
    meaning: 'The cluster does not serve a kind ferry renders (PodMonitoring, ComputeClass, HorizontalPodAutoscaler).',
    hint: 'Enable the feature on the cluster (Managed Prometheus, GKE ≥ 1.30.3 for compute classes), or deploy without what needs it (autoscaling, capacity.computeClass).',
  },
  MANIFEST_REJECTED: {
    meaning: 'The API server refused a rendered manifest (HTTP 400 or 422).',
    hint: 'A ferry bug or an incompatible cluster version: report it with the message.',
  },
  MANIFEST_INVALID: {
    meaning: 'A rendered object has no metadata.name or namespace.',
    hint: 'A ferry bug: report it with the message.',
  },
} as const satisfies Catalogue;

/** Anywhere Cache: the CacheControl port's codes (shared/ports/cache-control.ts). */
export const CACHE_ERRORS = {
  CACHE_ALREADY_EXISTS: {
    meaning: 'An Anywhere Cache already exists for that bucket and zone.',
    hint: 'Nothing to do: ferry uses the existing cache.',
  },
  CACHE_NOT_FOUND: {
    meaning: 'There is no Anywhere Cache for that bucket and zone.',
    hint: 'Nothing to do: the next deploy that plans a cache there creates it.',
  },
  CACHE_INVALID_ARGUMENT: {
    meaning: 'The Storage Control API refused the cache settings.',
    hint: "Put the cache in a zone inside the bucket's location, with a TTL of 1 h – 7 d in whole seconds.",
  },
  CACHE_FAILED_PRECONDITION: {
    meaning: 'The cache is in a state that does not allow the change (e.g. being created, or disabled).',
    hint: "Nothing to do: ferry tries again at its next step, once the cache's operation is done.",
  },
  CACHE_FORBIDDEN: {
    meaning: 'The Storage Control API refused access to Anywhere Caches.',
    hint: "Grant ferry's service account roles/storage.admin on the bucket (storage.anywhereCaches.* permissions).",
  },
  CACHE_UNAVAILABLE: {
    meaning: 'The Storage Control API did not answer, or failed transiently; the work is retried.',
    hint: 'Nothing to do if a retry passes; otherwise check FERRY_STORAGE_CONTROL_API_ENDPOINT for the local stack.',
  },
  CACHE_ERROR: {
    meaning: 'The Storage Control API failed in a way ferry does not classify.',
    hint: 'Read the message, fix what it names, or deploy with cache.mode "off".',
  },
} as const satisfies Catalogue;

/** Deploys: sizing, rendering, rollouts. */
export const DEPLOY_ERRORS = {
  SIZING_UNAVAILABLE: {
    meaning: "ferry cannot size the model: the checkpoint's config.json lacks the numbers sizing needs.",
    hint: 'Name an accelerator in the deploy request (sizing is then not checked), or add the fields to config.json.',
  },
  ACCELERATOR_TOO_SMALL: {
    meaning: "The requested accelerator cannot hold the model's weights and KV cache.",
    hint: 'Use the accelerator ferry recommends, or lower sizing.contextTokens or sizing.concurrency.',
  },
  TENSOR_PARALLEL_INVALID: {
    meaning: 'vLLM cannot split the model over the requested tensor-parallel size.',
    hint: 'Choose a device count or tensorParallelSize that divides the attention heads.',
  },
  CACHE_PLAN_FAILED: {
    meaning: 'Planning the Anywhere Caches of a deploy failed.',
    hint: 'Read the message and fix what it names, or deploy with cache.mode "off".',
  },
  APPLY_FAILED: {
    meaning: 'Applying a rollout to the cluster failed.',
    hint: 'Read the message and fix what it names; the rollout fails (and rolls back), so deploy again afterwards.',
  },
  PREVIOUS_ROLLOUT_MISSING: {
    meaning: 'The rollout to roll back to is gone from Firestore.',
    hint: 'Deploy a known good version explicitly.',
  },
  RENDER_FAILED: {
    meaning: 'Rendering the Kubernetes objects of a deploy failed.',
    hint: 'A ferry bug: report it with the deploy request and the message.',
  },
  INVALID_REQUEST: {
    meaning: 'An invalid deploy request reached the renderer (requests are validated before).',
    hint: 'A ferry bug: report it with the deploy request and the message.',
  },
  INVALID_RENDER_INPUT: {
    meaning: 'The renderer got an invalid rollout id, bucket or checkpoint.',
    hint: 'A ferry bug: report it with the deploy request and the message.',
  },
  VERSION_UNRESOLVED: {
    meaning: '"latest" reached the renderer before it was resolved to a version.',
    hint: 'A ferry bug: resolve "latest" to the newest valid version before rendering.',
  },
  ACCELERATOR_UNRESOLVED: {
    meaning: 'The renderer got a request without an accelerator.',
    hint: 'A ferry bug: pass the request through resolveAccelerator (shared/app/serving-plan.ts) before rendering.',
  },
  CHECKPOINT_MISMATCH: {
    meaning: 'The checkpoint handed to the renderer is not the requested version.',
    hint: 'A ferry bug: report it with the deploy request and the message.',
  },
  INVALID_ROLLOUT: {
    meaning: 'A rollout was built from inconsistent inputs.',
    hint: 'A ferry bug: report it with the deploy request and the message.',
  },
  ILLEGAL_TRANSITION: {
    meaning: 'The rollout state machine was asked for a phase change it does not allow.',
    hint: 'A ferry bug: report it with the rollout id and the message.',
  },
} as const satisfies Catalogue;

/** Checkpoint uploads and their validation. */
export const UPLOAD_ERRORS = {
  NO_CHECKPOINT_FILES: {
    meaning: 'A folder given to `ferry upload` holds no *.safetensors file.',
    hint: 'Point ferry at the folder that holds the weights: for a Hugging Face cache, …/models--<org>--<name>/snapshots/<revision>/.',
  },
  VALIDATION_ATTEMPTS_EXHAUSTED: {
    meaning:
      'The validation of this content was started 3 times and never finished (its worker died each time, e.g. out of memory); ferry stopped retrying it.',
    hint: 'Run `ferry validate` on the version locally to see what stops it, then upload a fixed checkpoint as a new version.',
  },
  VALIDATION_FAILED: {
    meaning: 'Validating an uploaded version failed for a reason ferry does not classify.',
    hint: 'Read the message, then upload the version again (or run `ferry validate` on it).',
  },
} as const satisfies Catalogue;

/** Slack chat-ops. */
export const CHAT_ERRORS = {
  CHAT_URL_REFUSED: {
    meaning: 'A response URL is not a Slack one, so ferry does not post to it.',
    hint: 'Only Slack response URLs are answered; set FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL=1 for local tests.',
  },
  CHAT_URL_EXPIRED: {
    meaning: 'Slack no longer takes posts to this response URL.',
    hint: 'A response_url takes 5 posts within 30 minutes; run the command again for a fresh one.',
  },
  CHAT_POST_FAILED: {
    meaning: 'Posting to Slack failed (network, HTTP 5xx or 429).',
    hint: "Nothing to do if a retry passes; otherwise check Slack's status and the network.",
  },
  CHAT_POST_REJECTED: {
    meaning: 'Slack refused the message ferry posted.',
    hint: 'A ferry bug (a message Slack does not accept): report it with the message.',
  },
  CHAT_COMMAND_BUSY: {
    meaning: 'Another delivery of the same chat command is working on it; this one is retried.',
    hint: 'Nothing to do: the command runs once.',
  },
  CHAT_COMMAND_FAILED: {
    meaning: 'A chat command failed for a reason ferry does not classify.',
    hint: 'Read the message, then run the command again.',
  },
  CHAT_QUEUE_FAILED: {
    meaning: 'A slash command could not be queued for work.',
    hint: 'Nothing was changed: run the command again in a minute.',
  },
} as const satisfies Catalogue;

/** Scheduled teardown of idle caches, deployments and clusters. */
export const TEARDOWN_ERRORS = {
  TEARDOWN_PLAN_FAILED: {
    meaning: 'A teardown plan requested from chat could not be made.',
    hint: 'Read the message, fix what it names, and run `/ferry teardown plan` again.',
  },
} as const satisfies Catalogue;

/** Everything: settings, command lines, events, bugs. */
export const GENERAL_ERRORS = {
  BACKEND_UNREACHABLE: {
    meaning: 'Nothing answered at the address of a Google API or emulator.',
    hint: 'If you use the local stack, start it with `npm start` (and keep it running); otherwise check your network and the project id.',
  },
  CONFIG_INVALID: {
    meaning: 'A setting (an environment variable or a line of .ferry/local.env) is missing or invalid.',
    hint: 'Set the named environment variables (locally: run `npm start`, which writes .ferry/local.env).',
  },
  USAGE: {
    meaning: 'A command was called with arguments it does not take.',
    hint: 'Run the command with --help (in Slack: `/ferry help`) and call it as shown.',
  },
  EVENT_INVALID: {
    meaning: 'An incoming event does not match its schema; it is logged and dropped, never retried.',
    hint: 'Check what produced it (the Eventarc trigger, or whoever published to the topic).',
  },
  BODY_TOO_LARGE: {
    meaning: "An HTTP request's body is over the function's cap (64 KiB for Slack, 1 MiB for event deliveries); refused before it is read.",
    hint: 'Send a smaller body; an event delivery this large is acked and dropped, so check what produced it.',
  },
  BODY_MALFORMED: {
    meaning: "An HTTP request's body could not be parsed (not JSON, bad charset); an event delivery is acked and dropped, Slack gets a bare 401.",
    hint: 'Check what sent it: Eventarc and Pub/Sub push send JSON, Slack sends a signed form.',
  },
  INTERNAL: {
    meaning: 'An unexpected failure inside ferry.',
    hint: "If it keeps happening, run again with FERRY_DEBUG=1 (CLI) or read the function's logs, and report it.",
  },
} as const satisfies Catalogue;

/** The read-only web console (functions/console.ts). */
export const CONSOLE_ERRORS = {
  CONSOLE_UNAUTHENTICATED: {
    meaning: 'A console request carried neither a valid IAP assertion (x-goog-iap-jwt-assertion) nor the local dev token: it got 401 and no data.',
    hint: 'Use the console through its IAP address (Terraform output `console_url`); locally, use the URL `npm start` prints (it carries the dev token).',
  },
  CONSOLE_NOT_FOUND: {
    meaning: 'A console address names a page, model, version, rollout or target ferry does not know.',
    hint: 'Check the link, or start from the models page (/models).',
  },
  CONSOLE_READ_ONLY: {
    meaning: 'The console is read-only: it answers GET and HEAD only.',
    hint: 'Use `ferry` or Slack (`/ferry …`) to change anything.',
  },
} as const satisfies Catalogue;

/** Every FerryError code. The feature catalogues share no code (test/unit/domain/reasons.test.ts). */
export const FERRY_ERRORS = {
  ...STORAGE_ERRORS,
  ...STATE_ERRORS,
  ...PUBLISH_ERRORS,
  ...CLUSTER_ERRORS,
  ...CACHE_ERRORS,
  ...DEPLOY_ERRORS,
  ...UPLOAD_ERRORS,
  ...CHAT_ERRORS,
  ...TEARDOWN_ERRORS,
  ...CONSOLE_ERRORS,
  ...INTEGRITY_ERRORS,
  ...GENERAL_ERRORS,
} as const satisfies Catalogue;
export type FerryErrorCode = keyof typeof FERRY_ERRORS;

export type ClusterErrorCode = keyof typeof CLUSTER_ERRORS;
export type CacheErrorCode = keyof typeof CACHE_ERRORS;
