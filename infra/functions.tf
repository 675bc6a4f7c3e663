# One Cloud Function (gen2, nodejs22) per entry in functions/manifest.ts, each with its own service
# account and sized for its job. All are built from the same source zip (infra/package.sh): the
# repository's package.json with `main` = dist/functions/main.js (which loads only the function
# FUNCTION_TARGET names), its lockfile, and the compiled
# dist/. GOOGLE_NODE_RUN_SCRIPTS="" stops the buildpack from running `npm run build` (TypeScript
# and the sources are not in the zip), so it installs production dependencies only.

# ---- onCheckpointUpload: GCS finalize (Eventarc) → upload gate → header-only validation ---------

resource "google_cloudfunctions2_function" "on_checkpoint_upload" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-on-checkpoint-upload"
  description = "GCS finalize → upload-complete gate → one header-only validation per checkpoint content"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "onCheckpointUpload"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id
    environment_variables = {
      GOOGLE_NODE_RUN_SCRIPTS = ""
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.on_checkpoint_upload.email
    # Validation reads only headers (64 KiB ranged reads, FERRY_VALIDATION_CONCURRENCY in
    # parallel): I/O bound and small. One vCPU lets an instance take a few events at once; the
    # timeout is the event-function maximum and stays below the validation lease.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_request_concurrency = 4
    min_instance_count               = 0
    max_instance_count               = 20
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = {
      GOOGLE_CLOUD_PROJECT           = var.project_id
      FERRY_LOG_LEVEL                = var.log_level
      FERRY_MODEL_PREFIX             = var.model_prefix
      FERRY_VALIDATION_CONCURRENCY   = var.validation_concurrency
      FERRY_VALIDATION_LEASE_SECONDS = var.validation_lease_seconds
      FERRY_DEPLOY_TOPIC             = google_pubsub_topic.deploy_requests.name
    }
  }

  event_trigger {
    trigger_region        = lower(google_storage_bucket.models.location)
    event_type            = "google.cloud.storage.object.v1.finalized"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.eventarc.email
    event_filters {
      attribute = "bucket"
      value     = google_storage_bucket.models.name
    }
  }

  depends_on = [
    google_project_iam_member.gcs_agent_pubsub_publisher,
    google_project_iam_member.eventarc_event_receiver,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_log_writer,
  ]
}

# ---- onDeployRequest: Pub/Sub deploy request → validated, deduplicated, admitted rollout ---------

resource "google_cloudfunctions2_function" "on_deploy_request" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-on-deploy-request"
  description = "deploy request (Pub/Sub) → validated, deduplicated, rendered, admitted rollout"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "onDeployRequest"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id
    environment_variables = {
      GOOGLE_NODE_RUN_SCRIPTS = ""
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.on_deploy_request.email
    # A Firestore transaction, an Anywhere Cache plan (GKE node zones, the caches of the bucket), a
    # server-side apply to GKE and a publish: I/O bound. The GKE, Kubernetes and Storage Control
    # clients want more than the 256 MiB default.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 240
    max_instance_request_concurrency = 4
    min_instance_count               = 0
    max_instance_count               = 10
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = {
      GOOGLE_CLOUD_PROJECT         = var.project_id
      FERRY_LOG_LEVEL              = var.log_level
      FERRY_DEPLOY_TOPIC           = google_pubsub_topic.deploy_requests.name
      FERRY_RESULTS_TOPIC          = google_pubsub_topic.results.name
      FERRY_VLLM_SERVICE_ACCOUNT   = var.vllm_service_account
      FERRY_BUCKET_LOCATION        = google_storage_bucket.models.location
      FERRY_CACHE_MAX_WAIT_SECONDS = var.cache_max_wait_seconds
      FERRY_GKE_PROJECT            = local.gke_project_id
    }
  }

  depends_on = [
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_log_writer,
  ]
}

# ---- reconcileRollouts: Scheduler tick (Pub/Sub) → advance every rollout in flight ---------------

