#!/usr/bin/env bash
# Quick start: set everything up, bring up the 2-node kind cluster, install the
# chart with suffix `cicd` through the post-renderer, and show what it did.
#   scripts/demo.sh            (re-running upgrades the release in place)
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"
scripts/setup-host.sh
scripts/setup-python.sh
scripts/install-tools.sh
scripts/cluster-up.sh
export PATH="$REPO_ROOT/.venv/bin:$TOOLS_BIN:$PATH" KUBECONFIG="${KIND_KUBECONFIG:-$REPO_ROOT/.tools/kubeconfig}"

log "helm upgrade --install kata-cicd (suffix cicd) through kata-deploy-postrender"
helm upgrade --install kata-cicd chart --namespace kata-system --create-namespace \
  -f chart/ci/kind-values.yaml --post-renderer kata-deploy-postrender --wait --timeout 5m
kubectl -n kata-system rollout status daemonset/kata-deploy-cicd --timeout=180s
kubectl wait node --all --for=jsonpath='{.metadata.labels.kata-deploy\.katacontainers\.io/cicd}'=true --timeout=180s

echo; log "RuntimeClasses of the install"
kubectl get runtimeclass -l katacontainers.io/multi-install-suffix=cicd
echo; log "node labels"
kubectl get nodes -L katacontainers.io/kata-runtime,kata-deploy.katacontainers.io/cicd
for node in $(kind get nodes --name "${KIND_CLUSTER_NAME:-kata-deploy-e2e}"); do
  echo; log "on node $node"
  docker exec "$node" ls /opt/kata-cicd
  docker exec "$node" sh -c 'grep -c "runtimes\.\"kata-[a-z0-9-]*-cicd\"\]\$" /etc/containerd/conf.d/kata-deploy-cicd.toml' |
    sed 's/^/containerd runtimes registered by kata-deploy-cicd.toml: /'
  docker exec "$node" crictl info | python3 -c 'import json,sys; r=json.load(sys.stdin)["config"]["containerd"]["runtimes"]; print("crictl info handlers:", " ".join(sorted(k for k in r if k.endswith("-cicd"))))'
done
echo; log "done: pods can use runtimeClassName: kata-cicd (uninstall: helm uninstall kata-cicd -n kata-system)"
