"""Choose which agents attempt each task, and say why in a sentence a person can check.

>>> from nborch import parse_plan
>>> plan = parse_plan("# P\\n## Task 1: Fix crash when the config file is empty\\n")
>>> team = assign(plan, agents=["claude", "codex"], per_task=2)
>>> team["1"].agents
('codex', 'claude')

``per_task="auto"`` takes the number of attempts and the agents from recorded results
(:mod:`.history`), task type by task type, and falls back to the profiles where there are none.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from .. import agents as registry
from ..display import html_table, plural, text_table
from ..errors import AssignError, PlanError
from ..names import closest
from ..plan.model import Plan, Task
from .classify import Classification, classify
from .history import TARGET, History, PastResults, TypeRecord, attempts_needed

__all__ = ["AUTO", "MAX_PER_TASK", "MIN_HISTORY", "AgentAssignment", "Assignments", "PastResults",
           "assign"]  # fmt: skip

# How much each signal weighs in an agent's score for a task; the weights sum to 1.
W_TYPE, W_STACK, W_FIT, W_HISTORY = 0.5, 0.25, 0.1, 0.15
HISTORY_PRIOR = 5  # attempts of evidence at which past results weigh as much as the profile
AUTO = "auto"
MAX_PER_TASK = 3  # auto's default ceiling on attempts per task: each one costs a full agent run
MIN_HISTORY = 3  # recorded attempts of a type below which auto trusts the profiles instead


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
    per_task: int = 1  # with auto: the most attempts any task got
    notes: tuple[str, ...] = ()
    auto: bool = False  # per_task="auto": each task's count came from recorded results

    def __setstate__(self, state: Sequence[Any]) -> None:
        # Snapshots of runs recorded before `auto` existed hold fewer values: default the rest.
        values = list(state)
        for n, f in enumerate(fields(self)):
            object.__setattr__(self, f.name, values[n] if n < len(values) else f.default)

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
        return {"assignments": [a.to_dict() for a in self.items], "notes": list(self.notes),
                "per_task": AUTO if self.auto else self.per_task}  # fmt: skip

    def summary(self) -> str:
        used = sorted({agent for a in self.items for agent in a.agents})
        per = self.per_task
        if self.auto:
            counts = [len(a.agents) for a in self.items] or [1]
            low, high = min(counts), max(counts)
            per = f"auto, {low}" + (f"–{high}" if high != low else "")
        return (f"{plural(len(self.items), 'task')}, {plural(len(self.attempts), 'attempt')} "
                f"({per} per task) by {', '.join(used)}")  # fmt: skip

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
    per_task: int | Literal["auto"] = 1,
    history: History | PastResults | Iterable[Mapping[str, Any]] | None = None,
    classifications: Mapping[str, Classification] | None = None,
    *,
    max_per_task: int = MAX_PER_TASK,
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
        wins over this and over ``agents``. ``"auto"``: per task type, from ``history`` — the
        agents that passed most often first, and as many attempts (up to ``max_per_task``) as
        give a 90% chance that one passes, judged by how often first attempts failed. A type
        with fewer than 3 recorded attempts gets one agent chosen by profile.
    history:
        Recorded results: a :class:`~nborch.team.history.History` (``nborch.load_history(repo)``),
        or for a number ``per_task`` also :class:`PastResults` or records with ``agent``,
        ``task_type`` and ``won``. They shift the profiles' scores; ``"auto"`` decides by them.
    max_per_task:
        The most attempts ``"auto"`` gives one task.
    """
    auto = _is_auto(per_task, max_per_task)
    _installed.cache_clear()  # PATH may have changed: look each agent up once per call
    pool, notes = _pool(agents)
    if not auto and int(per_task) > len(pool):
        raise AssignError(
            f"per_task={per_task} but only {len(pool)} agent(s) to choose from "
            f"({', '.join(pool)}); name more with agents=[...] or lower per_task"
        )
    recorded = _as_history(history, auto)
    if auto and history is None:
        notes.append("per_task='auto' without history: every task gets one agent, chosen by "
                     "profile; pass history=nborch.load_history(repo) to learn from the "
                     "repository's recorded runs")  # fmt: skip
    items = []
    for task in plan:
        c = classifications[task.id] if classifications else classify(task)
        if task.agents:
            choice = _named(task, c, recorded.past, plan.path)
        elif auto:
            choice = _by_record(c, pool, recorded, max_per_task)
        else:
            choice = _by_profile(c, pool, int(per_task), recorded.past)
        items.append(_item(task, c, choice))
    count = max((len(i.agents) for i in items), default=1) if auto else int(per_task)
    return Assignments(plan, tuple(items), count, tuple(notes), auto)


def _is_auto(per_task: object, max_per_task: object) -> bool:
    """Whether ``per_task`` is ``"auto"``; an AssignError for anything but that or a count."""
    if isinstance(max_per_task, bool) or not isinstance(max_per_task, int) or max_per_task < 1:
        raise AssignError(f"max_per_task must be a whole number of at least 1, got "
                          f"{max_per_task!r}")  # fmt: skip
    if per_task == AUTO:
        return True
    if isinstance(per_task, bool) or not isinstance(per_task, int) or per_task < 1:
        raise AssignError(f"per_task must be 'auto' or a whole number of at least 1, got "
                          f"{per_task!r}")  # fmt: skip
    return False


