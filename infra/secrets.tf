# The Slack app's signing secret (verifies X-Slack-Signature on slash commands). Terraform owns the
# secret; its value is added either by Terraform (var.slack_signing_secret, kept in the state) or
# out of band, before the first apply that creates the Slack function:
#   printf %s "$SLACK_SIGNING_SECRET" | gcloud secrets versions add <name_prefix>-slack-signing-secret --data-file=-

resource "google_secret_manager_secret" "slack_signing_secret" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-slack-signing-secret"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "slack_signing_secret" {
  count = var.slack_signing_secret == null ? 0 : 1

  secret      = google_secret_manager_secret.slack_signing_secret.id
  secret_data = var.slack_signing_secret
}

# Optional: a Slack incoming webhook for a summary of every teardown run that did something
# (teardownIdle, FERRY_TEARDOWN_SLACK_WEBHOOK_URL). The secret always exists; it is read only when
# var.teardown_slack_notify is true, and its value is added by Terraform
# (var.teardown_slack_webhook_url, kept in the state) or out of band before turning notify on:
#   printf %s "$WEBHOOK_URL" | gcloud secrets versions add <name_prefix>-teardown-slack-webhook --data-file=-

resource "google_secret_manager_secret" "teardown_slack_webhook" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-teardown-slack-webhook"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "teardown_slack_webhook" {
  count = var.teardown_slack_webhook_url == null ? 0 : 1

  secret      = google_secret_manager_secret.teardown_slack_webhook.id
  secret_data = var.teardown_slack_webhook_url
}

# Optional: a Slack incoming webhook for unsolicited alerts from the reconciler (reconcileRollouts,
# FERRY_ALERTS_SLACK_WEBHOOK_URL): a served version whose content changed after validation (drift,
# issue #20), once per change. Same life cycle as the teardown webhook: read only when
# var.alerts_slack_notify is true; the value from var.alerts_slack_webhook_url or out of band:
#   printf %s "$WEBHOOK_URL" | gcloud secrets versions add <name_prefix>-alerts-slack-webhook --data-file=-

resource "google_secret_manager_secret" "alerts_slack_webhook" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-alerts-slack-webhook"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "alerts_slack_webhook" {
  count = var.alerts_slack_webhook_url == null ? 0 : 1

  secret      = google_secret_manager_secret.alerts_slack_webhook.id
  secret_data = var.alerts_slack_webhook_url
}
