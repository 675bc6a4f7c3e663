#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler from Debian's `kubernetes`
# source package (no prebuilt Kubernetes binary is reachable from these machines) and caches them
# outside the repo. Idempotent: exits at once when the cached binaries are present.
#
#   FERRY_CACHE_DIR   where the binaries go (default ~/.cache/ferry)
#
# Needs root for apt (the machines run as root). Installs: golang-go dpkg-dev rsync make
# etcd-server openssl golang-github-modern-go-reflect2-dev. Never edits /etc: deb-src is enabled
# through a private apt config.
#
# Kubernetes 1.20 vendors github.com/modern-go/reflect2 v1.0.1, which corrupts memory when built
# with Go >= 1.18 (its map iterator predates Go 1.18's runtime layout; fixed in v1.0.2): the
# apiserver then dies with "unexpected fault address" (SIGSEGV in mapiterinit) as soon as it
# decodes a custom resource. Debian's Go is 1.19, so the build swaps in Debian's reflect2 1.0.2.
# BUILD_ID names that recipe; cached binaries without it are rebuilt.
set -euo pipefail

K8S_VERSION=1.20.2
BUILD_ID="k8s-$K8S_VERSION+reflect2-1.0.2"
CACHE_DIR="${FERRY_CACHE_DIR:-$HOME/.cache/ferry}"
OUT="$CACHE_DIR/k8s-$K8S_VERSION"
BINS=(kube-apiserver kube-controller-manager kube-scheduler)
REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2

have_all() {
  for b in "${BINS[@]}"; do [ -x "$OUT/$b" ] || return 1; done
  [ "$(cat "$OUT/build-id" 2>/dev/null)" = "$BUILD_ID" ]
}
log() { printf '[build-kubernetes] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

if have_all; then
  # The cluster also needs etcd at run time (a Debian package, never cached with the binaries).
  if ! command -v etcd >/dev/null 2>&1; then
    log "installing etcd-server"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server >/dev/null
  fi
  echo "kubernetes $K8S_VERSION: cached in $OUT"; exit 0
fi

# One build at a time per cache: two stacks (or a test run and `npm start`) starting together on a
# fresh machine would otherwise unpack and compile into the same tree at once. The second waits,
# then finds the binaries the first built.
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if have_all; then echo "kubernetes $K8S_VERSION: cached in $OUT (built by the other run)"; exit 0; fi

need=()
for pkg in golang-go dpkg-dev rsync make etcd-server openssl golang-github-modern-go-reflect2-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

WORK="$CACHE_DIR/build"
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/src"
# A private sources list with deb-src, derived from the machine's own apt configuration.
SRC_LIST="$WORK/apt/deb-src.sources"
found=0
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  sed 's/^Types: .*/Types: deb-src/' "$f" >> "$SRC_LIST.tmp"; echo >> "$SRC_LIST.tmp"; found=1
done
if [ -f /etc/apt/sources.list ]; then
  grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > "$WORK/apt/deb-src.list" || true
  found=1
fi
[ "$found" = 1 ] || { log "no apt sources found under /etc/apt"; exit 1; }
mkdir -p "$WORK/apt/parts"
mv "$SRC_LIST.tmp" "$WORK/apt/parts/deb-src.sources"
[ -f "$WORK/apt/deb-src.list" ] && mv "$WORK/apt/deb-src.list" "$WORK/apt/parts/"
APT_OPTS=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$WORK/apt/parts"
          -o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::Cache=$WORK/apt/cache")

cd "$WORK/src"
if ! ls -d kubernetes-*/ >/dev/null 2>&1; then
  log "fetching Debian source package 'kubernetes'"
  apt-get "${APT_OPTS[@]}" update -qq
  apt-get "${APT_OPTS[@]}" source --download-only kubernetes >/dev/null
  dpkg-source --no-check -x kubernetes_*.dsc >/dev/null
fi
TREE=$(ls -d "$WORK"/src/kubernetes-*/ | head -1)
[ -f "$REFLECT2_SRC/go_above_118.go" ] || { log "$REFLECT2_SRC is not reflect2 >= 1.0.2 (golang-github-modern-go-reflect2-dev)"; exit 1; }
log "vendoring reflect2 1.0.2 from $REFLECT2_SRC (Go >= 1.18 map iteration)"
rm -rf "$TREE/vendor/github.com/modern-go/reflect2"
mkdir -p "$TREE/vendor/github.com/modern-go/reflect2"
find "$REFLECT2_SRC" -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} "$TREE/vendor/github.com/modern-go/reflect2/" \;
[ -f "$REFLECT2_SRC/LICENSE" ] && cp "$REFLECT2_SRC/LICENSE" "$TREE/vendor/github.com/modern-go/reflect2/"
log "building ${BINS[*]} in $TREE (takes ~5-8 min on 2 cores)"
cd "$TREE"
start=$(date +%s)
CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >"$WORK/build.log" 2>&1 \
  || { log "build failed; last lines of $WORK/build.log:"; tail -30 "$WORK/build.log" >&2; exit 1; }
mkdir -p "$OUT"
# Copy then rename: a stack running the previous binaries keeps them (no "text file busy").
for b in "${BINS[@]}"; do
  cp "_output/local/go/bin/$b" "$OUT/.$b.new" 2>/dev/null || cp "_output/bin/$b" "$OUT/.$b.new"
  mv -f "$OUT/.$b.new" "$OUT/$b"
done
end=$(date +%s)
echo "$((end-start))" > "$OUT/build-seconds"
echo "$BUILD_ID" > "$OUT/build-id"
log "built in $((end-start)) s → $OUT"
# The source tree is ~2 GB; keep only the binaries.
rm -rf "$WORK/src"
