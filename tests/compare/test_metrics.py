"""Quality metrics on real git repositories: complexity, maintainability and new ruff findings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nborch.compare.metrics import (
    LintFinding,
    MetricsReport,
    PyMetrics,
    find_ruff,
    lint_findings,
    metrics_for,
    new_lint_findings,
    py_metrics,
)
from nborch.gitcmd import Git

SIMPLE = "def grade(score):\n    return 'pass'\n"
BRANCHY = '''\
def grade(score):
    if score > 90:
        return "A"
    elif score > 80:
        return "B"
    elif score > 70:
        return "C"
    elif score > 60:
        return "D"
    return "F"
'''
PYPROJECT = '[tool.ruff]\nline-length = 100\n\n[tool.ruff.lint]\nselect = ["F"]\n'


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    """Write (or delete, for None) files in ``repo``, commit them and return the commit id."""
    for name, text in files.items():
        if text is None:
            (repo / name).unlink()
        else:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
    git = Git(repo)
    git.run("add", "-A")
    git.run("commit", "--quiet", "--no-verify", "-m", message)
    return git.out("rev-parse", "HEAD")


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """The shared repository with a pyproject selecting the pyflakes rules."""
    commit(git_repo, {"pyproject.toml": PYPROJECT}, "Add ruff config")
    return git_repo


class TestPyMetrics:
    def test_if_chain_raises_complexity(self):
        """Adding an if/elif chain raises the summed cyclomatic complexity."""
        m, notes = py_metrics("grade.py", SIMPLE, BRANCHY)
        assert (m.complexity_before, m.complexity_after, m.complexity_delta) == (1, 5, 4)
        assert notes == []

    def test_if_chain_lowers_maintainability(self):
        """The same change lowers the maintainability index."""
        m, _ = py_metrics("grade.py", SIMPLE, BRANCHY)
        assert m.mi_delta is not None and m.mi_delta < 0

    def test_unparseable_source_gives_none_and_a_note(self):
        """A file that does not parse gets None values and a note instead of an exception."""
        m, notes = py_metrics("bad.py", SIMPLE, "def broken(:\n")
        assert (m.complexity_after, m.mi_after, m.complexity_delta, m.mi_delta) == (
            None, None, None, None)  # fmt: skip
        assert notes and "bad.py" in notes[0] and "head" in notes[0]

    def test_absent_file_counts_as_zero_complexity(self):
        """A new file counts its full complexity as the delta and has no MI delta."""
        m, _ = py_metrics("new.py", None, BRANCHY)
        assert m.complexity_delta == 5 and m.mi_before is None and m.mi_delta is None


class TestNewLintFindings:
    def test_matched_by_counts_not_lines(self):
        """A finding that only moved is not new; an extra copy of it is."""
        old = LintFinding("a.py", "F401", 1, "`os` imported but unused")
        moved = LintFinding("a.py", "F401", 5, "`os` imported but unused")
        assert new_lint_findings([old], [moved]) == []
        assert new_lint_findings([old], [moved, moved]) == [moved]


class TestLintFindings:
    def test_reports_findings_with_relative_paths(self, repo: Path):
        """Ruff's findings come back with the path relative to the worktree, rule code and line."""
        (repo / "mod.py").write_text("import os\n")
        found = lint_findings(repo, ["mod.py", "missing.py"])
        assert [(f.path, f.code, f.line) for f in found] == [("mod.py", "F401", 1)]
        assert not (repo / ".ruff_cache").exists()

    def test_repository_config_is_respected(self, repo: Path):
        """An ``ignore = ["F401"]`` in the repository's pyproject makes the finding disappear."""
        (repo / "pyproject.toml").write_text(PYPROJECT + 'ignore = ["F401"]\n')
        (repo / "mod.py").write_text("import os\n")
        assert lint_findings(repo, ["mod.py"]) == []

    def test_no_ruff_gives_a_note(self, repo: Path, tmp_path: Path, monkeypatch):
        """Without a ruff executable the result is empty and a note says how to get ruff."""
        empty = tmp_path / "empty"
        empty.mkdir()
        monkeypatch.setattr(sys, "executable", str(empty / "python"))
        monkeypatch.setenv("PATH", str(empty))
        (repo / "mod.py").write_text("import os\n")
        assert find_ruff() is None
        notes: list[str] = []
        assert lint_findings(repo, ["mod.py"], notes=notes) == []
        assert len(notes) == 1 and "no ruff executable" in notes[0]


class TestMetricsFor:
    def test_complexity_up_mi_down_and_new_lint_only(self, repo: Path):
        """An if chain and a new unused import are measured; the existing unused import is not new."""
        base = commit(repo, {"grade.py": "import os\n\n\n" + SIMPLE}, "Simple grade")
        head = commit(repo, {"grade.py": "import os\nimport sys\n\n\n" + BRANCHY}, "Grades")
        report = metrics_for(repo, base, head, ["grade.py", "README.md"])
        assert isinstance(report, MetricsReport)
        assert [f.path for f in report.files] == ["grade.py"]
        assert report.complexity_delta == 4
        assert report.mi_delta is not None and report.mi_delta < 0
        assert [(f.code, f.line) for f in report.new_lint] == [("F401", 2)]
        assert "sys" in report.new_lint[0].message and report.notes == ()
        assert Git(repo).out("worktree", "list").count("\n") == 0  # temporary worktrees removed

    def test_unparseable_and_deleted_files(self, repo: Path):
        """An unparseable head file gives a note; a deleted file counts its complexity as removed."""
        base = commit(repo, {"a.py": BRANCHY, "b.py": SIMPLE}, "Two files")
        head = commit(repo, {"a.py": None, "b.py": "def broken(:\n"}, "Break things")
        report = metrics_for(repo, base, head, ["a.py", "b.py"])
        by_path = {f.path: f for f in report.files}
        assert by_path["a.py"].complexity_delta == -5 and by_path["b.py"].complexity_delta is None
        assert report.complexity_delta == -5 and report.mi_delta is None
        assert any("b.py" in n and "parse" in n for n in report.notes)
        assert report.new_lint and {f.path for f in report.new_lint} == {"b.py"}  # syntax errors

    def test_missing_ruff_is_a_note(self, repo: Path, tmp_path: Path):
        """A ruff that cannot be run leaves the metrics intact and says why lint is missing."""
        base = commit(repo, {"grade.py": SIMPLE}, "Simple")
        head = commit(repo, {"grade.py": BRANCHY}, "Branchy")
        report = metrics_for(repo, base, head, ["grade.py"], ruff=str(tmp_path / "no-ruff"))
        assert report.complexity_delta == 4 and report.new_lint == ()
        assert len(report.notes) == 1 and "lint not measured" in report.notes[0]

    def test_to_dict_and_repr(self):
        """The report turns into plain data and shows its state in its repr."""
        report = MetricsReport(files=(PyMetrics("a.py", 1, 3, 80.0, 70.0),), complexity_delta=2,
                               mi_delta=-10.0, notes=("n",))  # fmt: skip
        data = report.to_dict()
        assert data["files"][0]["complexity_delta"] == 2 and data["files"][0]["mi_delta"] == -10.0
        assert data["new_lint"] == [] and data["notes"] == ["n"]
        assert repr(report) == "<MetricsReport: 1 files, complexity +2, MI -10.0, 0 new lint>"
