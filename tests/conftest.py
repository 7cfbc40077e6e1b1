"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import nborch

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _no_installed_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests see no agent folder, so a `make agents` in this checkout changes none of them
    (tests_agents/ drives the installed CLIs)."""
    monkeypatch.setenv("NBORCH_AGENT_PATH", "")


@pytest.fixture
def golden() -> Callable[[str], nborch.Plan]:
    """Load a golden plan from ``tests/data/plans`` by file name."""

    def load(name: str) -> nborch.Plan:
        return nborch.load_plan(DATA / "plans" / name)

    return load


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real git repository at ``tmp_path/repo``: branch ``main``, one commit, its own identity."""
    import os
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# Sample\n")
    (repo / "app.py").write_text("def answer():\n    return 42\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for args in (["init", "--quiet", "-b", "main"], ["config", "user.name", "Test User"],
                 ["config", "user.email", "test@example.invalid"],
                 ["config", "commit.gpgsign", "false"], ["add", "-A"],
                 ["commit", "--quiet", "--no-verify", "-m", "Initial commit"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return repo
