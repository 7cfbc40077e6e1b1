"""`nborch rehearse` with the real CLIs: every installed agent driven offline at once."""

from __future__ import annotations

import pytest

from nborch.cli.rehearse import rehearse
from nborch.plan.load import load_plan

from .conftest import PLAN, need

AGENTS = ["claude", "codex", "gemini", "aider"]


def test_every_agent_passes_the_rehearsal(repo, tmp_path, monkeypatch):
    """All four CLIs write the rehearsal file on their branches; the caller's own provider
    settings (here pointing nowhere) never reach them."""
    for agent in AGENTS:
        need(agent)
    for name in ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    rows = rehearse(repo, load_plan(plan), AGENTS, timeout="180s")
    assert sorted(r.agent for r in rows) == sorted(AGENTS)
    failed = [(r.agent, r.status, r.error) for r in rows if not r.passed]
    assert failed == []
    assert all(r.input_tokens > 0 for r in rows)


@pytest.mark.parametrize("agent", ["qwen", "opencode", "copilot"])
def test_more_agents_pass_too(agent, repo, tmp_path):
    """The other CLIs that can be driven offline pass as well."""
    need(agent)
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    rows = rehearse(repo, load_plan(plan), [agent], timeout="180s")
    assert [(r.agent, r.passed) for r in rows] == [(agent, True)], rows
