#!/usr/bin/env bash
# Print the figures of the offline kind setup:
#   cold build   time of each build step of the node image (from the build's own
#                records), or, with --cold, a full rebuild into an empty cache;
#   warm start   cached node image to both nodes Ready, measured by creating a
#                throwaway cluster (kata-deploy-bench) next to the real one;
#   disk         the cache directory and the Docker images;
#   peak memory  host memory in use, sampled every second during the warm start.
#
#   scripts/bench-kind.sh [--cold] [--no-warm]
# Targets: cold <= 45 min on 2 cores, warm <= 3 min.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

COLD=0 WARM=1
for arg in "$@"; do
  case $arg in
    --cold) COLD=1 ;;
    --no-warm) WARM=0 ;;
    *) die "usage: $0 [--cold] [--no-warm]" ;;
  esac
done

NODE_BUILD="$REPO_ROOT/images/kind-node/build.sh"
fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
used_mib() { free -m | awk '/^Mem:/ {print $3}'; }

# ----------------------------------------------------------------- cold ---
# Seconds the Kubernetes build took: from its log's first line to its stamp.
kubernetes_build_seconds() {
  local cache=$1 dir="$1/kubernetes/$KUBERNETES_VERSION" first end start
  [[ -f $dir/stamp && -f $cache/logs/k8s.log ]] || return 1
  first=$(grep -m1 -o '^\[[0-9:]*\]' "$cache/logs/k8s.log" | tr -d '[]')
  end=$(date -d "$(cat "$dir/stamp")" +%s)
  start=$(date -d "$(date -u -d "@$end" +%F) $first UTC" +%s)
  ((start <= end)) || start=$((start - 86400))
  echo $((end - start))
}

report_cold() {
  local cache=$1 total=0 step secs k8s
  echo "== cold build (cache $cache)"
  if k8s=$(kubernetes_build_seconds "$cache"); then
    printf '  %-22s %s\n' "kubernetes (7 commands)" "$(fmt "$k8s")"
    total=$((total + k8s))
  else
    echo "  kubernetes: no record (not built into this cache)"
  fi
  if [[ -f $cache/kind-node/timings.log ]]; then
    # Longest record of each step (later runs of a cached step take ~0 s);
    # `node` only wraps the others.
    while read -r step secs; do
      printf '  %-22s %s\n' "$step" "$(fmt "$secs")"
      total=$((total + secs))
    done < <(awk '{sub(/s$/, "", $3); if ($3 + 0 > t[$2] + 0) t[$2] = $3} END {for (s in t) if (s != "node") print s, t[s]}' \
      "$cache/kind-node/timings.log" | sort)
  fi
  printf '  %-22s %s (target <= 45m00s; steps ran partly in parallel)\n' "sum of steps" "$(fmt "$total")"
}

if ((COLD)); then
  cold_cache=$(mktemp -d /var/tmp/kata-deploy-cold.XXXXXX)
  log "cold rebuild into the empty cache $cold_cache (KIND_NODE_FORCE_BUILD=1); 30-60 min"
  t0=$(date +%s)
  KATA_DEPLOY_CACHE=$cold_cache KIND_NODE_FORCE_BUILD=1 "$NODE_BUILD" image >/dev/null
  echo "== cold rebuild wall time: $(fmt $(($(date +%s) - t0)))"
  report_cold "$cold_cache"
  echo "  (remove $cold_cache when done)"
else
  report_cold "$CACHE_DIR"
fi

# ----------------------------------------------------------------- warm ---
if ((WARM)); then
  echo "== warm start (cached node image -> 2 nodes Ready; throwaway cluster kata-deploy-bench)"
  bench_cfg="$REPO_ROOT/.tools/kubeconfig-bench"
  KIND_CLUSTER_NAME=kata-deploy-bench KIND_KUBECONFIG=$bench_cfg "$REPO_ROOT/scripts/cluster-down.sh" >/dev/null 2>&1 || true
  image=$("$NODE_BUILD" image 2>/dev/null | tail -n1)
  base=$(used_mib)
  peak=$base
  samples=$(mktemp)
  (while :; do used_mib >>"$samples"; sleep 1; done) &
  sampler=$!
  t0=$(date +%s)
  KIND_CLUSTER_NAME=kata-deploy-bench KIND_KUBECONFIG=$bench_cfg KIND_NODE_IMAGE=$image SKIP_INSTALLER_IMAGE=1 \
    "$REPO_ROOT/scripts/cluster-up.sh" >"$CACHE_DIR/logs/bench-warm.log" 2>&1 || {
    kill "$sampler"
    tail -n 30 "$CACHE_DIR/logs/bench-warm.log" >&2
    die "warm start failed; see $CACHE_DIR/logs/bench-warm.log"
  }
  warm=$(($(date +%s) - t0))
  kill "$sampler"
  peak=$(sort -n "$samples" | tail -n1)
  rm -f "$samples"
  printf '  %-22s %s (target <= 3m00s; image %s)\n' "warm start" "$(fmt "$warm")" "$image"
  printf '  %-22s %s MiB in use at peak, +%s MiB over the %s MiB before\n' "peak memory (host)" \
    "$peak" $((peak - base)) "$base"
  mapfile -t bench_nodes < <(docker ps -q --filter label=io.x-k8s.kind.cluster=kata-deploy-bench)
  docker stats --no-stream --format '  {{.Name}}: {{.MemUsage}}' "${bench_nodes[@]}"
  KIND_CLUSTER_NAME=kata-deploy-bench KIND_KUBECONFIG=$bench_cfg "$REPO_ROOT/scripts/cluster-down.sh" >/dev/null 2>&1
fi

# ----------------------------------------------------------------- disk ---
echo "== disk"
for d in go-mod go-build kubernetes kind-node tools installer; do
  [[ -d $CACHE_DIR/$d ]] && printf '  %-22s %s\n' "cache/$d" "$(du -sh "$CACHE_DIR/$d" | cut -f1)"
done
printf '  %-22s %s\n' "cache total" "$(du -sh "$CACHE_DIR" | cut -f1)"
node_image=$("$NODE_BUILD" print-image 2>/dev/null || true)
if docker image inspect "$node_image" >/dev/null 2>&1; then
  printf '  %-22s %s MB (%s)\n' "node image" $(($(docker image inspect -f '{{.Size}}' "$node_image") / 1000000)) "$node_image"
fi
docker system df | sed 's/^/  /'
