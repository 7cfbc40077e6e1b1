"""The comparison engine end to end, on the issue's cases: real repositories, real runs, real tests.

Each case is a small git repository in a temporary folder, a plan, and script agents that edit
files like a real agent would. The coordinator runs them, :func:`nborch.compare` judges them, and
the tests read the gates, the order and the recommendation back. Runs are shared per module (they
cost seconds each); the merge tests write only branches no other test reads.

Cases: a correct fix with two good attempts told apart by each other's tests, a fix that breaks
another test, "fixes" that skip or delete the failing test, an attempt with no changes, an attempt
whose tests hang, two tasks whose attempts conflict, a repository without tests and a non-Python
repository judged by exit code.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

import nborch
from nborch import Coordinator
from nborch.compare.comparison import RANKING_COLUMNS, Comparison
from nborch.compare.gates import GATES
from nborch.execute.executor import LocalExecutor
from nborch.gitcmd import Git

# The inner pytest runs need no plugins; this venv's (nbmake …) cost about a second per start.
LEAN = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
HANG_TIMEOUT = 10.0  # seconds: the hanging test is stopped here; the base's one test needs ~1 s

CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
CALC_TESTS = ("from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
              "def test_sub():\n    assert sub(5, 3) == 2\n")  # fmt: skip
FIXED = CALC.replace("a - b", "a + b", 1)


@dataclass
class Case:
    """One executed run and its comparison."""

    repo: Path
    run: Coordinator
    cmp: Comparison
    main: str  # the head of the user's branch before anything was compared or merged

    def attempt(self, task: str, agent: str):
        return next(r for r in self.cmp.tasks[task] if r.agent == agent)

    def order(self, task: str) -> list[str]:
        """The ranked agents of ``task``, best first (attempts that failed a gate left out)."""
        return [r.agent for r in self.cmp.tasks[task] if r.rank is not None]


# ---- building blocks ------------------------------------------------------------------------


def make_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository on ``main`` with ``files`` in its one commit."""
    path.mkdir(parents=True)
    write(path, files)
    git = Git(path)
    git.run("init", "--quiet", "-b", "main")
    for key, value in (("user.name", "Test User"), ("user.email", "test@example.invalid"),
                       ("commit.gpgsign", "false")):  # fmt: skip
        git.run("config", key, value)
    git.run("add", "-A")
    git.run("commit", "--quiet", "--no-verify", "-m", "Initial commit")
    return path


def write(root: Path, files: dict[str, str | None]) -> None:
    for name, text in files.items():
        target = root / name
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


