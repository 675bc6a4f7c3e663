# Every input of the deployment. Variables without a default must be set (see
# terraform.tfvars.example, which the unit test keeps complete).

variable "project_id" {
  description = "Google Cloud project that hosts ferry (functions, bucket, Pub/Sub, Firestore, Secret Manager)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars: a-z 0-9 -)."
  }
}

variable "region" {
  description = "Region of the Cloud Functions, the Artifact Registry repository, Cloud Scheduler jobs and (by default) the model bucket and Firestore. Put it where the GKE GPU clusters are."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix of every named resource (functions, service accounts, subscriptions, secret). Lowercase; keep it short (service account ids are at most 30 chars)."
  type        = string
  default     = "ferry"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,10}$", var.name_prefix))
    error_message = "name_prefix must be 1-11 chars: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "labels" {
  description = "Extra labels put on every resource that supports labels (provider default_labels)."
  type        = map(string)
  default     = {}
}

# ---- model bucket -------------------------------------------------------------------------------

variable "bucket_name" {
  description = "Name of the model bucket (globally unique). Checkpoints go to gs://<bucket_name>/<model_prefix><model>/<version>/."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid bucket name (3-63 chars: a-z 0-9 . _ -)."
  }
}

variable "bucket_location" {
  description = "Location of the model bucket. Default (null): var.region. Keep it the GKE clusters' region: the Eventarc trigger must live in the bucket's location, and Anywhere Cache zones must lie inside it."
  type        = string
  default     = null
}

variable "bucket_force_destroy" {
  description = "Allow `terraform destroy` to delete the model bucket with its checkpoints in it. Keep false in production."
  type        = bool
  default     = false
}

variable "model_prefix" {
  description = "FERRY_MODEL_PREFIX: objects under <prefix><model>/<version>/ are checkpoints. Empty or ending in '/'."
  type        = string
  default     = "models/"

  validation {
    condition     = can(regex("^([a-zA-Z0-9._-]+/)*$", var.model_prefix))
    error_message = "model_prefix must be empty or end with '/' (e.g. \"models/\")."
  }
}

variable "validation_concurrency" {
  description = "FERRY_VALIDATION_CONCURRENCY: shard headers read in parallel per checkpoint (1-64)."
  type        = number
  default     = 16

  validation {
    condition     = var.validation_concurrency >= 1 && var.validation_concurrency <= 64
    error_message = "validation_concurrency must be within 1-64."
  }
}

variable "validation_lease_seconds" {
  description = "FERRY_VALIDATION_LEASE_SECONDS: a validation claim older than this may be taken over. Must exceed onCheckpointUpload's timeout (540 s)."
  type        = number
  default     = 600

  validation {
    condition     = var.validation_lease_seconds > 540 && var.validation_lease_seconds <= 3600
    error_message = "validation_lease_seconds must be above the upload function's 540 s timeout and at most 3600."
  }
}

# ---- Pub/Sub and schedules ------------------------------------------------------------------------

variable "deploy_topic" {
  description = "Topic of deploy requests (FERRY_DEPLOY_TOPIC). The CLI, CI systems and autodeploy publish here."
  type        = string
  default     = "ferry-deploy-requests"
}

variable "results_topic" {
  description = "Topic of rejections and terminal rollout results (FERRY_RESULTS_TOPIC). onDeployResult posts the ones a Slack command asked for back to Slack; other consumers may add their own subscriptions."
  type        = string
  default     = "ferry-deploy-results"
}

variable "follow_topic" {
  description = "Topic onDeployRequest hands admitted rollouts to (FERRY_FOLLOW_TOPIC); followRollout follows each on the cluster on its own push subscription, so a follow never holds a deploy request's push."
  type        = string
  default     = "ferry-follow-requests"
}

variable "chat_topic" {
  description = "Topic where slackCommand queues accepted /ferry commands for onChatCommand (FERRY_CHAT_TOPIC)."
  type        = string
  default     = "ferry-chat-commands"
}

variable "reconcile_topic" {
  description = "Topic of the reconcile tick (FERRY_RECONCILE_TOPIC) that Cloud Scheduler publishes to."
  type        = string
  default     = "ferry-reconcile-tick"
}

variable "teardown_topic" {
  description = "Topic of the teardown tick (idle caches and clusters) that Cloud Scheduler publishes to."
  type        = string
  default     = "ferry-teardown-tick"
}

variable "dead_letter_topic" {
  description = "Topic that receives messages a subscription could not deliver after max_delivery_attempts."
  type        = string
  default     = "ferry-dead-letter"
}

variable "reconcile_schedule" {
  description = "Cron schedule of the reconcile tick (advances every rollout in flight)."
  type        = string
  default     = "* * * * *"
}

variable "teardown_schedule" {
  description = "Cron schedule of the teardown tick."
  type        = string
  default     = "*/15 * * * *"
}

variable "teardown_paused" {
  description = "Pause the teardown Scheduler job (teardownIdle consumes its tick)."
  type        = bool
  default     = false
}

