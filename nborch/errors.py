"""Every error nborch raises on purpose.

The tree::

    NborchError                      base; catch this to catch everything nborch raises
    ├── PlanError (ValueError)       a plan file cannot be read; names file, line and the fix
    ├── AgentError (LookupError)     unknown agent, bad agent spec, agent not installed
    ├── AssignError (ValueError)     assignment is impossible as asked (e.g. per_task too large)
    ├── WorktreeError                a repository or worktree is not in the state nborch needs
    └── StoreError                   the run store (.git/nborch/nborch.sqlite) cannot be used

An agent that *runs* and fails is not an exception: it is a result with a status.
"""

from __future__ import annotations

from pathlib import Path

from .display import printable


class NborchError(Exception):
    """Base of every error nborch raises on purpose. ``disk_full`` is true when a full disk is the
    cause (the same step may work once space is freed)."""

    disk_full = False


class PlanError(NborchError, ValueError):
    """A plan cannot be used as written.

    ``str(err)`` reads ``path:line: what is wrong — what would be right`` (``path: …`` when the
    problem is the file as a whole, e.g. a missing file).

    >>> str(PlanError("no tasks found", "add a task", path="plan.md", line=1))
    'plan.md:1: no tasks found — add a task'
    """

    def __init__(
        self, problem: str, fix: str, *, path: str | Path | None = None, line: int | None = 1
    ):
        self.problem = one_line(problem)
        self.fix = one_line(fix)
        self.path = str(path) if path is not None else "<plan>"
        self.line = max(int(line), 1) if line is not None else None
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        super().__init__(f"{one_line(where)}: {self.problem} — {self.fix}")


def one_line(text: str) -> str:
    """``text`` as one line for a terminal: breaks and tabs become spaces, the rest as
    :func:`nborch.display.printable` writes it (what a parser quotes from a plan is text)."""
    return printable(str(text).strip().replace("\r", " ").replace("\n", " ").replace("\t", " "))


class AgentError(NborchError, LookupError):
    """An agent name or spec cannot be used."""

    def __str__(self) -> str:  # LookupError would quote the message like a dict key
        return str(self.args[0]) if self.args else ""


class AssignError(NborchError, ValueError):
    """Agents cannot be assigned to tasks as asked."""


class WorktreeError(NborchError):
    """A repository or worktree is not in the state nborch needs."""


class StoreError(NborchError):
    """The run store (``.git/nborch/nborch.sqlite``) cannot be read or written."""

    def __init__(self, message: str, *, disk_full: bool = False):
        super().__init__(message)
        self.disk_full = disk_full