def agent(folder: Path, name: str, files: dict[str, str | None]) -> str:
    """A script agent ``name`` that writes ``files`` into its worktree (``None`` deletes one)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"{name}.py"
    script.write_text(textwrap.dedent(f"""\
        import pathlib, sys
        wt = pathlib.Path(sys.argv[1])
        for name, text in {files!r}.items():
            target = wt / name
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    """))
    nborch.script_agent(name, f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} "
                              "{worktree}")  # fmt: skip
    return name


def execute(repo: Path, where: Path, plan: str) -> Coordinator:
    run = Coordinator(repo, nborch.parse_plan(textwrap.dedent(plan)), root=where / "wt",
                      max_concurrent=4, timeout="60s", executor=LocalExecutor(grace=0.5))  # fmt: skip
    return run.run_sync()


def head(repo: Path, rev: str) -> str | None:
    found = Git(repo).run("rev-parse", "--verify", "--quiet", rev, check=False)
    return found.stdout.strip() or None


def case(factory: pytest.TempPathFactory, name: str, files: dict[str, str],
         agents: dict[str, dict[str, str | None]], plan: str, **options: object) -> Case:  # fmt: skip
    where = factory.mktemp(name)
    repo = make_repo(where / "repo", files)
    for agent_name, edits in agents.items():
        agent(where / "agents", agent_name, edits)
    run = execute(repo, where, plan)
    options.setdefault("env", LEAN)
    options.setdefault("coverage", True)  # measured on every Python here (auto skips it < 3.12)
    cmp = nborch.compare(repo, run.id, jobs=2, **options)
    return Case(repo, run, cmp, head(repo, "main") or "")


@pytest.fixture(scope="module", autouse=True)
def _registry() -> Iterator[None]:
    """The script agents live in the registry for the module; nothing of them is left after."""
    yield
    nborch.agents.reset()


# ---- the cases ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calc(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """``add`` is broken and its test fails. Six attempts, the weakest agent first:

    good2 fixes it for its own test but not for negative numbers; good fixes it properly; breaker
    fixes ``add`` and breaks ``sub``; skipper skips the failing test; deleter deletes the test
    file; idle changes nothing. good and good2 each add a test file.
    """
    zero = ("from calc import add\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n"
            "    assert add(1, 0) == 1\n")
    negative = "from calc import add\n\n\ndef test_add_negative():\n    assert add(-2, -3) == -5\n"
    skipped = CALC_TESTS.replace("from calc", "import pytest\nfrom calc").replace(
        "def test_add", "@pytest.mark.skip(reason='flaky')\ndef test_add")
    return case(tmp_path_factory, "calc", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
                {"good2": {"calc.py": CALC.replace("a - b", "abs(a) + abs(b)", 1),
                           "tests/test_zero.py": zero},
                 "good": {"calc.py": FIXED, "tests/test_negative.py": negative},
                 "breaker": {"calc.py": FIXED.replace("a - b", "a + b")},
                 "skipper": {"tests/test_calc.py": skipped},
                 "deleter": {"tests/test_calc.py": None},
                 "idle": {}},
                """\
                ---
                test_command: python -m pytest -q
                ---
                # Calc
                ## Task 1: Fix add
                Agents: good2, good, breaker, skipper, deleter, idle
                """)  # fmt: skip


@pytest.fixture(scope="module")
def conflict(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """Two independent tasks whose only attempts set the same line to different values."""
    return case(tmp_path_factory, "conflict",
                {"settings.py": "COLOUR = 'grey'\n",
                 "tests/test_settings.py": "from settings import COLOUR\n\n\ndef test_colour():\n"
                                           "    assert COLOUR\n"},
                {"red": {"settings.py": "COLOUR = 'red'\n"},
                 "blue": {"settings.py": "COLOUR = 'blue'\n"}},
                """\
                ---
                test_command: python -m pytest -q
                ---
                # Colours
                ## Task 1: Make it red
                Agents: red
                ## Task 2: Make it blue
                Agents: blue
                """)  # fmt: skip


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """A repository without Python, tested by ``sh run_tests.sh``; the greeting has a typo.

    Task 1: ``lazy`` (first) changes the greeting without fixing it, ``typo`` fixes it. Task 2:
    ``idle2`` does nothing, so that task has no good attempt.
    """
    return case(tmp_path_factory, "shell",
                {"greeting.txt": "helo\n",
                 "run_tests.sh": '#!/bin/sh\n[ "$(cat greeting.txt)" = "hello" ]\n'},
                {"lazy": {"greeting.txt": "helo!\n"}, "typo": {"greeting.txt": "hello\n"},
                 "idle2": {}},
                """\
                ---
                test_command: sh run_tests.sh
                ---
                # Greeting
                ## Task 1: Fix the typo
                Agents: lazy, typo
                ## Task 2: Nothing to do
                Agents: idle2
                """)  # fmt: skip


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """``add`` and ``mul`` are both broken. Task 1 fixes ``add`` (with a validation command);
    task 2 depends on it and fixes ``mul``, starting from task 1's merged work."""
    calc = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n"
    tests = ("from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
             "def test_mul():\n    assert mul(2, 3) == 6\n")
    return case(tmp_path_factory, "chain", {"calc.py": calc, "tests/test_calc.py": tests},
                {"fixadd": {"calc.py": calc.replace("a - b", "a + b")},
                 # it works on task 1's result, so its calc.py has add fixed already
                 "fixmul": {"calc.py": "def add(a, b):\n    return a + b\n\n\n"
                                       "def mul(a, b):\n    return a * b\n"}},
                """\
                ---
                test_command: python -m pytest -q
                ---
                # Arithmetic
                ## Task 1: Fix add
                Agents: fixadd

                **Validation criteria**

                - `python -c "from calc import add; assert add(2, 3) == 5"` passes.

                ## Task 2: Fix mul
                Depends on: 1
                Agents: fixmul
                """)  # fmt: skip


