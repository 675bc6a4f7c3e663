output "bucket" {
  description = "The model bucket."
  value       = google_storage_bucket.models.name
}

output "models_uri" {
  description = "Upload checkpoints under this prefix: <models_uri><model>/<version>/ (ferry upload <dir> <models_uri><model>/<version>)."
  value       = "gs://${google_storage_bucket.models.name}/${var.model_prefix}"
}

output "deploy_topic" {
  description = "Deploy request topic (FERRY_DEPLOY_TOPIC for the CLI and CI systems)."
  value       = google_pubsub_topic.deploy_requests.name
}

output "results_topic" {
  description = "Topic of rejections and terminal rollout results (FERRY_RESULTS_TOPIC)."
  value       = google_pubsub_topic.results.name
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered messages for 7 days (attribute CloudPubSubDeadLetterSourceSubscription names the source)."
  value       = google_pubsub_subscription.dead_letter.name
}

output "functions" {
  description = "Entry point → deployed function name and Cloud Run URI."
  value       = { for k, f in google_cloudfunctions2_function.fn : k => { name = f.name, uri = f.service_config[0].uri } }
}

output "function_service_accounts" {
  description = "Entry point → the service account the function runs as."
  value       = { for k, sa in google_service_account.fn : k => sa.email }
}

output "vllm_workload_identity_principals" {
  description = "Namespace → the IAM principal of the vLLM Kubernetes service account (read access to the bucket)."
  value       = local.vllm_principals
}

output "slack_command_url" {
  description = "Request URL of the Slack app's /ferry slash command."
  value       = google_cloudfunctions2_function.fn["slackCommand"].service_config[0].uri
}

output "chat_topic" {
  description = "Topic of queued Slack commands (FERRY_CHAT_TOPIC)."
  value       = google_pubsub_topic.chat_commands.name
}

output "slack_signing_secret" {
  description = "Secret Manager secret holding the Slack signing secret (add a version if var.slack_signing_secret is null)."
  value       = google_secret_manager_secret.slack_signing_secret.secret_id
}

output "console_url" {
  description = "The web console (behind IAP), when console_domain is set."
  value       = var.console_domain == "" ? null : "https://${var.console_domain}/models"
}

output "console_ip" {
  description = "Point console_domain's A record here (the managed certificate is issued once it resolves)."
  value       = one([for a in google_compute_global_address.console : a.address])
}

output "console_iap_audience" {
  description = "The audience the console function checks in IAP's signed header (FERRY_CONSOLE_IAP_AUDIENCE)."
  value       = local.console_iap_audience
}

output "gke_rbac_manifest" {
  description = "Kubernetes RBAC for ferry's GKE-facing functions (they hold only roles/container.clusterViewer): apply it to every cluster ferry deploys to, e.g. `terraform output -raw gke_rbac_manifest | kubectl apply -f -`."
  value = yamlencode({
    apiVersion = "v1"
    kind       = "List"
    items = [
      {
        apiVersion = "rbac.authorization.k8s.io/v1"
        kind       = "ClusterRole"
        metadata   = { name = "ferry-deployer" }
        rules      = jsondecode(file("${path.module}/gke-rbac-rules.json"))
      },
      {
        apiVersion = "rbac.authorization.k8s.io/v1"
        kind       = "ClusterRoleBinding"
        metadata   = { name = "ferry-deployer" }
        roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "ferry-deployer" }
        subjects   = [for k in sort(keys(google_project_iam_member.container_developer)) : { kind = "User", name = google_service_account.fn[k].email }]
      },
    ]
  })
}

output "policy_database" {
  description = "Firestore database of the deploy policy: set FERRY_POLICY_DATABASE to it for `ferry policy` (a policy admin's own credentials write it)."
  value       = google_firestore_database.policy.name
}
