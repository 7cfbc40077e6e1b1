"""Assignment: which agents attempt each task, and why."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import nborch
from nborch.errors import AgentError, AssignError, PlanError
from nborch.team.assign import PastResults, assign


def _fake_executable(folder: Path, name: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


class TestAssign:
    def test_per_task_gives_distinct_agents(self, plan: nborch.Plan) -> None:
        """per_task=N gives N different agents to every task without an Agents line."""
        team = assign(plan, agents=["claude", "codex", "gemini"], per_task=2)
        for item in team:
            if item.task != "3":
                assert len(item.agents) == 2 and len(set(item.agents)) == 2

    def test_agents_line_wins(self, plan: nborch.Plan) -> None:
        """A task's own Agents: line decides its agents, whatever agents= and per_task say."""
        team = assign(plan, agents=["claude", "codex"], per_task=2)
        assert team["3"].agents == ("aider",)
        assert "the plan names aider" in team["3"].justification

    def test_justification_names_type_and_scores(self, plan: nborch.Plan) -> None:
        """The justification names the task type and the chosen agent's score."""
        item = assign(plan, agents=["claude", "codex"])["1"]
        assert item.task_type == "bugfix"
        assert item.justification.startswith("bugfix task")
        assert f"{item.primary_agent} scores" in item.justification

    def test_named_agents_are_assigned_even_when_not_installed(
        self, plan: nborch.Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Named agents are planned even when missing; the frame's available column says so."""
        monkeypatch.setenv("PATH", str(tmp_path))
        frame = assign(plan, agents=["claude"]).to_frame()
        assert set(frame["agent"]) >= {"claude"}
        assert not frame.loc[frame["agent"] == "claude", "available"].any()

    def test_default_pool_is_installed_agents(
        self, plan: nborch.Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With agents=None only installed agents are considered."""
        _fake_executable(tmp_path, "codex")
        monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + "/usr/bin:/bin")
        team = assign(plan)
        assert {a for t in team if t.task != "3" for a in t.agents} == {"codex"}
        assert team.notes == ()

    def test_no_installed_agent_uses_all_builtins_with_a_note(
        self, plan: nborch.Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With agents=None and nothing installed, all built-ins are considered and a note says so."""
        monkeypatch.setenv("PATH", str(tmp_path))
        team = assign(plan)
        assert team.notes and "no agent CLI is installed" in team.notes[0]

    def test_history_shifts_the_choice(self, plan: nborch.Plan) -> None:
        """Past results that favour an agent for a task type make it the primary."""
        before = assign(plan, agents=["claude", "codex"])["1"].primary_agent
        other = "codex" if before == "claude" else "claude"
        past = PastResults.from_records(
            [{"agent": other, "task_type": "bugfix", "won": True}] * 30
            + [{"agent": before, "task_type": "bugfix", "won": False}] * 30
        )
        after = assign(plan, agents=["claude", "codex"], history=past)["1"]
        assert after.primary_agent == other
        assert "won 100% of 30 past bugfix tasks" in after.justification

    def test_deterministic(self, plan: nborch.Plan) -> None:
        """The same plan and pool give the same assignment every time."""
        a = assign(plan, agents=["claude", "codex", "aider"], per_task=2)
        b = assign(plan, agents=["claude", "codex", "aider"], per_task=2)
        assert a.to_json() == b.to_json()

    def test_script_agent_is_assignable(self, plan: nborch.Plan) -> None:
        """A registered script agent can be named like any agent."""
        nborch.script_agent("mine", "python fix.py {prompt_file}")
        assert assign(plan, agents=["mine"])["1"].agents == ("mine",)


class TestErrors:
    def test_per_task_larger_than_pool(self, plan: nborch.Plan) -> None:
        """per_task beyond the pool size is an AssignError that says how to fix it."""
        with pytest.raises(AssignError, match=r"per_task=3 but only 2 agent"):
            assign(plan, agents=["claude", "codex"], per_task=3)

    def test_per_task_zero(self, plan: nborch.Plan) -> None:
        """per_task below 1 is refused."""
        with pytest.raises(AssignError, match="at least 1"):
            assign(plan, per_task=0)

    def test_unknown_agent_suggests(self, plan: nborch.Plan) -> None:
        """An unknown agent name is an AgentError with a suggestion."""
        with pytest.raises(AgentError, match="did you mean 'codex'"):
            assign(plan, agents=["codx"])

    def test_unknown_agent_in_plan_points_at_the_task_line(self) -> None:
        """An Agents: line naming an unknown agent is a PlanError at that task's line."""
        bad = nborch.parse_plan("# P\n## Task 1: Do it\nAgents: cluade\n", "plan.md")
        with pytest.raises(PlanError) as info:
            assign(bad, agents=["codex"])
        assert str(info.value).startswith("plan.md:2: task '1' asks for agent 'cluade'")
        assert "did you mean 'claude'" in str(info.value)


class TestShow:
    def test_frame_columns(self, plan: nborch.Plan) -> None:
        """to_frame() has one row per attempt and the documented columns."""
        frame = assign(plan, agents=["claude", "codex"], per_task=2).to_frame()
        assert list(frame.columns) == ["task", "title", "phase", "agent", "role", "available",
                                       "score", "task_type", "complexity", "tech_stack",
                                       "confidence", "justification"]  # fmt: skip
        assert len(frame) == 2 + 2 + 1
        assert list(frame["role"][:2]) == ["primary", "secondary"]

    def test_repr_and_html(self, plan: nborch.Plan) -> None:
        """repr is one line with counts; the HTML escapes plan text."""
        evil = nborch.parse_plan("# P\n## Task 1: Fix <script>alert(1)</script>\n")
        team = assign(evil, agents=["claude"])
        assert repr(team) == "<Assignments 1 task, 1 attempt (1 per task) by claude>"
        assert "<script>" not in team._repr_html_()
        assert "&lt;script&gt;" in team._repr_html_()
