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
