# Where every per-function resource lived before it became a `for_each` instance keyed by the
# function's name (local.functions): Terraform moves the existing objects in its state instead of
# destroying and recreating them, so a deployment made before the move plans no replacement
# (`terraform plan` shows "has moved to"). Keep these blocks while any deployment may still hold
# state from before (they cost nothing; removing one later re-opens that risk for such a state).

# ---- functions (functions.tf)

moved {
  from = google_cloudfunctions2_function.on_checkpoint_upload
  to   = google_cloudfunctions2_function.fn["onCheckpointUpload"]
}

moved {
  from = google_cloudfunctions2_function.on_deploy_request
  to   = google_cloudfunctions2_function.fn["onDeployRequest"]
}

moved {
  from = google_cloudfunctions2_function.reconcile_rollouts
  to   = google_cloudfunctions2_function.fn["reconcileRollouts"]
}

moved {
  from = google_cloudfunctions2_function.slack_command
  to   = google_cloudfunctions2_function.fn["slackCommand"]
}

moved {
  from = google_cloudfunctions2_function.on_chat_command
  to   = google_cloudfunctions2_function.fn["onChatCommand"]
}

moved {
  from = google_cloudfunctions2_function.on_deploy_result
  to   = google_cloudfunctions2_function.fn["onDeployResult"]
}

moved {
  from = google_cloudfunctions2_function.teardown_idle
  to   = google_cloudfunctions2_function.fn["teardownIdle"]
}

# ---- runtime service accounts

moved {
  from = google_service_account.on_checkpoint_upload
  to   = google_service_account.fn["onCheckpointUpload"]
}

moved {
  from = google_service_account.on_deploy_request
  to   = google_service_account.fn["onDeployRequest"]
}

moved {
  from = google_service_account.reconcile_rollouts
  to   = google_service_account.fn["reconcileRollouts"]
}

moved {
  from = google_service_account.slack_command
  to   = google_service_account.fn["slackCommand"]
}

moved {
  from = google_service_account.on_chat_command
  to   = google_service_account.fn["onChatCommand"]
}

moved {
  from = google_service_account.on_deploy_result
  to   = google_service_account.fn["onDeployResult"]
}

moved {
  from = google_service_account.teardown_idle
  to   = google_service_account.fn["teardownIdle"]
}

# ---- Firestore

moved {
  from = google_project_iam_member.on_checkpoint_upload_datastore_user
  to   = google_project_iam_member.datastore_user["onCheckpointUpload"]
}

moved {
  from = google_project_iam_member.on_deploy_request_datastore_user
  to   = google_project_iam_member.datastore_user["onDeployRequest"]
}

moved {
  from = google_project_iam_member.reconcile_rollouts_datastore_user
  to   = google_project_iam_member.datastore_user["reconcileRollouts"]
}

moved {
  from = google_project_iam_member.slack_command_datastore_user
  to   = google_project_iam_member.datastore_user["slackCommand"]
}

moved {
  from = google_project_iam_member.on_chat_command_datastore_user
  to   = google_project_iam_member.datastore_user["onChatCommand"]
}

moved {
  from = google_project_iam_member.on_deploy_result_datastore_user
  to   = google_project_iam_member.datastore_user["onDeployResult"]
}

moved {
  from = google_project_iam_member.teardown_idle_datastore_user
  to   = google_project_iam_member.datastore_user["teardownIdle"]
}

# ---- model bucket reads

moved {
  from = google_storage_bucket_iam_member.on_checkpoint_upload_object_viewer
  to   = google_storage_bucket_iam_member.model_object_viewer["onCheckpointUpload"]
}

moved {
  from = google_storage_bucket_iam_member.reconcile_rollouts_object_viewer
  to   = google_storage_bucket_iam_member.model_object_viewer["reconcileRollouts"]
}

# ---- Anywhere Cache manager

moved {
  from = google_storage_bucket_iam_member.on_deploy_request_cache_manager
  to   = google_storage_bucket_iam_member.cache_manager["onDeployRequest"]
}

moved {
  from = google_storage_bucket_iam_member.reconcile_rollouts_cache_manager
  to   = google_storage_bucket_iam_member.cache_manager["reconcileRollouts"]
}

moved {
  from = google_storage_bucket_iam_member.teardown_idle_cache_manager
  to   = google_storage_bucket_iam_member.cache_manager["teardownIdle"]
}

# ---- GKE teardown

moved {
  from = google_project_iam_member.teardown_idle_gke_teardown
  to   = google_project_iam_member.gke_teardown["teardownIdle"]
}

# ---- GKE capacity

moved {
  from = google_project_iam_member.on_deploy_request_gke_capacity
  to   = google_project_iam_member.gke_capacity["onDeployRequest"]
}

moved {
  from = google_project_iam_member.reconcile_rollouts_gke_capacity
  to   = google_project_iam_member.gke_capacity["reconcileRollouts"]
}

# ---- topic publishers

