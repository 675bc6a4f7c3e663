# One Cloud Function (gen2, nodejs24) per entry in functions/manifest.ts, each with its own service
# account and sized for its job. All are built from the same source zip (infra/package.sh): the
# repository's package.json with `main` = dist/functions/main.js (which loads only the function
# FUNCTION_TARGET names), its lockfile, and the compiled
# dist/. GOOGLE_NODE_RUN_SCRIPTS="" stops the buildpack from running `npm run build` (TypeScript
# and the sources are not in the zip), so it installs production dependencies only.
#
# local.functions is keyed by the manifest's function names (= entry points), and every
# per-function resource (function, service account, grants, push subscription) is a `for_each`
# instance under that key, e.g. google_cloudfunctions2_function.fn["onDeployRequest"].
# test/unit/infra/terraform.test.ts holds its keys equal to functions/manifest.ts (infra/README.md
# says why this map is written here rather than generated). Every attribute is set for every
# function (null / [] / {} where it does not apply) so the shared resource bodies read the same
# shape for each.

locals {
  functions = {
    # ---- GCS finalize (Eventarc) → upload gate → header-only validation ---------------------------
    onCheckpointUpload = {
      slug           = "on-checkpoint-upload"
      description    = "GCS finalize → upload-complete gate → one header-only validation per checkpoint content"
      account_id     = "upload"
      sa_description = "Runs onCheckpointUpload: reads checkpoint headers, records versions, publishes autodeploy requests."
      # Validation reads only headers (64 KiB ranged reads, FERRY_VALIDATION_CONCURRENCY in
      # parallel): I/O bound and small. One vCPU lets an instance take a few events at once; the
      # timeout is the event-function maximum and stays below the validation lease.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 540
      concurrency   = 4
      min_instances = 0
      max_instances = 20
      ingress       = "ALLOW_INTERNAL_ONLY"
      env = {
        GOOGLE_CLOUD_PROJECT           = var.project_id
        NODE_ENV                       = "production"
        FERRY_LOG_LEVEL                = var.log_level
        FERRY_MODEL_BUCKETS            = google_storage_bucket.models.name
        FERRY_MODEL_PREFIX             = var.model_prefix
        FERRY_VALIDATION_CONCURRENCY   = var.validation_concurrency
        FERRY_VALIDATION_LEASE_SECONDS = var.validation_lease_seconds
        FERRY_DEPLOY_TOPIC             = google_pubsub_topic.deploy_requests.name
      }
      secrets       = {}
      mount_secrets = false
      event_trigger = [{
        trigger_region        = lower(google_storage_bucket.models.location)
        event_type            = "google.cloud.storage.object.v1.finalized"
        retry_policy          = "RETRY_POLICY_RETRY"
        service_account_email = google_service_account.eventarc.email
        bucket                = google_storage_bucket.models.name
      }]
      # Eventarc delivers finalize events as the trigger's identity.
      invoker = google_service_account.eventarc.member
    }

    # ---- Pub/Sub deploy request → validated, deduplicated, admitted rollout ----------------------
    onDeployRequest = {
      slug           = "on-deploy-request"
      description    = "deploy request (Pub/Sub) → validated, deduplicated, rendered, admitted rollout"
      account_id     = "deploy"
      sa_description = "Runs onDeployRequest: admits rollouts in Firestore and applies vLLM Deployments on GKE."
      # A Firestore transaction, an Anywhere Cache plan (GKE node zones, the caches of the bucket), a
      # server-side apply to GKE and a publish: I/O bound. The GKE, Kubernetes and Storage Control
      # clients want more than the 256 MiB default.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 240
      concurrency   = 4
      min_instances = 0
      max_instances = 10
      ingress       = "ALLOW_INTERNAL_ONLY"
      env = {
        GOOGLE_CLOUD_PROJECT         = var.project_id
        NODE_ENV                     = "production"
        FERRY_LOG_LEVEL              = var.log_level
        FERRY_DEPLOY_TOPIC           = google_pubsub_topic.deploy_requests.name
        FERRY_RESULTS_TOPIC          = google_pubsub_topic.results.name
        FERRY_MODEL_BUCKETS          = google_storage_bucket.models.name
        FERRY_SERVING_NAMESPACES     = join(",", sort(tolist(var.serving_namespaces)))
        FERRY_VLLM_SERVICE_ACCOUNT   = var.vllm_service_account
        FERRY_BUCKET_LOCATION        = google_storage_bucket.models.location
        FERRY_CACHE_MAX_WAIT_SECONDS = var.cache_max_wait_seconds
        FERRY_GKE_PROJECT            = local.gke_project_id
        FERRY_POLICY_DATABASE        = google_firestore_database.policy.name
        # A started rollout is handed to followRollout ({rolloutId} on this topic) and the push is
        # acked at once: a follow never holds a deploy request's push (README "Deploy requests and
        # rollouts"). 0 turns the follow off (nothing is published).
        FERRY_FOLLOW_TOPIC          = google_pubsub_topic.follow_requests.name
        FERRY_DEPLOY_FOLLOW_SECONDS = 480
      }
      secrets       = {}
      mount_secrets = false
      event_trigger = []
      # The push subscription's OIDC identity.
      invoker = google_service_account.pubsub_push.member
    }

    # ---- Pub/Sub follow request → watch the rollout on the cluster, advance it on each change ------
    followRollout = {
      slug           = "follow-rollout"
      description    = "follow request (Pub/Sub, from onDeployRequest) → watch the rollout on the cluster and advance it on each change"
      account_id     = "follow"
      sa_description = "Runs followRollout: watches an admitted rollout on GKE and advances it in Firestore until it ends."
      # Mostly waiting on a Kubernetes watch; each change runs one rollout step (as onDeployRequest
      # and the reconciler do). Sized like onDeployRequest; the timeout is the follow budget plus a
      # minute, and the push subscription's ack deadline (600 s) outlasts it.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 540
      concurrency   = 4
      min_instances = 0
      max_instances = 10
      ingress       = "ALLOW_INTERNAL_ONLY"
      env = {
        GOOGLE_CLOUD_PROJECT         = var.project_id
        NODE_ENV                     = "production"
        FERRY_LOG_LEVEL              = var.log_level
        FERRY_FOLLOW_TOPIC           = google_pubsub_topic.follow_requests.name
        FERRY_DEPLOY_FOLLOW_SECONDS  = 480
        FERRY_RESULTS_TOPIC          = google_pubsub_topic.results.name
        FERRY_MODEL_BUCKETS          = google_storage_bucket.models.name
        FERRY_SERVING_NAMESPACES     = join(",", sort(tolist(var.serving_namespaces)))
        FERRY_VLLM_SERVICE_ACCOUNT   = var.vllm_service_account
        FERRY_BUCKET_LOCATION        = google_storage_bucket.models.location
        FERRY_CACHE_MAX_WAIT_SECONDS = var.cache_max_wait_seconds
        FERRY_GKE_PROJECT            = local.gke_project_id
        FERRY_POLICY_DATABASE        = google_firestore_database.policy.name
      }
      secrets       = {}
      mount_secrets = false
      event_trigger = []
      # The push subscription's OIDC identity.
      invoker = google_service_account.pubsub_push.member
    }

    # ---- Scheduler tick (Pub/Sub) → advance every rollout in flight ------------------------------
    reconcileRollouts = {
      slug           = "reconcile-rollouts"
      description    = "every minute: advance every rollout in flight (watch, succeed, roll back)"
      account_id     = "reconcile"
      sa_description = "Runs reconcileRollouts: watches rollouts on GKE, rolls back failures."
      # One tick a minute does all the work (rollout steps, cache operations, lastUsedAt refreshes);
      # every step is safe to repeat, so an overlapping tick (a slow reconcile) may run on a second
      # instance, but no more.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 240
      concurrency   = 1
      min_instances = 0
      max_instances = 2
      ingress       = "ALLOW_INTERNAL_ONLY"
      env = {
        GOOGLE_CLOUD_PROJECT         = var.project_id
        NODE_ENV                     = "production"
        FERRY_LOG_LEVEL              = var.log_level
        FERRY_RECONCILE_TOPIC        = google_pubsub_topic.reconcile_tick.name
        FERRY_DEPLOY_TOPIC           = google_pubsub_topic.deploy_requests.name
        FERRY_RESULTS_TOPIC          = google_pubsub_topic.results.name
        FERRY_MODEL_BUCKETS          = google_storage_bucket.models.name
        FERRY_SERVING_NAMESPACES     = join(",", sort(tolist(var.serving_namespaces)))
        FERRY_VLLM_SERVICE_ACCOUNT   = var.vllm_service_account
        FERRY_BUCKET_LOCATION        = google_storage_bucket.models.location
        FERRY_CACHE_MAX_WAIT_SECONDS = var.cache_max_wait_seconds
        FERRY_GKE_PROJECT            = local.gke_project_id
        FERRY_POLICY_DATABASE        = google_firestore_database.policy.name
      }
      # Drift alerts to Slack, only when asked for (the secret then needs a version).
      secrets = {
        FERRY_ALERTS_SLACK_WEBHOOK_URL = google_secret_manager_secret.alerts_slack_webhook.secret_id
      }
      mount_secrets = var.alerts_slack_notify
      event_trigger = []
      invoker       = google_service_account.pubsub_push.member
    }

    # ---- Slack /ferry (HTTP) → verified, authorised, recorded, queued; answer within 3 s ---------
    slackCommand = {
      slug           = "slack-command"
      description    = "Slack /ferry slash command → signature verified, authorised, recorded, queued; ephemeral answer within 3 s"
      account_id     = "slack"
      sa_description = "Runs slackCommand: verifies Slack signatures, records and queues /ferry commands."
      # Slack wants the answer within 3000 ms: a warm instance (slack_min_instances) and a short
      # timeout. The work is one Firestore write and one publish per request, so one instance takes
      # many requests at once.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 10
      concurrency   = 20
      min_instances = var.slack_min_instances
      max_instances = 5
      # Slack calls from the internet; the signature check is the authentication.
      ingress = "ALLOW_ALL"
      env = {
        GOOGLE_CLOUD_PROJECT        = var.project_id
        NODE_ENV                    = "production"
        FERRY_LOG_LEVEL             = var.log_level
        FERRY_CHAT_TOPIC            = google_pubsub_topic.chat_commands.name
        FERRY_SLACK_READ_USERS      = join(",", var.slack_read_users)
        FERRY_SLACK_DEPLOY_USERS    = join(",", var.slack_deploy_users)
        FERRY_SLACK_READ_CHANNELS   = join(",", var.slack_read_channels)
        FERRY_SLACK_DEPLOY_CHANNELS = join(",", var.slack_deploy_channels)
      }
      secrets = {
        FERRY_SLACK_SIGNING_SECRET = google_secret_manager_secret.slack_signing_secret.secret_id
      }
      mount_secrets = true
      event_trigger = []
      # Slack cannot present a Google identity: the slash command endpoint is public, and every
      # request is authenticated by its X-Slack-Signature (HMAC with the signing secret) before
      # anything is done.
      invoker = "allUsers"
    }

    # ---- queued /ferry command (Pub/Sub) → done, answered on the response_url --------------------
    onChatCommand = {
      slug           = "on-chat-command"
      description    = "queued chat command → status / versions / deploy / rollback done, result posted to the Slack response_url; teardown plan handed to teardownIdle"
      account_id     = "chat"
      sa_description = "Runs onChatCommand: answers queued /ferry commands, publishes the deploy requests they ask for."
      # Reads Firestore, publishes a deploy request and may wait up to FERRY_CHAT_WAIT_SECONDS (≤ 50)
      # for its rollout to be admitted: mostly waiting, so several commands share an instance.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 120
      concurrency   = 8
      min_instances = 0
      max_instances = 5
      ingress       = "ALLOW_INTERNAL_ONLY"
      env = {
        GOOGLE_CLOUD_PROJECT = var.project_id
        NODE_ENV             = "production"
        FERRY_LOG_LEVEL      = var.log_level
        FERRY_CHAT_TOPIC     = google_pubsub_topic.chat_commands.name
        FERRY_DEPLOY_TOPIC   = google_pubsub_topic.deploy_requests.name
        FERRY_RESULTS_TOPIC  = google_pubsub_topic.results.name
        FERRY_TEARDOWN_TOPIC = google_pubsub_topic.teardown_tick.name
      }
      secrets       = {}
      mount_secrets = false
      event_trigger = []
      invoker       = google_service_account.pubsub_push.member
    }

    # ---- deploy result (Pub/Sub) → posted to the Slack command that asked ------------------------
    onDeployResult = {
      slug           = "on-deploy-result"
      description    = "deploy result (rollout ended, request refused) → posted to the Slack response_url of the command that asked"
      account_id     = "deploy-result"
      sa_description = "Runs onDeployResult: posts the results of chat-started rollouts back to Slack."
      # Two Firestore reads and one HTTPS post per result; most results are not from chat and are
      # ignored after one read.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 60
      concurrency   = 8
      min_instances = 0
      max_instances = 5
      ingress       = "ALLOW_INTERNAL_ONLY"
      env = {
        GOOGLE_CLOUD_PROJECT = var.project_id
        NODE_ENV             = "production"
        FERRY_LOG_LEVEL      = var.log_level
        FERRY_DEPLOY_TOPIC   = google_pubsub_topic.deploy_requests.name
        FERRY_RESULTS_TOPIC  = google_pubsub_topic.results.name
      }
      secrets       = {}
      mount_secrets = false
      event_trigger = []
      invoker       = google_service_account.pubsub_push.member
    }

    # ---- Scheduler tick (Pub/Sub) → disable idle caches, scale idle clusters to zero -------------
    teardownIdle = {
      slug           = "teardown-idle"
      description    = "every 15 minutes: disable idle Anywhere Caches, scale idle managed node pools to zero (or delete the cluster); never anything in use"
      account_id     = "teardown"
      sa_description = "Runs teardownIdle: disables idle Anywhere Caches, scales idle managed GKE node pools to zero or deletes idle managed clusters."
      # One run every 15 minutes; it polls GKE operations (node pool resizes take minutes), so the
      # timeout is long. One instance at a time: two runs must not race on the same resources.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 540
      concurrency   = 1
      min_instances = 0
      max_instances = 1
      ingress       = "ALLOW_INTERNAL_ONLY"
      env = {
        GOOGLE_CLOUD_PROJECT                   = var.project_id
        NODE_ENV                               = "production"
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
      secrets = {
        FERRY_TEARDOWN_SLACK_WEBHOOK_URL = google_secret_manager_secret.teardown_slack_webhook.secret_id
      }
      mount_secrets = var.teardown_slack_notify
      event_trigger = []
      invoker       = google_service_account.pubsub_push.member
    }

    # ---- the read-only web console (HTTPS via the load balancer and IAP, console.tf) --------------
    console = {
      slug           = "console"
      description    = "read-only web console (behind IAP; verifies its signed header): models, versions, rollouts, caches, teardown runs, rejected requests"
      account_id     = "console"
      sa_description = "Runs console: reads ferry's Firestore state to render the read-only web console."
      # A page is a handful of Firestore queries and some string building; open pages poll every
      # FERRY_CONSOLE_POLL_SECONDS (mostly answered 304), so one instance takes many requests.
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 30
      concurrency   = 40
      min_instances = 0
      max_instances = 3
      # Reachable only through the load balancer (and IAP), never directly from the internet.
      ingress = "ALLOW_INTERNAL_AND_GCLB"
      env = {
        GOOGLE_CLOUD_PROJECT       = var.project_id
        FERRY_LOG_LEVEL            = var.log_level
        NODE_ENV                   = "production"
        FERRY_CONSOLE_IAP_AUDIENCE = local.console_iap_audience
        FERRY_CONSOLE_POLL_SECONDS = var.console_poll_seconds
      }
      secrets       = {}
      mount_secrets = false
      event_trigger = []
      # Only IAP's service agent may invoke it (IAP signs the header the function verifies).
      invoker = local.iap_service_agent
    }
  }
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-${each.value.slug}"
  description = each.value.description

  build_config {
    # nodejs24 is GA on Cloud Run functions until 2028-04-30 (nodejs22 is deprecated from 2027-04-30):
    # https://docs.cloud.google.com/run/docs/runtimes/function-runtimes. functions-framework 5 declares
    # node >= 10 and every runtime SDK >= 22 (their package.json "engines").
    runtime           = "nodejs24"
    entry_point       = each.key
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
    service_account_email            = google_service_account.fn[each.key].email
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true

    environment_variables = each.value.env

    # Secret Manager secrets as env vars (version latest), when the function's mount_secrets says so.
    dynamic "secret_environment_variables" {
      for_each = each.value.mount_secrets ? each.value.secrets : {}
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  # Only onCheckpointUpload has one (Eventarc GCS finalize); the Pub/Sub-triggered functions are
  # reached through Terraform-owned push subscriptions (pubsub.tf), slackCommand over HTTPS.
  dynamic "event_trigger" {
    for_each = each.value.event_trigger
    content {
      trigger_region        = event_trigger.value.trigger_region
      event_type            = event_trigger.value.event_type
      retry_policy          = event_trigger.value.retry_policy
      service_account_email = event_trigger.value.service_account_email
      event_filters {
        attribute = "bucket"
        value     = event_trigger.value.bucket
      }
    }
  }

  # depends_on cannot vary per instance: every function waits for the union of what any one needs
  # (the Eventarc grants, the secrets it reads and their versions, the build's grants).
  depends_on = [
    google_project_iam_member.gcs_agent_pubsub_publisher,
    google_project_iam_member.eventarc_event_receiver,
    google_secret_manager_secret_iam_member.secret_accessor,
    google_secret_manager_secret_version.slack_signing_secret,
    google_secret_manager_secret_version.teardown_slack_webhook,
    google_secret_manager_secret_version.alerts_slack_webhook,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.build_log_writer,
  ]
}
