#!/usr/bin/env bash
# Stages the Cloud Functions source for Terraform: infra/.build/source/ = package.json,
# package-lock.json and a fresh dist/ (npm run build). Terraform zips that directory
# (data.archive_file.source) and uploads it content-addressed, so every code change redeploys.
#
# Cloud Build then runs `npm ci` with NODE_ENV=production (devDependencies are skipped) and does
# not run `npm run build` (GOOGLE_NODE_RUN_SCRIPTS=""), so the zip must hold the compiled code.
#
# Usage: infra/package.sh            (from anywhere; run `npm ci` once before)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/infra/.build/source"
cd "$ROOT"

if [ ! -x node_modules/.bin/tsc ]; then
  echo "package.sh: node_modules/.bin/tsc is missing; run \`npm ci\` first" >&2
  exit 1
fi
# npm scripts run on the Node 24 from the `node` devDependency (the production runtime's major).
NODE="$ROOT/node_modules/.bin/node"
[ -x "$NODE" ] || NODE="$(command -v node)"

echo "== build (dist/ from scratch, so no stale modules ship)"
rm -rf dist
npm run -s build

echo "== check: the entry module loads and exports every function in functions/manifest.ts"
"$NODE" --input-type=module -e '
  const entry = await import(process.argv[1] + "/dist/functions/index.js");
  const { FUNCTIONS } = await import(process.argv[1] + "/dist/functions/manifest.js");
  const want = FUNCTIONS.map((f) => f.name).sort();
  const got = Object.keys(entry).sort();
  if (JSON.stringify(want) !== JSON.stringify(got)) {
    console.error(`exports ${JSON.stringify(got)} != manifest ${JSON.stringify(want)}`);
    process.exit(1);
  }
  console.log(`entry points: ${got.join(", ")}`);
' "$ROOT"

main="$("$NODE" -p 'require("./package.json").main')"
[ -f "$main" ] || { echo "package.sh: package.json main ($main) was not built" >&2; exit 1; }

echo "== check: with FUNCTION_TARGET set (as Cloud Functions starts it), $main registers that function"
for name in $("$NODE" --input-type=module -e 'const { FUNCTIONS } = await import(process.argv[1] + "/dist/functions/manifest.js"); console.log(FUNCTIONS.map((f) => f.name).join(" "))' "$ROOT"); do
  FUNCTION_TARGET="$name" "$NODE" --input-type=module -e '
    await import(process.argv[1] + "/" + process.argv[2]);
    const { getFunction } = await import("@google-cloud/functions-framework/testing");
    if (!getFunction(process.env.FUNCTION_TARGET)) { console.error(`${process.env.FUNCTION_TARGET} is not registered by ${process.argv[2]}`); process.exit(1); }
  ' "$ROOT" "$main"
done

echo "== stage $OUT"
rm -rf "$OUT"
mkdir -p "$OUT"
cp package.json package-lock.json "$OUT/"
cp -R dist "$OUT/dist"
find "$OUT/dist" -name '*.map' -delete

files=$(find "$OUT" -type f | wc -l | tr -d ' ')
size=$(du -sh "$OUT" | cut -f1)
echo "staged $files files ($size). Next: cd infra && terraform apply"