resource "google_cloudfunctions2_function" "reconcile_rollouts" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-reconcile-rollouts"
  description = "every minute: advance every rollout in flight (watch, succeed, roll back)"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "reconcileRollouts"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id
    environment_variables = {
      GOOGLE_NODE_RUN_SCRIPTS = ""
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.reconcile_rollouts.email
    # One tick a minute does all the work (rollout steps, cache operations, lastUsedAt refreshes);
    # every step is safe to repeat, so an overlapping tick (a slow reconcile) may run on a second
    # instance, but no more.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 240
    max_instance_request_concurrency = 1
    min_instance_count               = 0
    max_instance_count               = 2
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = {
      GOOGLE_CLOUD_PROJECT         = var.project_id
      FERRY_LOG_LEVEL              = var.log_level
      FERRY_RECONCILE_TOPIC        = google_pubsub_topic.reconcile_tick.name
      FERRY_DEPLOY_TOPIC           = google_pubsub_topic.deploy_requests.name
      FERRY_RESULTS_TOPIC          = google_pubsub_topic.results.name
      FERRY_VLLM_SERVICE_ACCOUNT   = var.vllm_service_account
      FERRY_BUCKET_LOCATION        = google_storage_bucket.models.location
      FERRY_CACHE_MAX_WAIT_SECONDS = var.cache_max_wait_seconds
      FERRY_GKE_PROJECT            = local.gke_project_id
    }
  }

  depends_on = [
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_log_writer,
  ]
}

# ---- slackCommand: Slack /ferry (HTTP) → verified, authorised, recorded, queued; answer within 3 s

resource "google_cloudfunctions2_function" "slack_command" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-slack-command"
  description = "Slack /ferry slash command → signature verified, authorised, recorded, queued; ephemeral answer within 3 s"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "slackCommand"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id
    environment_variables = {
      GOOGLE_NODE_RUN_SCRIPTS = ""
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.slack_command.email
    # Slack wants the answer within 3000 ms: a warm instance (slack_min_instances) and a short
    # timeout. The work is one Firestore write and one publish per request, so one instance takes
    # many requests at once.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 10
    max_instance_request_concurrency = 20
    min_instance_count               = var.slack_min_instances
    max_instance_count               = 5
    # Slack calls from the internet; the signature check is the authentication.
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = {
      GOOGLE_CLOUD_PROJECT        = var.project_id
      FERRY_LOG_LEVEL             = var.log_level
      FERRY_CHAT_TOPIC            = google_pubsub_topic.chat_commands.name
      FERRY_SLACK_READ_USERS      = join(",", var.slack_read_users)
      FERRY_SLACK_DEPLOY_USERS    = join(",", var.slack_deploy_users)
      FERRY_SLACK_READ_CHANNELS   = join(",", var.slack_read_channels)
      FERRY_SLACK_DEPLOY_CHANNELS = join(",", var.slack_deploy_channels)
    }

    secret_environment_variables {
      key        = "FERRY_SLACK_SIGNING_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.slack_signing_secret.secret_id
      version    = "latest"
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.slack_command_signing_secret_accessor,
    google_secret_manager_secret_version.slack_signing_secret,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_log_writer,
  ]
}

# ---- onChatCommand: queued /ferry command (Pub/Sub) → done, answered on the response_url --------

resource "google_cloudfunctions2_function" "on_chat_command" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-on-chat-command"
  description = "queued chat command → status / versions / deploy / rollback done, result posted to the Slack response_url; teardown plan handed to teardownIdle"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "onChatCommand"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id
    environment_variables = {
      GOOGLE_NODE_RUN_SCRIPTS = ""
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.on_chat_command.email
    # Reads Firestore, publishes a deploy request and may wait up to FERRY_CHAT_WAIT_SECONDS (≤ 50)
    # for its rollout to be admitted: mostly waiting, so several commands share an instance.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 120
    max_instance_request_concurrency = 8
    min_instance_count               = 0
    max_instance_count               = 5
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = {
      GOOGLE_CLOUD_PROJECT = var.project_id
      FERRY_LOG_LEVEL      = var.log_level
      FERRY_CHAT_TOPIC     = google_pubsub_topic.chat_commands.name
      FERRY_DEPLOY_TOPIC   = google_pubsub_topic.deploy_requests.name
      FERRY_RESULTS_TOPIC  = google_pubsub_topic.results.name
      FERRY_TEARDOWN_TOPIC = google_pubsub_topic.teardown_tick.name
    }
  }

  depends_on = [
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_log_writer,
  ]
}

