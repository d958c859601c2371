"""Files of generated dev secrets (`var/keys`, never committed), made once by whichever
process starts first: `make run` starts services side by side, and the tests start
several stacks at a time."""

from __future__ import annotations

import contextlib
import os
import tempfile
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
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _whole(path)
        except OSError:  # no hard links here (some shared folders): made in place instead
            return _made_in_place(path, content)
        return content
    finally:
        os.unlink(temporary)


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


def replaced(path: Path, content: bytes, mode: int = 0o600) -> None:
    """Write `path` anew, whole or not at all (readers see the old file or the new one)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
