"""What a repository's recorded runs say per task type: which agents passed, and how often a
task's first attempt failed — the evidence ``assign(per_task="auto")`` decides from.

>>> rows = [
...     {"run_id": "r1", "task_id": "1", "agent": "claude", "task_type": "bugfix", "passed": False},
...     {"run_id": "r1", "task_id": "1", "agent": "codex", "task_type": "bugfix", "passed": True},
... ]
>>> h = History.from_rows(rows)
>>> h.past.rate("codex", "bugfix"), h.of("bugfix").first_failed
((1.0, 1), 1)

Everything here is pure but :func:`load_history`, which reads the repository's run store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..display import html_table, plural, text_table
from ..errors import AssignError
from ..gitcmd import Git, RepoLike, repo_path
from ..store import Store

__all__ = ["ROW_KEYS", "TARGET", "History", "PastResults", "TypeRecord", "attempts_needed",
           "load_history"]  # fmt: skip

ROW_KEYS = ("run_id", "task_id", "agent", "task_type", "passed")  # and, optionally, started_at
TARGET = 0.9  # auto gives a task enough attempts for this chance that at least one passes


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

    def smoothed(self, agent: str, task_type: str) -> float:
        """The win rate with one win and one loss added (Laplace): an agent with no record
        stands at 0.5, and one lucky attempt does not outrank a long good record.

        >>> PastResults({("codex", "bugfix"): (1, 1)}).smoothed("codex", "bugfix")
        0.6666666666666666
        """
        wins, total = self.counts.get((agent, task_type), (0, 0))
        return (wins + 1) / (total + 2)


@dataclass(frozen=True, slots=True)
class TypeRecord:
    """The recorded attempts of one task type, and how its tasks' first attempts went."""

    task_type: str
    attempts: int = 0
    runs: int = 0
    first_attempts: int = 0  # one per (run, task): the attempt of that task that started first
    first_failed: int = 0

    @property
    def first_failure_rate(self) -> float:
        """How often a first attempt failed, with half a failure and two passes added (a Beta(½, 2)
        prior: most first attempts pass), so a short record neither promises success nor
        condemns the type — and a clean record of three gives one attempt, not more than the
        profiles would.

        >>> TypeRecord("bugfix", first_attempts=4, first_failed=2).first_failure_rate
        0.38461538461538464
        >>> attempts_needed(TypeRecord("bugfix", first_attempts=3).first_failure_rate)
        1
        """
        return (self.first_failed + 0.5) / (self.first_attempts + 2.5)


def attempts_needed(failure_rate: float, target: float = TARGET) -> int:
    """The fewest attempts ``n`` with ``1 - failure_rate ** n >= target``: enough that at least
    one passes with chance ``target`` if each fails independently at ``failure_rate``.

    >>> attempts_needed(0.5), attempts_needed(0.2), attempts_needed(0.05)
    (4, 2, 1)
    """
    if failure_rate <= 0:
        return 1
    if failure_rate >= 1:
        raise ValueError("with a failure rate of 1 no number of attempts reaches the target")
    # a hair of slack keeps 0.1 ** 1 (= 0.1) from missing 0.9 by rounding
    return max(1, math.ceil(math.log(1 - target) / math.log(failure_rate) - 1e-9))


