# Project-level plumbing: derived names, the project's service agents, and the APIs ferry uses.

data "google_project" "this" {
  project_id = var.project_id
}

data "google_project" "gke" {
  project_id = local.gke_project_id
}

# The Cloud Storage service agent publishes GCS notifications for Eventarc.
data "google_storage_project_service_account" "gcs" {
  project = var.project_id

  depends_on = [google_project_service.enabled]
}

locals {
  gke_project_id  = coalesce(var.gke_project_id, var.project_id)
  bucket_location = upper(coalesce(var.bucket_location, var.region))

  # Pub/Sub's service agent: forwards dead letters, mints the OIDC tokens of push subscriptions.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  gcs_service_agent    = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"

  # Workload Identity Federation for GKE: the principal of a Kubernetes service account.
  workload_identity_pool = "${local.gke_project_id}.svc.id.goog"
  vllm_principals = {
    for ns in var.serving_namespaces :
    ns => "principal://iam.googleapis.com/projects/${data.google_project.gke.number}/locations/global/workloadIdentityPools/${local.workload_identity_pool}/subject/ns/${ns}/sa/${var.vllm_service_account}"
  }

  source_dir = abspath(startswith(var.source_dir, "/") ? var.source_dir : "${path.module}/${var.source_dir}")

  # APIs the resources below need. Enabling an API is idempotent; destroy leaves them on.
  services = [
    "artifactregistry.googleapis.com", # images built for the functions
    "cloudbuild.googleapis.com",       # builds the functions from source
    "cloudfunctions.googleapis.com",   # Cloud Functions gen2
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com", # reconcile / teardown ticks
    "compute.googleapis.com",        # the console's load balancer, backend service and serverless NEG
    "container.googleapis.com",      # GKE API (getCluster, node pools)
    "eventarc.googleapis.com",       # GCS finalize trigger
    "firestore.googleapis.com",      # state
    "iam.googleapis.com",
    "iamcredentials.googleapis.com", # OIDC tokens for push subscriptions
    "iap.googleapis.com",            # Identity-Aware Proxy in front of the console
    "logging.googleapis.com",
    "pubsub.googleapis.com",        # deploy requests, results, ticks
    "run.googleapis.com",           # gen2 functions run on Cloud Run
    "secretmanager.googleapis.com", # Slack signing secret
    "storage.googleapis.com",       # model bucket, function source, Storage Control (Anywhere Cache)
  ]
}

resource "google_project_service" "enabled" {
  for_each = toset(local.services)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
