"""Two suffixes installed by parallel processes, 20 times: both intact, the config sane."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from tests.hooks.installer.conftest import (
    CLI,
    CONTAINERD_V3_NO_IMPORTS,
    REPO,
    cli_install_args,
    doubled,
    fingerprint,
    make_host,
    run_cli,
)

ROUNDS = 20


def _parallel(*argvs: list[str]) -> None:
    procs = [subprocess.Popen([*CLI, *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for argv in argvs]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def _handlers(root: Path) -> list[str]:
    """Every runtime handler the main config and the files it imports declare (with repeats)."""
    main_path = root / "etc/containerd/config.toml"
    main = tomllib.loads(main_path.read_text())
    names: list[str] = []
    for path in [main_path, *[root / p.lstrip("/") for p in main.get("imports", [])]]:
        data = tomllib.loads(path.read_text())
        names += list(data.get("plugins", {}).get("io.containerd.cri.v1.runtime", {})
                      .get("containerd", {}).get("runtimes", {}))
    return names


def test_two_suffixes_in_parallel_twenty_times(tmp_path: Path, small_payload: Path) -> None:
    # A main config without `imports`: both installs must edit the same file, under the lock.
    expected = {}
    for suffix in ("blue", "green"):
        alone = make_host(tmp_path / f"alone-{suffix}", CONTAINERD_V3_NO_IMPORTS)
        assert run_cli(*cli_install_args(alone, small_payload, suffix, "--shims", "qemu,clh")).returncode == 0
        expected[suffix] = {k: v for k, v in fingerprint(alone).items() if k.startswith(f"opt/kata-{suffix}")}
    for round_ in range(ROUNDS):
        root = make_host(tmp_path / f"round{round_}", CONTAINERD_V3_NO_IMPORTS)
        _parallel(*(cli_install_args(root, small_payload, s, "--shims", "qemu,clh") for s in ("blue", "green")))
        names = _handlers(root)
        assert sorted(names) == sorted(["runc", "kata-qemu-blue", "kata-clh-blue", "kata-qemu-green",
                                        "kata-clh-green"]), f"round {round_}: {names}"
        state = fingerprint(root)
        for suffix in ("blue", "green"):
            assert {k: v for k, v in state.items() if k.startswith(f"opt/kata-{suffix}")} == expected[suffix]
        assert doubled(root, ["blue", "green"]) == []
