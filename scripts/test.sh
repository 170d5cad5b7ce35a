#!/usr/bin/env bash
# The project's test command (README, .ci/run):
#   scripts/test.sh            lint, unit and chart tests, then the e2e suite on kind
#   scripts/test.sh --unit     lint, unit and chart tests only (no Docker needed)
#   scripts/test.sh --e2e-only the e2e suite only (cluster from scripts/cluster-up.sh)
# Environment: E2E_ROUNDS / E2E_CYCLES (upgrade rounds and install cycles per
# Helm; CI defaults 3, the full counts are 20 and 10: scripts/test.sh with
# E2E_ROUNDS=20 E2E_CYCLES=10), KEEP_CLUSTER=1 (leave the cluster up).
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

mode=all
case ${1:-} in
  --unit) mode=unit ;;
  --e2e-only) mode=e2e ;;
  "") ;;
  *) die "unknown argument $1 (use --unit or --e2e-only)" ;;
esac

declare -a timings=()
step() {  # step NAME COMMAND...: run, time, remember
  local name=$1 t0 rc=0
  shift
  log "== $name"
  t0=$(date +%s)
  "$@" || rc=$?
  timings+=("$(printf '%-32s %5ss  %s' "$name" "$(($(date +%s) - t0))" "$([[ $rc == 0 ]] && echo ok || echo FAILED)")")
  return $rc
}
summary() {
  printf '\n== timing summary\n' >&2
  printf '%s\n' "${timings[@]}" >&2
  if [[ -f $REPO_ROOT/.tools/e2e-timings.txt ]]; then
    printf '\n== e2e scenarios and cycles\n' >&2
    cat "$REPO_ROOT/.tools/e2e-timings.txt" >&2
  fi
}
trap summary EXIT
rm -f "$REPO_ROOT/.tools/e2e-timings.txt"

step "python env" scripts/setup-python.sh
step "helm, helm4, kind, kubectl" scripts/install-tools.sh
export PATH="$REPO_ROOT/.venv/bin:$TOOLS_BIN:$PATH"

if [[ $mode != e2e ]]; then
  step "ruff" ruff check hooks postrender tests benchmarks
  step "mypy" mypy
  step "unit and chart tests" python -m pytest -q -m "not e2e and not image" -p no:cacheprovider
fi
[[ $mode == unit ]] && exit 0

step "installer image test" python -m pytest -q -m image -p no:cacheprovider
step "cluster up" scripts/cluster-up.sh
rc=0
step "e2e suite" python -m pytest -q -m e2e -p no:cacheprovider tests/e2e || rc=$?
if [[ ${KEEP_CLUSTER:-} != 1 ]]; then
  step "cluster down" scripts/cluster-down.sh || true
fi
exit $rc
