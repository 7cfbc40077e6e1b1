"""Whether a recorded process is still the one that was recorded: a pid plus its start time.

A pid alone is not an identity: the system reuses pids, so a run row naming pid 4242 says nothing
once that process is gone and another took the number. The start time (``psutil``'s
``create_time``) recorded next to it tells the two apart. Kept apart from :mod:`nborch.execute` so
the worktree modules can ask without importing the engine.
"""

from __future__ import annotations

import os

import psutil

__all__ = ["coordinator_alive", "process_identity"]


def process_identity() -> tuple[int, float]:
    """This process's pid and start time: together they name it even after pid reuse."""
    return os.getpid(), psutil.Process().create_time()


def coordinator_alive(pid: int | None, started: float | None) -> bool:
    """Whether the process that ran a coordinator still exists (same pid *and* start time)."""
    if not pid:
        return False
    try:
        return abs(psutil.Process(pid).create_time() - (started or 0.0)) < 1.0
    except psutil.Error:
        return False
