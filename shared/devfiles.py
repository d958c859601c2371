"""Files of generated dev secrets (`var/keys`, never committed), made once by whichever
process starts first: `make run` starts services side by side, and the tests start
several stacks at a time."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def made_once(path: Path, content: bytes) -> bytes:
    """What `path` holds, made with `content` if it does not exist yet.

    The file appears whole or not at all (written and synced under a name of this process's
    own, then linked), and of processes that make it at once the first wins: each gets what
    the file holds. Readable by its owner only.
    """
    with contextlib.suppress(FileNotFoundError):
        return _whole(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _written_aside(path, content, 0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return _whole(path)
    except OSError:  # no hard links here (some shared folders): made in place instead
        return _made_in_place(path, content)
    finally:
        os.unlink(temporary)
    _synced_folder(path)
    return content


def _made_in_place(path: Path, content: bytes) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _whole(path)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    return content


def _whole(path: Path) -> bytes:
    content = path.read_bytes()
    if not content:  # left by a crash, or by a process still writing it in place
        raise RuntimeError(f"{path} is empty: remove it, and new dev keys are made")
    return content


def amended(path: Path, amend: Callable[[bytes], bytes | None]) -> bytes:
    """What `path` holds once `amend` (the new content, or None when there is nothing to
    add) has been applied to it, by one process at a time: of processes that amend it at
    once, the first writes, and the others find its amendment in place."""
    lock = _locked(path)  # released when closed, also by a crash
    try:
        content = _whole(path)
        if (new := amend(content)) is None:
            return content
        replaced(path, new)
        return new
    finally:
        os.close(lock)


def _locked(path: Path) -> int:
    """An exclusive lock for amending `path`: its folder's, which leaves no file behind, or
    where a folder cannot be locked (NFS, some shared folders) a lock file beside it."""
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        return folder
    except OSError:
        os.close(folder)
    lock = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
    except BaseException:
        os.close(lock)
        raise
    return lock


def replaced(path: Path, content: bytes, mode: int = 0o600) -> None:
    """Write `path` anew, whole or not at all (readers see the old file or the new one)."""
    temporary = _written_aside(path, content, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    _synced_folder(path)


def _synced_folder(path: Path) -> None:
    """The folder's entry of `path` on disk: a key that a crash took back would be made anew,
    and what was keyed with the lost one would no longer verify."""
    with contextlib.suppress(OSError):  # some filesystems cannot sync a folder
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _written_aside(path: Path, content: bytes, mode: int) -> str:
    """A file beside `path` under a name of this process's own, holding `content` on disk."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary
