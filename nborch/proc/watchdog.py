"""Stop a coordinator's agents when the coordinator itself dies (``kill -9``, a kernel restart).

Agents run in sessions of their own, so that a timeout or a cancel can stop each one's whole
process group — which also means nothing stops them when the process that started them is killed.
A small watchdog process does: the coordinator's process starts one (lazily, one per process) and
tells it over a pipe which agent processes run (``watch PID START TOKEN``) and which ended
(``done PID``). When the pipe closes — the coordinator exited or was killed, however — the
watchdog stops every agent still watched, with its descendants and its process group (SIGTERM,
a grace period, SIGKILL), and exits. ``resume()`` still stops leftovers, for the case the
watchdog itself was killed.

``NBORCH_WATCHDOG=0`` turns it off: agents then outlive their coordinator until ``resume()``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import IO

import psutil

from . import tree

__all__ = ["GRACE_S", "Watchdog", "main"]

GRACE_S = 3.0  # between SIGTERM and SIGKILL for the agents of a dead coordinator
ENV_SWITCH = "NBORCH_WATCHDOG"


class Watchdog:
    """The coordinator side: a pipe to the watchdog process of this process."""

    _shared: Watchdog | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nborch.proc.watchdog"], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, env=env, text=True, start_new_session=True,
        )  # fmt: skip
        self._pipe: IO[str] = self.proc.stdin  # type: ignore[assignment]
        self._send_lock = threading.Lock()

    @classmethod
    def shared(cls) -> Watchdog | None:
        """This process's watchdog, started on first use; None when turned off or it cannot start
        (a warning says why: agents then outlive a killed coordinator until ``resume()``)."""
        if os.environ.get(ENV_SWITCH, "1") == "0":
            return None
        with cls._lock:
            if cls._shared is None or cls._shared.proc.poll() is not None:
                try:
                    cls._shared = cls()
                except OSError as err:
                    warnings.warn(f"nborch could not start its watchdog ({err}): agents will "
                                  "outlive this process if it is killed, until resume()",
                                  RuntimeWarning, stacklevel=2)  # fmt: skip
                    return None
                atexit.register(cls._shared.close)
            return cls._shared

    def watch(self, pid: int, token: str) -> None:
        """Stop process ``pid`` (and its tree, found by ``token``) if this process dies."""
        try:
            start = psutil.Process(pid).create_time()
        except psutil.Error:
            return  # already gone: nothing to guard
        self._send(f"watch {pid} {start!r} {token}")

    def done(self, pid: int) -> None:
        """Process ``pid`` ended (and was cleaned up) normally: forget it."""
        self._send(f"done {pid}")

    def _send(self, line: str) -> None:
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            self._pipe.write(line + "\n")
            self._pipe.flush()

    def close(self, timeout: float = GRACE_S + 5) -> None:
        """Close the pipe and wait for the watchdog to stop what is still watched and exit."""
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            self._pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)


def stop_all(watched: dict[int, tuple[float, str]], grace: float = GRACE_S) -> list[int]:
    """SIGTERM every watched process tree at once, then SIGKILL what is left after one ``grace``
    (all trees share it: ten agents take ``grace`` seconds to stop, not ten times that)."""
    groups = []
    for pid, (start, token) in watched.items():
        found = tree.find([(pid, start)], pid, token, start)
        if found:
            groups.append((pid, found))
    stopped = [p for pid, found in groups for p in tree.signal_all(found, pid, signal.SIGTERM)]
    left = [(pid, alive) for pid, found in groups if (alive := tree.wait_gone(found, 0))]
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [(pid, alive) for pid, found in left if (alive := tree.wait_gone(found, 0))]
    for pid, alive in left:
        tree.signal_all(alive, pid, signal.SIGKILL)
    for _, alive in left:
        tree.wait_gone(alive, 2.0)
    return stopped


def main() -> None:
    """The watchdog process: read ``watch``/``done`` lines until the pipe closes, then stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the coordinator to handle
    watched: dict[int, tuple[float, str]] = {}
    for line in sys.stdin:
        parts = line.split()
        if len(parts) == 4 and parts[0] == "watch":
            watched[int(parts[1])] = (float(parts[2]), parts[3])
        elif len(parts) == 2 and parts[0] == "done":
            watched.pop(int(parts[1]), None)
    stop_all(watched)


if __name__ == "__main__":
    main()
