#!/usr/bin/env python3
"""Benchmark the node installer: cold install, warm re-install (nothing changed), cleanup.

Each figure is the median of 5 runs of the real CLI (`python -m hooks.cli`, a fresh
process per run, `--no-k8s --no-restart`) on a fresh temporary host root, for the TEST
payload of tests/payload.py and for the same payload with ~500 MB of bulk data. The CRI
restarts column counts what the installer reported it restarted (or, with
--no-restart, would have restarted) in each run. Payload files are copied without
fsync (the CRI's own files are fsynced), so the times do not include the page cache
reaching the disk.

    .venv/bin/python benchmarks/bench_installer.py [--runs 5] [--big-mb 500] [--work DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import payload as test_payload  # noqa: E402
from tests.hooks.installer.conftest import make_host  # noqa: E402

RESTARTS_RE = re.compile(r"(\d+) CRI restart\(s\)")
COMMON = ["--suffix", "bench", "--no-k8s", "--no-restart", "--containerd-version", "2.1.4"]


def _timed(argv: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hooks.cli", *argv], cwd=REPO, capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"kata-deploy {' '.join(argv)} failed:\n{done.stderr}")
    found = RESTARTS_RE.findall(done.stdout)
    return elapsed, int(found[-1]) if found else 0


def bench(payload: Path, work: Path, runs: int) -> dict[str, tuple[float, list[int]]]:
    results: dict[str, list[tuple[float, int]]] = {"cold install": [], "warm re-install": [], "cleanup": []}
    for index in range(runs):
        host = make_host(work / f"host-{index}")
        install = ["install", "--host-root", str(host), "--artifacts", str(payload), *COMMON]
        results["cold install"].append(_timed(install))
        results["warm re-install"].append(_timed(install))
        results["cleanup"].append(_timed(["cleanup", "--host-root", str(host), *COMMON]))
        shutil.rmtree(host)
    return {name: (statistics.median(t for t, _ in rows), [r for _, r in rows]) for name, rows in results.items()}


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-mb", type=int, default=500)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kata-deploy-bench-", dir=args.work))
    try:
        payloads = {
            "test payload": test_payload.write_tree(work / "small"),
            f"test payload + {args.big_mb} MB": test_payload.write_tree(work / "big", extra_mb=args.big_mb),
        }
        print(f"kata-deploy installer benchmark: median of {args.runs} runs, fresh process and host root each run")
        print(f"{'payload':<36} {'step':<16} {'median s':>9}  CRI restarts per run")
        for name, tree in payloads.items():
            label = f"{name} ({_size(tree / 'opt') / 1e6:.3f} MB)"
            for step, (median, restarts) in bench(tree, work, args.runs).items():
                print(f"{label:<36} {step:<16} {median:>9.3f}  {restarts}")
                label = ""
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
