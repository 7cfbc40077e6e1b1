"""Cross-testing on real git repositories: each attempt's tests on every attempt, and clusters."""

from __future__ import annotations

import contextlib
import doctest
import gc
import os
import shlex
import signal
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from nborch.compare import crosstest as cross
from nborch.compare.crosstest import CrossMatrix, CrossSubject, behaviour_clusters, cross_test
from nborch.compare.diffs import DiffStat, FileChange, diff_stat
from nborch.errors import WorktreeError
from nborch.gitcmd import Git

PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q"
# The venv's plugins (nbmake imports nbformat and jsonschema) take seconds to load per run; the
# tiny projects here need none of them.
NO_PLUGINS = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
IDENTITY = ("-c", "user.name=Test User", "-c", "user.email=test@example.invalid",
            "-c", "commit.gpgsign=false")  # fmt: skip
BASE = {
    "calc/__init__.py": "def double(x):\n    raise NotImplementedError\n",
    "tests/test_base.py": "def test_base():\n    assert True\n",
}


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A repository with ``files`` (default: the tiny ``calc`` package) committed on ``main``."""
    path.mkdir(parents=True)
    Git(path).run("init", "--quiet", "-b", "main")
    commit(path, "main", files or BASE)
    return path


def commit(repo: Path, branch: str, files: dict[str, str | None], start: str = "main") -> str:
    """Commit ``files`` (``None`` deletes) on ``branch``, cut from ``start``; returns the commit."""
    git = Git(repo)
    if git.ok("rev-parse", "--verify", "--quiet", "main"):
        git.run("checkout", "--quiet", "-B", branch, start)
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git.run("add", "-A")
    git.run(*IDENTITY, "commit", "--quiet", "--no-verify", "-m", f"{branch}: change")
    return git.out("rev-parse", "HEAD")


def worktrees(repo: Path) -> list[str]:
    return [line for line in Git(repo).out("worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]  # fmt: skip


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary checkouts go under ``tmp_path/tmp`` so a test can see that none is left."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[CrossSubject], CrossMatrix]:
    """Two correct ``double`` implementations, a wrong one and a correct one without tests."""
    repo = make_repo(tmp_path_factory.mktemp("three") / "repo")
    heads = {
        "good1": commit(repo, "good1", {
            "calc/__init__.py": "def double(x):\n    return x * 2\n",
            "tests/test_double_one.py": ("from calc import double\n\n"
                                         "def test_positive():\n    assert double(2) == 4\n\n"
                                         "def test_negative():\n    assert double(-3) == -6\n"),
        }),
        "good2": commit(repo, "good2", {
            "calc/__init__.py": "def double(x):\n    return x + x\n",
            "tests/test_double_two.py": ("from calc import double\n\n"
                                         "def test_five():\n    assert double(5) == 10\n"),
        }),
        "bad": commit(repo, "bad", {  # right only for 2
            "calc/__init__.py": "def double(x):\n    return x ** 2\n",
            "tests/test_double_bad.py": ("from calc import double\n\n"
                                         "def test_two():\n    assert double(2) == 4\n"),
        }),
        "none": commit(repo, "none", {"calc/__init__.py": "def double(x):\n    return 2 * x\n"}),
    }  # fmt: skip
    base = Git(repo).out("rev-parse", "main")
    subjects = [CrossSubject.from_diff(k, diff_stat(repo, base, h)) for k, h in heads.items()]
    matrix = cross_test(repo, subjects, PYTEST, timeout=120, env=NO_PLUGINS, jobs=2)
    return repo, subjects, matrix


class TestTestFiles:
    """Which files of a diff are an attempt's tests."""

    def test_added_modified_renamed_not_deleted(self) -> None:
        """Added, modified and renamed test files count, sorted; deleted ones and code do not."""
        diff = DiffStat("b", "h", (
            FileChange("tests/test_z.py", "added"), FileChange("tests/test_a.py", "modified"),
            FileChange("tests/test_new.py", "renamed", old_path="tests/test_old.py"),
            FileChange("tests/test_gone.py", "deleted"), FileChange("calc/core.py", "modified"),
            FileChange("pkg/thing_test.py", "added"), FileChange("tests/data.json", "added"),
        ))  # fmt: skip
        assert cross.test_files_of(diff) == ("pkg/thing_test.py", "tests/test_a.py",
                                             "tests/test_new.py", "tests/test_z.py")  # fmt: skip

    def test_subject_from_diff(self) -> None:
        """A subject takes the diff's head as its commit."""
        diff = DiffStat("b", "h1", (FileChange("test_x.py", "added"),))
        assert CrossSubject.from_diff("claude", diff) == CrossSubject("claude", "h1", ("test_x.py",))


