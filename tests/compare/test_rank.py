"""The pure half of the comparison: gates, ranking and recommendation on hand-made evidence."""

from __future__ import annotations

from dataclasses import replace

from nborch.compare.diffs import DiffStat, FileChange
from nborch.compare.evidence import AttemptEvidence
from nborch.compare.gates import evaluate_gates
from nborch.compare.gather import _code_only
from nborch.compare.metrics import MetricsReport, PyMetrics
from nborch.compare.rank import rank_task, recommend
from nborch.compare.tests import TestRun, classify_tests
from nborch.compare.weakening import Finding

CMD = "python -m pytest -q"
BASE = TestRun(CMD, 1, 1.0, False, {"t.py::test_a": "failed", "t.py::test_b": "passed"})


def run(**outcomes: str) -> TestRun:
    return TestRun(CMD, 0, 1.0, False, {f"t.py::{k}": v for k, v in outcomes.items()})


def ev(agent: str, tests: TestRun | None = None, order: int = 0, **kw: object) -> AttemptEvidence:
    """A completed attempt with one changed file and, when ``tests`` is given, its delta."""
    diff = DiffStat("base", "head", (FileChange("app.py", "modified", 1, 1),))
    delta = classify_tests(BASE, tests) if tests is not None else None
    return AttemptEvidence("1", agent, "completed", commit="head", diff=diff, tests=tests,
                           baseline=BASE if tests is not None else None, delta=delta,
                           order=order, **kw)  # type: ignore[arg-type]  # fmt: skip


FIXED = run(test_a="passed", test_b="passed")


class TestGates:
    def test_a_timed_out_run_breaks_nothing_it_never_reached(self) -> None:
        hung = TestRun(CMD, None, 5.0, True, {})
        gates = evaluate_gates(ev("a", tests=hung))
        assert gates.failed == ["tests_finish"]
        assert gates.values["no_broken_tests"] is None

    def test_a_timed_out_baseline_leaves_broken_tests_unknown(self) -> None:
        slow_base = TestRun(CMD, None, 5.0, True, {})
        e = replace(ev("a", tests=FIXED), baseline=slow_base)
        gates = evaluate_gates(e)
        assert gates.passed and gates.values["no_broken_tests"] is None
        rec = recommend("1", rank_task([e]))
        assert rec.confidence == "low" and "did not finish on the starting commit" in rec.reason

    def test_weakening_and_broken_fail_with_reasons(self) -> None:
        e = ev("a", tests=run(test_a="passed", test_b="failed"),
               weakening=(Finding("test-skipped", "t.py", "test_a: pytest.mark.skip added"),))  # fmt: skip
        gates = evaluate_gates(e)
        assert gates.failed == ["no_broken_tests", "not_weakened"]
        assert "t.py::test_b" in gates.reasons["no_broken_tests"]


class TestRanking:
    def test_only_eligible_attempts_tests_count_across(self) -> None:
        """c weakened the tests; its (copied, skipped) tests are not held against a and b."""
        a = ev("a", FIXED, 0, cross={"b": (0, 1), "c": (1, 2)})
        b = ev("b", FIXED, 1, cross={"a": (1, 1), "c": (1, 2)})
        c = ev("c", run(test_b="passed"), 2, cross={"a": (1, 1), "b": (1, 1)},
               weakening=(Finding("test-skipped", "t.py", "test_a"),))  # fmt: skip
        ranked = rank_task([a, b, c])
        assert [r.agent for r in ranked if r.rank] == ["b", "a"]
        by = {r.agent: r for r in ranked}
        assert by["b"].signals["cross_pass_rate"] == 1.0
        assert by["a"].signals["cross_pass_rate"] == 0.0
        assert "passes 0 of 1 test written by other attempts (does not pass some of b's)" in (
            by["a"].reasons)
        assert not any("c's" in r for r in by["b"].reasons)

    def test_exit_code_runner_speaks_of_the_command(self) -> None:
        before = TestRun("make test", 2, 1.0, False, {"exit-code::make test": "failed"},
                         runner="exit-code")  # fmt: skip
        fixed = TestRun("make test", 0, 1.0, False, {"exit-code::make test": "passed"},
                        runner="exit-code")  # fmt: skip
        diff = DiffStat("base", "head", (FileChange("Makefile", "modified", 1, 1),))
        good, bad = (AttemptEvidence("1", name, "completed", commit="head", diff=diff, tests=t,
                                     baseline=before, delta=classify_tests(before, t), order=n)
                     for n, (name, t) in enumerate((("good", fixed), ("bad", before))))  # fmt: skip
        ranked = rank_task([bad, good])
        assert [r.agent for r in ranked] == ["good", "bad"]
        assert ranked[0].reasons[0] == "the test command passes now (it failed before)"
        assert ranked[1].reasons[0] == "the test command still fails (another attempt makes it pass)"
        rec = recommend("1", ranked)
        assert rec.confidence == "medium" and "exit code only" in rec.reason


def test_complexity_counts_the_code_not_the_tests() -> None:
    report = MetricsReport(files=(PyMetrics("app.py", 3, 4, 70.0, 68.0),
                                  PyMetrics("tests/test_app.py", 0, 5, None, 90.0)),
                           complexity_delta=6, mi_delta=-2.0)  # fmt: skip
    code = _code_only(report)
    assert (code.complexity_delta, code.mi_delta) == (1, -2.0)
    assert code.files == report.files
