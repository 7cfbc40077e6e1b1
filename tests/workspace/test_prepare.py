"""Preparing a run: worktrees, prompts and config files for every attempt, nothing executed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nborch
from nborch.demo import make_sample_repo, sample_plan_path
from nborch.workspace.manager import WorktreeManager
from nborch.workspace.prepare import prepare


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_sample_repo(tmp_path / "repo")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "nborch", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)  # fmt: skip


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


class TestPrepare:
    def test_every_attempt_gets_worktree_prompt_and_config(self, repo: Path, tmp_path: Path) -> None:
        """Each (task, agent) gets a worktree on its branch, a prompt outside it, and its config file."""
        plan = nborch.load_plan(sample_plan_path())
        run = prepare(repo, plan, agents=["claude", "codex"], per_task=2, root=tmp_path / "wt")
        assert len(run.attempts) == 2 * len(plan)
        for p in run.attempts:
            assert (p.attempt.path / "todo").is_dir()
            assert not p.prompt_path.is_relative_to(p.attempt.path)
            assert p.task.title in p.prompt_path.read_text()
            config = {"claude": "CLAUDE.md", "codex": "AGENTS.md"}[p.attempt.agent]
            assert config in p.attempt.managed_files
            assert (p.attempt.path / config).is_file()
        assert git(repo, "status", "--porcelain") == ""

    def test_missing_agent_is_prepared_with_a_warning(self, repo: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        """An agent that is not installed is prepared anyway; a warning names how to install it."""
        monkeypatch.setenv("PATH", "/usr/bin:/bin")
        run = prepare(repo, nborch.load_plan(sample_plan_path()), agents=["gemini"],
                      root=tmp_path / "wt")  # fmt: skip
        assert not any(p.available for p in run.attempts)
        assert any("npm install -g @google/gemini-cli" in w for w in run.warnings)

    def test_done_tasks_are_skipped_unless_asked(self, repo: Path, tmp_path: Path) -> None:
        """Tasks marked done get no attempt unless include_done=True."""
        plan = nborch.parse_plan("# P\n- [x] Done already\n- [ ] Still to do\n")
        run = prepare(repo, plan, agents=["demo"], root=tmp_path / "wt")
        assert [p.task.title for p in run.attempts] == ["Still to do"]
        again = prepare(repo, plan, agents=["demo"], root=tmp_path / "wt", include_done=True)
        assert len(again.attempts) == 2

    def test_config_files_never_reach_commits(self, repo: Path, tmp_path: Path) -> None:
        """Committing an attempt keeps the agent's edits and leaves nborch's config file out."""
        run = prepare(repo, nborch.load_plan(sample_plan_path()), agents=["claude"],
                      root=tmp_path / "wt")  # fmt: skip
        attempt = run.attempts[0].attempt
        (attempt.path / "todo" / "extra.py").write_text("X = 1\n")
        sha = WorktreeManager(repo).commit_work(attempt, "agent work")
        files = git(repo, "show", "--name-only", "--format=", sha).split()
        assert files == ["todo/extra.py"]


class TestCli:
    def test_prepare_status_cleanup_json(self, repo: Path, tmp_path: Path) -> None:
        """prepare, status and cleanup speak the documented JSON and leave no worktree behind."""
        out = cli("prepare", str(sample_plan_path()), "-r", str(repo), "--agents", "demo",
                  "--root", str(tmp_path / "wt"), "--json", cwd=tmp_path)  # fmt: skip
        assert out.returncode == 0, out.stderr
        prepared = json.loads(out.stdout)
        assert {"run_id", "attempts"} <= prepared.keys()
        assert len(prepared["attempts"]) == 8

        status = json.loads(cli("status", "-r", str(repo), "--json", cwd=tmp_path).stdout)
        row = status["worktrees"][0]
        assert {"run", "task", "agent", "branch", "path", "ahead", "dirty", "status"} <= row.keys()
        assert [r["run"] for r in status["runs"]] == [prepared["run_id"]]
        assert status["runs"][0]["status"] == "prepared"

        dry = json.loads(cli("cleanup", "-r", str(repo), "--dry-run", "--json", cwd=tmp_path).stdout)
        assert len(dry["removed"]) == 8
        assert len(git(repo, "worktree", "list").splitlines()) == 9  # dry run changed nothing

        done = json.loads(cli("cleanup", "-r", str(repo), "--json", cwd=tmp_path).stdout)
        assert set(done) == {"removed", "kept", "archived", "committed", "ignored_saved"}
        assert len(git(repo, "worktree", "list").splitlines()) == 1
        assert git(repo, "branch", "--list", "nborch/*") == ""

    def test_prepare_in_a_folder_that_is_not_a_repo_exits_2(self, tmp_path: Path) -> None:
        """A folder that is not a git repository is bad input with a one-line message."""
        out = cli("prepare", str(sample_plan_path()), "-r", str(tmp_path), "--agents", "demo",
                  cwd=tmp_path)  # fmt: skip
        assert out.returncode == 2
        assert "not a git repository" in out.stderr and "Traceback" not in out.stderr

    def test_status_of_a_repo_without_runs(self, repo: Path) -> None:
        """status in a repository nborch never touched says so and exits 0."""
        out = cli("status", cwd=repo)
        assert out.returncode == 0
        assert "no nborch runs" in out.stderr