class TestMatrix:
    """Two correct attempts, a wrong one and one without tests, cross-tested for real."""

    def test_cells(self, three: tuple[Path, list[CrossSubject], CrossMatrix]) -> None:
        """Every author's tests ran on every attempt, its own included; outcomes per test id."""
        _, _, m = three
        assert m.subjects == ("good1", "good2", "bad", "none")
        assert m.authors == ("good1", "good2", "bad")
        assert len(m.cells) == 12
        one = "tests/test_double_one.py::"
        assert m.cells[("good1", "good1")] == {one + "test_positive": "passed",
                                               one + "test_negative": "passed"}  # fmt: skip
        assert m.cells[("good1", "bad")] == {one + "test_positive": "passed",
                                             one + "test_negative": "failed"}  # fmt: skip
        assert m.cells[("good2", "bad")] == {"tests/test_double_two.py::test_five": "failed"}
        assert all(m.cells[("bad", r)] == {"tests/test_double_bad.py::test_two": "passed"}
                   for r in m.subjects)  # fmt: skip
        assert m.cells[("good2", "none")] == {"tests/test_double_two.py::test_five": "passed"}
        assert m.authored_by("good1") == (one + "test_negative", one + "test_positive")
        assert m.authored_by("none") == ()

    def test_pass_rates_and_passes(self, three: tuple[Path, list[CrossSubject], CrossMatrix]) -> None:
        """Pass rates count the other attempts' tests unless asked for all."""
        _, _, m = three
        assert m.pass_rate("good1") == 1.0 and m.pass_rate("none") == 1.0
        assert m.pass_rate("bad") == pytest.approx(1 / 3)
        assert m.pass_rate("bad", exclude_own=False) == pytest.approx(2 / 4)
        assert m.passes("bad") == {"good1:tests/test_double_one.py::test_positive",
                                   "bad:tests/test_double_bad.py::test_two"}  # fmt: skip

    def test_clusters(self, three: tuple[Path, list[CrossSubject], CrossMatrix]) -> None:
        """The correct attempts, with or without tests of their own, form one cluster."""
        assert behaviour_clusters(three[2]) == [("good1", "good2", "none"), ("bad",)]

    def test_notes_and_cleanup(self, three: tuple[Path, list[CrossSubject], CrossMatrix]) -> None:
        """The attempt without tests is noted; no checkout is left registered."""
        repo, _, m = three
        assert m.notes == ("none added or changed no test files: it only runs the others' tests",)
        assert len(worktrees(repo)) == 1
        assert Git(repo).out("status", "--porcelain") == ""

    def test_display(self, three: tuple[Path, list[CrossSubject], CrossMatrix]) -> None:
        """The repr, text, HTML and dict forms show the runner × author counts."""
        _, _, m = three
        assert repr(m) == "<CrossMatrix: 4 attempts, 3 authors of tests, 12 runs, 1 note>"
        html = m._repr_html_()
        assert "good1&#x27;s tests" in html and "1/2" in html and "33%" in html
        # a coloured grid: a cell is tinted by how many of the author's tests pass on the runner
        assert 'class="nborch-cross"' in html and html.count("<td") >= 12
        assert "var(--jp-success-color1" in html and "var(--jp-error-color1" in html
        assert "of 2 pass" in html
        assert "bad" in str(m) and "note: none added" in str(m)
        data = m.to_dict()
        assert data["pass_rates"]["bad"] == pytest.approx(1 / 3)
        assert {(c["author"], c["runner"]) for c in data["cells"]} == set(m.cells)
        assert "--junitxml" not in m.runs[("good1", "bad")].command
        assert m.runs[("good1", "bad")].command.endswith("tests/test_double_one.py")


