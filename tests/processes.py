"""Looking at processes by pid through /proc (Linux), for tests that nothing outlives a run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def gone_within(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def children(parent: int) -> dict[int, str]:
    """pid -> command line of the processes whose parent is `parent`."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found[int(entry.name)] = cmdline
    return found


def kill_if_alive(pid: int) -> None:
    """Cleanup after a failed test: leave no stray process behind."""
    if alive(pid):
        os.kill(pid, 9)


def interruptible() -> None:
    """A `preexec_fn`: SIGINT acts in the child even where this run ignores it (a background
    job of a non-interactive shell does), so a test can press Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
