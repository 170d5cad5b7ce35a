"""SIGKILL at every checkpoint (step boundary or file write), then a re-run: a clean result.

Each case is a real process that kills itself with SIGKILL at checkpoint N
(KATA_DEPLOY_CRASH_AT=N), for N = 1, 2, ... until a run gets through without reaching N.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hooks.installer.conftest import (
    CONTAINERD_V3_NO_IMPORTS,
    Fingerprint,
    cli_cleanup_args,
    cli_install_args,
    doubled,
    fingerprint,
    make_host,
    run_cli,
)

MAX_CHECKPOINTS = 400


def _crash_each_checkpoint(template: Path, work: Path, argv_for: Callable[[Path], list[str]],
                           expected: Fingerprint) -> int:
    """Kill at checkpoint 1..N then re-run; every re-run must reach `expected`. Returns N."""
    for n in range(1, MAX_CHECKPOINTS):
        root = work / f"n{n}"
        shutil.copytree(template, root, symlinks=True)
        killed = run_cli(*argv_for(root), env={"KATA_DEPLOY_CRASH_AT": str(n)})
        if killed.returncode == 0:
            shutil.rmtree(root)
            return n - 1
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        rerun = run_cli(*argv_for(root))
        assert rerun.returncode == 0, f"re-run after a kill at checkpoint {n} failed:\n{rerun.stderr}"
        assert fingerprint(root) == expected, f"state after a kill at checkpoint {n} and a re-run differs"
        assert doubled(root, ["blue"]) == []
        shutil.rmtree(root)
    raise AssertionError(f"more than {MAX_CHECKPOINTS} checkpoints")


def _template(tmp_path: Path, config: str | None = None) -> Path:
    return make_host(tmp_path / "template", *([config] if config else []))


@pytest.mark.parametrize("config", ["conf.d imported", "no imports"])
def test_install_killed_anywhere_then_rerun_equals_a_clean_install(tmp_path: Path, small_payload: Path,
                                                                  config: str) -> None:
    """Drop-in in the imported conf.d, or in the install dir with an `imports` entry added to the main config."""
    template = _template(tmp_path, CONTAINERD_V3_NO_IMPORTS if config == "no imports" else None)
    clean = tmp_path / "clean"
    shutil.copytree(template, clean, symlinks=True)
    args = ["--shims", "qemu,clh"]
    assert run_cli(*cli_install_args(clean, small_payload, "blue", *args)).returncode == 0
    n = _crash_each_checkpoint(template, tmp_path / "runs",
                               lambda root: cli_install_args(root, small_payload, "blue", *args), fingerprint(clean))
    assert n > 20  # every payload file, config, drop-in and step was a kill point


def test_cleanup_killed_anywhere_then_rerun_restores_the_host(tmp_path: Path, small_payload: Path) -> None:
    """With a main config that needs an `imports` entry, and another install that must survive."""
    template = _template(tmp_path, CONTAINERD_V3_NO_IMPORTS)
    assert run_cli(*cli_install_args(template, small_payload, "green", "--shims", "qemu")).returncode == 0
    base = fingerprint(template)
    installed = tmp_path / "installed"
    shutil.copytree(template, installed, symlinks=True)
    assert run_cli(*cli_install_args(installed, small_payload, "blue", "--shims", "qemu,clh")).returncode == 0
    n = _crash_each_checkpoint(installed, tmp_path / "runs", lambda root: cli_cleanup_args(root, "blue"), base)
    assert n > 3


def test_cleanup_after_a_half_finished_install(tmp_path: Path, small_payload: Path) -> None:
    template = _template(tmp_path, CONTAINERD_V3_NO_IMPORTS)
    base = fingerprint(template)
    for n in (2, 10, 20):
        root = tmp_path / f"half{n}"
        shutil.copytree(template, root, symlinks=True)
        killed = run_cli(*cli_install_args(root, small_payload, "blue", "--shims", "qemu,clh"),
                         env={"KATA_DEPLOY_CRASH_AT": str(n)})
        assert killed.returncode == -signal.SIGKILL
        done = run_cli(*cli_cleanup_args(root, "blue"))
        assert done.returncode == 0, done.stderr
        assert fingerprint(root) == base