class TestIsolation:
    """Authors never see each other's files or leftovers in a shared runner checkout."""

    def test_author_files_not_visible_to_next_author(self, tmp_path: Path) -> None:
        """A's added file, A's version of a shared file and A's run leftovers are gone for C."""
        repo = make_repo(tmp_path / "repo")
        a = commit(repo, "a", {
            "tests/test_from_a.py": ("import pathlib\n\ndef test_a():\n"
                                     "    pathlib.Path('left_by_a.txt').write_text('x')\n"),
            "tests/test_base.py": "def test_base():\n    assert 'changed by a'\n",
        })  # fmt: skip
        b = commit(repo, "b", {"calc/__init__.py": "def double(x):\n    return x * 2\n"})
        c = commit(repo, "c", {"tests/test_from_c.py": (
            "import pathlib\n\ndef test_alone():\n"
            "    assert not pathlib.Path('tests/test_from_a.py').exists()\n"
            "    assert not pathlib.Path('left_by_a.txt').exists()\n"
            "    assert 'changed by a' not in pathlib.Path('tests/test_base.py').read_text()\n")})  # fmt: skip
        subjects = [CrossSubject("a", a, ("tests/test_base.py", "tests/test_from_a.py")),
                    CrossSubject("b", b), CrossSubject("c", c, ("tests/test_from_c.py",))]  # fmt: skip
        m = cross_test(repo, subjects, PYTEST, timeout=120, env=NO_PLUGINS)
        alone = "tests/test_from_c.py::test_alone"
        assert m.cells[("c", "b")] == {alone: "passed"}
        assert m.cells[("c", "c")] == {alone: "passed"}
        # a's own tree really has a's test file, so there the check rightly fails
        assert m.cells[("c", "a")] == {alone: "failed"}
        assert m.cells[("a", "b")]["tests/test_base.py::test_base"] == "passed"
        assert len(worktrees(repo)) == 1


