"""Held-out acceptance tests: a folder of tests the agents never see (plan ``holdout:``).

Checked before any worktree is made (so a mistake costs no agent time) and again when comparing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PlanError
from ..gitcmd import Git

if TYPE_CHECKING:
    from .model import Plan

__all__ = ["holdout_folder", "holdouts_of"]


def holdout_folder(repo: str | Path, plan_path: Path | None, value: str) -> Path | None:
    """The held-out tests' folder named by ``holdout:`` (relative to the plan's folder, else the
    repository), checked: it exists and the agents cannot see it (outside the repository, or not
    tracked by it)."""
    if not value:
        return None
    root = Path(repo).resolve()
    folder = Path(value).expanduser()
    if not folder.is_absolute():
        folder = (plan_path.resolve().parent if plan_path is not None else root) / folder
    folder = folder.resolve()
    if not folder.exists():
        raise PlanError(f"holdout: {value!r} — {folder} does not exist",
                        "name the folder of held-out tests, relative to the plan")  # fmt: skip
    if folder.is_relative_to(root):
        rel = folder.relative_to(root).as_posix()
        tracked = Git(root).out("ls-files", "--", rel)
        if tracked:
            raise PlanError(f"holdout: {value!r} is tracked by the repository, so every agent's "
                            "worktree has it", "move it outside the repository, or remove it "
                            f"from git and ignore it (git rm -r --cached {rel}; add it to "
                            ".gitignore)")  # fmt: skip
    return folder


def holdouts_of(plan: Plan, repo: str | Path) -> dict[str, Path]:
    """Task id → its held-out tests' folder (the task's ``Holdout:``, else the plan's)."""
    out = {}
    for task in plan.tasks:
        value = task.holdout or str(plan.settings.get("holdout") or "")
        folder = holdout_folder(repo, plan.path, value)
        if folder is not None:
            out[task.id] = folder
    return out