# ---- onDeployResult: deploy result (Pub/Sub) → posted to the Slack command that asked -----------

resource "google_cloudfunctions2_function" "on_deploy_result" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-on-deploy-result"
  description = "deploy result (rollout ended, request refused) → posted to the Slack response_url of the command that asked"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "onDeployResult"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id
    environment_variables = {
      GOOGLE_NODE_RUN_SCRIPTS = ""
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.on_deploy_result.email
    # Two Firestore reads and one HTTPS post per result; most results are not from chat and are
    # ignored after one read.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 60
    max_instance_request_concurrency = 8
    min_instance_count               = 0
    max_instance_count               = 5
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = {
      GOOGLE_CLOUD_PROJECT = var.project_id
      FERRY_LOG_LEVEL      = var.log_level
      FERRY_DEPLOY_TOPIC   = google_pubsub_topic.deploy_requests.name
      FERRY_RESULTS_TOPIC  = google_pubsub_topic.results.name
    }
  }

  depends_on = [
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_log_writer,
  ]
}

# ---- teardownIdle: Scheduler tick (Pub/Sub) → disable idle caches, scale idle clusters to zero ------

resource "google_cloudfunctions2_function" "teardown_idle" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-teardown-idle"
  description = "every 15 minutes: disable idle Anywhere Caches, scale idle managed node pools to zero (or delete the cluster); never anything in use"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "teardownIdle"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id
    environment_variables = {
      GOOGLE_NODE_RUN_SCRIPTS = ""
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.teardown_idle.email
    # One run every 15 minutes; it polls GKE operations (node pool resizes take minutes), so the
    # timeout is long. One instance at a time: two runs must not race on the same resources.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_request_concurrency = 1
    min_instance_count               = 0
    max_instance_count               = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = {
      GOOGLE_CLOUD_PROJECT                   = var.project_id
      FERRY_LOG_LEVEL                        = var.log_level
      FERRY_TEARDOWN_TOPIC                   = google_pubsub_topic.teardown_tick.name
      FERRY_VLLM_SERVICE_ACCOUNT             = var.vllm_service_account
      FERRY_BUCKET_LOCATION                  = google_storage_bucket.models.location
      FERRY_GKE_PROJECT                      = local.gke_project_id
      FERRY_TEARDOWN_DRY_RUN                 = var.teardown_dry_run ? "1" : "0"
      FERRY_TEARDOWN_CACHE_IDLE_SECONDS      = var.teardown_cache_idle_seconds
      FERRY_TEARDOWN_CLUSTER_IDLE_SECONDS    = var.teardown_cluster_idle_seconds
      FERRY_TEARDOWN_DEPLOYMENT_IDLE_SECONDS = var.teardown_deployment_idle_seconds
      FERRY_TEARDOWN_CLUSTER_MODE            = var.teardown_cluster_mode
      FERRY_TEARDOWN_SCALE_DEPLOYMENTS       = var.teardown_scale_deployments ? "1" : "0"
      FERRY_TEARDOWN_MAX_ACTIONS             = var.teardown_max_actions
    }

    # The run summary to Slack, only when asked for (the secret then needs a version).
    dynamic "secret_environment_variables" {
      for_each = var.teardown_slack_notify ? [1] : []
      content {
        key        = "FERRY_TEARDOWN_SLACK_WEBHOOK_URL"
        project_id = var.project_id
        secret     = google_secret_manager_secret.teardown_slack_webhook.secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.teardown_idle_webhook_accessor,
    google_secret_manager_secret_version.teardown_slack_webhook,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_log_writer,
  ]
}
