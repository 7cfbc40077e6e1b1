"""Run a short command to its end, synchronously: the comparison's test runs, lint, probes.

Same guarantees as the agents' runner (:mod:`.runner`), for callers that are not async: the
command gets its own session, a token every descendant inherits (:data:`~.tree.TOKEN_ENV`) and
a time limit; when it ends — on time or not — every descendant still alive is found
(:func:`~.tree.find`: the group, the token, the pipes) and killed, so a test suite that leaves a
server behind leaves nothing.

>>> result = run_command(["python", "-c", "print(42)"], timeout=30)   # doctest: +SKIP
>>> result.stdout, result.return_code
('42\\n', 0)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from . import tree

__all__ = ["CommandResult", "run_command"]

GRACE_S = 2.0  # after a kill, how long to wait for the tree to be gone


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended: ``return_code`` is None when it was killed for its time limit."""

    argv: tuple[str, ...]
    return_code: int | None
    timed_out: bool
    duration_s: float
    stdout: str = ""  # empty when the output went to a file
    stderr: str = ""
    strays: int = 0  # descendants still alive after it ended, killed

    @property
    def ok(self) -> bool:
        return self.return_code == 0


def run_command(argv: Sequence[str], *, cwd: str | Path | None = None,
                env: Mapping[str, str] | None = None, timeout: float | None = None,
                output: str | Path | None = None) -> CommandResult:  # fmt: skip
    """Run ``argv`` (no shell, stdin closed) and kill whatever of it is left when it ends.

    ``output``: a file that gets stdout and stderr together (for long test logs); by default
    both are captured as text. Raises ``OSError`` when the program cannot be started.
    """
    token = secrets.token_hex(8)
    full_env = {**(os.environ if env is None else env), tree.TOKEN_ENV: token}
    since = time.time()
    start = time.monotonic()
    timed_out = False
    # Files, not pipes: a descendant that keeps a pipe open would hold us past the leader's end.
    with contextlib.ExitStack() as stack:
        if output is not None:
            out = stack.enter_context(Path(output).open("w+b"))
            err = out
        else:
            out = stack.enter_context(tempfile.TemporaryFile())
            err = stack.enter_context(tempfile.TemporaryFile())
        proc = subprocess.Popen(list(argv), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)  # fmt: skip
        seen = set(tree.descendants_now(proc.pid))
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            seen |= set(tree.descendants_now(proc.pid))
            _kill(seen, proc.pid, token, since)
            proc.wait()
        strays = _kill(seen, proc.pid, token, since)
        stdout = stderr = ""
        if output is None:
            stdout, stderr = _read(out), _read(err)
    return CommandResult(
        argv=tuple(argv), return_code=None if timed_out else proc.returncode, timed_out=timed_out,
        duration_s=round(time.monotonic() - start, 3), stdout=stdout, stderr=stderr, strays=strays,
    )  # fmt: skip


def _kill(seen: set[tree.Key], pgid: int, token: str, since: float) -> int:
    """SIGKILL every live descendant (and the group); how many there were."""
    found = tree.find(seen, pgid, token, since)
    tree.signal_all(found, pgid, signal.SIGKILL)
    tree.wait_gone(found, GRACE_S)
    return len(found)


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode("utf-8", "replace")
