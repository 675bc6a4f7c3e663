# Identities and every role they hold. Least privilege: no basic roles (owner/editor/viewer), no
# *.admin roles, no authoritative policies (only additive *_iam_member), and a grant on the single
# resource a permission is needed on wherever the service supports it. infra/README.md has the
# table of who holds what and why.

# ---- runtime service accounts: one per function ---------------------------------------------------

resource "google_service_account" "on_checkpoint_upload" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-upload"
  display_name = "ferry onCheckpointUpload"
  description  = "Runs onCheckpointUpload: reads checkpoint headers, records versions, publishes autodeploy requests."
}

resource "google_service_account" "on_deploy_request" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-deploy"
  display_name = "ferry onDeployRequest"
  description  = "Runs onDeployRequest: admits rollouts in Firestore and applies vLLM Deployments on GKE."
}

resource "google_service_account" "reconcile_rollouts" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-reconcile"
  display_name = "ferry reconcileRollouts"
  description  = "Runs reconcileRollouts: watches rollouts on GKE, rolls back failures."
}

resource "google_service_account" "slack_command" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-slack"
  display_name = "ferry slackCommand"
  description  = "Runs slackCommand: verifies Slack signatures, records and queues /ferry commands."
}

resource "google_service_account" "on_chat_command" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-chat"
  display_name = "ferry onChatCommand"
  description  = "Runs onChatCommand: answers queued /ferry commands, publishes the deploy requests they ask for."
}

resource "google_service_account" "on_deploy_result" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-deploy-result"
  display_name = "ferry onDeployResult"
  description  = "Runs onDeployResult: posts the results of chat-started rollouts back to Slack."
}

resource "google_service_account" "teardown_idle" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-teardown"
  display_name = "ferry teardownIdle"
  description  = "Runs teardownIdle: disables idle Anywhere Caches, scales idle managed GKE node pools to zero or deletes idle managed clusters."
}

# ---- delivery and build identities ----------------------------------------------------------------

resource "google_service_account" "eventarc" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-eventarc"
  display_name = "ferry Eventarc trigger"
  description  = "Identity of the GCS finalize trigger: receives events, invokes onCheckpointUpload."
}

resource "google_service_account" "pubsub_push" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-push"
  display_name = "ferry Pub/Sub push"
  description  = "OIDC identity of the push subscriptions: invokes the Pub/Sub-triggered functions."
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-build"
  display_name = "ferry function builds"
  description  = "Cloud Build identity for the functions: reads the source zip, pushes images, writes build logs."
}

# ---- Firestore: the functions that read and write state -------------------------------------------

resource "google_project_iam_member" "on_checkpoint_upload_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.on_checkpoint_upload.member
}

resource "google_project_iam_member" "on_deploy_request_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.on_deploy_request.member
}

resource "google_project_iam_member" "reconcile_rollouts_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.reconcile_rollouts.member
}

resource "google_project_iam_member" "slack_command_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.slack_command.member
}

resource "google_project_iam_member" "on_chat_command_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.on_chat_command.member
}

resource "google_project_iam_member" "on_deploy_result_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.on_deploy_result.member
}

resource "google_project_iam_member" "teardown_idle_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.teardown_idle.member
}

# ---- Cloud Storage ----------------------------------------------------------------------------------

# Listing a version's files and ranged reads of shard headers.
resource "google_storage_bucket_iam_member" "on_checkpoint_upload_object_viewer" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.on_checkpoint_upload.member
}

# The reconciler resumes validations whose worker died: it lists the version and reads headers too.
resource "google_storage_bucket_iam_member" "reconcile_rollouts_object_viewer" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.reconcile_rollouts.member
}

# ---- Anywhere Cache (Storage Control API): the rollout functions manage zonal caches -------------
# roles/storage.admin holds these permissions, and far more (deleting the bucket, rewriting its IAM).
# This role has only what the cache use cases call (shared/app/caches.ts and shared/app/teardown.ts →
# CacheControl): get, list, create, update, resume, disable (teardown of idle caches), and reading the create/update operations — one function starts an operation,
# the scheduled reconciler polls it, so the caller-may-read-its-own-operation exemption is not enough.
# The bucket location comes from FERRY_BUCKET_LOCATION, so storage.buckets.get is not needed.
# Deleting a custom role reserves its id for up to 37 days: rename role_id to recreate sooner.

