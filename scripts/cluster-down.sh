#!/usr/bin/env bash
# Delete the kind cluster of the end-to-end tests and its kubeconfig (idempotent).
# Cached node images stay; scripts/setup-host.sh --teardown undoes the host setup.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$REPO_ROOT/scripts/kind-lib.sh"

if cluster_exists; then
  log "deleting cluster $CLUSTER"
  kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT"
else
  log "cluster $CLUSTER does not exist"
fi
rm -f "$KUBECONFIG_OUT"
