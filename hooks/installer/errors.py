"""The installer's errors: each names the file (and line where known), the rule and a fix."""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2


class InstallerError(Exception):
    """A problem the user can act on. The host is left as it was before the command."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, fix: str = "") -> None:
        self.fix = fix
        super().__init__(f"{message}. Fix: {fix}" if fix else message)


class SettingsError(InstallerError):
    """A flag or environment variable with a value the installer cannot use."""

    exit_code = EXIT_USAGE


class ArtifactsError(InstallerError):
    """The artifacts payload is missing, incomplete or corrupt."""


class HostConfigError(InstallerError):
    """A host configuration file the installer must read or edit is unusable."""

    def __init__(self, path: str, problem: str, fix: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}", fix)


class HostPermissionError(InstallerError):
    """The installer may not read or write a host path."""

    def __init__(self, path: str, action: str, reason: str) -> None:
        self.path = path
        super().__init__(
            f"cannot {action} {path}: {reason}",
            "run as root on the node (the DaemonSet runs privileged) and mount the path read-write",
        )


class UnsupportedRuntimeError(InstallerError):
    """The node's container runtime cannot host this install."""