class TestLimits:
    """Runs that cannot give answers: other runners, nothing to run, hangs, interrupts, bad input."""

    def test_not_pytest(self, tmp_path: Path) -> None:
        """A command other than pytest cannot run single files: a note and no cells."""
        m = cross_test(tmp_path, [CrossSubject("a", "HEAD", ("tests/test_x.py",))], "make test")
        assert m.cells == {} and m.subjects == ("a",)
        why = "cross-testing needs pytest to run single test files; 'make test' is not pytest"
        assert m.notes == (why,)
        assert behaviour_clusters(m) == []
        assert repr(m) == "<CrossMatrix: 1 attempt, not cross-tested, 1 note>"
        assert "not pytest" in m._repr_html_()

    def test_no_tests_anywhere(self, tmp_path: Path, private_tmp: Path) -> None:
        """Without any test files nothing runs and the clusters are unknown, not "all equal"."""
        repo = make_repo(tmp_path / "repo")
        subjects = [CrossSubject("a", "main"), CrossSubject("b", "main", ("tests/conftest.py",))]
        m = cross_test(repo, subjects, PYTEST)
        assert m.cells == {} and behaviour_clusters(m) == []
        assert m.notes[1] == "b changed only test helpers (tests/conftest.py): no test module to run"
        assert list(private_tmp.iterdir()) == []

    def test_hanging_test(self, tmp_path: Path, private_tmp: Path) -> None:
        """A hanging test times out, its process tree is killed and the checkouts are removed."""
        repo = make_repo(tmp_path / "repo")
        pid_file = tmp_path / "child.pid"
        head = commit(repo, "hang", {"tests/test_hang.py": (
            "import os, subprocess, sys, time\n\ndef test_hang():\n"
            "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
            "    with open(os.environ['CHILD_PID_FILE'], 'a') as f:\n"
            "        f.write(f'{child.pid}\\n')\n"
            "    time.sleep(120)\n")})  # fmt: skip
        subjects = [CrossSubject("hang", head, ("tests/test_hang.py",))]
        m = cross_test(repo, subjects, PYTEST, timeout=6,
                       env={**NO_PLUGINS, "CHILD_PID_FILE": str(pid_file)})
        run = m.runs[("hang", "hang")]
        assert run.timed_out and m.cells[("hang", "hang")] == {}
        assert m.notes == ("hang's tests on hang timed out after 6 s",)
        assert m.pass_rate("hang", exclude_own=False) is None
        for pid in map(int, pid_file.read_text().split() if pid_file.exists() else []):
            with contextlib.suppress(psutil.NoSuchProcess):
                assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert len(worktrees(repo)) == 1 and list(private_tmp.iterdir()) == []

    # run_tests kills the interrupted run's process group but leaves reaping it to Popen.__del__
    @pytest.mark.filterwarnings("ignore:subprocess .* is still running:ResourceWarning")
    def test_interrupt_cleans_up(self, tmp_path: Path, private_tmp: Path) -> None:
        """A KeyboardInterrupt during a run stops everything and removes the checkouts."""
        repo = make_repo(tmp_path / "repo")
        head = commit(repo, "stop", {"tests/test_stop.py": (
            "import os, signal, time\n\ndef test_interrupt():\n"
            "    os.kill(int(os.environ['NBORCH_PARENT']), signal.SIGINT)\n"
            "    time.sleep(60)\n")})  # fmt: skip
        subjects = [CrossSubject("stop", head, ("tests/test_stop.py",)), CrossSubject("other", "main")]
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            pytest.skip("SIGINT does not raise KeyboardInterrupt in this process")
        with pytest.raises(KeyboardInterrupt):
            cross_test(repo, subjects, PYTEST, timeout=60,
                       env={**NO_PLUGINS, "NBORCH_PARENT": str(os.getpid())})
        gc.collect()  # reap the killed run here, under this test's warning filter
        assert len(worktrees(repo)) == 1 and list(private_tmp.iterdir()) == []

    def test_bad_input(self, tmp_path: Path) -> None:
        """Duplicate keys, unknown commits and missing test files fail before any checkout."""
        repo = make_repo(tmp_path / "repo")
        with pytest.raises(ValueError, match="unique"):
            cross_test(repo, [CrossSubject("a", "main"), CrossSubject("a", "main")], PYTEST)
        with pytest.raises(WorktreeError, match="a: no commit 'nope'"):
            cross_test(repo, [CrossSubject("a", "nope", ("tests/test_base.py",))], PYTEST)
        with pytest.raises(WorktreeError, match="has no tests/test_x.py"):
            cross_test(repo, [CrossSubject("a", "main", ("tests/test_x.py",))], PYTEST)
        assert len(worktrees(repo)) == 1


class TestClustersPure:
    """behaviour_clusters over hand-made matrices."""

    def test_import_failures_are_not_tests(self) -> None:
        """A module that fails to import is an outcome of the run, not a test the author wrote."""
        m = CrossMatrix({("a", "a"): {"t.py::test_x": "passed"},
                         ("a", "b"): {"t": "error"}}, ("a", "b"))  # fmt: skip
        assert m.authored_by("a") == ("t.py::test_x",)
        assert m.pass_rate("b") == 0.0 and m.pass_rate("a") is None
        assert behaviour_clusters(m) == [("a",), ("b",)]

    def test_empty(self) -> None:
        """No cells: no clusters, and no pass rate."""
        m = CrossMatrix({}, ("a", "b"))
        assert behaviour_clusters(m) == [] and m.pass_rate("a") is None

    def test_runner_without_runs_is_alone(self) -> None:
        """An attempt that ran none of the tests is not grouped with one that failed them all."""
        m = CrossMatrix({("a", "a"): {"t.py::test_x": "passed"},
                         ("a", "b"): {"t.py::test_x": "failed"}}, ("a", "b", "c"))  # fmt: skip
        assert behaviour_clusters(m) == [("a",), ("b",), ("c",)]

    def test_docstring_examples(self) -> None:
        """The module's docstring examples run as written."""
        assert doctest.testmod(cross).failed == 0
