"""The plan: phases and tasks, read from markdown, YAML or TOML, checked before anything runs.

>>> from nborch import parse_plan
>>> plan = parse_plan("# Demo\\n## Phase 1: Core\\n### Task 1.1: Add store\\n### Task 1.2: Add API\\n"
...                   "Depends on: 1.1\\n")
>>> [[t.id for t in wave] for wave in plan.waves()]
[['1.1'], ['1.2']]
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..display import html_table, plural, text_table
from ..errors import PlanError
from ..names import closest
from .testids import TEST_ID, pytest_ids_in, with_test_ids

PRIORITIES = ("low", "medium", "high", "critical")
DEFAULT_TEST_COMMAND = "python -m pytest -q"  # runs a plan's test ids when it names no test_command

# First words of a backticked span that make it a command to run rather than a code reference.
COMMAND_WORDS = frozenset(
    ["pytest", "python", "python3", "make", "npm", "npx", "yarn", "pnpm", "node", "ruff", "mypy", "pyright", "cargo", "go", "uv", "uvx", "tox", "nox", "bash", "sh", "just", "poetry", "pip", "hatch", "coverage", "black", "flake8", "pylint", "eslint", "tsc", "jest", "vitest", "dotnet", "mvn", "gradle", "gradlew", "deno", "bun", "ctest", "cmake", "docker", "git", "curl", "test", "grep", "diff"]
)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_MISSING: Any = object()
#: Words a plan may write for a yes/no field (``Changes tests: yes``, ``done: false``).
YES_NO = {"true": True, "yes": True, "false": False, "no": False}


@dataclass(frozen=True, slots=True)
class Criterion:
    """One validation criterion: prose, plus the commands and test ids found in its backticks."""

    text: str
    commands: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """``"command"``, ``"test"`` or ``"prose"`` (prose is shown, never executed)."""
        return "command" if self.commands else "test" if self.tests else "prose"

    @classmethod
    def parse(cls, text: str) -> Criterion:
        """Recognise backticked commands (``pytest -q``) and test ids (``tests/x.py::test_y``).

        >>> Criterion.parse("`pytest tests/test_store.py` passes").commands
        ('pytest tests/test_store.py',)
        """
        commands: list[str] = []
        tests: list[str] = []
        for _, span in _CODE_SPAN.findall(text):
            span = span.strip()
            first = span.split()[0] if span else ""
            if TEST_ID.match(span):
                tests.append(span)
            elif first in COMMAND_WORDS or first.startswith(("./", "bin/", "scripts/")):
                commands.append(span)
        return cls(text.strip(), tuple(commands), tuple(tests))


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of work an agent can attempt."""

    id: str
    title: str
    phase: str | None = None
    overview: str = ""
    objectives: tuple[str, ...] = ()
    key_activities: tuple[str, ...] = ()
    deliverables: tuple[str, ...] = ()
    validation: tuple[Criterion, ...] = ()
    technical_implementation: str = ""
    depends_on: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    priority: str = "medium"
    extra_sections: tuple[tuple[str, str], ...] = ()
    done: bool = False
    line: int = 0
    slug: str = ""
    depends_line: int = field(default=0, compare=False, repr=False)
    # the task must change existing tests (``Changes tests: yes``): its changed tests are shown,
    # not held against it, and its recommendation is at most medium confidence
    changes_tests: bool = False
    holdout: str = ""  # ``Holdout: PATH``: acceptance tests the agents never see (plan's if "")
    budget_usd: float | None = None  # ``Budget: $2``: the most this task's attempts may spend

    def __setstate__(self, state: list[Any]) -> None:
        # runs saved by an earlier nborch pickled fewer fields: the new ones keep their defaults
        for f, value in itertools.zip_longest(fields(self), state, fillvalue=_MISSING):
            if f is _MISSING:
                break
            object.__setattr__(self, f.name, f.default if value is _MISSING else value)

    @property
    def sections(self) -> dict[str, str]:
        """Sections the plan had beyond the known ones, by heading, kept verbatim."""
        return dict(self.extra_sections)

    @property
    def commands(self) -> tuple[str, ...]:
        """Every command named in the validation criteria, in order."""
        return tuple(c for v in self.validation for c in v.commands)

    def checks(self, test_command: str) -> list[tuple[str, str]]:
        """``(criterion text, command)`` for every runnable criterion, in order: backticked
        commands as written, backticked test ids run with ``test_command`` — its positional paths
        replaced by the ids, so that a deleted test cannot hide behind the folder it was in.

        >>> Task("1", "t", validation=(Criterion.parse("`a.py::test_x` passes"),)).checks(
        ...     "pytest -q tests")
        [('`a.py::test_x` passes', 'pytest -q a.py::test_x')]
        """
        return [(text, command) for text, command, _ in self.check_runs(test_command)]

    def check_runs(self, test_command: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """:meth:`checks` with the test ids each command names: what its JUnit results must show
        passed (a pytest command's own ids, or the backticked ids run with ``test_command``)."""
        out: list[tuple[str, str, tuple[str, ...]]] = []
        for criterion in self.validation:
            out.extend((criterion.text, cmd, pytest_ids_in(cmd)) for cmd in criterion.commands)
            if criterion.tests:
                out.append((criterion.text, with_test_ids(test_command, criterion.tests),
                            criterion.tests))  # fmt: skip
        return out

    @property
    def named_tests(self) -> tuple[str, ...]:
        """Every test id the task names: backticked ids, and ids in its pytest commands."""
        found: list[str] = []
        for criterion in self.validation:
            found.extend(criterion.tests)
            for cmd in criterion.commands:
                found.extend(pytest_ids_in(cmd))
        return tuple(dict.fromkeys(found))

    @property
    def text(self) -> str:
        """Everything a classifier or a reader should weigh, as one string."""
        parts = [self.title, self.overview, *self.objectives, *self.key_activities,
                 *self.deliverables, *(v.text for v in self.validation),
                 self.technical_implementation, *(body for _, body in self.extra_sections)]  # fmt: skip
        return "\n".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class Phase:
    """A group of tasks under a level-2 heading; ``number`` is what the heading said, if anything."""

    index: int
    title: str
    number: str | None = None
    line: int = 0
    description: str = ""
    task_ids: tuple[str, ...] = ()


_FRAME_COLUMNS = ("id", "title", "phase", "wave", "depends_on", "priority", "agents", "done",
                  "validation", "commands", "line")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Plan:
    """A checked plan: unique ids, known dependencies, no cycles, at least one task."""

    title: str
    tasks: tuple[Task, ...]
    phases: tuple[Phase, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    overview: str = ""
    sections: tuple[tuple[str, str], ...] = ()
    format: str = "markdown"
    _index: dict[str, Task] = field(default_factory=dict, init=False, repr=False, compare=False)
    _waves: list[tuple[str, ...]] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t.id: t for t in self.tasks})
        object.__setattr__(self, "_waves", _levels(self))

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __getitem__(self, task_id: str) -> Task:
        try:
            return self._index[task_id]
        except KeyError:
            close = closest(task_id, self._index)
            hint = f"; did you mean {close!r}?" if close else ""
            raise KeyError(f"no task {task_id!r} in plan {self.title!r}{hint}") from None

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._index

    @property
    def test_command(self) -> str | None:
        """The plan's ``test_command`` setting, if it has one."""
        return self.settings.get("test_command")

    @property
    def base(self) -> str | None:
        """The git ref every attempt starts from (plan ``base:``), if the plan names one."""
        return self.settings.get("base")

    def waves(self) -> list[list[Task]]:
        """Tasks in topological levels: every task comes after all the tasks it depends on."""
        return [[self._index[i] for i in wave] for wave in self._waves]

    def wave_of(self, task_id: str) -> int:
        """The 1-based wave a task runs in."""
        for n, wave in enumerate(self._waves, 1):
            if task_id in wave:
                return n
        raise KeyError(task_id)

    def _rows(self) -> list[tuple[object, ...]]:
        wave = {i: n for n, ids in enumerate(self._waves, 1) for i in ids}
        return [
            (t.id, t.title, t.phase, wave[t.id], t.depends_on, t.priority, t.agents, t.done,
             len(t.validation), len(t.commands), t.line)
            for t in self.tasks
        ]  # fmt: skip

    def to_frame(self):  # -> pandas.DataFrame
        """One row per task; columns ``id, title, phase, wave, depends_on, priority, agents, done,
        validation`` (number of criteria), ``commands`` (number of runnable ones), ``line``."""
        import pandas as pd

        frame = pd.DataFrame(self._rows(), columns=list(_FRAME_COLUMNS))
        frame["priority"] = pd.Categorical(frame["priority"], categories=PRIORITIES, ordered=True)
        for col in ("depends_on", "agents"):
            frame[col] = frame[col].map(list)
        return frame

    def summary(self) -> str:
        """One line: title, and how many tasks, phases and waves."""
        return (f"{self.title}: {plural(len(self.tasks), 'task')} in "
                f"{plural(len(self.phases), 'phase')}, {plural(len(self._waves), 'wave')}")

    def __repr__(self) -> str:
        where = f" from {self.path.name}" if self.path else ""
        return f"<Plan {self.summary()}{where}>"

    def __str__(self) -> str:
        cols = _FRAME_COLUMNS[:7]
        return self.summary() + "\n" + text_table(cols, [r[:7] for r in self._rows()])

    def _repr_html_(self) -> str:
        cols = _FRAME_COLUMNS[:7]
        return html_table(cols, [r[:7] for r in self._rows()], caption=self.summary())