resource "google_project_iam_custom_role" "anywhere_cache_manager" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_anywhere_cache_manager"
  title       = "ferry Anywhere Cache manager"
  description = "Create, inspect, update, resume and disable Anywhere Caches of the model bucket and read their operations."
  permissions = [
    "storage.anywhereCaches.create",
    "storage.anywhereCaches.disable",
    "storage.anywhereCaches.get",
    "storage.anywhereCaches.list",
    "storage.anywhereCaches.resume",
    "storage.anywhereCaches.update",
    "storage.bucketOperations.get",
  ]

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_iam_member" "on_deploy_request_cache_manager" {
  bucket = google_storage_bucket.models.name
  role   = google_project_iam_custom_role.anywhere_cache_manager.id
  member = google_service_account.on_deploy_request.member
}

resource "google_storage_bucket_iam_member" "reconcile_rollouts_cache_manager" {
  bucket = google_storage_bucket.models.name
  role   = google_project_iam_custom_role.anywhere_cache_manager.id
  member = google_service_account.reconcile_rollouts.member
}

resource "google_storage_bucket_iam_member" "teardown_idle_cache_manager" {
  bucket = google_storage_bucket.models.name
  role   = google_project_iam_custom_role.anywhere_cache_manager.id
  member = google_service_account.teardown_idle.member
}

# ---- GKE teardown: listing managed clusters, resizing their node pools, deleting them ------------
# roles/container.clusterAdmin would do, but it also creates clusters and rewrites their IAM-facing
# settings; roles/container.admin adds full Kubernetes access. This role has what the ClusterDirectory
# port calls (shared/adapters/cluster-directory-gke.ts): listClusters/getCluster (list, get),
# setNodePoolSize/setNodePoolAutoscaling (update: GKE checks container.clusters.update for node pool
# changes), deleteCluster (delete) and getOperation (operations.get), plus
# compute.instanceGroupManagers.get: a node pool's size is the targetSize of its instance groups
# (the GKE API has none). Granted in the GKE project.

resource "google_project_iam_custom_role" "gke_teardown" {
  project     = local.gke_project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_gke_teardown"
  title       = "ferry GKE teardown"
  description = "List managed GKE clusters, resize their node pools, delete them, and read the operations."
  permissions = [
    "container.clusters.delete",
    "container.clusters.get",
    "container.clusters.list",
    "container.clusters.update",
    "container.operations.get",
    "compute.instanceGroupManagers.get",
  ]

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "teardown_idle_gke_teardown" {
  project = local.gke_project_id
  role    = google_project_iam_custom_role.gke_teardown.id
  member  = google_service_account.teardown_idle.member
}

# ---- GKE capacity: a deploy brings back node pools teardown scaled to zero -------------------------
# onDeployRequest (and reconcileRollouts, which finishes what GKE could not start at once) read the
# target cluster and resize its node pools or restore their autoscaler minimum
# (shared/app/teardown.ts ensureClusterCapacity → ClusterCapacity port): getCluster (get),
# setNodePoolSize/setNodePoolAutoscaling (update), and reading pool sizes from their instance groups
# (compute.instanceGroupManagers.get). No list, no delete, no operations.

resource "google_project_iam_custom_role" "gke_capacity" {
  project     = local.gke_project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_gke_capacity"
  title       = "ferry GKE capacity"
  description = "Read a GKE cluster and resize its node pools or restore their autoscaler minimum before a deploy."
  permissions = [
    "container.clusters.get",
    "container.clusters.update",
    "compute.instanceGroupManagers.get",
  ]

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "on_deploy_request_gke_capacity" {
  project = local.gke_project_id
  role    = google_project_iam_custom_role.gke_capacity.id
  member  = google_service_account.on_deploy_request.member
}

resource "google_project_iam_member" "reconcile_rollouts_gke_capacity" {
  project = local.gke_project_id
  role    = google_project_iam_custom_role.gke_capacity.id
  member  = google_service_account.reconcile_rollouts.member
}

# ---- Pub/Sub publishing ---------------------------------------------------------------------------

# Autodeploy: a newly valid version publishes a deploy request.
resource "google_pubsub_topic_iam_member" "on_checkpoint_upload_deploy_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.deploy_requests.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.on_checkpoint_upload.member
}

# A resumed validation that ends valid publishes the autodeploy requests it owes.
resource "google_pubsub_topic_iam_member" "reconcile_rollouts_deploy_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.deploy_requests.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.reconcile_rollouts.member
}

resource "google_pubsub_topic_iam_member" "on_deploy_request_results_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.results.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.on_deploy_request.member
}

resource "google_pubsub_topic_iam_member" "reconcile_rollouts_results_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.results.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.reconcile_rollouts.member
}

# Slack: an accepted command is queued for the worker.
resource "google_pubsub_topic_iam_member" "slack_command_chat_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.chat_commands.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.slack_command.member
}

