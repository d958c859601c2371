"""Child processes that do not outlive the process that started them."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def dies_with_parent(signum: int) -> Callable[[], None] | None:
    """A `preexec_fn` that has the child sent `signum` when the process starting it dies.

    Linux only (elsewhere None: the child outlives a parent that is killed). The kernel
    sends it when the *thread* that started the child ends, so start children that should
    live on from the main thread, as the tests, `make run` and the services do.
    """
    if sys.platform != "linux":
        return None
    parent = os.getpid()
    return lambda: die_with(parent, signum)


def die_with(parent: int, signum: int) -> None:
    """In a child (a process pool's, say): be sent `signum` when `parent` dies, as
    `dies_with_parent` arranges."""
    if _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os.kill(os.getpid(), signum)


# Looked up once, before any fork, not in the child.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
