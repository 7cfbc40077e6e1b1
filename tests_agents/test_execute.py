"""The real agent CLIs through `nborch execute`, against the local model server.

Each test runs one published CLI (installed by `make agents`) on a one-task plan in a fresh
repository; the model server scripts "write hello.txt, finish". What is checked is what nborch
promises: the edit lands on the attempt's branch, the tokens (and Claude's cost) are read from
the agent's own output, and failures end as results with the reason, never hangs or orphans.
"""

from __future__ import annotations

import pytest

from nborch.agents.parsers import looks_transient
from nborch.testing import Fault, ModelServer

from .conftest import FILE, SCRIPT, TEXT, processes_in

# Agents that run against the server with the environment nborch passes them (see README).
DRIVEN = ["claude", "codex", "gemini", "aider", "qwen", "opencode", "copilot"]
NO_TOKENS = {"copilot"}  # its JSON output carries no token counts (1.0.102), only premiumRequests
FAILING = ["claude", "codex", "gemini", "aider"]
GIVE_UP = ["claude", "codex", "aider"]  # Gemini CLI retries a 500 for minutes (see below)
# Claude Code retries a failed call 10 times with backoff; the failure tests need it to give up.
FEW_RETRIES = {"CLAUDE_CODE_MAX_RETRIES": "1"}


class TestCompletes:
    """Each agent edits the worktree and reports its usage; nborch commits and reads it."""

    @pytest.mark.parametrize("agent", DRIVEN)
    def test_edit_lands_and_tokens_are_read(self, agent, execute, server):
        """Status completed, hello.txt on the attempt's branch, tokens counted."""
        out = execute(agent, server, case="success")
        assert out.attempt["status"] == "completed", (out.attempt["error"], out.log()[-3000:])
        assert out.code == 0
        assert out.on_branch(FILE) == TEXT
        if agent not in NO_TOKENS:
            assert out.attempt["input_tokens"] > 0 and out.attempt["output_tokens"] > 0
        assert not server.errors

    def test_claude_reports_its_cost(self, execute, server):
        """Claude Code prices the run itself; nborch keeps that cost."""
        out = execute("claude", server)
        assert out.attempt["status"] == "completed"
        assert out.attempt["cost_usd"] is not None and out.attempt["cost_usd"] > 0


class TestFails:
    """A model server that fails makes a failed or timed-out attempt with the reason."""

    @pytest.mark.parametrize("agent", GIVE_UP)
    def test_server_error_fails_with_its_text(self, agent, execute, server):
        """Every answer a 500: the attempt fails after the CLI's own retries, with the CLI's
        error, which nborch reads as transient (so --retries would try again)."""
        server.fault = Fault("server_error")
        out = execute(agent, server, env=FEW_RETRIES, case="server_error")
        assert out.attempt["status"] == "failed", out.log()[-2000:]
        assert out.code == 1
        assert looks_transient(out.attempt["error"]), out.attempt["error"]
        assert out.on_branch(FILE) is None

    def test_gemini_retries_server_errors_until_the_time_limit(self, execute, server):
        """Gemini CLI backs off and retries a 500 ten times: nborch's timeout ends it."""
        server.fault = Fault("server_error")
        out = execute("gemini", server, timeout="40s")
        assert out.attempt["status"] == "timeout"
        assert "failed with status 500" in out.log()

    @pytest.mark.parametrize("agent", FAILING)
    def test_rate_limit_once_is_retried_by_the_cli(self, agent, execute, server):
        """One 429 with retry-after: the CLI retries on its own and the attempt completes."""
        server.fault = Fault("rate_limit", times=1, retry_after=1)
        out = execute(agent, server)
        assert out.attempt["status"] == "completed", out.log()[-2000:]
        assert out.on_branch(FILE) == TEXT
        assert any(r.fault == "rate_limit" for r in server.requests)

    def test_transient_failure_is_retried_by_nborch(self, execute):
        """Claude gives up on a 500 at once (no CLI retries); `--retries 1` runs it again."""
        with ModelServer(SCRIPT, fault=Fault("server_error", times=1)) as server:
            out = execute("claude", server, "--retries", "1",
                          env={"CLAUDE_CODE_MAX_RETRIES": "0"})  # fmt: skip
        assert out.attempt["status"] == "completed", out.log()[-2000:]
        assert "transient failure, retry 1" in out.stderr or out.log().count("API Error") >= 1
        assert out.on_branch(FILE) == TEXT

    @pytest.mark.parametrize("agent", FAILING)
    def test_hanging_server_times_out_and_leaves_no_process(self, agent, execute, server,
                                                            tmp_path):  # fmt: skip
        """The server never answers: nborch's timeout stops the agent's whole process tree."""
        server.fault = Fault("hang")
        out = execute(agent, server, timeout="15s")
        assert out.attempt["status"] == "timeout", out.attempt
        assert out.code == 1
        assert processes_in(tmp_path / "worktrees") == []