# `/ferry deploy` and `/ferry rollback` become deploy requests.
resource "google_pubsub_topic_iam_member" "on_chat_command_deploy_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.deploy_requests.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.on_chat_command.member
}

# `/ferry teardown plan` is handed to teardownIdle (a dry-run tick naming the command), which holds
# the read access a plan needs and posts it back: the chat worker never reads caches or clusters.
resource "google_pubsub_topic_iam_member" "on_chat_command_teardown_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.teardown_tick.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.on_chat_command.member
}

# ---- Secret Manager ---------------------------------------------------------------------------------

resource "google_secret_manager_secret_iam_member" "slack_command_signing_secret_accessor" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.slack_signing_secret.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.slack_command.member
}

# Read only when var.teardown_slack_notify mounts it into teardownIdle; granted either way (the
# secret holds nothing else).
resource "google_secret_manager_secret_iam_member" "teardown_idle_webhook_accessor" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.teardown_slack_webhook.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.teardown_idle.member
}

# ---- GKE: the functions that talk to clusters ------------------------------------------------------
# roles/container.developer = container.clusters.get (endpoint + CA) plus Kubernetes API access to
# namespaced objects (Deployments, Services, ReplicaSets, Pods, Events) through IAM.

resource "google_project_iam_member" "on_deploy_request_container_developer" {
  project = local.gke_project_id
  role    = "roles/container.developer"
  member  = google_service_account.on_deploy_request.member
}

# teardownIdle reads the ferry Deployments (replicas, labels) and, with teardown_scale_deployments,
# scales idle ones to zero.
resource "google_project_iam_member" "teardown_idle_container_developer" {
  project = local.gke_project_id
  role    = "roles/container.developer"
  member  = google_service_account.teardown_idle.member
}

resource "google_project_iam_member" "reconcile_rollouts_container_developer" {
  project = local.gke_project_id
  role    = "roles/container.developer"
  member  = google_service_account.reconcile_rollouts.member
}

# ---- Eventarc: the GCS finalize trigger -------------------------------------------------------------

# Cloud Storage publishes its notifications through Pub/Sub for Eventarc.
resource "google_project_iam_member" "gcs_agent_pubsub_publisher" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = local.gcs_service_agent
}

resource "google_project_iam_member" "eventarc_event_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.eventarc.member
}

resource "google_cloud_run_v2_service_iam_member" "on_checkpoint_upload_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.on_checkpoint_upload.name
  role     = "roles/run.invoker"
  member   = google_service_account.eventarc.member
}

# ---- Pub/Sub push: invoking the functions, dead-lettering ------------------------------------------

resource "google_cloud_run_v2_service_iam_member" "on_deploy_request_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.on_deploy_request.name
  role     = "roles/run.invoker"
  member   = google_service_account.pubsub_push.member
}

resource "google_cloud_run_v2_service_iam_member" "on_chat_command_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.on_chat_command.name
  role     = "roles/run.invoker"
  member   = google_service_account.pubsub_push.member
}

resource "google_cloud_run_v2_service_iam_member" "on_deploy_result_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.on_deploy_result.name
  role     = "roles/run.invoker"
  member   = google_service_account.pubsub_push.member
}

resource "google_cloud_run_v2_service_iam_member" "reconcile_rollouts_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.reconcile_rollouts.name
  role     = "roles/run.invoker"
  member   = google_service_account.pubsub_push.member
}

resource "google_cloud_run_v2_service_iam_member" "teardown_idle_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.teardown_idle.name
  role     = "roles/run.invoker"
  member   = google_service_account.pubsub_push.member
}

# Slack cannot present a Google identity: the slash command endpoint is public, and every request is
# authenticated by its X-Slack-Signature (HMAC with the signing secret) before anything is done.
resource "google_cloud_run_v2_service_iam_member" "slack_command_public_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.slack_command.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Pub/Sub mints the push subscriptions' OIDC tokens (and Eventarc's) as these accounts.
resource "google_service_account_iam_member" "pubsub_push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

resource "google_service_account_iam_member" "eventarc_token_creator" {
  service_account_id = google_service_account.eventarc.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Dead-lettering: Pub/Sub publishes to the dead-letter topic and acks on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "on_deploy_request_dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.on_deploy_request.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "reconcile_rollouts_dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.reconcile_rollouts.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "on_chat_command_dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.on_chat_command.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "on_deploy_result_dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.on_deploy_result.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "teardown_idle_dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.teardown_idle.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# ---- builds -------------------------------------------------------------------------------------------

resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}
