"""What the process runner is given and what it gives back: plain, frozen records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal

# "lost": the process ran elsewhere (a Dask worker) and what became of it is unknown.
ProcessState = Literal["exited", "timeout", "cancelled", "failed-to-start", "lost"]


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """What to run and how: the whole environment, limits, log file and secrets to mask.

    Parameters
    ----------
    argv:
        Program and arguments; the program is looked up on ``env["PATH"]``. No shell.
    cwd:
        Working directory (the attempt's worktree).
    env:
        The complete environment (see :func:`nborch.execute.build_env`); nothing is inherited.
        The runner adds :data:`nborch.proc.tree.TOKEN_ENV` to find stray descendants.
    log_path:
        Log file, appended to; parent folders are created.
    timeout:
        Seconds before the process tree is stopped, or None for no limit.
    grace:
        Seconds between SIGTERM and SIGKILL.
    tail_lines:
        Lines of log kept in memory for :attr:`ProcessResult.tail`.
    max_line_bytes:
        Longer lines are cut (see :mod:`nborch.proc.runner`).
    redact:
        Secret values replaced by ``***`` in the log, the tail and what ``on_line`` gets.
    max_log_bytes:
        The log keeps its first ``max_log_bytes`` and its last ``max_log_bytes // 10``; what
        came between is cut, and a line in the log says how much (sizes counted in characters).
        None keeps everything.
    """

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    log_path: Path
    timeout: float | None = None
    grace: float = 5.0
    tail_lines: int = 200
    max_line_bytes: int = 64 * 1024
    redact: tuple[str, ...] = ()
    max_log_bytes: int | None = 100 * 2**20

    def __post_init__(self) -> None:
        if isinstance(self.argv, str | bytes):
            raise TypeError(f"argv must be a sequence of strings, not {self.argv!r}; split it")
        argv = tuple(self.argv)
        if not argv or not all(isinstance(a, str) for a in argv) or not argv[0]:
            raise ValueError(f"argv must be a non-empty sequence of strings, got {argv!r}")
        if any("\0" in a for a in argv):
            raise ValueError("argv contains a NUL byte, which no program can receive")
        env = dict(self.env)
        for key, value in env.items():
            if not isinstance(key, str) or not key or "=" in key or "\0" in key:
                raise ValueError(f"env has a bad variable name {key!r}")
            if not isinstance(value, str) or "\0" in value:
                raise ValueError(f"env[{key!r}] must be a str without NUL bytes, got {value!r}")
        if self.timeout is not None and not (_is_number(self.timeout) and self.timeout > 0):
            raise ValueError(f"timeout must be > 0 seconds or None, got {self.timeout!r}")
        if not (_is_number(self.grace) and self.grace >= 0):
            raise ValueError(f"grace must be >= 0 seconds, got {self.grace!r}")
        if not isinstance(self.tail_lines, int) or self.tail_lines < 0:
            raise ValueError(f"tail_lines must be an int >= 0, got {self.tail_lines!r}")
        if not isinstance(self.max_line_bytes, int) or self.max_line_bytes < 80:
            raise ValueError(f"max_line_bytes must be an int >= 80, got {self.max_line_bytes!r}")
        if self.max_log_bytes is not None and not (isinstance(self.max_log_bytes, int)
                                                   and self.max_log_bytes >= 1024):  # fmt: skip
            raise ValueError(f"max_log_bytes must be an int >= 1024 or None, got {self.max_log_bytes!r}")
        if isinstance(self.redact, str) or not all(isinstance(x, str) for x in self.redact):
            raise TypeError(f"redact must be a sequence of secret strings, got {self.redact!r}")
        object.__setattr__(self, "argv", argv)
        object.__setattr__(self, "cwd", Path(self.cwd))
        object.__setattr__(self, "env", MappingProxyType(env))
        object.__setattr__(self, "log_path", Path(self.log_path))
        object.__setattr__(self, "redact", tuple(self.redact))


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How one run ended, what it printed last and what the runner had to do about it.

    ``state`` is ``exited`` (on its own, any return code), ``timeout``, ``cancelled`` or
    ``failed-to-start``. ``return_code`` is negative for a signal (``-15`` SIGTERM) and None
    when nothing ran. ``killed`` lists every pid the runner signalled: the agent itself on
    timeout or cancel, and descendants left behind. ``error`` says what went wrong at the
    runner's level (None when nothing did); ``on_line_errors`` holds the callbacks' exceptions.
    """

    state: ProcessState
    return_code: int | None
    started_at: datetime
    ended_at: datetime
    duration_s: float
    tail: tuple[str, ...]
    log_path: Path
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    killed: tuple[int, ...] = ()
    error: str | None = None
    on_line_errors: tuple[str, ...] = ()
    pid: int | None = None

    @property
    def ok(self) -> bool:
        """True when the process exited on its own with return code 0."""
        return self.state == "exited" and self.return_code == 0

    def __repr__(self) -> str:
        rc = "" if self.return_code is None else f" rc={self.return_code}"
        return f"<ProcessResult {self.state}{rc} {self.duration_s:.1f}s>"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
