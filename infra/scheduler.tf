# Cloud Scheduler publishes the ticks; the Cloud Scheduler service agent holds the publish
# permission (roles/cloudscheduler.serviceAgent), so no grant is needed here.

resource "google_cloud_scheduler_job" "reconcile_tick" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-reconcile-tick"
  description = "Every minute: reconcileRollouts advances every rollout in flight."
  schedule    = var.reconcile_schedule
  time_zone   = var.scheduler_time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.reconcile_tick.id
    data       = base64encode(jsonencode({ tick = "reconcile" }))
  }

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_scheduler_job" "teardown_tick" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-teardown-tick"
  description = "Teardown of idle Anywhere Caches and clusters. Paused until a function consumes the tick."
  schedule    = var.teardown_schedule
  time_zone   = var.scheduler_time_zone
  paused      = var.teardown_paused

  pubsub_target {
    topic_name = google_pubsub_topic.teardown_tick.id
    data       = base64encode(jsonencode({ tick = "teardown" }))
  }

  depends_on = [google_project_service.enabled]
}
