# Identities and every role they hold. Least privilege: no basic roles (owner/editor/viewer), no
# *.admin roles, no authoritative policies (only additive *_iam_member), and a grant on the single
# resource a permission is needed on wherever the service supports it. infra/README.md has the
# table of who holds what and why.

# ---- runtime service accounts: one per function (local.functions in functions.tf) -----------------

resource "google_service_account" "fn" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "${var.name_prefix}-${each.value.account_id}"
  display_name = "ferry ${each.key}"
  description  = each.value.sa_description
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

# ---- Firestore: the functions that read and write state (all of them) -----------------------------
# Firestore IAM is granted on the project and narrowed per database with IAM Conditions: Firestore
# databases support the resource.type and resource.name attributes (IAM attribute reference,
# docs.cloud.google.com/iam/docs/conditions-attribute-reference: "Firestore: Databases"); the type is
# firestore.googleapis.com/Database and the name projects/{project}/databases/{database}
# (@google-cloud/firestore 9.4.1 build/protos/google/firestore/admin/v1/database.proto, the Database
# resource annotation; docs/UPSTREAM.md). The name is matched by its suffix, which is exact inside a
# project-level binding and does not depend on whether IAM spells the project by id or number.
# Permissions that are not checked on a database (resourcemanager.projects.get) pass the type clause.

locals {
  policy_database_condition = "resource.type == \"firestore.googleapis.com/Database\" && resource.name.endsWith(\"/databases/${local.policy_database_id}\")"
}

# Read and write ferry's state: every database but the deploy policy's (firestore.tf), which no
# function may write — only var.policy_admins (below).
resource "google_project_iam_member" "datastore_user" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.fn[each.key].member

  condition {
    title       = "not-the-policy-database"
    description = "Every Firestore database but ${local.policy_database_id}, the deploy policy's (written by policy admins only)."
    expression  = "!(${local.policy_database_condition})"
  }

  # Adding the condition replaces the binding: add the conditioned one before the old one goes, so
  # the functions never lose Firestore during the apply.
  lifecycle {
    create_before_destroy = true
  }
}

# The functions that check deploys against the policy (onDeployRequest, and reconcileRollouts, which
# admits what it advances through the same use case) read it: roles/datastore.viewer on the policy
# database only.
resource "google_project_iam_member" "policy_reader" {
  for_each = toset(["onDeployRequest", "followRollout", "reconcileRollouts"])

  project = var.project_id
  role    = "roles/datastore.viewer"
  member  = google_service_account.fn[each.key].member

  condition {
    title       = "the-policy-database"
    description = "Read the deploy policy (${local.policy_database_id}) and nothing else."
    expression  = local.policy_database_condition
  }
}

# `ferry policy set` (with the caller's own credentials): the policy admins read and write the
# policy database, and nothing else through this grant.
resource "google_project_iam_member" "policy_admin" {
  for_each = var.policy_admins

  project = var.project_id
  role    = "roles/datastore.user"
  member  = each.value

  condition {
    title       = "the-policy-database"
    description = "Change the deploy policy (${local.policy_database_id}) and nothing else."
    expression  = local.policy_database_condition
  }
}

# ---- Cloud Storage ----------------------------------------------------------------------------------

# onCheckpointUpload lists a version's files and reads shard headers (ranged reads); the reconciler
# resumes validations whose worker died, so it lists the version and reads headers too. The rollout
# functions (onDeployRequest, and the reconciler advancing rollouts) list the version right before
# applying, to refuse a content that is not the validated one (CONTENT_CHANGED, issue #20).
resource "google_storage_bucket_iam_member" "model_object_viewer" {
  for_each = toset(["onCheckpointUpload", "onDeployRequest", "followRollout", "reconcileRollouts"])

  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.fn[each.key].member
}

# Temporary holds on the objects of served versions (issue #20, shared/app/holds.ts): one
# objects.patch sets `temporaryHold` and ferry's `ferry-hold` metadata marker, and the reconciler
# releases them. objects.patch needs storage.objects.update (and nothing else: the rollout functions
# already list and read through model_object_viewer). The narrowest predefined role that has it,
# roles/storage.objectUser, also creates and deletes objects, so a custom role with this one
# permission, on the model bucket only: onDeployRequest holds before its first apply, the
# reconciler holds before the applies it advances and releases holds no target needs any more.

resource "google_project_iam_custom_role" "model_object_holder" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_model_object_holder"
  title       = "ferry model object holder"
  description = "Set and release temporary holds (and ferry's marker) on the model bucket's objects."
  permissions = ["storage.objects.update"]

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_iam_member" "model_object_holder" {
  for_each = toset(["onDeployRequest", "followRollout", "reconcileRollouts"])

  bucket = google_storage_bucket.models.name
  role   = google_project_iam_custom_role.model_object_holder.id
  member = google_service_account.fn[each.key].member
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

