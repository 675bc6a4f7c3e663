# The model bucket, and where the functions' source and images live.

resource "google_storage_bucket" "models" {
  project  = var.project_id
  name     = var.bucket_name
  location = local.bucket_location

  # IAM only (no object ACLs), never public.
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.bucket_force_destroy

  # Checkpoints are overwritten by new uploads (a new generation is new content); keeping old
  # generations would only cost money. Soft delete still protects against accidents for 7 days.
  versioning {
    enabled = false
  }
  soft_delete_policy {
    retention_duration_seconds = 604800
  }

  # A half-finished resumable or multipart upload should not linger forever.
  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.enabled]
}

# ---- function source: infra/package.sh stages package.json, package-lock.json and dist/ ---------

resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = upper(var.region)
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # Each apply uploads a new, content-addressed zip; old ones are not needed after the build.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = local.source_dir
  output_path = "${path.module}/.build/ferry-source.zip"
}

resource "google_storage_bucket_object" "source" {
  # Named by content: a code change is a new object, which redeploys every function.
  name   = "ferry-${data.archive_file.source.output_sha256}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

# Images the function builds produce (instead of the shared gcf-artifacts repository), so the
# build service account can write here and nowhere else.
resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-functions"
  format        = "DOCKER"
  description   = "Images of ferry's Cloud Functions"

  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.enabled]
}
