# Shared shell settings for the project's scripts. Source it; do not run it.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$REPO_ROOT/scripts/versions.env"

# Heavy caches live outside the repository and survive clean clones.
CACHE_DIR=${KATA_DEPLOY_CACHE:-/var/cache/kata-deploy-dev}
TOOLS_BIN="$REPO_ROOT/.tools/bin"
export GOCACHE="$CACHE_DIR/go-build"
export GOMODCACHE="$CACHE_DIR/go-mod"
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export CGO_ENABLED=0
mkdir -p "$CACHE_DIR" "$TOOLS_BIN"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
