# Topics and subscriptions. Pub/Sub-triggered functions are reached through push subscriptions that
# Terraform owns (not Eventarc-managed ones), so each has its dead-letter topic, retry policy, ack
# deadline and retention set here. The push endpoint is the function's URL plus the topic path
# (/projects/P/topics/T): functions-framework turns such a push into the
# google.cloud.pubsub.topic.v1.messagePublished CloudEvent the functions expect — the same wiring as
# the local stack (infra/local/stack.ts).

resource "google_pubsub_topic" "deploy_requests" {
  project                    = var.project_id
  name                       = var.deploy_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "results" {
  project                    = var.project_id
  name                       = var.results_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

# Follow requests ({rolloutId}) from onDeployRequest to followRollout. A follow holds its push for up
# to FERRY_DEPLOY_FOLLOW_SECONDS, and Pub/Sub paces a subscription's pushes by its acks
# (docs/UPSTREAM.md F5): on a topic of its own that paces only follows, never deploy requests.
resource "google_pubsub_topic" "follow_requests" {
  project = var.project_id
  name    = var.follow_topic
  # A follow is worth little after its budget: the reconciler advances the rollout anyway.
  message_retention_duration = "600s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "chat_commands" {
  project = var.project_id
  name    = var.chat_topic
  # A Slack response_url is good for 30 minutes; older commands cannot be answered.
  message_retention_duration = "1800s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "reconcile_tick" {
  project = var.project_id
  name    = var.reconcile_topic

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "teardown_tick" {
  project = var.project_id
  name    = var.teardown_topic

  depends_on = [google_project_service.enabled]
}

# Every subscription dead-letters here; Pub/Sub adds the attribute
# CloudPubSubDeadLetterSourceSubscription, so one topic serves all (filter on it to replay).
resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = var.dead_letter_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

# Without a subscription, dead letters would be dropped. Pull them to inspect or replay.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# ---- push subscriptions (one per Pub/Sub- or schedule-triggered function) -------------------------
# Keyed by function name like local.functions; each delivers one topic to that function.

locals {
  push_subscriptions = {
    onDeployRequest = {
      topic = google_pubsub_topic.deploy_requests
      # Longer than the function's timeout, so a slow rollout step is not redelivered while it runs.
      ack_deadline_seconds       = 300
      message_retention_duration = "604800s"
      # Transient failures (the function threw: Firestore or GKE unavailable) back off 10 s → 10 min,
      # as Eventarc does; a request that never succeeds ends on the dead-letter topic.
      minimum_backoff       = "10s"
      maximum_backoff       = "600s"
      max_delivery_attempts = var.max_delivery_attempts
    }
    followRollout = {
      topic = google_pubsub_topic.follow_requests
      # The maximum (600 s): longer than the follow function's timeout (540 s), which is longer than
      # the follow budget (FERRY_DEPLOY_FOLLOW_SECONDS, 480 s) plus a minute.
      ack_deadline_seconds = 600
      # A follow request older than 10 minutes (the minimum retention) is past any follow budget.
      message_retention_duration = "600s"
      # A follow that threw (it rarely does: it logs and returns) is retried as deploy requests are;
      # one the reconciler has long finished ends on the dead-letter topic.
      minimum_backoff       = "10s"
      maximum_backoff       = "600s"
      max_delivery_attempts = 5
    }
    reconcileRollouts = {
      topic                = google_pubsub_topic.reconcile_tick
      ack_deadline_seconds = 300
      # A tick older than 10 minutes (the minimum retention) is worthless: the next one comes every minute.
      message_retention_duration = "600s"
      minimum_backoff            = "10s"
      maximum_backoff            = "60s"
      max_delivery_attempts      = 5
    }
    teardownIdle = {
      topic                = google_pubsub_topic.teardown_tick
      ack_deadline_seconds = 600
      # A stale tick is worthless: the next one comes in 15 minutes and plans afresh.
      message_retention_duration = "600s"
      minimum_backoff            = "60s"
      maximum_backoff            = "600s"
      max_delivery_attempts      = 5
    }
    onChatCommand = {
      topic                = google_pubsub_topic.chat_commands
      ack_deadline_seconds = 120
      # Slack accepts replies on a command's response_url for 30 minutes: retrying longer is pointless.
      message_retention_duration = "1800s"
      minimum_backoff            = "10s"
      maximum_backoff            = "60s"
      max_delivery_attempts      = var.max_delivery_attempts
    }
    onDeployResult = {
      topic                      = google_pubsub_topic.results
      ack_deadline_seconds       = 60
      message_retention_duration = "86400s"
      minimum_backoff            = "10s"
      maximum_backoff            = "600s"
      max_delivery_attempts      = var.max_delivery_attempts
    }
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.push_subscriptions

  project = var.project_id
  name    = "${var.name_prefix}-${local.functions[each.key].slug}"
  topic   = each.value.topic.id

  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = each.value.message_retention_duration

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}/projects/${var.project_id}/topics/${each.value.topic.name}"
    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = google_cloudfunctions2_function.fn[each.key].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = each.value.minimum_backoff
    maximum_backoff = each.value.maximum_backoff
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = each.value.max_delivery_attempts
  }
  expiration_policy {
    ttl = ""
  }

  depends_on = [google_pubsub_topic_iam_member.dead_letter_publisher, google_service_account_iam_member.pubsub_push_token_creator]
}
