# People and CI systems that use ferry (the `ferry` CLI with application default credentials, or
# any Pub/Sub client). Empty by default: grant what each needs, nothing project-wide but Firestore
# reads. Members are IAM principals: user:…, group:…, serviceAccount:…

# `ferry upload` (and any uploader): write checkpoints under the model prefix. objectUser rather
# than objectCreator because `ferry upload --force` overwrites (a new generation is new content).
resource "google_storage_bucket_iam_member" "checkpoint_uploader" {
  for_each = var.checkpoint_uploaders

  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectUser"
  member = each.value
}

# `ferry deploy` / `ferry rollback` / CI: publish deploy requests.
resource "google_pubsub_topic_iam_member" "deploy_requester" {
  for_each = var.deploy_requesters

  project = var.project_id
  topic   = google_pubsub_topic.deploy_requests.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}

# `ferry status`, `ferry deploy --wait`, `ferry caches`: read versions, rollouts and caches.
resource "google_project_iam_member" "state_reader" {
  for_each = var.state_readers

  project = var.project_id
  role    = "roles/datastore.viewer"
  member  = each.value
}
