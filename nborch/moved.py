"""Where modules of nborch 0.1 (before one package per stage) live now, for reading old records.

A run's snapshot is a pickle, and a pickle names each class by its module path: a run recorded
by the earlier layout says ``nborch.prepare.PreparedRun``. :class:`SnapshotUnpickler` reads those
paths through :data:`MOVED`, so such runs still load, resume and show in the dashboard.
"""

from __future__ import annotations

import pickle
from typing import Any

MOVED = {
    "nborch.plan": "nborch.plan.model",
    "nborch.loader": "nborch.plan.load",
    "nborch.plan_md": "nborch.plan.markdown",
    "nborch.plan_sections": "nborch.plan.sections",
    "nborch.plan_data": "nborch.plan.data",
    "nborch.holdout": "nborch.plan.holdout",
    "nborch.testids": "nborch.plan.testids",
    "nborch.classify": "nborch.team.classify",
    "nborch.classify_rules": "nborch.team.rules",
    "nborch.assign": "nborch.team.assign",
    "nborch.worktrees": "nborch.workspace.manager",
    "nborch.worktree_records": "nborch.workspace.records",
    "nborch.prepare": "nborch.workspace.prepare",
    "nborch.execute.spec": "nborch.proc.spec",
}
MOVED_PREFIXES = {"nborch.formats": "nborch.plan.formats", "nborch.prompts": "nborch.workspace.prompts"}


def moved(module: str) -> str:
    """The module that now holds what ``module`` held in nborch 0.1 (itself if it did not move)."""
    if module in MOVED:
        return MOVED[module]
    for old, new in MOVED_PREFIXES.items():
        if module == old or module.startswith(old + "."):
            return new + module[len(old):]
    return module


class SnapshotUnpickler(pickle.Unpickler):
    """An unpickler that finds classes at the paths where they live now."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(moved(module), name)
