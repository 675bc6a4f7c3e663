# The vLLM pods stream weights straight from the bucket (Run:ai Model Streamer, GCS credentials from
# the metadata server). Workload Identity Federation for GKE lets their Kubernetes service account
# be an IAM principal itself — no Google service account, no key. Read-only, this bucket only.
# Prerequisite: Workload Identity is enabled on the clusters and their GPU node pools
# (GKE_METADATA), and the Kubernetes service account exists in each serving namespace.

# storage.buckets.get: the streamer and the GCS client look the bucket up before reading.
resource "google_storage_bucket_iam_member" "vllm_bucket_viewer" {
  for_each = local.vllm_principals

  bucket = google_storage_bucket.models.name
  role   = "roles/storage.bucketViewer"
  member = each.value
}

# storage.objects.get/list: config, tokenizer and the safetensors shards.
resource "google_storage_bucket_iam_member" "vllm_object_viewer" {
  for_each = local.vllm_principals

  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = each.value
}
