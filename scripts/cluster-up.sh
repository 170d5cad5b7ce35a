#!/usr/bin/env bash
# Bring up the kind cluster of the end-to-end tests (idempotent):
#   - Docker running and able to run privileged containers (setup-host.sh);
#   - kind and kubectl in .tools/bin (install-tools.sh, built once);
#   - the node image: a local stock kindest/node of our Kubernetes version, or
#     the project's offline image (built, or reloaded from the cache);
#   - the cluster from kind-config.yaml, created if missing, started if stopped;
#   - both nodes Ready, kubeconfig in .tools/kubeconfig;
#   - the installer image (images/installer/build.sh) built and loaded into the
#     nodes, unless SKIP_INSTALLER_IMAGE=1.
#
# Environment: KIND_CLUSTER_NAME (default kata-deploy-e2e), KIND_NODE_IMAGE (use
# this node image), INSTALLER_IMAGE (image to load instead of building one),
# SKIP_INSTALLER_IMAGE=1, WAIT_TIMEOUT (seconds for nodes Ready, default 300),
# KIND_KUBECONFIG (where to write the kubeconfig, default .tools/kubeconfig).
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$REPO_ROOT/scripts/kind-lib.sh"

start=$(date +%s)
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; if ((rc != 0)); then dump_node_logs; log "cluster-up failed ($rc)"; fi' EXIT

"$REPO_ROOT/scripts/setup-host.sh" 2>&1 | grep -v '^\[.*\] \(docker run --privileged works\|capability bounding\)' >&2 || true
docker info >/dev/null 2>&1 || die "docker is not running (scripts/setup-host.sh failed?)"
ensure_tools

if ! cluster_exists; then
  image=${KIND_NODE_IMAGE:-}
  if [[ -z $image ]]; then
    log "node image: building or loading (cold build: 30-45 min, cached: ~1 min)"
    image=$("$REPO_ROOT/images/kind-node/build.sh" image | tail -n1)
  fi
  log "creating cluster $CLUSTER with $image"
  kind create cluster --name "$CLUSTER" --image "$image" --config "$REPO_ROOT/kind-config.yaml" \
    --kubeconfig "$KUBECONFIG_OUT" --wait 0s
else
  start_stopped_nodes
  kind export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT" >/dev/null 2>&1
fi
chmod 600 "$KUBECONFIG_OUT"
wait_nodes_ready "${WAIT_TIMEOUT:-300}"
wait_system_pods "${WAIT_TIMEOUT:-300}"

if [[ ${SKIP_INSTALLER_IMAGE:-} != 1 ]]; then
  load_installer_image
fi
log "cluster $CLUSTER ready in $(($(date +%s) - start))s; export KUBECONFIG=$KUBECONFIG_OUT"