resource "google_storage_bucket_iam_member" "cache_manager" {
  for_each = toset(["onDeployRequest", "followRollout", "reconcileRollouts", "teardownIdle"])

  bucket = google_storage_bucket.models.name
  role   = google_project_iam_custom_role.anywhere_cache_manager.id
  member = google_service_account.fn[each.key].member
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

resource "google_project_iam_member" "gke_teardown" {
  for_each = toset(["teardownIdle"])

  project = local.gke_project_id
  role    = google_project_iam_custom_role.gke_teardown.id
  member  = google_service_account.fn[each.key].member
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

resource "google_project_iam_member" "gke_capacity" {
  for_each = toset(["onDeployRequest", "followRollout", "reconcileRollouts"])

  project = local.gke_project_id
  role    = google_project_iam_custom_role.gke_capacity.id
  member  = google_service_account.fn[each.key].member
}

# ---- Pub/Sub publishing: each function on exactly the topics its use cases publish to ----------------
# Keyed "<function>:<topic resource name>".

locals {
  topic_publishers = {
    # Autodeploy: a newly valid version publishes a deploy request.
    "onCheckpointUpload:deploy_requests" = { function = "onCheckpointUpload", topic = google_pubsub_topic.deploy_requests.name }
    # A resumed validation that ends valid publishes the autodeploy requests it owes.
    "reconcileRollouts:deploy_requests" = { function = "reconcileRollouts", topic = google_pubsub_topic.deploy_requests.name }
    # Rejections and terminal rollout results.
    "onDeployRequest:results" = { function = "onDeployRequest", topic = google_pubsub_topic.results.name }
    "followRollout:results"   = { function = "followRollout", topic = google_pubsub_topic.results.name }
    # A started rollout is handed to followRollout.
    "onDeployRequest:follow_requests" = { function = "onDeployRequest", topic = google_pubsub_topic.follow_requests.name }
    "reconcileRollouts:results"       = { function = "reconcileRollouts", topic = google_pubsub_topic.results.name }
    # Slack: an accepted command is queued for the worker.
    "slackCommand:chat_commands" = { function = "slackCommand", topic = google_pubsub_topic.chat_commands.name }
    # `/ferry deploy` and `/ferry rollback` become deploy requests.
    "onChatCommand:deploy_requests" = { function = "onChatCommand", topic = google_pubsub_topic.deploy_requests.name }
    # `/ferry teardown plan` is handed to teardownIdle (a dry-run tick naming the command), which
    # holds the read access a plan needs and posts it back: the chat worker never reads caches or
    # clusters.
    "onChatCommand:teardown_tick" = { function = "onChatCommand", topic = google_pubsub_topic.teardown_tick.name }
  }
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_publishers

  project = var.project_id
  topic   = each.value.topic
  role    = "roles/pubsub.publisher"
  member  = google_service_account.fn[each.value.function].member
}

# ---- Secret Manager: each function reads the secrets it mounts (local.functions[*].secrets) ------------
# teardownIdle's webhook is read only when var.teardown_slack_notify mounts it, reconcileRollouts'
# alerts webhook only when var.alerts_slack_notify does; granted either way (each secret holds
# nothing else).

locals {
  secret_readers = {
    slackCommand      = google_secret_manager_secret.slack_signing_secret.secret_id
    teardownIdle      = google_secret_manager_secret.teardown_slack_webhook.secret_id
    reconcileRollouts = google_secret_manager_secret.alerts_slack_webhook.secret_id
  }
}

resource "google_secret_manager_secret_iam_member" "secret_accessor" {
  for_each = local.secret_readers

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.fn[each.key].member
}

# ---- GKE: the functions that talk to clusters ------------------------------------------------------
# roles/container.clusterViewer = container.clusters.get/list (endpoint + CA) and nothing inside the
# cluster. What ferry may do inside is Kubernetes RBAC: the ClusterRole `ferry-deployer`
# (infra/gke-rbac-rules.json: Deployments, Services, Pods read, HPAs, PodMonitorings,
# ComputeClasses, namespaces get/create, nodes read; no Secrets, no ConfigMaps, no RBAC) bound to
# these service accounts — apply the `gke_rbac_manifest` output to every cluster ferry deploys to.
# It replaces roles/container.developer (every namespaced object, Secrets included, in every
# cluster of the project). Which namespaces ferry deploys to is the deploy policy's and
# serving_namespaces' business, checked by the code before anything is applied.
# (The resource keeps its address, so no state move is needed.)

# teardownIdle reads the ferry Deployments (replicas, labels) and, with teardown_scale_deployments,
# scales idle ones to zero.
resource "google_project_iam_member" "container_developer" {
  for_each = toset(["onDeployRequest", "followRollout", "reconcileRollouts", "teardownIdle"])

  project = local.gke_project_id
  role    = "roles/container.clusterViewer"
  member  = google_service_account.fn[each.key].member
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

# ---- invoking the functions: each function's `invoker` (local.functions) -----------------------------
# The Eventarc trigger's identity for onCheckpointUpload, the push subscriptions' OIDC identity for
# the Pub/Sub-triggered functions, allUsers for slackCommand (Slack cannot present a Google
# identity; every request is authenticated by its X-Slack-Signature before anything is done).

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = each.value.invoker
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

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.push_subscriptions

  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
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
