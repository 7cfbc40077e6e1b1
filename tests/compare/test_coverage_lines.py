"""Tests for nborch.compare.coverage_lines and the coverage side of nborch.compare.tests.run_tests."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from nborch.compare import coverage_lines as cl
from nborch.compare import tests as ct

PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q"
_GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

BASE_CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
# The attempt changes both functions. Executable changed statements: 7, 8 in add (tested) and
# 13 (spanning 13-14) and 15 in sub (untested); docstrings, the comment and blank lines are not.
HEAD_CALC = '''def add(a, b):
    """Add two numbers.

    Works for ints.
    """
    # both operands are numbers
    total = a + b
    return total


def sub(a, b):
    """Subtract."""
    diff = (a -
            b)
    return diff
'''
TEST_CALC = "from pkg.calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=_GIT_ENV, check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def _commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "--no-verify", "-m", message)
    return _git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def attempt(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose HEAD is an attempt on top of a base commit; returns (repo, base sha)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "--quiet", "-b", "main"], ["config", "user.name", "Test User"],
                 ["config", "user.email", "test@example.invalid"],
                 ["config", "commit.gpgsign", "false"]):  # fmt: skip
        _git(repo, *args)
    base = _commit(repo, {"pkg/__init__.py": "", "pkg/calc.py": BASE_CALC,
                          "tests/test_calc.py": TEST_CALC, "README.md": "# calc\n"}, "base")  # fmt: skip
    _commit(repo, {"pkg/calc.py": HEAD_CALC, "README.md": "# calc\n\nAdds and subtracts.\n",
                   "tests/test_calc.py": TEST_CALC + "\n\ndef test_add_zero():\n"
                   "    assert add(0, 0) == 0\n"}, "attempt")  # fmt: skip
    return repo, base


@pytest.fixture(autouse=True)
def _fast_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pytest runs under test load no entry-point plugins (nbmake alone costs ~1 s each)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def _no_pycache(root: Path) -> list[Path]:
    return [p for p in root.rglob("__pycache__") if ".git" not in p.parts]


class TestParseZeroContextDiff:
    """Reading new-side line numbers from hand-written ``git diff -U0`` output."""

    def test_modified_file_with_deletion_only_hunk(self) -> None:
        """Changed and added lines count; a hunk with 0 new lines and a 1-line hunk are read."""
        diff = ("diff --git a/m.py b/m.py\nindex 1..2 100644\n--- a/m.py\n+++ b/m.py\n"
                "@@ -2 +2 @@ def f():\n-    return 1\n+    return 2\n"
                "@@ -5,2 +4,0 @@\n-gone = 1\n-gone = 2\n"
                "@@ -9,0 +8,2 @@\n+new = 1\n+new = 2\n")  # fmt: skip
        assert cl.parse_zero_context_diff(diff) == {"m.py": frozenset({2, 8, 9})}

    def test_added_and_deleted_files(self) -> None:
        """An added file counts every line; a deleted file adds nothing."""
        diff = ("diff --git a/new.py b/new.py\nnew file mode 100644\nindex 0..1\n--- /dev/null\n"
                "+++ b/new.py\n@@ -0,0 +1,3 @@\n+a = 1\n+b = 2\n+c = 3\n"
                "diff --git a/old.py b/old.py\ndeleted file mode 100644\nindex 1..0\n"
                "--- a/old.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x = 1\n-y = 2\n")  # fmt: skip
        assert cl.parse_zero_context_diff(diff) == {"new.py": frozenset({1, 2, 3})}

    def test_rename_maps_to_new_path(self) -> None:
        """A renamed file is keyed by its new path and counts only edited lines; a pure rename
        counts nothing."""
        diff = ("diff --git a/pkg/old.py b/pkg/new.py\nsimilarity index 90%\nrename from pkg/old.py\n"
                "rename to pkg/new.py\nindex 1..2 100644\n--- a/pkg/old.py\n+++ b/pkg/new.py\n"
                "@@ -3 +3 @@\n-x = 1\n+x = 2\n"
                "diff --git a/a.py b/b.py\nsimilarity index 100%\nrename from a.py\nrename to b.py\n")  # fmt: skip
        assert cl.parse_zero_context_diff(diff) == {"pkg/new.py": frozenset({3})}

    def test_no_newline_at_end_of_file(self) -> None:
        """``\\ No newline at end of file`` markers are skipped on both sides."""
        diff = ("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -4 +4,2 @@\n-last = 1\n"
                "\\ No newline at end of file\n+last = 2\n+more = 3\n"
                "\\ No newline at end of file\n")  # fmt: skip
        assert cl.parse_zero_context_diff(diff) == {"m.py": frozenset({4, 5})}

    def test_content_that_looks_like_headers(self) -> None:
        """Added lines starting with ``++``, ``@@`` or ``diff`` stay content: hunk counts decide."""
        diff = ("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,0 +1,3 @@\n"
                "+++ b/evil.py\n+@@ -1 +1 @@\n+diff --git a/x b/x\n")  # fmt: skip
        assert cl.parse_zero_context_diff(diff) == {"m.py": frozenset({1, 2, 3})}

    def test_context_lines_advance_the_new_side(self) -> None:
        """With context (plain ``git diff``) only ``+`` lines count."""
        diff = ("--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,4 @@\n a = 1\n-b = 2\n+b = 3\n+c = 4\n d = 5\n")
        assert cl.parse_zero_context_diff(diff) == {"m.py": frozenset({2, 3})}

    def test_quoted_paths_binary_and_mode_changes(self) -> None:
        """C-quoted and space-containing names are decoded; binary and mode-only changes add
        nothing."""
        diff = ('diff --git "a/t\\303\\251st.py" "b/t\\303\\251st.py"\n--- "a/t\\303\\251st.py"\n'
                '+++ "b/t\\303\\251st.py"\n@@ -1 +1 @@\n-a\n+b\n'
                "diff --git a/my file.py b/my file.py\n--- a/my file.py\t\n+++ b/my file.py\t\n"
                "@@ -0,0 +1 @@\n+x = 1\n"
                "diff --git a/img.png b/img.png\nBinary files a/img.png and b/img.png differ\n"
                "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n")  # fmt: skip
        assert cl.parse_zero_context_diff(diff) == {"tést.py": frozenset({1}),
                                                    "my file.py": frozenset({1})}  # fmt: skip

    def test_empty(self) -> None:
        """No diff, no lines."""
        assert cl.parse_zero_context_diff("") == {}


class TestChangedLines:
    """The git edge: Python files only, test files left out, renames followed."""

    def test_attempt(self, attempt: tuple[Path, str]) -> None:
        """Only pkg/calc.py's added or changed lines remain (README and the test file are out)."""
        repo, base = attempt
        assert cl.changed_lines(repo, base, "HEAD") == {
            "pkg/calc.py": frozenset({2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15})}

    def test_rename_with_edit_and_paths_filter(self, attempt: tuple[Path, str]) -> None:
        """A renamed module counts its edited line under the new path; ``paths`` filters."""
        repo, _ = attempt
        before = _git(repo, "rev-parse", "HEAD").strip()
        body = "".join(f"value_{n} = {n}\n" for n in range(20))
        _commit(repo, {"pkg/consts.py": body}, "consts")
        mid = _git(repo, "rev-parse", "HEAD").strip()
        _commit(repo, {"pkg/consts.py": None,
                       "pkg/values.py": body.replace("value_5 = 5", "value_5 = 50")}, "rename")  # fmt: skip
        assert cl.changed_lines(repo, mid, "HEAD") == {"pkg/values.py": frozenset({6})}
        assert cl.changed_lines(repo, before, "HEAD", paths=["pkg/values.py"]) == {
            "pkg/values.py": frozenset(range(1, 21))}
        assert cl.changed_lines(repo, mid, "HEAD", paths=["pkg/calc.py"]) == {}

    def test_bad_revision_names_it(self, attempt: tuple[Path, str]) -> None:
        """An unknown revision is a WorktreeError naming it."""
        from nborch.errors import WorktreeError

        repo, base = attempt
        with pytest.raises(WorktreeError, match="no-such-branch"):
            cl.changed_lines(repo, base, "no-such-branch")


