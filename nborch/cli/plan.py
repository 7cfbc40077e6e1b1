"""``nborch parse`` and ``nborch assign``: a plan read, classified and given agents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .common import (
    emit_json,
    errors_exit,
    load_team,
    plan_options,
    repo_option,
    show_assignments,
    table,
    team_options,
)


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def parse(plan_path: Path, fmt: str | None, split_subtasks: bool, as_json: bool) -> None:
    """Parse and classify PLAN; show its tasks, waves and types."""
    from ..plan.load import load_plan
    from ..team.classify import classify_plan

    plan = load_plan(plan_path, format=fmt, split_subtasks=split_subtasks)
    classes = classify_plan(plan)
    if as_json:
        emit_json(parse_json(plan, classes))
        return
    waves = {t.id: n for n, wave in enumerate(plan.waves(), 1) for t in wave}
    rows = []
    for task in plan:
        c = classes[task.id]
        rows.append((task.id, task.title, task.phase or "", waves[task.id], task.depends_on,
                     c.task_type, c.complexity, c.tech_stack, "yes" if task.done else ""))  # fmt: skip
    table(f"{plan.summary()} ({plan.format})",
           ["id", "title", "phase", "wave", "depends on", "type", "cx", "stack", "done"], rows)


def parse_json(plan: Any, classes: Any) -> dict[str, Any]:
    """The ``nborch parse --json`` document (keys may be added, never renamed)."""
    return {
        "title": plan.title,
        "format": plan.format,
        "tasks": [_task_json(t, classes[t.id]) for t in plan],
    }


def _task_json(t: Any, c: Any) -> dict[str, Any]:
    return {
        "id": t.id, "title": t.title, "phase": t.phase, "depends_on": list(t.depends_on),
        "task_type": c.task_type, "complexity": c.complexity, "tech_stack": list(c.tech_stack),
        "done": t.done, "priority": t.priority, "line": t.line, "budget_usd": t.budget_usd,
    }  # fmt: skip


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@repo_option
@team_options
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def assign(plan_path: Path, repo: Path, agents: str | None, per_task: int | str,
           scripts: Sequence[str], fmt: str | None, split_subtasks: bool, as_json: bool) -> None:  # fmt: skip
    """Assign agents to the tasks of PLAN and say why (--per-task auto: from the runs recorded
    in --repo-path)."""
    result = load_team(plan_path, agents, per_task, scripts, fmt, split_subtasks, repo)
    if as_json:
        emit_json(result.to_json())
        return
    show_assignments(result)


COMMANDS = (parse, assign)
