"""Prepare a run: a worktree, a prompt and the agent's instruction file for every attempt.

Nothing runs an agent here. A prepared attempt is exactly what a person (or a later install of
the agent) needs: ``nborch prepare`` for agents that are not installed works, with a warning.

>>> run = prepare("path/to/repo", nborch.assign(plan, agents=["claude"]))   # doctest: +SKIP
>>> run.to_frame()                                                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import agents as registry
from ..agents import AgentSpec
from ..agents.config import load_repo_agents
from ..display import html_table, plural, text_table
from ..errors import NborchError
from ..plan.holdout import holdouts_of
from ..plan.model import Plan, Task
from ..team.assign import Assignments, assign
from ..team.history import load_history
from .manager import Attempt, RunInfo, WorktreeManager

PROMPT_FILE = "prompt.md"


@dataclass(frozen=True, slots=True)
class PreparedAttempt:
    """One attempt ready to run: its worktree, its prompt file and the agent that will run it."""

    attempt: Attempt
    task: Task
    spec: AgentSpec
    prompt_path: Path
    available: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.attempt.task_id, self.attempt.agent)

    def to_dict(self) -> dict[str, Any]:
        a = self.attempt
        return {"task": a.task_id, "agent": a.agent, "branch": a.branch, "path": str(a.path),
                "prompt": str(self.prompt_path), "available": self.available,
                "config_files": list(a.managed_files)}  # fmt: skip


_COLUMNS = ("task", "agent", "available", "branch", "path", "prompt", "config_files")


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A run whose attempts all have their room; hand it to :class:`nborch.Coordinator`."""

    run: RunInfo
    plan: Plan
    assignments: Assignments
    attempts: tuple[PreparedAttempt, ...]
    warnings: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)  # how it was executed, for resume

    @property
    def id(self) -> str:
        return self.run.id

    def to_json(self) -> dict[str, Any]:
        """The ``nborch prepare --json`` document."""
        return {"run_id": self.run.id, "base_commit": self.run.base_commit,
                "attempts": [p.to_dict() for p in self.attempts],
                "warnings": list(self.warnings)}  # fmt: skip

    def _rows(self) -> list[list[object]]:
        return [[p.to_dict()[c] for c in _COLUMNS] for p in self.attempts]

    def to_frame(self):  # -> pandas.DataFrame
        """One row per attempt: ``task, agent, available, branch, path, prompt, config_files``."""
        import pandas as pd

        return pd.DataFrame(self._rows(), columns=list(_COLUMNS))

    def summary(self) -> str:
        return (f"run {self.run.id}: {plural(len(self.attempts), 'attempt')} prepared from "
                f"{self.run.base_ref}@{self.run.base_commit[:8]}")  # fmt: skip

    def __repr__(self) -> str:
        return f"<PreparedRun {self.summary()}>"

    def __str__(self) -> str:
        return self.summary() + "\n" + text_table(_COLUMNS[:5], [r[:5] for r in self._rows()], 60)

    def _repr_html_(self) -> str:
        return html_table(_COLUMNS[:5], [r[:5] for r in self._rows()], self.summary())


def prepare(
    repo: str | Path,
    work: Plan | Assignments,
    *,
    agents: Sequence[str] | None = None,
    per_task: int | str = 1,
    root: str | Path | None = None,
    base: str | None = None,
    run_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    include_done: bool = False,
    live: bool = False,
) -> PreparedRun:
    """Create the run, its worktrees, prompts and agent instruction files.

    Parameters
    ----------
    work
        A plan (then ``agents`` and ``per_task`` go to :func:`nborch.team.assign`) or assignments.
    root
        Where worktrees go (default outside the working tree; see ``WorktreeManager``).
    base
        The commit every attempt starts from; default the plan's ``base:``, else HEAD.
    context
        Overrides for the project context shown in prompts (e.g. ``{"test_command": "make t"}``).
    include_done
        Also prepare tasks the plan marks done (skipped by default).
    live
        The caller will run the attempts (a coordinator): the run is recorded as running in this
        process before any worktree exists, so a ``cleanup`` started meanwhile skips it.
    """
    from .prompts import ProjectContext, PromptRenderer, write_agent_files, write_prompt

    if not isinstance(work, Assignments):
        load_repo_agents(repo)  # a plan may name the repository's own script agents
    if isinstance(work, Assignments):
        team = work
    else:
        history = load_history(repo) if per_task == "auto" else None  # the repository's results
        team = assign(work, agents=agents, per_task=per_task, history=history)
    plan = team.plan
    holdouts_of(plan, repo)  # a missing or visible holdout folder is bad input: say so first
    manager = WorktreeManager(repo, root)
    pairs = [(plan[t], a) for t, a in team.attempts if include_done or not plan[t].done]
    if not pairs:
        raise NborchError("every task of the plan is marked done, so there is nothing to prepare "
                          "— pass include_done=True (--include-done) to run them anyway")  # fmt: skip
    run = manager.new_run(plan, base=base, run_id=run_id, live=live)
    made = manager.create(run, pairs)
    warnings = list(run.warnings)
    try:
        renderer = PromptRenderer(manager.repo)
        ctx = ProjectContext.detect(manager.repo, plan, overrides=dict(context or {}))
        prepared = []
        for attempt in made:
            task, spec = plan[attempt.task_id], registry.get(attempt.agent)
            prompt = write_prompt(attempt.attempt_dir / PROMPT_FILE, task, spec, plan=plan,
                                  worktree=attempt.path, context=ctx, templates=renderer)  # fmt: skip
            files = write_agent_files(attempt.path, spec, task, plan, ctx, templates=renderer)
            attempt = manager.record_managed(attempt, files)
            prepared.append(PreparedAttempt(attempt, task, spec, Path(prompt), spec.available()))
    except BaseException:
        if live:  # not live any more: let the cleanup below remove what was just made
            with manager.store() as store:
                store.update_run(run.id, status="prepared")
        manager.cleanup(run.id)  # nothing ran yet, so this removes only what was just made
        raise
    for name in sorted({p.spec.name for p in prepared if not p.available}):
        reason = registry.get(name).unavailable_reason()
        warnings.append(f"{reason}; its worktrees and prompts are ready for when it is")
    return PreparedRun(run, plan, team, tuple(prepared), tuple(warnings))