NO_TESTS_PLAN = """\
    # App
    ## Task 1: Change the answer
    Agents: tweak
    """


@pytest.fixture(scope="module")
def no_tests(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """A Python repository with no tests and no test command."""
    return case(tmp_path_factory, "notests",
                {"README.md": "# App\n", "app.py": "def answer():\n    return 42\n"},
                {"tweak": {"app.py": "def answer():\n    return 43\n"}}, NO_TESTS_PLAN)  # fmt: skip


# ---- a correct fix, and what is not one -----------------------------------------------------


class TestFixes:
    def test_gates_of_each_attempt(self, calc: Case) -> None:
        failed = {r.agent: r.gates.failed for r in calc.cmp.tasks["1"]}
        assert failed == {"good": [], "good2": [], "breaker": ["no_broken_tests"],
                          # both pass only with their own test changes: put back, test_add
                          # runs (and fails); the deleted test_sub passes again
                          "skipper": ["tests_pinned", "not_weakened"],
                          "deleter": ["tests_pinned", "not_weakened"],
                          "idle": ["has_changes"]}  # fmt: skip
        breaker = calc.attempt("1", "breaker")
        assert "tests/test_calc.py::test_sub" in breaker.gates.reasons["no_broken_tests"]
        assert "test-skipped" in calc.attempt("1", "skipper").gates.reasons["not_weakened"]
        assert "test-file-deleted" in calc.attempt("1", "deleter").gates.reasons["not_weakened"]
        idle = calc.attempt("1", "idle")
        assert idle.gates.values["completed"] is True
        assert "no changes" in idle.gates.reasons["has_changes"]
        # an attempt without changes is not tested: its test gates are unknown, not passed
        assert idle.gates.values["tests_finish"] is None
        assert idle.gates.values["no_broken_tests"] is None

    def test_fail_to_pass_counted_with_high_confidence(self, calc: Case) -> None:
        good = calc.attempt("1", "good")
        assert good.evidence.delta.fail_to_pass == ("tests/test_calc.py::test_add",)
        assert good.evidence.delta.pass_to_pass == ("tests/test_calc.py::test_sub",)
        assert good.evidence.delta.broken == ()
        assert good.reasons[0] == "fixes 1 test that failed before"
        assert calc.cmp.recommend("1").confidence == "high"

    def test_other_attempts_tests_decide_between_two_good_fixes(self, calc: Case) -> None:
        """good2 comes first in the assignment and fixes the failing test too, but fails good's
        new test (negative numbers) while good passes good2's: good ranks first."""
        assert calc.order("1") == ["good", "good2"]
        good, good2 = calc.attempt("1", "good"), calc.attempt("1", "good2")
        assert good.evidence.order > good2.evidence.order  # evidence, not the assignment order
        assert good.signals["cross_pass_rate"] == 1.0
        assert good2.signals["cross_pass_rate"] == 0.0
        assert good.score > good2.score
        assert "passes 1 of 1 test written by other attempts" in good.reasons
        assert any("does not pass some of good's" in r for r in good2.reasons)
        assert good.evidence.cluster != good2.evidence.cluster

    def test_weakened_tests_do_not_count_as_evidence(self, calc: Case) -> None:
        """skipper's copy of test_calc.py (test_add skipped) says nothing about the others: a
        weakened attempt's tests are not cross-run at all, and so are no reason or signal."""
        matrix = calc.cmp.matrices["1"]
        assert "skipper" not in matrix.authors
        assert "good" in matrix.authors  # the others' tests still ran
        good = calc.attempt("1", "good")
        assert "skipper" not in good.evidence.cross
        assert not any("skipper" in r for r in good.reasons)

    def test_take_with_the_second_attempts_tests(self, calc: Case) -> None:
        rec = calc.cmp.recommend("1")
        assert (rec.action, rec.agent, rec.tests_from) == ("take-with-tests", "good", "good2")
        assert rec.test_files == ("tests/test_zero.py",)
        assert "good2's new tests pass on it" in rec.reason

    def test_metrics_measure_the_code_not_the_tests(self, calc: Case) -> None:
        """A one-character fix plus a new test file adds no complexity to the code."""
        good = calc.attempt("1", "good")
        assert good.signals["complexity_delta"] == 0
        assert not any(r.startswith("complexity") for r in good.reasons)
        assert good.signals["coverage"] == 1.0  # the changed line of calc.py ran

    def test_ranking_frame(self, calc: Case) -> None:
        frame = calc.cmp.ranking
        assert tuple(frame.columns) == RANKING_COLUMNS
        assert len(frame) == 6
        assert str(frame["rank"].dtype) == "Int64"
        assert all(str(frame[g].dtype) == "boolean" for g in GATES)
        ranked = frame.dropna(subset=["rank"]).sort_values("rank")
        assert list(ranked["agent"]) == ["good", "good2"]
        assert not frame.loc[frame["agent"] == "idle", "eligible"].item()
        assert frame.loc[frame["agent"] == "good", "fail_to_pass"].item() == 1

    def test_json_contract(self, calc: Case) -> None:
        data = json.loads(json.dumps(calc.cmp.to_dict()))
        assert data["run_id"] == calc.run.id
        (task,) = data["tasks"]
        assert task["task"] == "1"
        assert {"action", "agent", "reason"} <= set(task["recommendation"])
        assert task["recommendation"]["action"] == "take-with-tests"
        assert [a["agent"] for a in task["attempts"]][:2] == ["good", "good2"]
        for a in task["attempts"]:
            assert {"agent", "rank", "gates", "tests", "metrics", "score", "reasons"} <= set(a)
            assert set(a["gates"]) == set(GATES)
            assert all(v in (True, False, None) for v in a["gates"].values())
            assert set(a["tests"]) == {"fail_to_pass", "pass_to_pass", "broken"}
        good = task["attempts"][0]
        assert good["rank"] == 1 and good["tests"]["fail_to_pass"] == ["tests/test_calc.py::test_add"]
        idle = next(a for a in task["attempts"] if a["agent"] == "idle")
        assert idle["rank"] is None and idle["score"] is None and idle["tests"]["broken"] is None
        saved = json.loads((calc.repo / ".git" / "nborch" / "runs" / calc.run.id
                            / "comparison.json").read_text())  # fmt: skip
        assert saved["tasks"] == data["tasks"]

    def test_html_shows_the_table_and_the_top_diffs(self, calc: Case) -> None:
        page = calc.cmp._repr_html_()
        assert "take good with good2&#x27;s tests" in page
        assert "a + b" in page and "abs(a) + abs(b)" in page
        assert page.count('class="nborch-cross"') == len(calc.cmp.matrices) >= 1  # the grids


# ---- hanging tests --------------------------------------------------------------------------

HANG = """\
import os, pathlib, subprocess, sys, time


def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pathlib.Path(os.environ["HANG_PIDS"], f"{os.getpid()} {child.pid}").write_text("")
    time.sleep(600)
"""


def test_hanging_tests_are_stopped_and_leave_no_process(tmp_path_factory: pytest.TempPathFactory,
                                                         tmp_path: Path) -> None:  # fmt: skip
    """An attempt whose new test hangs (and starts a child that would outlive it) fails the
    tests_finish gate; its processes are all gone; it is not accused of breaking tests."""
    pids = tmp_path / "pids"
    pids.mkdir()
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}  # other fixtures' servers, if any
    hung = case(tmp_path_factory, "hang",
                {"app.py": "def answer():\n    return 42\n",
                 "tests/test_app.py": "from app import answer\n\n\ndef test_answer():\n"
                                      "    assert answer() == 42\n"},
                {"hanger": {"app.py": "def answer():\n    return 6 * 7\n",
                            "tests/test_hang.py": HANG}},
                "---\ntest_command: python -m pytest -q\n---\n# Hang\n"
                "## Task 1: Compute the answer\nAgents: hanger\n",
                env={**LEAN, "HANG_PIDS": str(pids)}, test_timeout=HANG_TIMEOUT, metrics=False)  # fmt: skip
    ranked = hung.attempt("1", "hanger")
    # its own tree (with the hanging test) timed out; the pinned run (the start's tests on its
    # code, without its new test file) finished, and shows that it breaks nothing
    assert ranked.evidence.own.timed_out and not ranked.evidence.tests.timed_out
    assert ranked.gates.failed == ["tests_finish"]
    assert "did not finish in time in its own tree" in ranked.gates.reasons["tests_finish"]
    assert ranked.gates.values["no_broken_tests"] is True
    assert ranked.evidence.baseline.outcomes == {"tests/test_app.py::test_answer": "passed"}
    rec = hung.cmp.recommend("1")
    assert rec.action == "none" and "did not finish in time" in rec.reason
    started = [int(p) for f in pids.iterdir() for p in f.name.split()]
    assert len(started) == 2
    assert not [p for p in started if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
    left = [c for c in me.children(recursive=True)  # this process's watchdog may be new: it stays
            if c.pid not in before and c.status() != psutil.STATUS_ZOMBIE
            and "nborch.proc.watchdog" not in " ".join(c.cmdline())]  # fmt: skip
    assert not left, [c.cmdline() for c in left]


# ---- conflicts across tasks, and merging ----------------------------------------------------


def test_the_worktree_is_never_where_the_tests_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests run in a clean checkout of the attempt's commit: files its tests write do not land
    in the agent's worktree, and files the agent left there uncommitted — an ignored conftest.py
    whose hook reports every test passed — do not judge it."""
    hook = ("import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\n"
            "def pytest_runtest_makereport(item, call):\n"
            "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")  # fmt: skip
    litter = case(tmp_path_factory, "litter",
                  {"app.py": "X = 1\n", "tests/test_app.py": "from app import X\n\n\n"
                                                             "def test_x():\n    assert X == 2\n",
                   ".gitignore": "__pycache__/\n"},
                  {"litter": {"app.py": "X = 3\n", ".gitignore": "__pycache__/\n/conftest.py\n",
                              "conftest.py": hook, "tests/test_report.py":
                              "import pathlib\n\n\ndef test_report():\n"
                              "    pathlib.Path('report.txt').write_text('made by a test')\n"}},
                  "---\ntest_command: python -m pytest -q\n---\n# Litter\n"
                  "## Task 1: Make X 2\nAgents: litter\n**Validation criteria**\n"
                  "- `tests/test_app.py::test_x` passes\n", metrics=False, cross=False)  # fmt: skip
    worktree = Path(litter.run.executions[("1", "litter")].worktree)
    assert (worktree / "conftest.py").exists()  # there, ignored, never committed
    ranked = litter.attempt("1", "litter")
    assert ranked.evidence.tests.outcomes["tests/test_app.py::test_x"] == "failed"
    assert ranked.gates.failed == ["named_tests"]
    assert litter.cmp.recommend("1").action == "none"
    assert not (worktree / "report.txt").exists()


class TestCoverageDefault:
    def test_default_measures_coverage_only_where_it_is_cheap(self, calc: Case) -> None:
        """By default coverage of changed lines is measured on Python 3.12+ (sys.monitoring);
        before that the report says it was not measured and why, instead of a slow suite."""
        cmp = nborch.compare(calc.repo, calc.run.id, cross=False, metrics=False, save=False,
                             env=LEAN)  # fmt: skip
        good = next(r for r in cmp.tasks["1"] if r.agent == "good")
        if sys.version_info >= (3, 12):
            assert good.signals["coverage"] == 1.0
        else:
            assert good.signals["coverage"] is None
            assert any("coverage of changed lines not measured" in n and "coverage=True" in n
                       for n in cmp.notes)  # fmt: skip


class TestMerge:
    def test_each_attempt_passes_alone(self, conflict: Case) -> None:
        for task, name in (("1", "red"), ("2", "blue")):
            assert conflict.order(task) == [name]
            assert conflict.attempt(task, name).gates.failed == []
            assert conflict.cmp.recommend(task).action == "take"
        # nothing failed before and passes now: the tests say little about these tasks
        assert conflict.cmp.recommend("1").confidence == "medium"

    def test_conflict_across_tasks_is_reported_and_nothing_written(self, conflict: Case) -> None:
        outcome = conflict.cmp.merge()
        assert not outcome.ok and outcome.commit is None
        (clash,) = outcome.conflicts
        assert (clash.task, clash.agent, clash.files, clash.with_tasks) == (
            "2", "blue", ("settings.py",), ("1",))
        assert "settings.py conflicts with task 1" in str(outcome)
        assert head(conflict.repo, f"refs/heads/nborch/integration/{conflict.run.id}") is None
        assert head(conflict.repo, "main") == conflict.main

    def test_clean_merge_into_an_integration_branch(self, calc: Case) -> None:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
            outcome = calc.cmp.merge()
        branch = f"nborch/integration/{calc.run.id}"
        assert outcome.ok, str(outcome)
        assert outcome.into == branch and head(calc.repo, branch) == outcome.commit
        assert [p.agent for p in outcome.merged] == ["good"]
        # the tests ran on the result, good2's test file included
        assert outcome.tests is not None and outcome.tests.ok
        assert set(outcome.tests.outcomes) == {"tests/test_calc.py::test_add",
                                               "tests/test_calc.py::test_sub",
                                               "tests/test_negative.py::test_add_negative",
                                               "tests/test_zero.py::test_add_zero"}  # fmt: skip
        # the user's branch and working tree are untouched
        assert head(calc.repo, "main") == calc.main
        git = Git(calc.repo)
        assert git.out("symbolic-ref", "--short", "HEAD") == "main"
        assert git.out("status", "--porcelain") == ""
        assert (calc.repo / "calc.py").read_text() == CALC


class TestDependencies:
    def test_a_dependency_fix_is_not_credited_to_the_dependent_task(self, chain: Case) -> None:
        fixadd, fixmul = chain.attempt("1", "fixadd"), chain.attempt("2", "fixmul")
        assert fixadd.evidence.delta.fail_to_pass == ("tests/test_calc.py::test_add",)
        assert fixmul.evidence.start != chain.run.prepared.run.base_commit  # the dependency merge
        assert fixmul.evidence.delta.fail_to_pass == ("tests/test_calc.py::test_mul",)
        assert fixmul.evidence.delta.pass_to_pass == ("tests/test_calc.py::test_add",)
        assert fixmul.gates.failed == [] and fixadd.gates.failed == []

    def test_validation_is_a_gate_and_raises_confidence(self, chain: Case) -> None:
        fixadd = chain.attempt("1", "fixadd")
        assert fixadd.gates.values["validation_passes"] is True
        assert chain.attempt("2", "fixmul").gates.values["validation_passes"] is None  # none given
        assert chain.cmp.recommend("1").confidence == "high"

    def test_merge_in_dependency_order(self, chain: Case) -> None:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
            outcome = chain.cmp.merge(into="nborch/integration/chain")
        assert outcome.ok, str(outcome)
        assert [p.task for p in outcome.merged] == ["1", "2"]
        assert dict(outcome.tests.outcomes) == {"tests/test_calc.py::test_add": "passed",
                                                "tests/test_calc.py::test_mul": "passed"}  # fmt: skip
        assert head(chain.repo, "main") == chain.main


# ---- a non-Python repository; a repository without tests ------------------------------------


class TestWithoutPytest:
    def test_exit_code_runner_orders_the_fix_first(self, shell: Case) -> None:
        assert shell.order("1") == ["typo", "lazy"]
        typo, lazy = shell.attempt("1", "typo"), shell.attempt("1", "lazy")
        assert typo.gates.failed == [] and lazy.gates.failed == []
        assert typo.evidence.tests.runner == "exit-code"
        assert typo.signals["fail_to_pass"] == 1 and lazy.signals["fail_to_pass"] == 0
        assert typo.reasons[0] == "the test command passes now (it failed before)"
        assert lazy.reasons[0].startswith("the test command still fails")

    def test_no_cross_tests_and_honest_confidence(self, shell: Case) -> None:
        assert shell.cmp.matrices == {}
        assert shell.attempt("1", "typo").signals["cross_pass_rate"] is None
        assert shell.attempt("1", "typo").signals["coverage"] is None
        rec = shell.cmp.recommend("1")
        assert (rec.action, rec.agent, rec.confidence) == ("take", "typo", "medium")
        assert "exit code only" in rec.reason

    def test_task_without_changes_has_no_good_attempt(self, shell: Case) -> None:
        rec = shell.cmp.recommend("2")
        assert (rec.action, rec.agent) == ("none", None)
        assert "idle2: no changes" in rec.reason

    def test_no_test_command_means_low_confidence(self, no_tests: Case) -> None:
        tweak = no_tests.attempt("1", "tweak")
        assert tweak.rank == 1 and tweak.gates.failed == []
        assert tweak.gates.values["tests_finish"] is None
        rec = no_tests.cmp.recommend("1")
        assert (rec.action, rec.confidence) == ("take", "low")
        assert "no test command" in rec.reason
        assert no_tests.cmp.test_command is None
        assert any("no test command" in n for n in no_tests.cmp.notes)

    def test_a_test_command_that_finds_no_tests_means_low_confidence(self, no_tests: Case) -> None:
        cmp = nborch.compare(no_tests.repo, no_tests.run.id, test_command="python -m pytest -q",
                             env=LEAN, jobs=2, save=False)  # fmt: skip
        tweak = next(r for r in cmp.tasks["1"] if r.agent == "tweak")
        assert tweak.evidence.tests.outcomes == {}
        assert tweak.gates.failed == []
        rec = cmp.recommend("1")
        assert rec.confidence == "low" and "has no tests" in rec.reason


def test_a_test_command_that_cannot_start_is_bad_input(conflict: Case) -> None:
    with pytest.raises(nborch.NborchError, match="cannot run the test command `no-such-tool -q`"):
        nborch.compare(conflict.repo, conflict.run.id, test_command="no-such-tool -q",
                       metrics=False, save=False)  # fmt: skip
    assert Git(conflict.repo).out("worktree", "list").count("nborch-") == 0


# ---- the command line -----------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``nborch ARGS`` in a fresh process, as a person would run it."""
    env = {**os.environ, **LEAN}
    return subprocess.run([sys.executable, "-m", "nborch", *args], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip


class TestCommandLine:
    def test_compare_json_exit_0_when_every_task_has_a_pick(self, conflict: Case) -> None:
        done = cli("compare", conflict.run.id, "-r", str(conflict.repo), "--json", "-j", "2")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["run_id"] == conflict.run.id
        assert [(t["task"], t["recommendation"]["action"], t["recommendation"]["agent"])
                for t in data["tasks"]] == [("1", "take", "red"), ("2", "take", "blue")]  # fmt: skip

    def test_compare_json_exit_1_when_a_task_has_none(self, shell: Case) -> None:
        done = cli("compare", shell.run.id, "-r", str(shell.repo), "--json", "--no-metrics")
        assert done.returncode == 1, done.stderr
        data = json.loads(done.stdout)
        assert {t["task"]: t["recommendation"]["action"] for t in data["tasks"]} == {
            "1": "take", "2": "none"}
        assert data["tasks"][0]["attempts"][0]["agent"] == "typo"

    def test_merge_json_exit_1_on_a_conflict(self, conflict: Case) -> None:
        done = cli("merge", conflict.run.id, "-r", str(conflict.repo), "--json")
        assert done.returncode == 1, done.stderr
        data = json.loads(done.stdout)
        assert data["commit"] is None and not data["ok"]
        assert data["conflicts"] == [{"task": "2", "agent": "blue", "files": ["settings.py"],
                                      "with_tasks": ["1"]}]  # fmt: skip
        assert head(conflict.repo, f"refs/heads/nborch/integration/{conflict.run.id}") is None

    def test_merge_json_exit_0_uses_the_saved_comparison(self, calc: Case) -> None:
        done = cli("merge", calc.run.id, "-r", str(calc.repo), "--into", "nborch/cli-merge",
                   "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "comparing first" not in done.stderr  # the comparison saved by compare() is fresh
        data = json.loads(done.stdout)
        assert data["ok"] and data["not_merged"] == []
        assert [(m["task"], m["agent"]) for m in data["merged"]] == [("1", "good")]
        assert data["merged"][0]["extra_tests"][0]["paths"] == ["tests/test_zero.py"]
        assert data["tests"]["return_code"] == 0
        assert head(calc.repo, "nborch/cli-merge") == data["commit"]
        assert head(calc.repo, "main") == calc.main

    def test_unknown_run_exits_2(self, conflict: Case) -> None:
        done = cli("compare", "20000101-0000-none", "-r", str(conflict.repo), "--json")
        assert done.returncode == 2
        assert "20000101-0000-none" in done.stderr
