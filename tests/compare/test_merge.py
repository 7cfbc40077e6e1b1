"""Merging chosen attempts into an integration branch, on real repositories with real tests."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from nborch.compare.merge import Conflict, MergeOutcome, Pick, merge_picks
from nborch.errors import WorktreeError
from nborch.gitcmd import Git

PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q tests"
INTO = "nborch/integration/run1"

APP_TEST = "from app import answer\n\n\ndef test_answer():\n    assert answer() == 42\n"


def commit(repo: Path, files: dict[str, str], message: str = "change") -> str:
    """Write files, commit them all and return the commit id."""
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git = Git(repo)
    git.run("add", "-A")
    git.run("commit", "--quiet", "--no-verify", "-m", message)
    return git.out("rev-parse", "HEAD")


def attempt(repo: Path, name: str, start: str, files: dict[str, str],
            merge: str | None = None) -> str:  # fmt: skip
    """An attempt branch from ``start`` (optionally merging a dependency first); back on main."""
    git = Git(repo)
    git.run("checkout", "--quiet", "-b", name, start)
    if merge:
        git.run("merge", "--quiet", "--no-ff", "--no-edit", merge)
    sha = commit(repo, files, f"work on {name}")
    git.run("checkout", "--quiet", "main")
    return sha


def head(repo: Path, rev: str = "HEAD") -> str | None:
    res = Git(repo).run("rev-parse", "--verify", "--quiet", rev, check=False)
    return res.stdout.strip() or None


def status(repo: Path) -> str:
    return Git(repo).out("status", "--porcelain", "--untracked-files=all")


@pytest.fixture(autouse=True)
def _lean_inner_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny suite needs no plugins; loading this venv's (nbmake …) costs seconds per run."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """``main`` with a tiny pytest suite; attempts 1, 1b, 2, 3 (depends on 1) and a conflicting 4."""
    commit(git_repo, {"tests/test_app.py": APP_TEST}, "base")
    base = head(git_repo)
    assert base
    attempt(git_repo, "a1", base, {"one.py": "ONE = 1\n", "tests/test_one.py":
                                   "from one import ONE\n\n\ndef test_one():\n    assert ONE == 1\n"})  # fmt: skip
    attempt(git_repo, "a1b", base, {"one.py": "ONE = 1  # b\n", "tests/test_one_more.py":
                                    "def test_more():\n    assert 1 + 1 == 2\n"})  # fmt: skip
    attempt(git_repo, "a2", base, {"two.py": "TWO = 2\n"})
    attempt(git_repo, "a3", base, {"three.py": "from one import ONE\n\nTHREE = ONE + 2\n"},
            merge="a1")  # fmt: skip
    attempt(git_repo, "a4", base, {"one.py": "ONE = 'one'\n"})
    return git_repo


def picks(*names: str) -> list[Pick]:
    return [Pick(task=n[1:], agent="claude", commit=n) for n in names]


class TestCleanMerge:
    """Every pick merges: the branch is created and tested, the user's checkout stays as it was."""

    def test_three_tasks_in_order(self, repo: Path) -> None:
        """Three picks give three merge commits on a new branch; tests pass; main is untouched."""
        (repo / "scratch.txt").write_text("untracked, mine\n")
        before = (head(repo), status(repo), (repo / "app.py").stat().st_mtime_ns)
        out = merge_picks(repo, "main", picks("a1", "a2", "a3"), into=INTO, test_command=PYTEST)
        assert out.ok and out.updated and out.conflicts == ()
        assert [p.task for p in out.merged] == ["1", "2", "3"]
        assert head(repo, INTO) == out.commit
        git = Git(repo)
        merges = git.out("rev-list", "--merges", "--first-parent", f"main..{INTO}").split()
        assert len(merges) == 3
        assert git.out("log", "-1", "--format=%s", INTO) == "nborch: merge task 3 (claude)"
        assert out.tests is not None and out.tests.ok
        assert out.tests.outcomes["tests/test_one.py::test_one"] == "passed"
        assert (head(repo), status(repo), (repo / "app.py").stat().st_mtime_ns) == before
        assert not (repo / "one.py").exists()
        assert len(git.out("worktree", "list", "--porcelain").split("worktree ")) == 2  # main only

    def test_contained_pick_is_skipped(self, repo: Path) -> None:
        """A pick already contained in the result (a dependency of an earlier pick) is skipped."""
        out = merge_picks(repo, "main", picks("a3", "a1"), into=INTO)
        assert [p.task for p in out.merged] == ["3"]
        assert [(p.task, why.startswith("already contained")) for p, why in out.skipped] == [("1", True)]
        assert out.ok and out.tests is None
        assert any("no test command" in n for n in out.notes)

    def test_extra_tests_land(self, repo: Path) -> None:
        """"Take A with B's tests": B's test file is in the result, B's other changes are not."""
        pick = Pick("1", "claude", "a1", extra_tests=(("a1b", ("tests/test_one_more.py",)),))
        out = merge_picks(repo, "main", [pick], into=INTO, test_command=PYTEST)
        git = Git(repo)
        assert git.out("show", f"{INTO}:tests/test_one_more.py").startswith("def test_more")
        assert git.out("show", f"{INTO}:one.py") == "ONE = 1"
        assert out.tests is not None and "tests/test_one_more.py::test_more" in out.tests.outcomes
        assert out.merged[0].extra_tests[0][0] == head(repo, "a1b")

    def test_missing_extra_test_file(self, repo: Path) -> None:
        """A test path that is not in the other attempt's commit is an error naming it."""
        pick = Pick("1", "claude", "a1", extra_tests=(("a2", ("tests/nope.py",)),))
        with pytest.raises(WorktreeError, match="tests/nope.py not found"):
            merge_picks(repo, "main", [pick], into=INTO)
        assert head(repo, INTO) is None

    def test_no_identity_configured(self, repo: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        """Without any user identity the merge commits are made by nborch's fallback identity."""
        git = Git(repo)
        git.run("config", "--unset", "user.name")
        git.run("config", "--unset", "user.email")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
        monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                    "GIT_COMMITTER_EMAIL", "EMAIL"):  # fmt: skip
            monkeypatch.delenv(var, raising=False)
        out = merge_picks(repo, "main", picks("a1", "a2"), into=INTO)
        assert out.ok and out.updated
        assert git.out("log", "-1", "--format=%an <%ae>", INTO) == "nborch <nborch@localhost>"