def _as_history(history: History | PastResults | Iterable[Mapping[str, Any]] | None,
                auto: bool) -> History:  # fmt: skip
    if history is None:
        return History()
    if isinstance(history, History):
        return history
    if isinstance(history, PastResults):
        if auto:
            raise AssignError("per_task='auto' needs how each task's first attempt went, which "
                              "PastResults does not keep — pass "
                              "history=nborch.load_history(repo)")  # fmt: skip
        return History(past=history)
    rows = list(history)
    return History.from_rows(rows) if auto else History(past=PastResults.from_records(rows))


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


@dataclass(frozen=True, slots=True)
class _Choice:
    """One task's agents (primary first), their scores, why, and how sure the choice is."""

    agents: list[str]
    scores: dict[str, float]
    why: str
    confidence: float


def _named(task: Task, c: Classification, past: PastResults, where: object) -> _Choice:
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
    scores = {n: _score(registry.get(n), c, past)[0] for n in chosen}
    return _Choice(chosen, scores, f"the plan names {', '.join(chosen)} for this task.", 1.0)


def _by_profile(c: Classification, pool: list[str], per_task: int, past: PastResults) -> _Choice:
    scored = {n: _score(registry.get(n), c, past) for n in pool}
    ranked = sorted(pool, key=lambda n: -scored[n][0])  # stable: ties keep the pool order
    chosen = ranked[:per_task]
    top, why = scored[chosen[0]]
    text = f"{chosen[0]} scores {top:.2f} ({why})"
    runner_up = ranked[per_task] if len(ranked) > per_task else None
    margin = top - scored[runner_up][0] if runner_up else 0.25
    if runner_up:
        text += f", ahead of {runner_up} {scored[runner_up][0]:.2f}"
    if len(chosen) > 1:
        text += f"; {', '.join(chosen[1:])} also attempt{'s' * (len(chosen) == 2)} it"
    return _Choice(chosen, {n: scored[n][0] for n in chosen}, text + ".", _confidence(c, margin))


def _by_record(c: Classification, pool: list[str], history: History, most: int) -> _Choice:
    """``per_task="auto"``: agents by smoothed pass rate on this type (profile scores break
    ties, so agents without a record keep their profile order), and enough of them to pass."""
    kind = c.task_type
    record = history.of(kind)
    if record.attempts < MIN_HISTORY:
        choice = _by_profile(c, pool, 1, history.past)
        lead = (f"no recorded history for {kind} tasks" if not record.attempts else
                f"too little recorded history for {kind} tasks "
                f"({plural(record.attempts, 'attempt')}; auto needs {MIN_HISTORY})")  # fmt: skip
        return _Choice(choice.agents, choice.scores, f"{lead}: chosen by profile; {choice.why}",
                       choice.confidence)  # fmt: skip
    profile = {n: _score(registry.get(n), c, PastResults())[0] for n in pool}
    rates = {n: history.past.smoothed(n, kind) for n in pool}
    ranked = sorted(pool, key=lambda n: (-rates[n], -profile[n]))
    # a record with no failed first attempt never asks for more than one (more evidence of
    # success must not buy more attempts than the profiles would give)
    needed = 1 if not record.first_failed else attempts_needed(record.first_failure_rate)
    count = min(needed, most, len(pool))
    chosen = ranked[:count]
    runner_up = ranked[count] if len(ranked) > count else None
    margin = rates[chosen[0]] - rates[runner_up] if runner_up else 0.25
    why = _record_why(record, ranked, chosen, history.past)
    why += (f"; first attempts failed {record.first_failed} of {record.first_attempts}, "
            f"so {plural(count, 'attempt')}")  # fmt: skip
    if count < needed:
        limit = f"max_per_task={most}" if count == most else f"only {plural(len(pool), 'agent')}"
        why += f" ({needed} would give a {TARGET:.0%} chance that one passes; {limit})"
    return _Choice(chosen, {n: round(rates[n], 3) for n in chosen}, why + ".",
                   _confidence(c, margin))  # fmt: skip


def _record_why(record: TypeRecord, ranked: list[str], chosen: list[str], past: PastResults) -> str:
    """Which history decided: how much of it, and each agent's record on this type."""
    kind = record.task_type
    counts = {n: past.counts.get((n, kind), (0, 0)) for n in ranked}
    recorded = [(n, w, t) for n, (w, t) in counts.items() if t]
    seen = ", ".join(f"{n} {'passed ' * (i == 0)}{w} of {t}"  # claude passed 5 of 6, codex 2 of 6
                     for i, (n, w, t) in enumerate(recorded))  # fmt: skip
    unseen = [n for n in chosen if not counts[n][1]]
    why = (f"from {plural(record.attempts, f'recorded {kind} attempt')} in "
           f"{plural(record.runs, 'run')}: {seen or 'none by these agents'}")  # fmt: skip
    if seen and unseen:
        why += f"; no record yet for {', '.join(unseen)}"
    return why


def _confidence(c: Classification, margin: float) -> float:
    return round(min(1.0, 0.5 * c.confidence + 0.5 * min(1.0, margin / 0.15 + 0.3)), 2)


def _item(task: Task, c: Classification, choice: _Choice) -> AgentAssignment:
    kind = f"{c.task_type} task" + (f" ({', '.join(c.tech_stack[:3])})" if c.tech_stack else "")
    kind += f", complexity {c.complexity}"
    chosen = choice.agents
    return AgentAssignment(
        task=task.id, primary_agent=chosen[0], secondary_agents=tuple(chosen[1:]),
        phase=task.phase, justification=f"{kind}: {choice.why}", confidence=choice.confidence,
        task_type=c.task_type, complexity=c.complexity, tech_stack=tuple(c.tech_stack),
        title=task.title, scores=tuple((n, choice.scores[n]) for n in chosen),
        available=tuple(_installed(n) for n in chosen),
    )  # fmt: skip