class TestRunUnderCoverage:
    """run_tests with coverage_file: real pytest under real coverage.py in a real repository."""

    def test_half_the_changed_statements_are_covered(self, attempt: tuple[Path, str],
                                                     tmp_path: Path) -> None:  # fmt: skip
        """The tested function's changed statements are covered, the untested one's missing."""
        repo, base = attempt
        changed = cl.changed_lines(repo, base, "HEAD")
        data = tmp_path / "cov" / "data"
        run = ct.run_tests(repo, PYTEST, timeout=120, coverage_include=sorted(changed),
                           coverage_file=data)  # fmt: skip
        assert run.ok and run.notes == () and run.coverage_file == str(data)
        assert run.outcomes == {"tests/test_calc.py::test_add": "passed",
                                "tests/test_calc.py::test_add_zero": "passed"}  # fmt: skip
        result = cl.line_coverage(data, repo, changed)
        assert (result.covered, result.total, result.fraction) == (2, 4, 0.5)
        assert result.per_file == {"pkg/calc.py": (2, 4, (13, 15))}
        assert result.notes == ()

    def test_worktree_stays_clean(self, attempt: tuple[Path, str], tmp_path: Path) -> None:
        """No __pycache__, .pytest_cache or coverage file is left; git status is empty."""
        repo, base = attempt
        changed = cl.changed_lines(repo, base, "HEAD")
        run = ct.run_tests(repo, PYTEST, timeout=120, coverage_include=sorted(changed),
                           coverage_file=tmp_path / "data")  # fmt: skip
        plain = ct.run_tests(repo, PYTEST, timeout=120)
        assert run.ok and plain.ok
        assert _no_pycache(repo) == [] and not (repo / ".pytest_cache").exists()
        assert _git(repo, "status", "--porcelain", "--ignored") == ""

    def test_bare_pytest_uses_its_own_interpreter(self, attempt: tuple[Path, str],
                                                  tmp_path: Path) -> None:  # fmt: skip
        """``pytest -q`` (found on the default PATH, nborch's Python first) is measured too."""
        repo, base = attempt
        changed = cl.changed_lines(repo, base, "HEAD")
        run = ct.run_tests(repo, "pytest -q", timeout=120, coverage_include=sorted(changed),
                           coverage_file=tmp_path / "data")  # fmt: skip
        assert run.ok and run.notes == () and run.coverage_file is not None
        assert cl.line_coverage(run.coverage_file, repo, changed).fraction == 0.5

    def test_unimported_changed_file_is_all_missing(self, attempt: tuple[Path, str],
                                                    tmp_path: Path) -> None:  # fmt: skip
        """A changed module no test imports counts all its executable changed lines as missing."""
        repo, base = attempt
        _commit(repo, {"pkg/extra.py": "# helper\n\ndef mul(a, b):\n    return a * b\n"}, "extra")
        changed = cl.changed_lines(repo, base, "HEAD")
        ct.run_tests(repo, PYTEST, timeout=120, coverage_include=sorted(changed),
                     coverage_file=tmp_path / "data")  # fmt: skip
        result = cl.line_coverage(tmp_path / "data", repo, changed)
        assert result.per_file["pkg/extra.py"] == (0, 2, (3, 4))
        assert (result.covered, result.total) == (2, 6)

    def test_explicit_env_is_used_and_bytecode_still_off(self, tmp_path: Path) -> None:
        """A given env reaches the tests, with PYTHONDONTWRITEBYTECODE=1 added."""
        proj = tmp_path / "proj"
        proj.mkdir()
        (proj / "test_env.py").write_text(
            "import os\n\ndef test_env():\n    assert os.environ['NBORCH_MARK'] == 'yes'\n"
            "    assert os.environ['PYTHONDONTWRITEBYTECODE'] == '1'\n")  # fmt: skip
        env = {**os.environ, "NBORCH_MARK": "yes"}  # os.environ as patched by _fast_pytest
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        assert ct.run_tests(proj, PYTEST, timeout=120, env=env).ok
        assert not ct.run_tests(proj, PYTEST, timeout=120).ok  # the default env has no mark

    def test_measuring_core(self, tmp_path: Path) -> None:
        """sys.monitoring is chosen on Python 3.12+ (settrace before); a caller's choice is kept."""
        proj = tmp_path / "proj"
        proj.mkdir()
        (proj / "test_core.py").write_text(
            "import os, sys\n\ndef test_core():\n"
            "    expected = os.environ.get('EXPECTED_CORE') or None\n"
            "    assert os.environ.get('COVERAGE_CORE') == expected\n")  # fmt: skip
        auto = "sysmon" if sys.version_info >= (3, 12) else ""
        env = {**os.environ, "EXPECTED_CORE": auto}
        env.pop("COVERAGE_CORE", None)
        assert ct.run_tests(proj, PYTEST, timeout=120, env=env, coverage_file=tmp_path / "d").ok
        env.update(COVERAGE_CORE="ctrace", EXPECTED_CORE="ctrace")
        assert ct.run_tests(proj, PYTEST, timeout=120, env=env, coverage_file=tmp_path / "d").ok

    def test_timeout_leaves_no_data_and_says_so(self, tmp_path: Path) -> None:
        """A run killed at its timeout writes no coverage data; an old data file is removed."""
        proj = tmp_path / "proj"
        proj.mkdir()
        (proj / "test_hang.py").write_text("import time\n\ndef test_hang():\n    time.sleep(60)\n")
        data = tmp_path / "data"
        data.write_text("stale")
        run = ct.run_tests(proj, PYTEST, timeout=2, coverage_file=data)
        assert run.timed_out and run.coverage_file is None and not data.exists()
        assert any("not written" in n for n in run.notes)
        assert cl.line_coverage(data, proj, {"x.py": [1]}).fraction is None