@dataclass(frozen=True, slots=True)
class History:
    """Recorded results by task type: :attr:`past` (wins per agent) and :attr:`types` (attempts,
    runs and first-attempt failures per type). ``source`` says where it was read from.

    Not to be confused with :func:`nborch.history`, the table of runs.
    """

    past: PastResults = field(default_factory=PastResults)
    types: Mapping[str, TypeRecord] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], source: str = "") -> History:
        """Build from rows with ``run_id, task_id, agent, task_type, passed`` and optionally
        ``started_at`` (what :meth:`nborch.store.Store.history_rows` gives). A task's first
        attempt in a run is the one that started first; without start times, the first row."""
        rows = list(rows)
        for n, row in enumerate(rows):
            missing = [k for k in ROW_KEYS if k not in row]
            if missing:
                raise AssignError(f"history row {n} has no {', '.join(missing)}: each row needs "
                                  f"{', '.join(ROW_KEYS)} (and may have started_at)")  # fmt: skip
        past = PastResults.from_records(
            {"agent": r["agent"], "task_type": r["task_type"], "won": r["passed"]} for r in rows)
        tasks: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for row in rows:
            tasks.setdefault((str(row["run_id"]), str(row["task_id"])), []).append(row)
        firsts = [_first(group) for group in tasks.values()]
        types = {}
        for kind in dict.fromkeys(str(r["task_type"]) for r in rows):
            of_kind = [r for r in rows if r["task_type"] == kind]
            first = [r for r in firsts if r["task_type"] == kind]
            types[kind] = TypeRecord(kind, attempts=len(of_kind),
                                     runs=len({r["run_id"] for r in of_kind}),
                                     first_attempts=len(first),
                                     first_failed=sum(not r["passed"] for r in first))  # fmt: skip
        return cls(past, types, source)

    def of(self, task_type: str) -> TypeRecord:
        """The record of ``task_type``; an empty one when nothing of that type was recorded."""
        return self.types.get(task_type) or TypeRecord(task_type)

    @property
    def attempts(self) -> int:
        """How many recorded attempts in all."""
        return sum(t.attempts for t in self.types.values())

    def _rows(self) -> list[tuple[object, ...]]:
        out = []
        by_type = sorted(self.past.counts.items(), key=lambda item: item[0][::-1])
        for (agent, kind), (wins, total) in by_type:
            out.append((kind, agent, total, wins, round(wins / total, 3)))
        return out

    def to_frame(self):  # -> pandas.DataFrame
        """One row per (task type, agent): ``task_type, agent, attempts, passed, pass_rate``."""
        import pandas as pd

        return pd.DataFrame(self._rows(), columns=["task_type", "agent", "attempts", "passed",
                                                   "pass_rate"])  # fmt: skip

    def summary(self) -> str:
        if not self.types:
            return "no recorded attempts" + (f" ({self.source})" if self.source else "")
        kinds = ", ".join(f"{t.task_type} {t.attempts}" for t in self.types.values())
        return f"{plural(self.attempts, 'recorded attempt')} ({kinds})"

    def __repr__(self) -> str:
        return f"<History {self.summary()}>"

    def __str__(self) -> str:
        cols = ("task_type", "agent", "attempts", "passed", "pass_rate")
        return self.summary() + ("\n" + text_table(cols, self._rows()) if self.types else "")

    def _repr_html_(self) -> str:
        cols = ("task_type", "agent", "attempts", "passed", "pass_rate")
        return html_table(cols, self._rows(), self.summary())


def _first(group: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The attempt that started first; rows come in creation (assignment) order, which decides
    when start times are missing or equal."""
    started = [(row["started_at"], n) for n, row in enumerate(group) if row.get("started_at")]
    return group[min(started)[1]] if started else group[0]


def load_history(repo: RepoLike) -> History:
    """The recorded results of ``repo``'s runs (no store file is made; an existing one from an
    older nborch is upgraded to the current schema, as any command does).

    A folder outside git, or a repository where nborch has recorded nothing yet, has an empty
    history: ``assign(per_task="auto")`` then chooses by profile. A missing folder is an error.
    """
    path = repo_path(repo)
    if not path.is_dir():
        raise AssignError(f"{path} is not a folder — pass the repository whose recorded runs "
                          "per_task='auto' learns from")  # fmt: skip
    found = Git(path).run("rev-parse", "--git-common-dir", check=False)
    if not found.ok:
        return History(source=f"{path} is not a git repository")
    db = Store.path_for((path / found.stdout.strip()).resolve())
    if not db.exists():
        return History(source=f"nothing recorded in {path} yet")
    with Store(db) as store:
        return History.from_rows(store.history_rows(), source=str(db))

