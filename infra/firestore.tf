# Firestore (native mode, the (default) database the code opens). If the project already has one:
#   terraform import google_firestore_database.this "projects/<project>/databases/(default)"

resource "google_firestore_database" "this" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = coalesce(var.firestore_location, var.region)
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.enabled]
}

# ---- the deploy policy's own database ------------------------------------------------------------
# `policy/current` and its audit records (`policyVersions/{n}`) live apart from ferry's state, so
# Firestore IAM — which is per database (IAM Conditions on resource.type/resource.name, iam.tf) — can
# let the functions only read them and only var.policy_admins write them (`ferry policy set`, with
# the admin's own credentials; docs/policy.md). The functions get its id as FERRY_POLICY_DATABASE.
# A deployment whose policy is still in (default) moves it with `ferry policy` (docs/policy.md).

locals {
  policy_database_id = "${var.name_prefix}-policy"
}

resource "google_firestore_database" "policy" {
  project                           = var.project_id
  name                              = local.policy_database_id
  location_id                       = coalesce(var.firestore_location, var.region)
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.enabled]
}

# ---- TTL: exactly-once and rejection records carry `expireAt` (shared/adapters/firestore-rollouts.ts)
# `index_config {}` drops the single-field indexes on expireAt: no query reads it, and indexing a
# monotonically increasing timestamp only adds write cost.

resource "google_firestore_field" "deploy_requests_ttl" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "deployRequests"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "idempotency_keys_ttl" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "idempotencyKeys"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "rejected_requests_ttl" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "rejectedRequests"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

# ---- composite indexes ----------------------------------------------------------------------------
# models/{m}/versions: where('status','==','valid').orderBy('validatedAt','desc') served the latest
# valid version until "latest" became upload order (#23, shared/domain/latest.ts: it is now picked in
# code from where('status','==','valid')); kept until no deployed ferry still runs that query. The other queries (rollouts by phase `in`, by model and/or
# targetKey with equality only) are served by the automatic single-field indexes.
# rollouts: where('model','==').where('phase','==','succeeded').orderBy('createdAt','desc') reads a
# model's recent measured load rates for SLOW_LOAD (#19, firestore-rollouts.ts recentLoadRates).

resource "google_firestore_index" "rollouts_model_phase_created_at" {
  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = "rollouts"
  query_scope = "COLLECTION"

  fields {
    field_path = "model"
    order      = "ASCENDING"
  }
  fields {
    field_path = "phase"
    order      = "ASCENDING"
  }
  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "versions_status_validated_at" {
  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = "versions"
  query_scope = "COLLECTION"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "validatedAt"
    order      = "DESCENDING"
  }
}
