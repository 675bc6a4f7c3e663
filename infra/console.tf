# The read-only web console (functions/console.ts) behind Identity-Aware Proxy:
#   HTTPS load balancer (when console_domain is set) → backend service with IAP → serverless NEG →
#   the console function, whose only invoker is the IAP service agent. The function verifies IAP's
#   signed header itself (x-goog-iap-jwt-assertion, audience FERRY_CONSOLE_IAP_AUDIENCE below), so a
#   request that reaches it some other way gets 401, never data.
#
# Upstream:
# - IAP's JWT audience for a backend service is /projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID
#   and its issuer https://cloud.google.com/iap (https://cloud.google.com/iap/docs/signed-headers-howto).
# - The IAP service agent service-PROJECT_NUMBER@gcp-sa-iap.iam.gserviceaccount.com needs
#   roles/run.invoker on a Cloud Run (functions gen2) backend (https://cloud.google.com/iap/docs/enabling-cloud-run).
# - BackendService.iap {enabled, oauth2ClientId, oauth2ClientSecret}
#   (https://cloud.google.com/iap/docs/reference/compute-engine-apis). With no client given, IAP uses
#   a Google-managed OAuth client (set console_oauth_client_id/secret for your own consent screen).

locals {
  # = google_cloudfunctions2_function.fn["console"].name (slug "console"); written out so the NEG does
  # not depend on local.functions, whose console env depends on the backend service (a cycle).
  console_function_name = "${var.name_prefix}-console"
  iap_service_agent     = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-iap.iam.gserviceaccount.com"
  console_iap_audience  = "/projects/${data.google_project.this.number}/global/backendServices/${google_compute_backend_service.console.generated_id}"
  console_lb            = var.console_domain == "" ? {} : { console = var.console_domain }
}

resource "google_compute_region_network_endpoint_group" "console" {
  project               = var.project_id
  name                  = "${var.name_prefix}-console-neg"
  region                = var.region
  network_endpoint_type = "SERVERLESS"
  # A gen2 function is a Cloud Run service of the same name.
  cloud_run {
    service = local.console_function_name
  }
  depends_on = [google_project_service.enabled]
}

resource "google_compute_backend_service" "console" {
  project               = var.project_id
  name                  = "${var.name_prefix}-console"
  description           = "ferry web console (read-only), behind IAP"
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"

  backend {
    group = google_compute_region_network_endpoint_group.console.id
  }

  iap {
    enabled              = true
    oauth2_client_id     = var.console_oauth_client_id == "" ? null : var.console_oauth_client_id
    oauth2_client_secret = var.console_oauth_client_secret == "" ? null : var.console_oauth_client_secret
  }
}

# Who may open the console (IAP checks it before a request reaches the function).
resource "google_iap_web_backend_service_iam_member" "console_users" {
  for_each = toset(var.console_users)

  project             = var.project_id
  web_backend_service = google_compute_backend_service.console.name
  role                = "roles/iap.httpsResourceAccessor"
  member              = each.value
}

# ---- the HTTPS load balancer in front (only with a domain: the managed certificate needs one) ---------

resource "google_compute_global_address" "console" {
  for_each = local.console_lb
  project  = var.project_id
  name     = "${var.name_prefix}-console"
}

resource "google_compute_managed_ssl_certificate" "console" {
  for_each = local.console_lb
  project  = var.project_id
  name     = "${var.name_prefix}-console"
  managed {
    domains = [each.value]
  }
}

resource "google_compute_url_map" "console" {
  for_each        = local.console_lb
  project         = var.project_id
  name            = "${var.name_prefix}-console"
  default_service = google_compute_backend_service.console.id
}

resource "google_compute_target_https_proxy" "console" {
  for_each         = local.console_lb
  project          = var.project_id
  name             = "${var.name_prefix}-console"
  url_map          = google_compute_url_map.console[each.key].id
  ssl_certificates = [google_compute_managed_ssl_certificate.console[each.key].id]
}

resource "google_compute_global_forwarding_rule" "console" {
  for_each              = local.console_lb
  project               = var.project_id
  name                  = "${var.name_prefix}-console"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.console[each.key].address
  port_range            = "443"
  target                = google_compute_target_https_proxy.console[each.key].id
}
