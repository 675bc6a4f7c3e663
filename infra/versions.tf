# Provider requirements for ferry's production deployment. No terraform binary is used in this
# repository's CI: test/unit/infra/terraform.test.ts parses every file here with an HCL parser and
# checks it against the code (functions/manifest.ts, shared/config.ts). Run `terraform validate`
# and `terraform plan` wherever a terraform binary exists (see infra/README.md).

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.14.0, < 8.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = merge({ app = "ferry", managed-by = "terraform" }, var.labels)
}
