# shellcheck shell=bash
# Helpers shared by cluster-up.sh, cluster-down.sh and bench-kind.sh. Source
# after common.sh.
CLUSTER=${KIND_CLUSTER_NAME:-kata-deploy-e2e}
KUBECONFIG_OUT=${KIND_KUBECONFIG:-$REPO_ROOT/.tools/kubeconfig}
export PATH="$TOOLS_BIN:$PATH"

ensure_tools() {
  local missing=() t
  for t in kind kubectl; do [[ -x $TOOLS_BIN/$t ]] || missing+=("$t"); done
  if ((${#missing[@]})); then
    log "installing ${missing[*]} into $TOOLS_BIN"
    "$REPO_ROOT/scripts/install-tools.sh" "${missing[@]}"
  fi
}

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; }

node_containers() { docker ps -a --filter "label=io.x-k8s.kind.cluster=$CLUSTER" --format '{{.Names}}' | sort; }

start_stopped_nodes() {
  local stopped
  stopped=$(docker ps -a --filter "label=io.x-k8s.kind.cluster=$CLUSTER" --filter status=exited --format '{{.Names}}')
  if [[ -n $stopped ]]; then
    log "starting stopped nodes: $(echo $stopped)"
    docker start $stopped >/dev/null
  fi
}

kc() { kubectl --kubeconfig "$KUBECONFIG_OUT" "$@"; }

# wait_nodes_ready TIMEOUT: every node container registered and Ready.
wait_nodes_ready() {
  local timeout=$1 t0 want ready total
  t0=$(date +%s)
  want=$(node_containers | wc -l)
  log "waiting for $want nodes to be Ready"
  while :; do
    total=$(kc get nodes --no-headers 2>/dev/null | wc -l || true)
    ready=$(kc get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l || true)
    if ((total >= want && ready == total)); then
      log "nodes Ready: $ready/$want ($(($(date +%s) - t0))s)"
      return 0
    fi
    if (($(date +%s) - t0 > timeout)); then
      kc get nodes -o wide >&2 || true
      die "nodes not Ready after ${timeout}s ($ready/$want)"
    fi
    (((($(date +%s) - t0)) % 10 < 2)) && log "  ... $ready/$want Ready ($(($(date +%s) - t0))s)"
    sleep 2
  done
}

# wait_system_pods TIMEOUT: the cluster's own workloads (DNS, pod network,
# storage) rolled out and their pods Ready.
wait_system_pods() {
  local timeout=$1 ns t0 pending
  t0=$(date +%s)
  for ns in kube-system local-path-storage; do
    kc get ns "$ns" >/dev/null 2>&1 || continue
    log "waiting for the workloads in $ns"
    while :; do
      # DaemonSets and Deployments whose ready count is short of what they want.
      pending=$(kc -n "$ns" get daemonsets,deployments -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.status.desiredNumberScheduled}{.spec.replicas} {.status.numberReady}{.status.readyReplicas}{"\n"}{end}' 2>/dev/null |
        awk '$2 != $3 {print $1}')
      [[ -n $pending ]] || break
      if (($(date +%s) - t0 > timeout)); then
        kc -n "$ns" get pods -o wide >&2
        die "not ready after ${timeout}s in $ns: $(echo $pending)"
      fi
      sleep 2
    done
    kc -n "$ns" wait --for=condition=Ready pod --all --timeout="${timeout}s" >/dev/null ||
      { kc -n "$ns" get pods -o wide >&2; die "pods in $ns not Ready after ${timeout}s"; }
  done
}

# The installer image: INSTALLER_IMAGE if set, else whatever
# images/installer/build.sh builds (the last line of its output names it).
load_installer_image() {
  local image=${INSTALLER_IMAGE:-}
  if [[ -z $image ]]; then
    if [[ ! -x $REPO_ROOT/images/installer/build.sh ]]; then
      log "images/installer/build.sh not found: no installer image loaded (SKIP_INSTALLER_IMAGE=1 silences this)"
      return 0
    fi
    log "building the installer image (images/installer/build.sh)"
    image=$("$REPO_ROOT/images/installer/build.sh" | tail -n1)
  fi
  docker image inspect "$image" >/dev/null 2>&1 || die "installer image $image is not in Docker"
  log "loading $image into the nodes of $CLUSTER"
  kind load docker-image "$image" --name "$CLUSTER" >/dev/null
  echo "$image" >"$REPO_ROOT/.tools/installer-image"
}

# On failure: what the nodes' kubelet and containerd said last.
dump_node_logs() {
  local n
  for n in $(node_containers); do
    echo "===== $n: kubelet and containerd (last 40 lines) =====" >&2
    docker exec "$n" journalctl -u kubelet -u containerd --no-pager 2>&1 | tail -n 40 >&2 || true
    echo "===== $n: container log (last 15 lines) =====" >&2
    docker logs "$n" 2>&1 | tail -n 15 >&2 || true
  done
}
