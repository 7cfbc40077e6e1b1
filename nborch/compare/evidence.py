"""The evidence gathered about one attempt: the record the gates and the ranking read.

Pure data: :mod:`nborch.compare.gather` fills it from git, the test runs and the store;
:mod:`nborch.compare.gates` and :mod:`nborch.compare.rank` only read it. Every field that was not
measured is ``None`` (or empty), never a made-up value, so the report can say what it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..plan.testids import NamedTest
from .diffs import DiffStat, MergeCheck
from .findings import Finding
from .metrics import MetricsReport
from .tests import TestDelta, TestRun

__all__ = ["AttemptEvidence"]


@dataclass(frozen=True, slots=True)
class AttemptEvidence:
    """What is known about one attempt of one task, from git, its test runs and the store.

    ``start`` is the commit the agent began from: the run's base, or for a task with dependencies
    the base plus the dependencies' merged work. Test deltas compare with ``start``'s results, so
    a dependency's fix is not credited to the dependent task.
    """

    task: str
    agent: str
    status: str  # the agent's final state: completed, failed, timeout, …
    branch: str = ""
    commit: str | None = None  # the attempt's head; None when it changed nothing
    start: str = ""
    order: int = 0  # its place in the assignment (the primary agent first): the last tie-breaker
    diff: DiffStat | None = None
    merge: MergeCheck | None = None
    tests: TestRun | None = None  # the run that judges it: its pinned tree (see ``pinned``)
    baseline: TestRun | None = None
    own: TestRun | None = None  # its own tree's run (its own test changes in place)
    # a separate run of its commit with the start's tests put back; None when it touched no
    # test, conftest or test setting (then ``own`` is the pinned run and ``tests`` is ``own``)
    pinned: TestRun | None = None
    # its changes to tests, conftests and test settings, in words ("conftest.py added",
    # "tests/test_a.py changed"): what the pinned run undid
    test_changes: tuple[str, ...] = ()
    disagree: tuple[str, ...] = ()  # tests that pass in its own tree and not in the pinned one
    named: tuple[NamedTest, ...] = ()  # the task's named (and held-out) tests, proven per test
    changes_tests: bool = False  # the task may change existing tests (``Changes tests: yes``)
    changed_tests: tuple[tuple[str, str, str], ...] = ()  # (test id, before, after) when it may
    delta: TestDelta | None = None
    validation: str = ""  # the coordinator's verdict: passed, failed, none, or "" (not run)
    checks: tuple[Mapping[str, Any], ...] = ()
    weakening: tuple[Finding, ...] = ()
    metrics: MetricsReport | None = None
    coverage: float | None = None  # share of changed executable lines the tests ran
    coverage_lines: tuple[int, int] | None = None  # (covered, total)
    test_files: tuple[str, ...] = ()  # test files it added or changed
    # author agent → (passed, total) for that author's new tests run on this attempt
    cross: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    cluster: int | None = None  # behaviour cluster number within the task (1-based)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    duration_s: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.task, self.agent)

    @property
    def changed(self) -> bool:
        """Whether the attempt has commits with at least one changed file."""
        return self.commit is not None and self.diff is not None and bool(self.diff.files)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens
