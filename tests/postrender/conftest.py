"""Rendered chart output to feed the post-renderer: the real helm, once per session."""

from __future__ import annotations

import pytest

from tests.conftest import Helm


@pytest.fixture(scope="session")
def rendered_cicd(helm: Helm) -> str:
    """`helm template` of a suffixed install with debug on (hooks included, as Helm 4 passes them)."""
    return helm.template("--set", "multiInstallSuffix=cicd", "--set", "debug=true").stdout


@pytest.fixture(scope="session")
def rendered_unsuffixed(helm: Helm) -> str:
    return helm.template().stdout
