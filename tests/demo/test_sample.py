"""The bundled sample project, its plan, and make_sample_repo (real git, real subprocesses)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nborch.demo import PLAN_PATH, SAMPLE_DIR, make_sample_repo, sample_plan_path
from nborch.errors import WorktreeError

_CACHE_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def git(repo: Path, *args: str) -> str:
    """Run a read-only git command in ``repo`` and return its stdout."""
    result = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                            text=True)  # fmt: skip
    return result.stdout


def shipped_files() -> set[str]:
    """Every file of the sample project as shipped, relative and with forward slashes."""
    return {
        p.relative_to(SAMPLE_DIR).as_posix()
        for p in SAMPLE_DIR.rglob("*")
        if p.is_file() and not _CACHE_PARTS & set(p.relative_to(SAMPLE_DIR).parts)
        and p.suffix != ".pyc"
    }  # fmt: skip


@pytest.fixture(scope="module")
def sample_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sample repository shared by the read-only tests of this module."""
    return make_sample_repo(tmp_path_factory.mktemp("demo") / "repo")


class TestSampleFiles:
    def test_paths_point_into_the_package(self):
        """SAMPLE_DIR and PLAN_PATH are absolute paths inside nborch/demo that exist."""
        assert SAMPLE_DIR.is_absolute() and SAMPLE_DIR.is_dir()
        assert PLAN_PATH.is_absolute() and PLAN_PATH.is_file()
        assert SAMPLE_DIR.parent == PLAN_PATH.parent
        assert sample_plan_path() == PLAN_PATH

    def test_project_layout(self):
        """The sample has its package, tests, pyproject, README and .gitignore."""
        files = shipped_files()
        for name in ("pyproject.toml", "README.md", ".gitignore", "todo/__init__.py",
                     "todo/__main__.py", "todo/models.py", "todo/store.py", "todo/cli.py",
                     "tests/test_store.py"):  # fmt: skip
            assert name in files

    def test_sample_imports_only_the_standard_library(self):
        """Every import in the sample is from the standard library, the package itself or pytest."""
        allowed = set(sys.stdlib_module_names) | {"todo", "pytest", "__future__"}
        for path in SAMPLE_DIR.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                for name in names:
                    assert name.split(".")[0] in allowed, f"{path}: imports {name}"
            if "tests" not in path.relative_to(SAMPLE_DIR).parts:
                assert "pytest" not in path.read_text(encoding="utf-8"), path


class TestSamplePlan:
    def test_plan_exists(self):
        """The sample plan ships next to the sample project."""
        assert sample_plan_path().is_file()

    def test_front_matter(self):
        """The front matter names the test command and the base the demo runs from."""
        text = PLAN_PATH.read_text(encoding="utf-8")
        match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
        assert match, "plan.md should start with YAML front matter"
        settings = yaml.safe_load(match.group(1))
        assert settings["test_command"] == "python -m pytest -q"
        assert settings["base"] == "HEAD"
        assert settings["project"] == {"language": "python", "name": "todo"}

    def test_tasks_and_dependencies(self):
        """The plan has at least six tasks in two phases and every dependency names one of them."""
        text = PLAN_PATH.read_text(encoding="utf-8")
        ids = re.findall(r"^### Task (\S+): ", text, re.MULTILINE)
        assert len(ids) >= 6 and len(set(ids)) == len(ids)
        assert len(re.findall(r"^## Phase \d+: ", text, re.MULTILINE)) == 2
        deps = re.findall(r"^Depends on: (.+)$", text, re.MULTILINE)
        assert len(deps) == len(ids)
        for line in deps:
            for dep in line.split(","):
                assert dep.strip() == "none" or dep.strip() in ids

    def test_validation_test_ids_use_the_sample_layout(self):
        """Every backticked test id in the plan points into the sample's tests/ directory."""
        test_ids = re.findall(r"`([\w./-]+\.py::[\w:]+)`", PLAN_PATH.read_text(encoding="utf-8"))
        assert test_ids
        assert all(t.startswith("tests/test_") for t in test_ids)


class TestMakeSampleRepo:
    def test_one_commit_and_a_clean_tree(self, sample_repo):
        """The new repository is on main with one commit by the demo identity and nothing dirty."""
        assert git(sample_repo, "rev-list", "--count", "HEAD").strip() == "1"
        assert git(sample_repo, "branch", "--show-current").strip() == "main"
        assert git(sample_repo, "log", "-1", "--format=%an <%ae>|%s").strip() == (
            "nborch demo <demo@nborch.invalid>|Initial sample project"
        )
        assert git(sample_repo, "status", "--porcelain", "--ignored") == ""

    def test_commits_exactly_the_shipped_files(self, sample_repo):
        """Every shipped file is committed and no cache directory is."""
        assert set(git(sample_repo, "ls-files").splitlines()) == shipped_files()

    def test_identity_is_local_to_the_repository(self, sample_repo):
        """The demo author is set in the repository's own config, not anywhere global."""
        local = git(sample_repo, "config", "--local", "--list").splitlines()
        assert "user.name=nborch demo" in local
        assert "user.email=demo@nborch.invalid" in local

    def test_works_without_any_git_identity(self, tmp_path, monkeypatch):
        """A machine with no git identity and a hostile environment still gets the demo author."""
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
        monkeypatch.setenv("GIT_AUTHOR_NAME", "Someone Else")
        monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
        repo = make_sample_repo(tmp_path / "repo")
        monkeypatch.delenv("GIT_DIR")
        assert git(repo, "log", "-1", "--format=%an").strip() == "nborch demo"
        assert not (tmp_path / "elsewhere").exists()

    def test_accepts_an_empty_directory(self, tmp_path):
        """An existing empty directory is a valid destination."""
        (tmp_path / "empty").mkdir()
        repo = make_sample_repo(tmp_path / "empty")
        assert repo == (tmp_path / "empty").resolve()
        assert (repo / "todo" / "store.py").is_file()

    def test_non_empty_destination_is_refused(self, tmp_path):
        """A non-empty destination raises WorktreeError and is left exactly as it was."""
        dest = tmp_path / "busy"
        dest.mkdir()
        (dest / "mine.txt").write_text("keep me")
        with pytest.raises(WorktreeError, match="not empty"):
            make_sample_repo(dest)
        assert [p.name for p in dest.iterdir()] == ["mine.txt"]

    def test_file_destination_is_refused(self, tmp_path):
        """A destination that is a file raises WorktreeError."""
        dest = tmp_path / "file"
        dest.write_text("x")
        with pytest.raises(WorktreeError, match="is a file"):
            make_sample_repo(dest)

    def test_missing_git_is_reported(self, tmp_path, monkeypatch):
        """Without git on PATH the error says to install git, and nothing is created."""
        monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
        with pytest.raises(WorktreeError, match="install git"):
            make_sample_repo(tmp_path / "repo")
        assert not (tmp_path / "repo").exists()


class TestSampleTestSuite:
    def test_sample_suite_passes(self, tmp_path):
        """The sample's own tests pass in a fresh sample repository and leave the tree clean."""
        repo = make_sample_repo(tmp_path / "repo")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert re.search(r"\b1\d passed\b", result.stdout), result.stdout
        assert git(repo, "status", "--porcelain") == ""
