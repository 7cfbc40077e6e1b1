"""Building a checked :class:`~.model.Plan` from parsed tasks, and reading the small values every
format writes the same way: priorities, dependency lists, agent names.

>>> split_ids("1.1, 1.2 and task 2")
('1.1', '1.2', '2')
>>> normalize_priority("P1")
'high'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import PlanError
from ..names import closest, unique_slugs
from .model import PRIORITIES, Phase, Plan, Task

__all__ = ["build_plan", "normalize_priority", "parse_budget", "replace_task", "split_ids",
           "split_names"]

_PRIORITY_ALIASES = {
    "p0": "critical", "p1": "high", "p2": "medium", "p3": "low", "urgent": "critical",
    "normal": "medium", "med": "medium", "default": "medium", "blocker": "critical",
}  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NONE_WORDS = {"", "none", "-", "—", "n/a", "na", "nothing", "no"}


def normalize_priority(value: object) -> str:
    """Map ``high``, ``P1``, ``Urgent``… to one of :data:`PRIORITIES`; ``ValueError`` otherwise."""
    text = str(value).strip().lower()
    text = _PRIORITY_ALIASES.get(text, text)
    if text not in PRIORITIES:
        raise ValueError(f"priority {value!r} is not one of {', '.join(PRIORITIES)} (or P0–P3)")
    return text


def parse_budget(value: object) -> float:
    """A task's budget in dollars: ``$2``, ``2``, ``0.50 USD``; ``ValueError`` unless positive.

    >>> parse_budget("$1.50")
    1.5
    """
    text = str(value).strip().lower().removesuffix("usd").strip().lstrip("$").strip()
    try:
        amount = float(text)
    except ValueError:
        amount = -1.0
    if isinstance(value, bool) or not amount > 0 or amount == float("inf"):
        raise ValueError(f"budget {value!r} is not a positive number of dollars")
    return amount


def split_ids(value: str) -> tuple[str, ...]:
    """Split a ``Depends on:`` value: ``"1.2, Task 2.1 and 3"`` → ``("1.2", "2.1", "3")``.

    Commas and the word "and" separate ids, so ids with spaces or semicolons stay whole.
    """
    if value.strip().lower().rstrip(".") in _NONE_WORDS:
        return ()
    parts = re.split(r",|\s+and\s+|\s+&\s+", value)
    out = []
    for part in parts:
        part = part.strip().strip("`*_").strip()
        part = re.sub(r"^(task|#)\s*", "", part, flags=re.IGNORECASE).strip().rstrip(".")
        if part and part.lower() not in _NONE_WORDS:
            out.append(part)
    return tuple(dict.fromkeys(out))


def split_names(value: str) -> tuple[str, ...]:
    """Split an ``Agents:`` value into lowercase names: ``"Claude, codex"`` → ``("claude", "codex")``."""
    names = re.split(r"[,\s]+", value.strip().lower())
    return tuple(dict.fromkeys(n.strip("`*_") for n in names if n.strip("`*_")))


# ---- checks every plan passes ------------------------------------------------------------


def build_plan(
    title: str,
    tasks: Sequence[Task],
    *,
    phases: Sequence[Phase] = (),
    settings: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
    overview: str = "",
    sections: Sequence[tuple[str, str]] = (),
    format: str = "markdown",
    end_line: int = 1,
    no_tasks_fix: str = (
        "add at least one task, e.g. a '### Task 1: Title' heading under a '## Phase 1: Name' "
        "heading, a '## Task 1: Title' heading, or a '- [ ] Title' checklist item"
    ),
) -> Plan:
    """Check the tasks a parser found and assemble a :class:`Plan` (``PlanError`` on any defect)."""
    where = str(path) if path is not None else None
    if not tasks:
        raise PlanError("no tasks found", no_tasks_fix, path=where, line=end_line)
    seen: dict[str, Task] = {}
    for task in tasks:
        if not task.id.strip() or _CONTROL.search(task.id):
            what = "is empty" if not task.id.strip() else "has control characters"
            raise PlanError(f"task id {task.id!r} {what}", "give the task an id of letters, digits "
                            "and dots, e.g. 1.2", path=where, line=task.line)  # fmt: skip
        if task.id in seen:
            raise PlanError(
                f"duplicate task id {task.id!r} (first used on line {seen[task.id].line})",
                "give every task its own id",
                path=where, line=task.line,
            )  # fmt: skip
        seen[task.id] = task
    ids = list(seen)
    for task in tasks:
        for dep in task.depends_on:
            if dep not in seen:
                others = [i for i in ids if i != task.id]
                same_case = [i for i in others if i.lower() == dep.lower()]
                close = same_case[0] if same_case else closest(dep, others, cutoff=0.5)
                fix = f"did you mean {close!r}?" if close else "name the id of a task in this plan"
                if same_case:
                    fix += " (ids are case-sensitive)"
                raise PlanError(
                    f"task {task.id!r} depends on {dep!r}, which is not a task in this plan",
                    fix, path=where, line=task.depends_line or task.line,
                )  # fmt: skip
            if dep == task.id:
                raise PlanError(
                    f"task {task.id!r} depends on itself", "remove it from its own 'Depends on'",
                    path=where, line=task.depends_line or task.line,
                )  # fmt: skip
    slugs = unique_slugs(ids)
    tasks = tuple(t if t.slug == slugs[t.id] else replace_task(t, slug=slugs[t.id]) for t in tasks)
    return Plan(
        title=title, tasks=tasks, phases=tuple(phases), settings=dict(settings or {}),
        path=Path(path) if path is not None else None, overview=overview,
        sections=tuple(sections), format=format,
    )  # fmt: skip


def replace_task(task: Task, **changes: Any) -> Task:
    from dataclasses import replace

    return replace(task, **changes)
