"""Choose which agents attempt each task, and say why in a sentence a person can check.

>>> from nborch import parse_plan
>>> plan = parse_plan("# P\\n## Task 1: Fix crash when the config file is empty\\n")
>>> team = assign(plan, agents=["claude", "codex"], per_task=2)
>>> team["1"].agents
('claude', 'codex')
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import agents as registry
from ..display import html_table, plural, text_table
from ..errors import AssignError, PlanError
from ..names import closest
from ..plan.model import Plan, Task
from .classify import Classification, classify

# How much each signal weighs in an agent's score for a task; the weights sum to 1.
W_TYPE, W_STACK, W_FIT, W_HISTORY = 0.5, 0.25, 0.1, 0.15
HISTORY_PRIOR = 5  # attempts of evidence at which past results weigh as much as the profile


@dataclass(frozen=True, slots=True)
class PastResults:
    """Wins and attempts per (agent, task type), e.g. from the run history.

    >>> PastResults.from_records([{"agent": "codex", "task_type": "bugfix", "won": True}]).rate("codex", "bugfix")
    (1.0, 1)
    """

    counts: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> PastResults:
        """Build from rows with ``agent``, ``task_type`` and ``won`` (bool), e.g. a DataFrame's records."""
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        for row in records:
            key = (str(row["agent"]).lower(), str(row["task_type"]))
            wins, total = counts.get(key, (0, 0))
            counts[key] = (wins + bool(row["won"]), total + 1)
        return cls(counts)

    def rate(self, agent: str, task_type: str) -> tuple[float, int]:
        """Win rate and number of attempts; ``(0.0, 0)`` when there is no record."""
        wins, total = self.counts.get((agent, task_type), (0, 0))
        return (wins / total if total else 0.0), total


@dataclass(frozen=True, slots=True)
class AgentAssignment:
    """The agents chosen for one task (``agents[0]`` is the primary) and the reasons."""

    task: str
    primary_agent: str
    secondary_agents: tuple[str, ...]
    phase: str | None
    justification: str
    confidence: float
    task_type: str
    complexity: int
    tech_stack: tuple[str, ...]
    title: str = ""
    scores: tuple[tuple[str, float], ...] = ()
    available: tuple[bool, ...] = ()

    @property
    def agents(self) -> tuple[str, ...]:
        """Every attempt of this task, primary first."""
        return (self.primary_agent, *self.secondary_agents)

    def to_dict(self) -> dict[str, Any]:
        """The ``nborch assign --json`` record (keys may be added, never renamed)."""
        return {
            "task": self.task, "primary_agent": self.primary_agent,
            "secondary_agents": list(self.secondary_agents), "agents": list(self.agents),
            "phase": self.phase, "justification": self.justification,
            "confidence": self.confidence, "task_type": self.task_type,
            "complexity": self.complexity, "tech_stack": list(self.tech_stack),
            "available": list(self.available),
        }  # fmt: skip