# ---- field helpers shared by every format ---------------------------------------------------


def _levels(plan: Plan) -> list[tuple[str, ...]]:
    """Kahn's algorithm by levels; a leftover means a cycle, reported in full."""
    pending = {t.id: len(t.depends_on) for t in plan.tasks}
    children: dict[str, list[str]] = {t.id: [] for t in plan.tasks}
    for t in plan.tasks:
        for dep in t.depends_on:
            children[dep].append(t.id)
    wave = [t.id for t in plan.tasks if not t.depends_on]
    levels: list[tuple[str, ...]] = []
    placed = 0
    order = {tid: i for i, tid in enumerate(plan._index)}
    while wave:
        levels.append(tuple(wave))
        placed += len(wave)
        nxt = []
        for tid in wave:
            for child in children[tid]:
                pending[child] -= 1
                if pending[child] == 0:
                    nxt.append(child)
        wave = sorted(nxt, key=order.__getitem__)
    if placed < len(plan.tasks):
        cycle = _find_cycle(plan, {tid for tid, n in pending.items() if n > 0})
        first = plan._index[cycle[0]]
        where = str(plan.path) if plan.path else None
        shown = [*cycle, cycle[0]]
        if len(cycle) > 50:  # name the whole loop, but keep the line readable
            shown = [*cycle[:6], "…", *cycle[-3:], cycle[0]]
        raise PlanError(
            f"dependency cycle of {len(cycle)} tasks: " + " → ".join(shown)
            if len(cycle) > 50 else "dependency cycle: " + " → ".join(shown),
            f"remove one of these dependencies, e.g. that of {cycle[0]!r} on {cycle[1 % len(cycle)]!r}",
            path=where, line=first.depends_line or first.line,
        )  # fmt: skip
    return levels


def _find_cycle(plan: Plan, stuck: set[str]) -> list[str]:
    """Walk dependencies among the stuck tasks until a task repeats; that loop is the cycle."""
    start = next(t.id for t in plan.tasks if t.id in stuck)
    path: list[str] = []
    at: dict[str, int] = {}
    node = start
    while node not in at:
        at[node] = len(path)
        path.append(node)
        node = next(d for d in plan._index[node].depends_on if d in stuck)
    cycle = path[at[node]:]
    # Report the cycle in the direction people read "depends on" chains: from the earliest task.
    first = min(range(len(cycle)), key=lambda i: list(plan._index).index(cycle[i]))
    return cycle[first:] + cycle[:first]