class TestConflicts:
    """Picks that conflict across tasks are reported with files and tasks; nothing is written."""

    def test_conflict_names_tasks_and_file(self, repo: Path) -> None:
        """Task 4 conflicts with task 1 on one.py: reported, no branch created, main untouched."""
        before = (head(repo), status(repo))
        out = merge_picks(repo, "main", picks("a1", "a2", "a4"), into=INTO, test_command=PYTEST)
        assert out.conflicts == (Conflict("4", "claude", ("one.py",), ("1",)),)
        assert out.commit is None and not out.updated and not out.ok and out.tests is None
        assert head(repo, INTO) is None
        assert (head(repo), status(repo)) == before
        assert "one.py conflicts with task 1" in str(out)


class TestTarget:
    """Which branch moves, and when nborch refuses."""

    def test_existing_integration_branch_needs_force(self, repo: Path) -> None:
        """An existing integration branch is kept without force and rebuilt from base with it."""
        first = merge_picks(repo, "main", picks("a1"), into=INTO)
        with pytest.raises(WorktreeError, match="force=True"):
            merge_picks(repo, "main", picks("a2"), into=INTO)
        assert head(repo, INTO) == first.commit
        second = merge_picks(repo, "main", picks("a2"), into=INTO, force=True)
        assert second.updated and head(repo, INTO) == second.commit
        assert not Git(repo).ok("merge-base", "--is-ancestor", "a1", INTO)  # replaced, not added
        assert any("replaces" in n for n in second.notes)

    def test_current_branch_dirty_refused(self, repo: Path) -> None:
        """Into the checked-out branch with a tracked change: refused, nothing changed."""
        (repo / "app.py").write_text("def answer():\n    return 43\n")
        before = (head(repo), status(repo))
        with pytest.raises(WorktreeError, match="uncommitted changes .*app.py"):
            merge_picks(repo, "main", picks("a1"), into="main")
        assert (head(repo), status(repo)) == before
        assert (repo / "app.py").read_text().endswith("43\n")

    def test_current_branch_clean_fast_forwarded(self, repo: Path) -> None:
        """Into the checked-out, clean branch: fast-forwarded and its files updated."""
        out = merge_picks(repo, "main", picks("a1", "a2"), into="main")
        assert out.updated and head(repo) == out.commit == head(repo, "main")
        assert (repo / "one.py").read_text() == "ONE = 1\n"
        assert status(repo) == ""
        assert Git(repo).out("symbolic-ref", "HEAD") == "refs/heads/main"

    def test_branch_moved_since_base(self, repo: Path) -> None:
        """An existing branch that moved since base gets the picks on its head (nothing lost)."""
        git = Git(repo)
        base = head(repo)
        git.run("branch", "release", "main")
        git.run("checkout", "--quiet", "release")
        extra = commit(repo, {"CHANGES.md": "release notes\n"})
        git.run("checkout", "--quiet", "main")
        assert base
        out = merge_picks(repo, base, picks("a1"), into="release")
        assert out.onto == extra and head(repo, "release") == out.commit
        assert git.ok("merge-base", "--is-ancestor", extra, "release")
        assert head(repo) == base

    def test_bad_branch_name(self, repo: Path) -> None:
        """A name git refuses is reported before anything is done."""
        with pytest.raises(WorktreeError, match="branch name"):
            merge_picks(repo, "main", picks("a1"), into="nborch/integration/a..b")

    def test_unknown_commit(self, repo: Path) -> None:
        """A pick that is not a commit names the task and agent."""
        with pytest.raises(WorktreeError, match=r"task 9 \(claude\): 'a9' is not a commit"):
            merge_picks(repo, "main", picks("a9"), into=INTO)


