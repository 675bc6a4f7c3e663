#!/usr/bin/env bash
# Runs one of ferry's TypeScript entrypoints on the project's Node 24 (the Cloud Functions runtime),
# installing what a fresh clone lacks first: npm dependencies (npm ci, also after package-lock.json changed) and, as root,
# the JDK the emulators need. Used by the npm scripts, so `npm run demo` and `npm test` work on a
# fresh machine without any other step. The Kubernetes build happens in the stack itself.
# For `npm test` it also installs Debian's chromium (the console's browser test).
#   infra/local/run.sh <entry.ts> [args…]
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf '[ferry] %s\n' "$*" >&2; }

if [ ! -x node_modules/node/bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Java 17 for the emulators (apt-get install openjdk-17-jdk-headless)…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
  fi
fi

# The console's browser test drives Debian's chromium (playwright-core downloads no browser); without
# it that one test skips, saying why.
if [ "${1:-}" = infra/local/run-tests.ts ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the console's browser test (apt-get install chromium)…"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || say "chromium could not be installed: the browser test will skip"
  fi
fi

exec node_modules/node/bin/node "$@"
