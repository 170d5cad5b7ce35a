"""Shared fixtures: the repository, the pinned helm binaries, rendering the chart."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "chart"
TOOLS = REPO / ".tools" / "bin"


@dataclass(frozen=True)
class Helm:
    """A real helm binary (v3 as `helm`, v4 as `helm4`) from scripts/install-tools.sh."""

    binary: Path

    @property
    def major(self) -> int:
        return 4 if self.binary.name == "helm4" else 3

    def run(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{TOOLS}:{os.environ['PATH']}", **(env or {})}
        result = subprocess.run([str(self.binary), *args], input=stdin, capture_output=True, text=True,
                                env=full_env, check=False, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.binary.name} {' '.join(args)} failed:\n{result.stderr}")
        return result

    def template(self, *args: str, release: str = "r", check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("template", release, str(CHART), *args, check=check)


def _helm(name: str) -> Helm:
    binary = TOOLS / name
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run scripts/install-tools.sh (the chart tests need the real helm)")
    return Helm(binary)


@pytest.fixture(scope="session")
def helm() -> Helm:
    return _helm("helm")


@pytest.fixture(scope="session")
def helm4() -> Helm:
    return _helm("helm4")


@pytest.fixture(scope="session", params=["helm", "helm4"])
def any_helm(request: pytest.FixtureRequest) -> Helm:
    return _helm(request.param)


def documents(text: str) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(text) if d]