class TestRunWithoutCoverage:
    """When coverage cannot be measured the tests still run, and a note says why."""

    def test_non_pytest_command(self, tmp_path: Path) -> None:
        """An exit-code runner is not measured."""
        run = ct.run_tests(tmp_path, "sh -c 'exit 0'", timeout=30,
                           coverage_file=tmp_path / "data")  # fmt: skip
        assert run.ok and run.coverage_file is None and not (tmp_path / "data").exists()
        assert run.notes == ("coverage not measured: the test command does not run pytest",)

    def test_command_that_cannot_be_wrapped(self, tmp_path: Path) -> None:
        """``env python -m pytest`` runs pytest, but not under coverage."""
        (tmp_path / "test_ok.py").write_text("def test_ok():\n    pass\n")
        run = ct.run_tests(tmp_path, "env python -m pytest -q", timeout=120,
                           coverage_file=tmp_path / "data")  # fmt: skip
        assert run.ok and run.outcomes == {"test_ok.py::test_ok": "passed"}
        assert run.coverage_file is None and "cannot run" in run.notes[0]

    def test_python_without_coverage(self, tmp_path: Path) -> None:
        """When the tests' Python cannot import coverage, the run is plain and the note says so."""
        shadow = tmp_path / "shadow" / "coverage"
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text("raise ImportError('coverage hidden for this test')\n")
        proj = tmp_path / "proj"
        proj.mkdir()
        (proj / "test_ok.py").write_text("def test_ok():\n    pass\n")
        env = {**os.environ, "PYTHONPATH": str(tmp_path / "shadow")}
        run = ct.run_tests(proj, PYTEST, timeout=120, env=env, coverage_file=tmp_path / "data")
        assert run.ok and run.coverage_file is None
        assert len(run.notes) == 1 and "coverage hidden for this test" in run.notes[0]
        assert "install coverage" in run.notes[0]

    def test_include_without_file_is_misuse(self, tmp_path: Path) -> None:
        """coverage_include alone has nowhere to put the data."""
        with pytest.raises(ValueError, match="coverage_file"):
            ct.run_tests(tmp_path, PYTEST, coverage_include=["a.py"])


