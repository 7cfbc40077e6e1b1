"""`--per-task auto` on the command line: history read from the repository, bad values refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nborch.store import AttemptRecord, RunRecord, Store

PLAN = "# P\n## Task 1: Fix crash when the config file is empty\n"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def nborch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "nborch", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)  # fmt: skip


def record_bugfix_runs(repo: Path) -> None:
    """Four runs of a bugfix task in ``repo``'s store: codex started first and passed once,
    claude passed every time."""
    with Store.open(repo) as store:
        for n in range(4):
            run = f"r{n}"
            store.add_run(RunRecord(id=run, created_at=T0, repo=str(repo), base_ref="main",
                                    base_commit="a" * 40, root="/wt"))  # fmt: skip
            outcomes = [("codex", n == 3), ("claude", True)]  # codex starts first
            store.add_attempts([AttemptRecord(
                run_id=run, task_id="1", task_slug="1", agent=agent, path="/wt/x",
                branch=f"nborch/{run}/1/{agent}", attempt_dir="/git/x",
                status="completed" if passed else "failed", task_type="bugfix",
                return_code=0 if passed else 1,
                started_at=T0 + timedelta(days=n, seconds=k))
                for k, (agent, passed) in enumerate(outcomes)])  # fmt: skip


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.md"
    path.write_text(PLAN)
    return path


class TestAutoPerTask:
    def test_assign_auto_reads_the_repository(self, git_repo: Path, plan_file: Path) -> None:
        """`nborch assign --per-task auto -r REPO --json` decides from REPO's recorded runs."""
        record_bugfix_runs(git_repo)
        result = nborch("assign", str(plan_file), "-r", str(git_repo), "--agents",
                        "codex,claude,gemini", "--per-task", "auto", "--json")  # fmt: skip
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["per_task"] == "auto"
        first = doc["assignments"][0]
        assert first["agents"] == ["claude", "gemini", "codex"]
        why = first["justification"]
        assert "from 8 recorded bugfix attempts in 4 runs: claude passed 4 of 4" in why

    def test_auto_without_history_uses_profiles(self, git_repo: Path, plan_file: Path) -> None:
        """With nothing recorded, auto assigns one agent by profile and says so."""
        result = nborch("assign", str(plan_file), "--agents", "codex,claude", "--per-task", "auto",
                        "--json", cwd=git_repo)  # fmt: skip
        assert result.returncode == 0, result.stderr
        first = json.loads(result.stdout)["assignments"][0]
        assert len(first["agents"]) == 1
        assert "no recorded history for bugfix tasks: chosen by profile" in first["justification"]
        assert not (git_repo / ".git" / "nborch").exists()  # reading made no store

    @pytest.mark.parametrize("bad", ["zero", "0", "-2", "1.5", "²"])
    def test_bad_per_task_is_a_usage_error(self, plan_file: Path, bad: str) -> None:
        """Anything but a whole number >= 1 or 'auto' exits 2 with a message saying what to give."""
        result = nborch("assign", str(plan_file), "--per-task", bad)
        assert result.returncode == 2
        assert "whole number of attempts per task (1 or more), or 'auto'" in result.stderr
        assert "Traceback" not in result.stderr

    def test_number_still_works(self, plan_file: Path) -> None:
        """`--per-task 2` is unchanged: two agents per task."""
        result = nborch("assign", str(plan_file), "--agents", "codex,claude", "--per-task", "2",
                        "--json")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["assignments"][0]["agents"] == ["codex", "claude"]