variable "teardown_dry_run" {
  description = "teardownIdle only plans and records (teardownRuns/{id}); nothing is disabled, scaled or deleted."
  type        = bool
  default     = false
}

variable "teardown_cache_idle_seconds" {
  description = "An Anywhere Cache ferry created and nothing used for this long is disabled (the service deletes it an hour later)."
  type        = number
  default     = 21600
}

variable "teardown_deployment_idle_seconds" {
  description = "A ferry Deployment that served nothing for this long is scaled to zero (only with teardown_scale_deployments)."
  type        = number
  default     = 86400
}

variable "teardown_cluster_idle_seconds" {
  description = "A cluster labelled managed-by=ferry with no ferry Deployment active for this long is torn down."
  type        = number
  default     = 86400
}

variable "teardown_cluster_mode" {
  description = "What tearing down an idle managed cluster means: scale-to-zero (its node pools) or delete."
  type        = string
  default     = "scale-to-zero"
  validation {
    condition     = contains(["scale-to-zero", "delete"], var.teardown_cluster_mode)
    error_message = "teardown_cluster_mode is scale-to-zero or delete."
  }
}

variable "teardown_scale_deployments" {
  description = "Also scale idle ferry Deployments to zero replicas."
  type        = bool
  default     = false
}

variable "teardown_max_actions" {
  description = "At most this many teardown actions per run; the rest wait for the next tick."
  type        = number
  default     = 10
}

variable "teardown_slack_notify" {
  description = "Post a summary of every teardown run that did something to the Slack incoming webhook in the teardown webhook secret (which must then have a version)."
  type        = bool
  default     = false
}

variable "teardown_slack_webhook_url" {
  description = "Slack incoming webhook URL (https://hooks.slack.com/services/...) for teardown summaries. Optional: when null, add the secret version yourself. When set, the value is stored in the Terraform state."
  type        = string
  default     = null
  sensitive   = true
}

variable "alerts_slack_notify" {
  description = "Post reconciler alerts (a served version whose content changed after validation) to the Slack incoming webhook in the alerts webhook secret (which must then have a version)."
  type        = bool
  default     = false
}

variable "alerts_slack_webhook_url" {
  description = "Slack incoming webhook URL (https://hooks.slack.com/services/...) for reconciler alerts. Optional: when null, add the secret version yourself. When set, the value is stored in the Terraform state."
  type        = string
  default     = null
  sensitive   = true
}

variable "scheduler_time_zone" {
  description = "Time zone of the Cloud Scheduler jobs."
  type        = string
  default     = "Etc/UTC"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a deploy request, chat command or deploy result before it is dead-lettered (5-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be within 5-100 (Pub/Sub limits)."
  }
}

# ---- functions ------------------------------------------------------------------------------------

variable "log_level" {
  description = "FERRY_LOG_LEVEL of every function: debug, info, warning, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warning", "warn", "error"], var.log_level)
    error_message = "log_level must be one of debug, info, warning, warn, error."
  }
}

variable "source_dir" {
  description = "Staged function source (package.json, package-lock.json, dist/) written by infra/package.sh. Relative paths are relative to this directory."
  type        = string
  default     = ".build/source"
}

variable "slack_min_instances" {
  description = "Warm instances of the Slack command function (Slack wants an answer within 3 s; a cold start can take longer). 0 saves the idle cost."
  type        = number
  default     = 1
}

variable "slack_read_users" {
  description = "Slack user ids (U…/W…) that may run read-only /ferry commands (status, versions); [\"*\"] allows everyone. Empty: nobody (FERRY_SLACK_READ_USERS)."
  type        = list(string)
  default     = []

  validation {
    condition     = (length(var.slack_read_users) == 1 && contains(var.slack_read_users, "*")) || alltrue([for u in var.slack_read_users : can(regex("^[UW][A-Z0-9]{2,30}$", u))])
    error_message = "slack_read_users must be Slack user ids (U0123ABCD) or exactly [\"*\"]."
  }
}

variable "slack_deploy_users" {
  description = "Slack user ids that may deploy and roll back from Slack, one by one (FERRY_SLACK_DEPLOY_USERS). Empty: nobody."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.slack_deploy_users : can(regex("^[UW][A-Z0-9]{2,30}$", u))])
    error_message = "slack_deploy_users must be Slack user ids (U0123ABCD); '*' is not allowed here."
  }
}

variable "slack_read_channels" {
  description = "Slack channel ids where read-only commands are answered (FERRY_SLACK_READ_CHANNELS). Empty: any channel."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.slack_read_channels : can(regex("^[CGD][A-Z0-9]{2,30}$", c))])
    error_message = "slack_read_channels must be Slack channel ids (C0123ABCD)."
  }
}

variable "slack_deploy_channels" {
  description = "Slack channel ids where deploy and rollback are taken (FERRY_SLACK_DEPLOY_CHANNELS). Empty: any channel."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.slack_deploy_channels : can(regex("^[CGD][A-Z0-9]{2,30}$", c))])
    error_message = "slack_deploy_channels must be Slack channel ids (C0123ABCD)."
  }
}