class TestRecords:
    """TestRun's new fields round-trip; LineCoverage shows itself."""

    def test_test_run_round_trip(self, tmp_path: Path) -> None:
        """notes and coverage_file survive to_dict → JSON → from_dict and the base cache."""
        run = ct.TestRun("pytest", 0, 0.5, False, {"t::a": "passed"}, notes=("n1", "n2"),
                         coverage_file="/tmp/x")  # fmt: skip
        assert ct.TestRun.from_dict(json.loads(json.dumps(run.to_dict()))) == run
        cache = ct.BaseCache(tmp_path)
        cache.put("c1", "pytest", run)
        assert cache.get("c1", "pytest") == run

    def test_old_dict_without_new_fields(self) -> None:
        """A cached run written before notes existed still loads."""
        old = {"command": "pytest", "return_code": 0, "duration_s": 1.0, "timed_out": False,
               "outcomes": {}, "runner": "pytest", "tail": ""}  # fmt: skip
        run = ct.TestRun.from_dict(old)
        assert run.notes == () and run.coverage_file is None

    def test_line_coverage_views(self) -> None:
        """repr, str, HTML and to_dict agree."""
        result = cl.LineCoverage(2, 4, {"pkg/calc.py": (2, 4, (13, 14, 15))}, ("a note",))
        assert repr(result) == ("<LineCoverage 50% of changed lines covered (2/4 statements, "
                                "1 file), 1 note>")  # fmt: skip
        assert "13-15" in str(result) and "a note" in str(result)
        assert "pkg/calc.py" in result._repr_html_()
        assert result.to_dict() == {"covered": 2, "total": 4, "fraction": 0.5, "notes": ["a note"],
                                    "per_file": {"pkg/calc.py": {"covered": 2, "total": 4,
                                                                 "missing": [13, 14, 15]}}}  # fmt: skip
        assert cl.LineCoverage(0, 0).fraction is None
        assert "n/a" in repr(cl.LineCoverage(0, 0))

    def test_missing_and_corrupt_data(self, tmp_path: Path) -> None:
        """No data file, or one that is not coverage data: fraction None and a note."""
        missing = cl.line_coverage(tmp_path / "nope", tmp_path, {"a.py": [1]})
        assert missing.fraction is None and "no coverage data" in missing.notes[0]
        bad = tmp_path / "bad"
        bad.write_text("not a database")
        corrupt = cl.line_coverage(bad, tmp_path, {"a.py": [1]})
        assert corrupt.fraction is None and "cannot read coverage data" in corrupt.notes[0]


class TestCoverageCore:
    """Which coverage.py core would measure a command: the comparison's default depends on it."""

    def test_core_of_this_python(self, tmp_path: Path) -> None:
        from nborch.compare.tests import coverage_core

        core, why = coverage_core("python -m pytest -q", tmp_path)
        assert why == ""
        assert core == ("sysmon" if sys.version_info >= (3, 12) else "ctrace")

    def test_not_pytest(self, tmp_path: Path) -> None:
        from nborch.compare.tests import coverage_core

        core, why = coverage_core("make test", tmp_path)
        assert core is None and "not a pytest command" in why
