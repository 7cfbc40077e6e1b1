"""Run one agent with this process as its child subreaper, and end whatever it leaves behind.

Started by the runner (Linux only) as ``python -I -S reaper.py PROGRAM ARG...`` in the agent's
session, with the agent's environment, working directory and pipes. It marks itself a *child
subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so a process the agent's tree orphans — a daemon
that double-forked, called ``setsid``, cleared its environment and closed its output — is
re-parented here instead of to init, where nothing could tell it was the agent's. When the agent
ends, or the runner sends SIGTERM/SIGINT/SIGHUP (a timeout, a cancel, the watchdog), every
process under this one gets SIGTERM, then SIGKILL after a grace. The exit status is the agent's
(a signal is re-raised), so the runner sees no difference.

A standalone script (standard library only, no nborch import): it starts in ~20 ms.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
GRACE_S = 2.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
DROP_ENV = "NBORCH_REAPER_DROP"


def use_reaper() -> bool:
    """Whether the runner starts agents under this script: on Linux, unless
    ``NBORCH_SUBREAPER=0``."""
    return sys.platform.startswith("linux") and os.environ.get("NBORCH_SUBREAPER", "1") != "0"


def under_reaper(argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run ``argv`` with ``env`` under this script."""
    if "LC_CTYPE" not in env:  # Python's start-up may add it (PEP 538): not the agent's
        env = {**env, DROP_ENV: "LC_CTYPE"}
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), *argv], env


def become_subreaper() -> bool:
    """Make orphans of this process's tree its children (Linux 3.4+); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(root: int) -> list[int]:
    """Every live process under ``root`` (from ``/proc``: parent links)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            parents[int(entry)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        kids = [pid for pid, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def reap() -> None:
    """Collect every child that has ended (adopted orphans included), without waiting."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def end_all(me: int, grace: float = GRACE_S, say: bool = True) -> None:
    """SIGTERM everything under this process, then SIGKILL what is left after ``grace``; with
    ``say``, a line on stderr names what the agent had left running (its log keeps it)."""
    left = descendants(me)
    if not left:
        return
    if say:
        shown = ", ".join(f"{pid} ({_name(pid)})" for pid in left[:10])
        more = f" and {len(left) - 10} more" if len(left) > 10 else ""
        print(f"[nborch] the agent left {len(left)} process(es) running, now ended: {shown}{more}",
              file=sys.stderr, flush=True)  # fmt: skip
    signal_all(left, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        reap()
        left = descendants(me)
    signal_all(left, signal.SIGKILL)
    for _ in range(40):
        reap()
        if not descendants(me):
            return
        time.sleep(0.05)


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def main(argv: list[str]) -> int:
    me = os.getpid()
    for name in os.environ.pop(DROP_ENV, "").split(","):
        os.environ.pop(name, None)  # set by this interpreter's start-up, not by the runner
    become_subreaper()
    try:
        child = subprocess.Popen(argv)
    except FileNotFoundError:
        print(f"[nborch] program {argv[0]!r} exists but its interpreter (#! line) was not found",
              file=sys.stderr, flush=True)  # fmt: skip
        return 127
    except OSError as exc:
        print(f"[nborch] cannot start {argv[0]!r}: {exc.strerror or exc}", file=sys.stderr,
              flush=True)  # fmt: skip
        return 126
    stopping = False

    def stop(sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        signal_all(descendants(me), sig)

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    while True:  # wait for the agent, reaping adopted orphans that end meanwhile
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            status = 0
            break
        if pid == child.pid:
            break
    child.returncode = 0  # reaped here; keeps Popen from warning that it still runs
    end_all(me, grace=0.5 if stopping else GRACE_S, say=not stopping)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(me, sig)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
