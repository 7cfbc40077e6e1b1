"""What the demo agents write for each task of the sample plan: a careful and a hasty solution.

Every task of ``nborch/demo/plan.md`` has one module here (``task_1_1`` … ``task_2_4``) with a
``CAREFUL`` solution, which makes every validation criterion of the task pass on the sample
project (at its first commit plus the careful solutions of the tasks it depends on), and a
``HASTY`` one: plausible code whose own new tests pass but that gets something subtly wrong. Each
hasty :class:`Solution` says what in its ``flaw``. A module may instead define
``careful(worktree)``/``hasty(worktree)`` when what it writes depends on what is already there.

Nothing is imported until asked for; nothing here writes a file (``edits.apply`` does, for the
agent).

>>> TASK_IDS[:3]
('1.1', '1.2', '1.3')
>>> solution_for("1.3", "hasty").flaw.startswith("is_overdue()")
True
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from .edits import Change, ChangeFailed, Solution, UnsafePath, apply, safe_path

__all__ = [
    "BEHAVIOURS",
    "TASK_IDS",
    "Change",
    "ChangeFailed",
    "Solution",
    "UnsafePath",
    "apply",
    "is_sample_project",
    "safe_path",
    "solution_for",
]

TASK_IDS = ("1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "2.4")
"""The ids of the sample plan's tasks, in plan order."""

BEHAVIOURS = ("careful", "hasty")
"""The kinds of solution each task has."""


def solution_for(
    task_id: str, behaviour: str = "careful", worktree: str | os.PathLike[str] | None = None
) -> Solution | None:
    """The solution of ``behaviour`` for ``task_id``; None when the sample plan has no such task.

    ``worktree`` lets a task look at what is already there (2.4 documents ``overdue()`` only when
    task 1.3's work is in the worktree); without it the solution assumes only its dependencies.
    """
    if task_id not in TASK_IDS:
        return None
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"behaviour must be one of {', '.join(BEHAVIOURS)}, not {behaviour!r}")
    module = importlib.import_module(f"{__name__}.task_{task_id.replace('.', '_')}")
    made = getattr(module, behaviour, None)
    if made is not None:
        return made(Path(worktree) if worktree is not None else None)
    return getattr(module, behaviour.upper())


def is_sample_project(worktree: str | os.PathLike[str]) -> bool:
    """True when ``worktree`` looks like the bundled ``todo`` sample (its store and its tests)."""
    root = Path(worktree)
    store = root / "todo" / "store.py"
    try:
        return (root / "tests").is_dir() and "class TodoStore" in store.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
