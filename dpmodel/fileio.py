"""Atomic file writes: a temporary file in the same folder, fsynced, then renamed over the target.

Every failure to write (permissions, a folder in the way, a parent that is a file, a full disk) is an
:class:`~dpmodel.errors.OutputError` naming the path and the fix; no temporary file is left behind.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import OutputError


def output_error(path: str | Path, exc: OSError) -> OutputError:
    """The one-line error for an output that cannot be written, with the fix."""
    path = Path(path)
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return OutputError(f"cannot write {path}: it is a folder; give a file name inside it")
    if isinstance(exc, PermissionError):
        return OutputError(f"cannot write {path}: permission denied; choose a folder you can write to or fix its permissions")
    if isinstance(exc, NotADirectoryError | FileExistsError) or any(p.exists() and not p.is_dir() for p in path.parents):
        parent = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        return OutputError(f"cannot write {path}: {parent} is a file, not a folder; choose another path")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(f"cannot write {path}: no space left on the device; free some space or write elsewhere")
    if exc.errno == errno.EROFS:
        return OutputError(f"cannot write {path}: the file system is read-only; write elsewhere")
    if isinstance(exc, FileNotFoundError):
        return OutputError(f"cannot write {path}: its folder {path.parent} does not exist; create it first")
    return OutputError(f"cannot write {path}: {exc.strerror or exc}; choose another path")


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (its folder created), as ``(fd, name)``; a folder in the
    way, a parent that is a file or no permission is our one-line :class:`OutputError`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise output_error(path, exc) from None


def atomic_write_with(path: str | Path, write) -> Path:
    """Call ``write(tmp_path)`` to fill a temporary file beside ``path``, then rename it over ``path``.

    On any failure (including Ctrl-C) the temporary file is removed and the old ``path`` stays.
    """
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        os.close(fd)
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise output_error(path, exc) from None
        raise
    return path


def check_output_path(path: str | Path) -> None:
    """Fail fast, before a long computation, where :func:`atomic_write_with` would fail to start: a
    folder in the way, a parent that is a file, no permission to create the temporary file."""
    fd, tmp = _temp_beside(Path(path))
    os.close(fd)
    os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()

    return atomic_write_with(path, write)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
