"""Every process an agent started, found and ended: the runner's guarantee of no orphans.

A process is known by ``(pid, create_time)`` so a reused pid is never mistaken for a
descendant. Descendants are found three ways, because each alone misses some:

* the tree under the agent's root process (``psutil`` children), polled while it runs — this
  sees children that left the process group with ``setsid()`` while their parent lives;
* the agent's process group — it still holds children after their parent died;
* a per-run token in the environment (:data:`TOKEN_ENV`) every descendant inherits — this finds
  daemons that double-forked away from both the tree and the group;
* on Linux, the agent's output pipes: a process holding one is a descendant even when it also
  cleared its environment.

A daemon that does all of that *and* closed the pipes is not found; nothing short of a
subreaper or a cgroup could find it.

The functions here block (they read ``/proc``); the runner calls them in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

#: Set in every agent's environment to a fresh random token; descendants inherit it.
TOKEN_ENV = "NBORCH_PROCESS_TOKEN"
# psutil's create_time comes from clock ticks since boot; allow for its rounding.
_CLOCK_SLACK_S = 1.0

_PROC_FD = sys.platform.startswith("linux")

Key = tuple[int, float]  # (pid, create_time)


@dataclass(frozen=True, slots=True)
class Found:
    """One live descendant: enough to signal it safely and to say what it was."""

    pid: int
    create_time: float
    name: str

    @property
    def key(self) -> Key:
        return (self.pid, self.create_time)


def children_of(root: psutil.Process) -> list[Key]:
    """The live descendants under ``root`` right now (empty once it is gone)."""
    try:
        kids = root.children(recursive=True)
    except psutil.Error:
        return []
    keys = []
    for kid in kids:
        try:
            keys.append((kid.pid, kid.create_time()))
        except psutil.Error:
            continue
    return keys


def find(
    seen: Iterable[Key], pgid: int, token: str, since: float, pipes: Iterable[int] = ()
) -> list[Found]:
    """Every live descendant: the ``seen`` ones, the group's members, the token's bearers and
    (on Linux) the processes holding one of the ``pipes`` (inode numbers).

    Only processes created at or after ``since`` (the run's start) are looked at, so the scan
    is cheap and never touches the caller's own processes. Zombies count as dead.
    """
    seen = set(seen)
    pipe_names = {f"pipe:[{inode}]" for inode in pipes} if _PROC_FD else set()
    me = os.getpid()
    found: list[Found] = []
    for proc in psutil.process_iter(["create_time", "name"]):
        info = proc.info
        created = info.get("create_time")
        if proc.pid == me or created is None or created < since - _CLOCK_SLACK_S:
            continue
        try:
            mine = (proc.pid, created) in seen or _in_group(proc.pid, pgid)
            if not mine:
                mine = _has_token(proc, token) or _holds_pipe(proc.pid, pipe_names)
            if mine and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(Found(proc.pid, created, info.get("name") or "?"))
        except (psutil.Error, OSError):
            continue  # gone meanwhile, or not ours to read
    return found


def signal_all(found: Iterable[Found], pgid: int, sig: signal.Signals) -> list[int]:
    """Send ``sig`` to each process, then to the group; the pids it reached."""
    reached = []
    for item in found:
        try:
            proc = psutil.Process(item.pid)
            if proc.create_time() != item.create_time:
                continue  # the pid now names another process
            proc.send_signal(sig)
            reached.append(item.pid)
        except psutil.Error:
            continue
    # The group last: signalled first, the agent could die and be reaped before we saw it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    return reached


def wait_gone(found: Iterable[Found], timeout: float, poll: float = 0.05) -> list[Found]:
    """Wait until each process is gone (or a zombie); those still alive after ``timeout``."""
    alive = list(found)
    deadline = time.monotonic() + timeout
    while True:
        alive = [item for item in alive if is_alive(item)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(poll)


def is_alive(item: Found) -> bool:
    """True while the exact process (same pid and start time) runs and is not a zombie."""
    try:
        proc = psutil.Process(item.pid)
        return proc.create_time() == item.create_time and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _has_token(proc: psutil.Process, token: str) -> bool:
    try:
        return proc.environ().get(TOKEN_ENV) == token
    except (psutil.Error, OSError):
        return False


def _holds_pipe(pid: int, names: set[str]) -> bool:
    """True when ``pid`` holds the *write* end of one of the pipes (Linux ``/proc``).

    Only the write end counts: a process the caller forked (multiprocessing, a cluster
    worker) inherits the runner's read ends and must not be mistaken for a descendant.
    """
    if not names:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in names and _writes(pid, fd):
                return True
        except OSError:
            continue
    return False


def _writes(pid: int, fd: str) -> bool:
    with open(f"/proc/{pid}/fdinfo/{fd}") as info:
        for line in info:
            if line.startswith("flags:"):
                return int(line.split()[1], 8) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
    return False


def _in_group(pid: int, pgid: int) -> bool:
    try:
        return os.getpgid(pid) == pgid
    except OSError:
        return False


def refresh(root: psutil.Process, seen: frozenset[Key]) -> set[Key]:
    """The known descendants still alive, plus the ones under ``root`` now (worker thread)."""
    alive = {key for key in seen if is_alive(Found(key[0], key[1], ""))}
    return alive | set(children_of(root))


def descendants_now(pid: int) -> list[Key]:
    """The processes under ``pid`` now (none when it is gone)."""
    try:
        return children_of(psutil.Process(pid))
    except psutil.Error:
        return []


def describe(found: list[Found]) -> str:
    """``pids 12 (sleep), 13 (node)``: the processes, for a note in a log."""
    shown = ", ".join(f"{f.pid} ({f.name})" for f in found[:10])
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return f"pid{'s' if len(found) > 1 else ''} {shown}{more}"