class TestFailingTests:
    """The branch is created even when the result's tests fail, and the outcome says so."""

    def test_failing_suite(self, repo: Path) -> None:
        """A pick that breaks a test: branch created, ok False, failure reported."""
        attempt(repo, "a5", "main", {"app.py": "def answer():\n    return 41\n"})
        out = merge_picks(repo, "main", picks("a1", "a5"), into=INTO, test_command=PYTEST)
        assert out.updated and head(repo, INTO) == out.commit
        assert out.tests is not None and not out.tests.ok and not out.ok
        assert out.tests.outcomes["tests/test_app.py::test_answer"] == "failed"
        assert "tests FAILED" in repr(out) and "although its tests fail" in str(out)


    def test_no_tests_found_is_not_a_failure(self, repo: Path) -> None:
        """pytest's exit 5 (nothing collected) means untested, not failed: ok, and a note."""
        out = merge_picks(repo, "main", picks("a1"), into=INTO,
                          test_command=f"{PYTEST} -k no_test_has_this_name")  # fmt: skip
        assert out.tests is not None and out.tests.return_code == 5
        assert out.ok
        assert any("found no tests" in n for n in out.notes)

    def test_env_reaches_the_tests(self, repo: Path) -> None:
        """Variables given to merge_picks are set for the test run on the result."""
        attempt(repo, "a6", "main", {"tests/test_env.py": "import os\n\n\ndef test_env():\n"
                                     "    assert os.environ['NBORCH_PROBE'] == 'yes'\n"})  # fmt: skip
        out = merge_picks(repo, "main", picks("a6"), into=INTO, test_command=PYTEST,
                          env={"NBORCH_PROBE": "yes"})  # fmt: skip
        assert out.ok, out
        assert out.tests is not None
        assert out.tests.outcomes["tests/test_env.py::test_env"] == "passed"


class TestDisplay:
    """The outcome reads as text, HTML and JSON."""

    def test_text_html_json(self, repo: Path) -> None:
        """repr, str, _repr_html_ and to_dict show the same merge; HTML is escaped."""
        out = merge_picks(repo, "main", [Pick("<1>", "claude", "a1"), *picks("a1")], into=INTO)
        assert repr(out).startswith(f"<MergeOutcome {INTO} @ {out.commit[:12]}: 1 merged, 1 skipped")
        assert "skipped" in str(out) and "<1>" in str(out)
        page = out._repr_html_()
        assert "&lt;1&gt;" in page and "<1>" not in page
        data = json.loads(json.dumps(out.to_dict()))
        assert data["ok"] is True and data["merged"][0]["task"] == "<1>"
        assert data["skipped"][0]["reason"].startswith("already contained")

    def test_conflict_repr(self) -> None:
        """An outcome with a conflict says nothing was written."""
        out = MergeOutcome(INTO, None, conflicts=(Conflict("2", "codex", ("a.py",), ()),))
        assert repr(out) == f"<MergeOutcome {INTO}: 1 conflict, nothing written>"
        assert "the target branch's own changes" in str(out)


class TestWorktrees:
    """Branches checked out in other worktrees, files in the way, and the temporary test checkout."""

    def test_linked_worktree_fast_forwarded(self, repo: Path, tmp_path: Path) -> None:
        """A branch checked out in a linked worktree is fast-forwarded there, files included."""
        Git(repo).run("branch", "feature", "main")
        linked = tmp_path / "linked"
        Git(repo).run("worktree", "add", "--quiet", str(linked), "feature")
        out = merge_picks(repo, "main", picks("a2"), into="feature")
        assert out.updated and head(linked) == out.commit
        assert (linked / "two.py").read_text() == "TWO = 2\n"
        assert not (repo / "two.py").exists()

    def test_forced_integration_checkout_replaced(self, repo: Path, tmp_path: Path) -> None:
        """A forced rebuild of an integration branch checked out (clean) somewhere resets it there."""
        merge_picks(repo, "main", picks("a1"), into=INTO)
        linked = tmp_path / "integration"
        Git(repo).run("worktree", "add", "--quiet", str(linked), INTO)
        out = merge_picks(repo, "main", picks("a2"), into=INTO, force=True)
        assert head(linked) == out.commit
        assert (linked / "two.py").exists() and not (linked / "one.py").exists()

    def test_untracked_file_in_the_way(self, repo: Path) -> None:
        """An untracked file the fast-forward would overwrite stops it; nothing moves or is lost."""
        (repo / "one.py").write_text("mine\n")
        before = head(repo)
        with pytest.raises(WorktreeError, match="untracked"):
            merge_picks(repo, "main", picks("a1"), into="main")
        assert head(repo) == before and (repo / "one.py").read_text() == "mine\n"

    def test_missing_test_program(self, repo: Path) -> None:
        """A test command that cannot start is a failed run; the temporary worktree is gone."""
        out = merge_picks(repo, "main", picks("a1"), into=INTO,
                          test_command="no-such-program-for-nborch --run")  # fmt: skip
        assert out.tests is not None and not out.ok
        assert "could not start" in out.tests.tail
        assert Git(repo).out("worktree", "list", "--porcelain").count("worktree ") == 1