moved {
  from = google_pubsub_topic_iam_member.on_checkpoint_upload_deploy_publisher
  to   = google_pubsub_topic_iam_member.publisher["onCheckpointUpload:deploy_requests"]
}

moved {
  from = google_pubsub_topic_iam_member.reconcile_rollouts_deploy_publisher
  to   = google_pubsub_topic_iam_member.publisher["reconcileRollouts:deploy_requests"]
}

moved {
  from = google_pubsub_topic_iam_member.on_deploy_request_results_publisher
  to   = google_pubsub_topic_iam_member.publisher["onDeployRequest:results"]
}

moved {
  from = google_pubsub_topic_iam_member.reconcile_rollouts_results_publisher
  to   = google_pubsub_topic_iam_member.publisher["reconcileRollouts:results"]
}

moved {
  from = google_pubsub_topic_iam_member.slack_command_chat_publisher
  to   = google_pubsub_topic_iam_member.publisher["slackCommand:chat_commands"]
}

moved {
  from = google_pubsub_topic_iam_member.on_chat_command_deploy_publisher
  to   = google_pubsub_topic_iam_member.publisher["onChatCommand:deploy_requests"]
}

moved {
  from = google_pubsub_topic_iam_member.on_chat_command_teardown_publisher
  to   = google_pubsub_topic_iam_member.publisher["onChatCommand:teardown_tick"]
}

# ---- secret accessors

moved {
  from = google_secret_manager_secret_iam_member.slack_command_signing_secret_accessor
  to   = google_secret_manager_secret_iam_member.secret_accessor["slackCommand"]
}

moved {
  from = google_secret_manager_secret_iam_member.teardown_idle_webhook_accessor
  to   = google_secret_manager_secret_iam_member.secret_accessor["teardownIdle"]
}

# ---- GKE (container.developer)

moved {
  from = google_project_iam_member.on_deploy_request_container_developer
  to   = google_project_iam_member.container_developer["onDeployRequest"]
}

moved {
  from = google_project_iam_member.reconcile_rollouts_container_developer
  to   = google_project_iam_member.container_developer["reconcileRollouts"]
}

moved {
  from = google_project_iam_member.teardown_idle_container_developer
  to   = google_project_iam_member.container_developer["teardownIdle"]
}

# ---- invokers

moved {
  from = google_cloud_run_v2_service_iam_member.on_checkpoint_upload_invoker
  to   = google_cloud_run_v2_service_iam_member.invoker["onCheckpointUpload"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.on_deploy_request_invoker
  to   = google_cloud_run_v2_service_iam_member.invoker["onDeployRequest"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.reconcile_rollouts_invoker
  to   = google_cloud_run_v2_service_iam_member.invoker["reconcileRollouts"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.slack_command_public_invoker
  to   = google_cloud_run_v2_service_iam_member.invoker["slackCommand"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.on_chat_command_invoker
  to   = google_cloud_run_v2_service_iam_member.invoker["onChatCommand"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.on_deploy_result_invoker
  to   = google_cloud_run_v2_service_iam_member.invoker["onDeployResult"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.teardown_idle_invoker
  to   = google_cloud_run_v2_service_iam_member.invoker["teardownIdle"]
}

# ---- push subscriptions (pubsub.tf)

moved {
  from = google_pubsub_subscription.on_deploy_request
  to   = google_pubsub_subscription.push["onDeployRequest"]
}

moved {
  from = google_pubsub_subscription.reconcile_rollouts
  to   = google_pubsub_subscription.push["reconcileRollouts"]
}

moved {
  from = google_pubsub_subscription.teardown_idle
  to   = google_pubsub_subscription.push["teardownIdle"]
}

moved {
  from = google_pubsub_subscription.on_chat_command
  to   = google_pubsub_subscription.push["onChatCommand"]
}

moved {
  from = google_pubsub_subscription.on_deploy_result
  to   = google_pubsub_subscription.push["onDeployResult"]
}

# ---- dead-letter acks

moved {
  from = google_pubsub_subscription_iam_member.on_deploy_request_dead_letter_subscriber
  to   = google_pubsub_subscription_iam_member.dead_letter_subscriber["onDeployRequest"]
}

moved {
  from = google_pubsub_subscription_iam_member.reconcile_rollouts_dead_letter_subscriber
  to   = google_pubsub_subscription_iam_member.dead_letter_subscriber["reconcileRollouts"]
}

moved {
  from = google_pubsub_subscription_iam_member.teardown_idle_dead_letter_subscriber
  to   = google_pubsub_subscription_iam_member.dead_letter_subscriber["teardownIdle"]
}

moved {
  from = google_pubsub_subscription_iam_member.on_chat_command_dead_letter_subscriber
  to   = google_pubsub_subscription_iam_member.dead_letter_subscriber["onChatCommand"]
}

moved {
  from = google_pubsub_subscription_iam_member.on_deploy_result_dead_letter_subscriber
  to   = google_pubsub_subscription_iam_member.dead_letter_subscriber["onDeployResult"]
}
