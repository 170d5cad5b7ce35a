"""The host file system as the installer sees it: a root directory plus host paths.

Every write is atomic (a temporary file next to the target, then rename) and skipped
when the target already has the wanted content and mode, so a re-run touches nothing.
Temporary names are deterministic (`.<name>.kata-deploy-tmp`), so a write killed half
way leaves a file the next write or the cleanup replaces, never an orphan with a
random name. `checkpoint()` marks step boundaries and file writes; setting
``KATA_DEPLOY_CRASH_AT=N`` makes the process SIGKILL itself at the N-th one (the
crash-safety tests use it; nothing else does).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import signal
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hooks import naming
from hooks.installer.errors import HostPermissionError, InstallerError

TEMP_SUFFIX = ".kata-deploy-tmp"
CRASH_ENV = "KATA_DEPLOY_CRASH_AT"
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


class _Checkpoints:
    """Counts checkpoints; kills the process at the one named by $KATA_DEPLOY_CRASH_AT."""

    def __init__(self) -> None:
        self.count = 0
        raw = os.environ.get(CRASH_ENV, "")
        self.crash_at = int(raw) if raw.isdigit() else 0

    def hit(self, label: str) -> None:
        self.count += 1
        if self.count == self.crash_at:
            print(f"crash test: SIGKILL at checkpoint {self.count} ({label})", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


_CHECKPOINTS = _Checkpoints()
_Fill = Callable[[Path], None]


def checkpoint(label: str) -> None:
    _CHECKPOINTS.hit(label)


def _permission(path: str, action: str, err: OSError) -> InstallerError:
    if err.errno in _PERMISSION_ERRNOS:
        return HostPermissionError(path, action, err.strerror or str(err))
    return InstallerError(f"cannot {action} {path}: {err.strerror or err}")


def temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{TEMP_SUFFIX}")


@dataclass(frozen=True)
class HostFS:
    """Host paths (absolute, as on the node) resolved below `root` (`/host` in the pod)."""

    root: Path

    def path(self, host_path: str) -> Path:
        if not host_path.startswith("/"):
            raise ValueError(f"host path {host_path!r} must be absolute")
        return self.root / host_path.lstrip("/")

    def exists(self, host_path: str) -> bool:
        return os.path.lexists(self.path(host_path))

    def read_bytes(self, host_path: str) -> bytes | None:
        """The file's content, or None when it does not exist."""
        try:
            return self.path(host_path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise _permission(host_path, "read", err) from err

    # --- writes ----------------------------------------------------------------------
    def ensure_dir(self, host_path: str) -> None:
        target = self.path(host_path)
        if target.is_dir():
            return
        try:
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as err:
            raise _permission(host_path, "create directory", err) from err

    def write(self, host_path: str, data: bytes, mode: int = 0o644, durable: bool = True) -> bool:
        """Make `host_path` a regular file with `data` and `mode`. True when it changed.

        `durable`: fsync before the rename, so a power cut cannot leave an empty file
        (wanted for the CRI's configuration; a re-run repairs the install dir anyway).
        """
        target = self.path(host_path)
        if _is_file_with(target, mode) and target.read_bytes() == data:
            return False
        self._replace(host_path, lambda tmp: _write_bytes(tmp, data), mode, durable)
        return True

    def copy(self, source: Path, host_path: str, mode: int) -> bool:
        """Copy a payload file. Skipped when size, modification time and mode already match."""
        target = self.path(host_path)
        src = source.stat()
        if _is_file_with(target, mode):
            dst = target.stat()
            if dst.st_size == src.st_size and dst.st_mtime_ns == src.st_mtime_ns:
                return False

        def fill(tmp: Path) -> None:
            shutil.copyfile(source, tmp)
            os.utime(tmp, ns=(src.st_atime_ns, src.st_mtime_ns))

        self._replace(host_path, fill, mode, durable=False)
        return True

    def symlink(self, host_path: str, link_target: str) -> bool:
        target = self.path(host_path)
        if target.is_symlink() and os.readlink(target) == link_target:
            return False
        if target.is_dir() and not target.is_symlink():
            self.remove_tree(host_path)
        tmp = temp_name(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(link_target, tmp)
            checkpoint(f"link {host_path}")
            os.replace(tmp, target)
        except OSError as err:
            raise _permission(host_path, "write", err) from err
        return True

    def _replace(self, host_path: str, fill: _Fill, mode: int, durable: bool) -> None:
        target = self.path(host_path)
        tmp = temp_name(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            fill(tmp)
            os.chmod(tmp, mode)
            if durable:
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
            checkpoint(f"write {host_path}")
            os.replace(tmp, target)
        except OSError as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise _permission(host_path, "write", err) from err

    def remove(self, host_path: str) -> bool:
        """Remove a file or link (and a temporary file a killed write left). True when removed."""
        target = self.path(host_path)
        removed = False
        for candidate in (temp_name(target), target):
            try:
                candidate.unlink()
                removed = True
            except FileNotFoundError:
                continue
            except IsADirectoryError:
                shutil.rmtree(candidate)
                removed = True
            except OSError as err:
                raise _permission(host_path, "remove", err) from err
            checkpoint(f"removed {candidate}")
        return removed

    def remove_tree(self, host_path: str) -> bool:
        target = self.path(host_path)
        if not os.path.lexists(target):
            return False
        try:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        except OSError as err:
            raise _permission(host_path, "remove", err) from err
        checkpoint(f"removed tree {host_path}")
        return True

    def remove_empty_dir(self, host_path: str) -> bool:
        """Remove a directory if it is empty. True when removed."""
        try:
            self.path(host_path).rmdir()
        except OSError:
            return False
        checkpoint(f"rmdir {host_path}")
        return True

    def is_mount_point(self, host_path: str) -> bool:
        return os.path.ismount(self.path(host_path))

    @contextlib.contextmanager
    def node_lock(self) -> Iterator[None]:
        """Hold the node-wide lock (`/run/lock/kata-deploy.lock`) that serialises all installs."""
        lock = self.path(naming.NODE_LOCK_FILE)
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise _permission(naming.NODE_LOCK_FILE, "open the node lock", err) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _is_file_with(path: Path, mode: int) -> bool:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == mode


# --- fingerprints ---------------------------------------------------------------------
Entry = tuple[str, int, str, str]  # (kind, mode, link target, sha256)


def fingerprint(root: Path, exclude: Iterable[str] = (naming.NODE_LOCK_FILE,)) -> dict[str, Entry]:
    """Path -> (kind, mode, link target, sha256) of everything below `root`.

    `exclude` lists host paths left out: by default the node lock file, the one file
    every install shares on purpose (it lives in /run/lock, a tmpfs on real nodes).
    """
    skipped = {p.lstrip("/") for p in exclude}
    result: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [*dirnames, *sorted(filenames)]:
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            if rel in skipped:
                continue
            st = full.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                result[rel] = ("link", mode, os.readlink(full), "")
            elif stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", mode, "", "")
            else:
                result[rel] = ("file", mode, "", _sha256(full))
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
