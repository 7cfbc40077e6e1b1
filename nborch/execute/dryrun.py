"""``nborch execute --dry-run``: what a run would do — assignments, branches, worktrees and the
exact command lines — computed without creating, writing or starting anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import agents as registry
from ..names import slugify
from ..team.assign import Assignments
from ..workspace.manager import BRANCH_PREFIX, WorktreeManager
from .jobs import build_job

RUN_ID = "RUN-ID"  # stands for the id a real run gets


def dry_run(repo: str | Path, team: Assignments, *, root: str | Path | None = None,
            base: str | None = None, model: str | None = None, timeout: float | None = None,
            include_done: bool = False) -> dict[str, Any]:  # fmt: skip
    """The ``--dry-run --json`` document: ``{"run_id", "base", "attempts": [...]}``; ``timeout``
    in seconds (None: no limit)."""
    manager = WorktreeManager(repo, root)  # validates the repository; writes nothing
    base_ref = base or team.plan.base or "HEAD"
    base_commit = manager.git_at(manager.repo).out("rev-parse", "--verify", f"{base_ref}^{{commit}}")
    runs_dir = manager.common_dir / "nborch" / "runs" / RUN_ID
    attempts = []
    for task_id, agent in team.attempts:
        task = team.plan[task_id]
        if task.done and not include_done:
            continue
        spec = registry.get(agent)
        name = f"{task.slug}--{slugify(agent, 32)}"
        worktree = manager.root / RUN_ID / name
        prompt = runs_dir / name / "prompt.md"
        if spec.kind == "manual":
            command = "(manual: a person works in the worktree, then runs `nborch done`)"
        else:
            job = build_job(spec, run_id=RUN_ID, task_id=task_id, worktree=worktree,
                            attempt_dir=runs_dir / name, prompt_path=prompt,
                            timeout=timeout, model=model,
                            prompt_text=f"<the prompt in {prompt}>")  # fmt: skip
            command = job.display_argv()
        attempts.append({
            "task": task_id, "agent": agent, "available": spec.available(),
            "branch": f"{BRANCH_PREFIX}/{RUN_ID}/{task.slug}/{slugify(agent, 32)}",
            "worktree": str(worktree), "prompt": str(prompt), "command": command,
        })  # fmt: skip
    return {"run_id": None, "base": base_ref, "base_commit": base_commit, "attempts": attempts}