_FRAME_COLUMNS = ("task", "title", "phase", "agent", "role", "available", "score", "task_type",
                  "complexity", "tech_stack", "confidence", "justification")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Assignments:
    """Every task's assignment, in plan order, plus notes about how the pool was chosen."""

    plan: Plan
    items: tuple[AgentAssignment, ...]
    per_task: int = 1
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[AgentAssignment]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, task_id: str) -> AgentAssignment:
        for item in self.items:
            if item.task == task_id:
                return item
        raise KeyError(f"no assignment for task {task_id!r}")

    @property
    def attempts(self) -> list[tuple[str, str]]:
        """Every (task id, agent) pair to run, in plan order."""
        return [(a.task, agent) for a in self.items for agent in a.agents]

    def _rows(self) -> list[tuple[object, ...]]:
        rows = []
        for a in self.items:
            scores = dict(a.scores)
            for n, agent in enumerate(a.agents):
                rows.append((a.task, a.title, a.phase, agent, "primary" if n == 0 else "secondary",
                             a.available[n] if a.available else None, scores.get(agent),
                             a.task_type, a.complexity, a.tech_stack, a.confidence,
                             a.justification))  # fmt: skip
        return rows

    def to_frame(self):  # -> pandas.DataFrame
        """One row per attempt; columns ``task, title, phase, agent, role, available, score,
        task_type, complexity, tech_stack, confidence, justification``."""
        import pandas as pd

        from .classify import TASK_TYPES

        frame = pd.DataFrame(self._rows(), columns=list(_FRAME_COLUMNS))
        frame["role"] = pd.Categorical(frame["role"], categories=["primary", "secondary"])
        frame["task_type"] = pd.Categorical(frame["task_type"], categories=list(TASK_TYPES))
        frame["tech_stack"] = frame["tech_stack"].map(list)
        return frame

    def to_json(self) -> dict[str, Any]:
        """The ``nborch assign --json`` document."""
        return {"assignments": [a.to_dict() for a in self.items], "notes": list(self.notes)}

    def summary(self) -> str:
        used = sorted({agent for a in self.items for agent in a.agents})
        return (f"{plural(len(self.items), 'task')}, {plural(len(self.attempts), 'attempt')} "
                f"({self.per_task} per task) by {', '.join(used)}")  # fmt: skip

    def __repr__(self) -> str:
        return f"<Assignments {self.summary()}>"

    def __str__(self) -> str:
        cols = ("task", "agent", "role", "available", "score", "task_type", "justification")
        idx = [_FRAME_COLUMNS.index(c) for c in cols]
        return self.summary() + "\n" + text_table(cols, [[r[i] for i in idx] for r in self._rows()], 60)

    def _repr_html_(self) -> str:
        cols = ("task", "title", "agent", "role", "available", "score", "task_type", "complexity",
                "confidence", "justification")  # fmt: skip
        idx = [_FRAME_COLUMNS.index(c) for c in cols]
        notes = "".join(f"<p>{_esc(n)}</p>" for n in self.notes)
        return notes + html_table(cols, [[r[i] for i in idx] for r in self._rows()], self.summary())


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def assign(
    plan: Plan,
    agents: Sequence[str] | None = None,
    per_task: int = 1,
    history: PastResults | Iterable[Mapping[str, Any]] | None = None,
    classifications: Mapping[str, Classification] | None = None,
) -> Assignments:
    """Assign ``per_task`` different agents to every task of ``plan``.

    Parameters
    ----------
    agents:
        Names to choose from. Named agents are assigned even when not installed (the frame
        shows ``available``; execution refuses them later). ``None``: the installed agents, or
        every built-in with a note when none is installed.
    per_task:
        How many different agents attempt each task (best-of-N). A task's own ``Agents:`` line
        wins over this and over ``agents``.
    history:
        Past results (win rates per agent and task type) that shift the profiles' scores.
    """
    if per_task < 1:
        raise AssignError(f"per_task must be at least 1, got {per_task}")
    _installed.cache_clear()  # PATH may have changed: look each agent up once per call
    pool, notes = _pool(agents)
    if per_task > len(pool):
        raise AssignError(
            f"per_task={per_task} but only {len(pool)} agent(s) to choose from "
            f"({', '.join(pool)}); name more with agents=[...] or lower per_task"
        )
    past = history if isinstance(history, PastResults) else PastResults.from_records(history or ())
    items = []
    for task in plan:
        c = classifications[task.id] if classifications else classify(task)
        items.append(_assign_task(task, c, pool, per_task, past, plan.path))
    return Assignments(plan, tuple(items), per_task, tuple(notes))


@functools.cache
def _installed(name: str) -> bool:
    return registry.get(name).available()


