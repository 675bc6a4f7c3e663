#!/usr/bin/env bash
# `terraform fmt -check -recursive infra` where a terraform binary is on PATH; a clear skip where
# not. Only fmt runs offline: `terraform validate` (and plan) need the hashicorp/google provider,
# which `terraform init` downloads from the Terraform registry — not reachable from CI here. The
# consistency test (test/unit/infra/terraform.test.ts) checks the configuration without it.
#   infra/fmt-check.sh        (npm run -s infra:fmt)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v terraform >/dev/null 2>&1; then
  echo "terraform fmt: skipped: no terraform binary on PATH (validate needs the google provider, which cannot be installed offline)"
  exit 0
fi
# The CLI warns on stderr when ~/.terraformrc is missing; fmt needs no CLI configuration.
export TF_CLI_CONFIG_FILE=/dev/null
if terraform fmt -check -recursive -diff infra; then
  echo "terraform fmt: infra/ is formatted ($(terraform version | head -n1))"
else
  echo "terraform fmt: the files above are not formatted: run \`terraform fmt -recursive infra\`" >&2
  exit 1
fi
