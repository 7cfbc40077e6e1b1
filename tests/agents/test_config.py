"""Script agents declared by a repository in .nborch/agents.toml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import nborch
from nborch import agents
from nborch.agents.config import load_repo_agents
from nborch.errors import AgentError


@pytest.fixture(autouse=True)
def _reset_registry():
    yield
    agents.reset()


def write_config(repo: Path, text: str) -> None:
    (repo / ".nborch").mkdir(parents=True, exist_ok=True)
    (repo / ".nborch" / "agents.toml").write_text(text, encoding="utf-8")


class TestLoadRepoAgents:
    def test_both_shapes_register(self, tmp_path: Path) -> None:
        """A plain command and a table with command and env both become script agents."""
        write_config(tmp_path, '[agents]\nmine = "python fix.py {prompt_file}"\n'
                               '[agents.bot]\ncommand = "sh run.sh {worktree}"\nenv = ["BOT_TOKEN"]\n')
        assert load_repo_agents(tmp_path) == ["mine", "bot"]
        assert agents.get("mine").render_argv(prompt_file="p") == ["python", "fix.py", "p"]
        assert agents.get("bot").env_allow == ("BOT_TOKEN",)

    def test_missing_file_registers_nothing(self, tmp_path: Path) -> None:
        """A repository without the file has no extra agents."""
        assert load_repo_agents(tmp_path) == []

    @pytest.mark.parametrize("text", ["[agents\n", "[agents]\nx = 3\n", 'agents = "no"\n',
                                      '[agents]\n"Bad Name" = "python x.py"\n'])
    def test_bad_config_names_the_file(self, tmp_path: Path, text: str) -> None:
        """A malformed file is an AgentError naming the file."""
        write_config(tmp_path, text)
        with pytest.raises(AgentError, match=r"agents\.toml"):
            load_repo_agents(tmp_path)

    def test_plan_can_name_a_repo_agent_on_the_cli(self, tmp_path: Path) -> None:
        """`nborch execute --dry-run` finds an agent declared only in the repository's config."""
        from nborch.demo import make_sample_repo

        repo = make_sample_repo(tmp_path / "repo")
        write_config(repo, '[agents]\nmine = "python fix.py {prompt_file}"\n')
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: Do it\nAgents: mine\n", encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "nborch", "execute", str(plan), "-r", str(repo),
                              "--dry-run", "--json"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        (attempt,) = json.loads(out.stdout)["attempts"]
        assert attempt["agent"] == "mine" and attempt["command"].startswith("python fix.py ")
        assert nborch.WorktreeManager(repo).runs() == []  # a dry run creates nothing