def _pool(agents: Sequence[str] | None) -> tuple[list[str], list[str]]:
    if agents is not None:
        names = list(dict.fromkeys(a.strip().lower() for a in agents if a.strip()))
        if not names:
            raise AssignError("agents=[] names no agent; give at least one name or None")
        for name in names:
            registry.get(name)  # unknown names fail here, with a suggestion
        return names, []
    auto = [s.name for s in registry.all_specs() if s.kind in ("cli", "script")]
    installed = [n for n in auto if _installed(n)]
    if installed:
        return installed, []
    builtin_cli = [s.name for s in registry.all_specs() if s.kind == "cli"]
    note = (
        "no agent CLI is installed here, so every built-in agent was considered; install the "
        "ones you want (see nborch.agents.registry_frame()) or pass agents=[...] before executing"
    )
    return builtin_cli, [note]


def _score(spec: registry.AgentSpec, c: Classification, past: PastResults) -> tuple[float, str]:
    cap = spec.capability
    s_type = cap.strength(c.task_type)
    # A stack the profile does not mention counts as neutral (0.5): silence is not weakness.
    known = [cap.affinity(s) if s in cap.stacks else 0.5 for s in c.tech_stack]
    s_stack = sum(known) / len(known) if known else 0.5
    # Complex tasks favour capable (costlier) agents; simple ones favour cheap agents.
    s_fit = 1 - abs((c.complexity - 1) / 4 - (cap.cost_tier - 1) / 2)
    rate, n = past.rate(spec.name, c.task_type)
    trust = n / (n + HISTORY_PRIOR)
    s_hist = trust * rate + (1 - trust) * s_type
    score = W_TYPE * s_type + W_STACK * s_stack + W_FIT * s_fit + W_HISTORY * s_hist
    why = f"{c.task_type} {s_type:.2f}"
    if c.tech_stack:
        why += f", {'/'.join(c.tech_stack[:3])} {s_stack:.2f}"
    if n:
        why += f", won {rate:.0%} of {n} past {c.task_type} tasks"
    return round(score, 3), why


def _assign_task(task: Task, c: Classification, pool: list[str], per_task: int,
                 past: PastResults, where: object) -> AgentAssignment:  # fmt: skip
    kind = f"{c.task_type} task" + (f" ({', '.join(c.tech_stack[:3])})" if c.tech_stack else "")
    kind += f", complexity {c.complexity}"
    if task.agents:
        for name in task.agents:
            if name not in registry.names():
                close = closest(name, registry.names())
                raise PlanError(
                    f"task {task.id!r} asks for agent {name!r}, which nborch does not know",
                    f"did you mean {close!r}?" if close else
                    f"use one of {', '.join(registry.names())} or register a script agent",
                    path=where, line=task.line,
                )  # fmt: skip
        chosen = list(task.agents)
        scored = {n: _score(registry.get(n), c, past) for n in chosen}
        justification = f"{kind}: the plan names {', '.join(chosen)} for this task."
        confidence = 1.0
    else:
        scored = {n: _score(registry.get(n), c, past) for n in pool}
        ranked = sorted(pool, key=lambda n: -scored[n][0])  # stable: ties keep the pool order
        chosen = ranked[:per_task]
        top, why = scored[chosen[0]]
        justification = f"{kind}: {chosen[0]} scores {top:.2f} ({why})"
        runner_up = ranked[per_task] if len(ranked) > per_task else None
        margin = top - scored[runner_up][0] if runner_up else 0.25
        if runner_up:
            justification += f", ahead of {runner_up} {scored[runner_up][0]:.2f}"
        if len(chosen) > 1:
            justification += f"; {', '.join(chosen[1:])} also attempt{'s' * (len(chosen) == 2)} it"
        justification += "."
        confidence = round(min(1.0, 0.5 * c.confidence + 0.5 * min(1.0, margin / 0.15 + 0.3)), 2)
    return AgentAssignment(
        task=task.id, primary_agent=chosen[0], secondary_agents=tuple(chosen[1:]),
        phase=task.phase, justification=justification, confidence=confidence,
        task_type=c.task_type, complexity=c.complexity, tech_stack=tuple(c.tech_stack),
        title=task.title, scores=tuple((n, scored[n][0]) for n in chosen),
        available=tuple(_installed(n) for n in chosen),
    )  # fmt: skip
