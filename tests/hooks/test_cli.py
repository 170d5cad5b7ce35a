"""`kata-deploy check-suffix`, run as the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# The console script installed beside this interpreter (the project's .venv).
KATA_DEPLOY = str(Path(sys.executable).parent / "kata-deploy")


def check_suffix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KATA_DEPLOY, "check-suffix", *args], capture_output=True, text=True, check=False)


def test_valid_suffix_prints_every_derived_name() -> None:
    result = check_suffix("cicd", "--shims", "qemu,clh", "--debug", "--json")
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["valid"] is True
    assert described["install_dir"] == "/opt/kata-cicd"
    assert described["runtime_classes"] == {
        "kata-clh-cicd": "kata-clh-cicd", "kata-clh-cicd-debug": "kata-clh-cicd-debug",
        "kata-qemu-cicd": "kata-qemu-cicd", "kata-qemu-cicd-debug": "kata-qemu-cicd-debug",
        "kata-cicd": "kata-qemu-cicd",
    }
    assert described["node_labels"] == {
        "katacontainers.io/kata-runtime": "true", "kata-deploy.katacontainers.io/cicd": "true",
    }


def test_text_output_lists_paths() -> None:
    result = check_suffix("v2")
    assert result.returncode == 0
    assert "install_dir: /opt/kata-v2" in result.stdout
    assert "containerd_dropin: kata-deploy-v2.toml" in result.stdout


def test_invalid_suffix_exits_2_with_a_fix() -> None:
    result = check_suffix("1.12", "--json")
    assert result.returncode == 2
    assert "invalid multiInstallSuffix '1.12'" in result.stderr and "Fix: use 'v1-12'" in result.stderr
    assert json.loads(result.stdout)["suggestion"] == "v1-12"


def test_unknown_shim_exits_2() -> None:
    result = check_suffix("cicd", "--shims", "qemu,bogus")
    assert result.returncode == 2
    assert "unknown shim 'bogus'" in result.stderr