variable "slack_signing_secret" {
  description = "Slack app signing secret. Optional: when null, add the secret version yourself (gcloud secrets versions add) before the first apply that creates the Slack function. When set, the value is stored in the Terraform state."
  type        = string
  default     = null
  sensitive   = true
}

variable "cache_max_wait_seconds" {
  description = "FERRY_CACHE_MAX_WAIT_SECONDS: how long a rollout waits for its Anywhere Caches when the request does not say (0-3600)."
  type        = number
  default     = 600

  validation {
    condition     = var.cache_max_wait_seconds >= 0 && var.cache_max_wait_seconds <= 3600
    error_message = "cache_max_wait_seconds must be within 0-3600."
  }
}

# ---- GKE and vLLM ---------------------------------------------------------------------------------

variable "gke_project_id" {
  description = "Project of the GKE clusters ferry deploys to. Default (null): project_id. Functions get roles/container.clusterViewer there (in-cluster rights: the gke_rbac_manifest output); the vLLM Workload Identity principal lives in its pool."
  type        = string
  default     = null
}

variable "serving_namespaces" {
  description = "Kubernetes namespaces where ferry deploys vLLM. Their vllm_service_account gets read access to the model bucket through Workload Identity, and the deploy functions refuse any other namespace (FERRY_SERVING_NAMESPACES, NAMESPACE_NOT_SERVING). List them in the deploy policy's targets too."
  type        = set(string)

  validation {
    condition     = length(var.serving_namespaces) > 0 && alltrue([for ns in var.serving_namespaces : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", ns))])
    error_message = "serving_namespaces must name at least one valid Kubernetes namespace."
  }
}

variable "vllm_service_account" {
  description = "Kubernetes service account of the vLLM pods (FERRY_VLLM_SERVICE_ACCOUNT). ferry renders it into every Deployment; create it in each serving namespace."
  type        = string
  default     = "ferry-vllm"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.vllm_service_account))
    error_message = "vllm_service_account must be a valid Kubernetes name."
  }
}

variable "firestore_location" {
  description = "Location of the (default) Firestore database (a region such as us-central1, or a multi-region such as nam5). Default (null): var.region. Cannot change after creation."
  type        = string
  default     = null
}

# ---- people and CI ----------------------------------------------------------------------------------

variable "checkpoint_uploaders" {
  description = "IAM members (user:…, group:…, serviceAccount:…) that may upload checkpoints to the model bucket (roles/storage.objectUser on the bucket)."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.checkpoint_uploaders : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):", m))])
    error_message = "checkpoint_uploaders must be IAM members such as user:a@example.com; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "deploy_requesters" {
  description = "IAM members that may publish deploy requests (roles/pubsub.publisher on the deploy topic): the CLI's users, CI systems."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.deploy_requesters : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):", m))])
    error_message = "deploy_requesters must be IAM members such as group:ml-release@example.com; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "state_readers" {
  description = "IAM members that may read ferry's Firestore state (roles/datastore.viewer): `ferry status`, `ferry deploy --wait`, `ferry caches`."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.state_readers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):", m))])
    error_message = "state_readers must be IAM members such as user:a@example.com; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "policy_admins" {
  description = "IAM members that may change the deploy policy (`ferry policy set`, with their own credentials): roles/datastore.user on the policy's Firestore database only. No function may write it. Empty: nobody (set the first policy before leaving it empty)."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.policy_admins : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):", m))])
    error_message = "policy_admins must be IAM members such as group:ferry-policy@example.com; allUsers and allAuthenticatedUsers are refused."
  }
}

# ---- the web console (console.tf) ----------------------------------------------------------------------

variable "console_domain" {
  description = "Domain of the web console (an A record to the console_ip output); a Google-managed certificate is made for it. Empty: no load balancer (the backend service with IAP is still made)."
  type        = string
  default     = ""
  validation {
    condition     = var.console_domain == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.console_domain))
    error_message = "console_domain must be a DNS name such as ferry.example.com, or empty."
  }
}

variable "console_users" {
  description = "Who may open the web console through IAP (roles/iap.httpsResourceAccessor): user:, group:, serviceAccount: or domain: members."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.console_users : can(regex("^(user|group|serviceAccount|domain):[^*]+$", m))])
    error_message = "console_users takes typed IAM members (user:…, group:…, serviceAccount:…, domain:…), never allUsers."
  }
}

variable "console_oauth_client_id" {
  description = "OAuth client id for IAP's sign-in; empty: a Google-managed OAuth client."
  type        = string
  default     = ""
}

variable "console_oauth_client_secret" {
  description = "Secret of console_oauth_client_id (kept in the Terraform state); empty with a Google-managed client."
  type        = string
  default     = ""
  sensitive   = true
}

variable "console_poll_seconds" {
  description = "How often an open console page checks for changes (FERRY_CONSOLE_POLL_SECONDS, 1-300)."
  type        = number
  default     = 5
  validation {
    condition     = var.console_poll_seconds >= 1 && var.console_poll_seconds <= 300
    error_message = "console_poll_seconds must be 1-300."
  }
}
