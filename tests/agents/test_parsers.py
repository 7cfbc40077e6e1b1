"""Output parsers: sample streams of every agent, the registry, fuzzing and retry wording."""

from __future__ import annotations

import doctest
import json
import math
import random
from pathlib import Path

import pytest

from nborch.agents import parsers
from nborch.agents.builtin import BUILTIN_SPECS
from nborch.agents.parsers import (
    PARSERS,
    looks_like_auth,
    looks_transient,
    merge_deltas,
    parse_aider,
    parse_claude,
    parse_codex,
    parse_copilot,
    parse_cursor,
    parse_demo,
    parse_gemini,
    parse_stream,
    parse_text,
    parser_for,
)
from nborch.agents.parsers import base as parsers_base
from nborch.errors import AgentError
from nborch.events import AGENT_EVENT_KINDS, AgentEvent, Usage

STREAMS = Path(__file__).parents[1] / "data" / "streams"


def sample(name: str) -> list[str]:
    """The lines of a sample stream, without its leading ``#`` comment (where it comes from)."""
    lines = (STREAMS / name).read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return lines


def run(name: str) -> tuple[list[AgentEvent], Usage]:
    """Parse a sample with the parser named by the file's first word; events and totals."""
    events = parse_stream(sample(name), name.split(".")[0])
    return events, Usage.of(events)


def of_kind(events: list[AgentEvent], kind: str) -> list[AgentEvent]:
    return [e for e in events if e.kind == kind]


def edits(events: list[AgentEvent]) -> list[str]:
    return [e.data["path"] for e in of_kind(events, "file_edit")]


def tools(events: list[AgentEvent]) -> list[str]:
    return [e.data["name"] for e in of_kind(events, "tool_call")]


class TestRegistry:
    """Every built-in agent has a parser, found by spec or by name."""

    def test_every_builtin_spec_names_a_known_parser(self) -> None:
        """Each built-in spec's ``parser`` field is a key of PARSERS."""
        for spec in BUILTIN_SPECS:
            assert spec.parser in PARSERS, spec.name
            assert parser_for(spec) is PARSERS[spec.parser]

    def test_the_agents_of_the_brief_all_have_parsers(self) -> None:
        """The nine CLIs plus text, manual and demo are registered."""
        names = "claude codex gemini aider copilot cursor cline opencode qwen text manual demo"
        assert set(names.split()) == set(PARSERS)

    def test_names_are_case_and_space_insensitive(self) -> None:
        """``parser_for(" Claude ")`` finds the Claude parser."""
        assert parser_for(" Claude ") is parse_claude

    def test_unknown_name_suggests_the_closest(self) -> None:
        """A misspelt parser name raises AgentError with a did-you-mean and the known names."""
        with pytest.raises(AgentError, match=r"did you mean 'claude'.*Known parsers: claude"):
            parser_for("cluade")

    def test_doctests_pass(self) -> None:
        """The examples in the parser modules' docstrings run as written."""
        for module in (parsers, parsers_base):
            assert doctest.testmod(module).failed == 0, module.__name__

    def test_parsers_module_exports_what_it_documents(self) -> None:
        """Every name in ``parsers.__all__`` exists."""
        assert all(hasattr(parsers, name) for name in parsers.__all__)


class TestClaude:
    """Claude Code stream-json: messages, tools, edits and the final result's totals."""

    def test_success_stream(self) -> None:
        """A successful run yields its tools, edits, a retry log and the result's totals."""
        events, usage = run("claude.success.jsonl")
        assert tools(events) == ["Read", "Edit", "Write", "Bash"]
        assert edits(events) == [
            "/tmp/wt/1.1-claude/todo/store.py",
            "/tmp/wt/1.1-claude/tests/test_store.py",
        ]
        assert any(e.data.get("retry") for e in of_kind(events, "log"))
        assert usage == Usage(
            input_tokens=32 + 5700 + 21550,  # cache creation and reads are input too
            output_tokens=374,
            cost_usd=0.0731,
            is_error=False,
            final_message="Added a SQLite-backed Store and a test for it.",
        )

    def test_failed_tool_is_a_log_not_an_error(self) -> None:
        """A tool_result with is_error is logged; the run did not fail because of it."""
        events, _ = run("claude.success.jsonl")
        assert any(e.text.startswith("tool failed: Exit code 1") for e in of_kind(events, "log"))
        assert not of_kind(events, "error")

    def test_api_error_stream(self) -> None:
        """Exhausted API retries end in a failed result whose reason is the API error."""
        events, usage = run("claude.api_error.jsonl")
        assert usage.is_error
        assert usage.errors == (usage.final_message,)
        assert usage.final_message.startswith("API Error: 529")
        assert of_kind(events, "error")[0].data["transient"] is True
        assert usage.cost_usd == 0.0

    def test_max_turns_stream(self) -> None:
        """A result without text explains its error subtype and keeps its tokens and cost."""
        events, usage = run("claude.max_turns.jsonl")
        assert usage.is_error
        assert usage.final_message == "stopped: the maximum number of turns was reached"
        assert (usage.input_tokens, usage.output_tokens, usage.cost_usd) == (4003, 20, 0.0162)
        assert of_kind(events, "error")[0].data["transient"] is False

    def test_string_content_is_a_message(self) -> None:
        """An assistant message whose content is a plain string is still a message."""
        line = '{"type":"assistant","message":{"content":"hello"}}'
        assert [(e.kind, e.text) for e in parse_claude(line)] == [("message", "hello")]


class TestQwen:
    """Qwen Code stream-json: Claude's shapes, tokens as reported."""

    def test_success_stream(self) -> None:
        """write_file and edit calls are file edits; the result's usage is taken as is."""
        events, usage = run("qwen.success.jsonl")
        assert edits(events) == ["/tmp/wt/5.1-qwen/todo/store.py", "/tmp/wt/5.1-qwen/README.md"]
        assert usage == Usage(
            input_tokens=27800,
            output_tokens=160,
            final_message="The store is in place and the README points to it.",
        )

    def test_error_stream(self) -> None:
        """An error_during_execution result takes its reason from ``error.message``."""
        _, usage = run("qwen.error.jsonl")
        assert usage.is_error
        assert usage.errors == ("401 Incorrect API key provided",)
        assert not looks_transient(usage.errors[0])


class TestCursor:
    """Cursor Agent stream-json: tool_call lines and a result without tokens."""

    def test_success_stream(self) -> None:
        """Tool calls come from ``started`` lines, the file edit from the completed write."""
        events, usage = run("cursor.success.jsonl")
        assert tools(events) == ["read", "write", "shell"]
        assert edits(events) == ["/tmp/wt/4.1-cursor/summary.txt"]
        assert (usage.input_tokens, usage.output_tokens, usage.cost_usd) == (0, 0, None)
        assert not usage.is_error
        assert usage.final_message.endswith("Done! I've created the summary in summary.txt")

    def test_failed_edit_reports_no_file_edit(self) -> None:
        """An edit whose result is an error is logged with its reason and edits nothing."""
        events, usage = run("cursor.failed_tool.jsonl")
        assert edits(events) == []
        assert "edit failed: old string not found in config.toml" in [e.text for e in events]
        assert not usage.is_error  # no result line: the exit code decides

    def test_function_tool_calls_are_read(self) -> None:
        """The generic ``function`` shape gives the tool's name and decoded arguments."""
        line = json.dumps({"type": "tool_call", "subtype": "started", "tool_call": {
            "function": {"name": "grep", "arguments": '{"pattern": "TODO"}'}}})  # fmt: skip
        (event,) = parse_cursor(line)
        assert (event.kind, event.data["name"], event.data["input"]) == (
            "tool_call", "grep", {"pattern": "TODO"},
        )  # fmt: skip


class TestCodex:
    """Codex exec --json: judged by turn.completed / turn.failed, never by error lines."""

    def test_success_stream_with_stray_errors(self) -> None:
        """Reconnect notices and error items on a successful run are logs, not errors."""
        events, usage = run("codex.success.jsonl")
        assert usage.errors == ()
        assert not usage.is_error
        assert tools(events) == ["shell", "docs.search", "shell"]
        assert edits(events) == ["/tmp/wt/1.2-codex/todo/store.py", "/tmp/wt/1.2-codex/todo/schema.sql"]
        assert [e.data["change"] for e in of_kind(events, "file_edit")] == ["update", "add"]
        assert (usage.input_tokens, usage.output_tokens, usage.cost_usd) == (26549, 1590, None)
        assert usage.final_message.startswith("Fixed the store")

    def test_failed_turn_is_a_failed_result(self) -> None:
        """turn.failed gives a fatal error and a result with is_error=True."""
        events, usage = run("codex.failed.jsonl")
        assert usage.is_error
        assert [e.is_error for e in of_kind(events, "error")] == [False, True]
        assert usage.final_message.startswith("You've hit your usage limit")
        assert not looks_transient(usage.final_message)

    def test_turn_usage_adds_up(self) -> None:
        """Each turn.completed reports that turn's tokens; two turns add up."""
        events, usage = run("codex.two_turns.jsonl")
        assert (usage.input_tokens, usage.output_tokens) == (3500, 300)
        assert usage.final_message == "Step two done."
        (stray,) = of_kind(events, "error")
        assert not stray.is_error and stray.data["transient"] is True

    def test_failed_patch_reports_no_file_edit(self) -> None:
        """A file_change item with status failed is a log naming the files."""
        line = json.dumps({"type": "item.completed", "item": {"id": "i", "type": "file_change",
                           "changes": [{"path": "a.py", "kind": "update"}], "status": "failed"}})  # fmt: skip
        assert [(e.kind, e.text) for e in parse_codex(line)] == [("log", "patch failed: a.py")]


class TestGemini:
    """Gemini CLI stream-json: streamed chunks, tool calls and the result's stats."""

    def test_success_stream(self) -> None:
        """Chunks are joined, write_file/replace are file edits, stats are the totals."""
        events, usage = run("gemini.success.jsonl")
        assert [e.text for e in of_kind(events, "message")] == [
            "I'll add the store now.",
            "Done: the store is in todo/store.py.",
        ]
        assert tools(events) == ["write_file", "replace", "run_shell_command"]
        assert edits(events) == ["/tmp/wt/1.1-gemini/todo/store.py", "/tmp/wt/1.1-gemini/README.md"]
        assert (usage.input_tokens, usage.output_tokens, usage.is_error) == (24939, 174, False)
        assert usage.final_message == "Done: the store is in todo/store.py."

    def test_warnings_are_non_fatal_errors(self) -> None:
        """An error event of severity warning is an error with is_error=False."""
        events, _ = run("gemini.success.jsonl")
        (warning,) = of_kind(events, "error")
        assert (warning.is_error, warning.data["severity"]) == (False, "warning")

    def test_error_stream(self) -> None:
        """A result with status error fails the run; a quota 429 with "retry in" is transient."""
        events, usage = run("gemini.error.jsonl")
        assert usage.is_error
        assert "RESOURCE_EXHAUSTED" in usage.final_message
        assert of_kind(events, "error")[0].data["transient"] is True

    def test_single_json_output(self) -> None:
        """The one-object ``--output-format json`` gives the response and per-model tokens."""
        line = json.dumps({"response": "Paris.", "stats": {"models": {
            "gemini-2.5-pro": {"tokens": {"prompt": 24939, "candidates": 20}},
            "gemini-2.5-flash": {"tokens": {"prompt": 100, "candidates": 5}}}}})  # fmt: skip
        usage = Usage.of(parse_gemini(line))
        assert (usage.input_tokens, usage.output_tokens, usage.final_message) == (
            25039, 25, "Paris.",
        )  # fmt: skip


class TestCopilot:
    """Copilot CLI JSON: assistant.usage tokens and the terminal result's exit code."""

    def test_success_stream(self) -> None:
        """Messages, the create tool's file edit and per-call usage are read; no dollars."""
        events, usage = run("copilot.success.jsonl")
        assert tools(events) == ["create", "bash"]
        assert edits(events) == ["/tmp/wt/1.1-copilot/todo/store.py"]
        assert of_kind(events, "file_edit")[0].data["change"] == "add"
        assert (usage.input_tokens, usage.output_tokens, usage.cost_usd) == (29697, 180, None)
        assert of_kind(events, "usage")[0].data["premium_cost"] == 1
        assert not usage.is_error
        assert usage.final_message == "Created todo/store.py; the test suite still needs a fixture."
        assert of_kind(events, "result")[0].data["premium_requests"] == 1

    def test_ephemeral_ui_events_are_dropped(self) -> None:
        """Deltas and ephemeral session events produce no event at all."""
        events, _ = run("copilot.success.jsonl")
        assert not any("tools_updated" in e.text for e in events)

    def test_error_stream(self) -> None:
        """session.error is fatal; a non-zero exitCode on the result line fails the run."""
        events, usage = run("copilot.error.jsonl")
        assert usage.is_error
        assert usage.errors[0] == "Model call failed: 503 Service Unavailable"
        assert of_kind(events, "error")[0].data["transient"] is True
        assert of_kind(events, "log")[0].data["level"] == "session.warning"

    def test_shutdown_totals_replace(self) -> None:
        """session.shutdown's per-model usage is a cumulative total over the models."""
        line = json.dumps({"type": "session.shutdown", "data": {"modelMetrics": {
            "a": {"usage": {"inputTokens": 300, "outputTokens": 40}},
            "b": {"usage": {"inputTokens": 10, "outputTokens": 2}}}}})  # fmt: skip
        (event,) = parse_copilot(line)
        assert (event.kind, event.input_tokens, event.output_tokens, event.cumulative) == (
            "usage", 310, 42, True,
        )  # fmt: skip


class TestOpencode:
    """opencode run --format json: per-step tokens and dollars, no closing event."""

    def test_success_stream(self) -> None:
        """Steps add up, a failed edit is a logged call without a file edit."""
        events, usage = run("opencode.success.jsonl")
        assert tools(events) == ["write", "edit", "bash"]
        assert edits(events) == ["/tmp/wt/1.1-opencode/todo/store.py"]
        assert "edit failed: oldString not found in content" in [e.text for e in events]
        assert usage.input_tokens == (78 + 14056) + (120 + 14100 + 50)
        assert usage.output_tokens == 42 + 60 + 10
        assert usage.cost_usd == pytest.approx(0.0073)
        assert (usage.is_error, usage.final_message) == (
            False, "The store is in todo/store.py and the tests pass.",
        )  # fmt: skip

    def test_error_stream(self) -> None:
        """A session error fails the run and keeps opencode's retryable verdict."""
        events, usage = run("opencode.error.jsonl")
        assert usage.is_error
        assert usage.errors == ("Rate limit exceeded, please slow down",)
        assert of_kind(events, "error")[0].data["transient"] is True
        assert of_kind(events, "error")[0].data["status_code"] == 429


class TestCline:
    """Cline --json: say/ask messages, per-request usage, completion_result."""

    def test_success_stream(self) -> None:
        """Edited and created files are file edits; api_req_started tokens add up."""
        events, usage = run("cline.success.jsonl")
        assert tools(events) == ["readFile", "editedExistingFile", "newFileCreated", "execute_command"]
        assert edits(events) == ["todo/store.py", "tests/test_store.py"]
        assert [e.data["change"] for e in of_kind(events, "file_edit")] == ["update", "add"]
        assert (usage.input_tokens, usage.output_tokens) == (1200 + 3000 + 400 + 200 + 3000, 370)
        assert usage.cost_usd == pytest.approx(0.0253)
        assert usage.final_message == "Added a SQLite-backed Store with a test; the suite passes."
        assert len(of_kind(events, "result")) == 1

    def test_failed_stream(self) -> None:
        """api_req_failed is a fatal error and the CLI's error line the failed result."""
        events, usage = run("cline.failed.jsonl")
        assert usage.is_error
        assert len(of_kind(events, "result")) == 1
        assert any(e.data.get("retry") for e in of_kind(events, "log"))
        assert all(e.data["transient"] for e in of_kind(events, "error"))


class TestAider:
    """Aider's plain text: token lines, applied edits and the error lines it exits 0 on."""

    def test_success_stream(self) -> None:
        """Token lines add up per message; "Applied edit to" lines are file edits."""
        events, usage = run("aider.success.txt")
        assert edits(events) == ["todo/store.py", "tests/test_store.py"]
        assert (usage.input_tokens, usage.output_tokens) == (1200 + 12000, 87 + 345)
        assert usage.cost_usd == pytest.approx(0.0421)
        assert usage.errors == ()
        assert of_kind(events, "usage")[-1].data["session_cost_usd"] == 0.04

    def test_failed_stream(self) -> None:
        """litellm errors and the authentication hint are fatal errors, retries are logs."""
        events, usage = run("aider.failed.txt")
        assert len(usage.errors) == 3
        assert [e.data["transient"] for e in of_kind(events, "error")] == [True, False, False]
        assert any(e.data.get("retry") for e in of_kind(events, "log"))

    def test_model_not_found(self) -> None:
        """A model the server does not have is a fatal, non-transient error."""
        events, usage = run("aider.not_found.txt")
        (err,) = of_kind(events, "error")
        assert err.is_error and not err.data["transient"]
        assert "does not exist" in usage.errors[0]

    @pytest.mark.parametrize(
        ("line", "tokens", "cost"),
        [
            ("Tokens: 116 sent, 30 received.", (116, 30), None),
            ("Tokens: 9.9k sent, 1,234 received. Cost: $1.25 message, $3.50 session.", (9900, 1234), 1.25),
            ("Tokens: 1.5M sent, 12k received. Cost: $0.00 message, $0.00 session.", (1_500_000, 12_000), 0.0),
        ],
    )  # fmt: skip
    def test_token_lines(self, line: str, tokens: tuple[int, int], cost: float | None) -> None:
        """Aider's k/M abbreviations and optional cost are read."""
        (event,) = parse_aider(line)
        assert (event.kind, (event.input_tokens, event.output_tokens), event.cost_usd) == (
            "usage", tokens, cost,
        )  # fmt: skip

    def test_model_text_is_logged(self) -> None:
        """Ordinary lines, even ones mentioning errors in prose, stay logs unless they match."""
        for line in ("I fixed the error handling in store.py", "Raise NotFoundError on a miss",
                     "Set the Timeout to 5 s"):  # fmt: skip
            assert parse_aider(line)[0].kind == "log", line


class TestDemoAndText:
    """The demo agents' JSON lines and plain text from scripts."""

    def test_demo_success(self) -> None:
        """The result's totals replace the usage lines; only file_edit lines are file edits."""
        events, usage = run("demo.success.jsonl")
        assert edits(events) == ["todo/store.py", "tests/test_store.py"]
        assert tools(events) == ["read", "write", "write"]
        assert usage == Usage(2500, 400, 0.0, False, "Added the store and a test.")

    def test_demo_failure(self) -> None:
        """A result with is_error fails the run; a non-fatal demo error stays non-fatal."""
        events, usage = run("demo.failed.jsonl")
        assert usage.is_error
        assert [e.is_error for e in of_kind(events, "error")] == [False, True]
        assert usage.errors[-1] == "could not finish the migration"

    def test_text_lines_are_logs(self) -> None:
        """A script's every non-blank line is a log event; blank lines are nothing."""
        events, usage = run("text.script.txt")
        assert [(e.kind, e.text) for e in events] == [
            ("log", "reading /tmp/prompt.md"), ("log", "patched 2 files"), ("log", "done"),
        ]  # fmt: skip
        assert usage == Usage()

    def test_manual_parser_is_the_text_parser(self) -> None:
        """The manual agent's parser name resolves to the text parser."""
        assert parser_for("manual") is parse_text


class TestParseStream:
    """parse_stream: any parser reference, strings or lines, streamed chunks joined."""

    def test_accepts_one_string(self) -> None:
        """A whole captured output is split into lines."""
        events = parse_stream('{"type":"message","text":"a"}\n\n{"type":"message","text":"b"}', "demo")
        assert [e.text for e in events] == ["a", "b"]

    def test_accepts_a_callable_and_a_spec(self) -> None:
        """A parser function or an AgentSpec works as well as a name."""
        line = ['{"type":"message","text":"hi"}']
        claude = next(s for s in BUILTIN_SPECS if s.name == "claude")
        assert parse_stream(line, parse_demo) == parse_stream(line, "demo")
        assert parse_stream(['{"type":"result","result":"x"}'], claude)[0].text == "x"

    def test_only_neighbouring_deltas_merge(self) -> None:
        """Chunks separated by another event stay apart; whole messages never merge."""
        chunk = lambda t: AgentEvent("message", text=t, data={"delta": True})  # noqa: E731
        events = [chunk("a"), chunk("b"), AgentEvent("log", "x"), chunk("c"),
                  AgentEvent("message", "d"), AgentEvent("message", "e")]  # fmt: skip
        assert [e.text for e in merge_deltas(events)] == ["ab", "x", "c", "d", "e"]


class TestLooksLikeAuth:
    """looks_like_auth: a rejected or missing credential, in the CLIs' own wording."""

    @pytest.mark.parametrize("text", [
        "Invalid API key · Please run /login",
        "API Error: 401 {\"type\":\"error\",\"error\":{\"type\":\"authentication_error\"}}",
        "Error: Not logged in. Please run /login",
        "OpenAI API key is missing",
        "[API Error: API key not valid. Please pass a valid API key.]",
    ])  # fmt: skip
    def test_positive(self, text: str) -> None:
        assert looks_like_auth(text)

    @pytest.mark.parametrize("text", ["429 Too Many Requests", "exit code 1: KeyError: 'x'",
                                      "The server is overloaded"])  # fmt: skip
    def test_negative(self, text: str) -> None:
        assert not looks_like_auth(text)


class TestLooksTransient:
    """looks_transient: rate limits, overload, 5xx and dropped connections, nothing else."""

    @pytest.mark.parametrize(
        "text",
        [
            "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}",
            "429 Too Many Requests",
            "Rate limit reached for gpt-4o in organization org-x on tokens per min",
            "litellm.APIConnectionError: APIConnectionError: OpenAIException - Connection error.",
            "unexpected status 503 Service Unavailable: upstream connect error",
            "stream disconnected before completion: error sending request",
            "Reconnecting... 2/5",
            "Request timed out.",
            "read ECONNRESET",
            "502 Bad Gateway",
            "HTTP status 500: internal error",
            "The server is overloaded, please try again later",
            "[API Error: exhausted your capacity. (Status: 429 RESOURCE_EXHAUSTED)]",
        ],
    )
    def test_positive(self, text: str) -> None:
        """Wording of failures that may pass on retry is transient."""
        assert looks_transient(text)

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "AuthenticationError: Incorrect API key provided",
            "401 Unauthorized",
            "Model metadata for `m` not found",
            "The model `gpt-9` does not exist or you do not have access to it.",
            "429 You exceeded your current quota, please check your plan and billing details.",
            "You've hit your usage limit. Try again in 2 days.",
            "prompt is too long: 210000 tokens > 200000 maximum",
            "FAILED tests/test_store.py::test_open - AssertionError",
            "SyntaxError: invalid syntax",
            "wrote 500 lines to store.py",
            "stopped: the maximum number of turns was reached",
        ],
    )
    def test_negative(self, text: str) -> None:
        """Permanent failures and ordinary text are not transient."""
        assert not looks_transient(text)

    def test_not_a_string(self) -> None:
        """Anything but a string is not transient (and does not raise)."""
        assert looks_transient(None) is False  # type: ignore[arg-type]


# --- fuzzing ---------------------------------------------------------------------------------

KEYS = ["type", "subtype", "message", "content", "text", "item", "usage", "data", "part", "state",
        "tool_call", "error", "result", "stats", "input", "name", "path", "changes", "tool",
        "input_tokens", "output_tokens", "total_cost_usd", "is_error", "status", "say", "ask",
        "exitCode", "tokens", "cache", "parameters", "tool_name", "delta", "role", "arguments",
        "toolName", "modelMetrics", "file_path", "command", "severity", "cost"]  # fmt: skip
TYPES = ["system", "assistant", "user", "result", "tool_call", "thread.started", "item.started",
         "item.completed", "turn.completed", "turn.failed", "error", "init", "message", "tool_use",
         "tool_result", "assistant.message", "assistant.usage", "tool.execution_start",
         "tool.execution_complete", "session.error", "session.shutdown", "text", "step_finish",
         "say", "ask", "task_started", "usage", "file_edit", "log", "agent_message",
         "command_execution", "file_change", "mcp_tool_call", "text", "tool_use", "api_retry",
         "api_req_started", "completion_result", "writeToolCall", "started", "completed"]  # fmt: skip
ATOMS = [None, True, False, 0, -1, 7, 2**70, 1.5, -0.0, 1e308, "", "x", "*** Update File: a.py",
         "{\"tokensIn\": 5}", "\x00\x1b[31m", "é🙂", "NaN"]  # fmt: skip


def random_value(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value built from the vocabulary the parsers look for."""
    roll = rng.random()
    if depth > 4 or roll < 0.35:
        return rng.choice(ATOMS + TYPES)
    if roll < 0.5:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    obj = {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    if rng.random() < 0.7:
        obj["type"] = rng.choice(TYPES)
    return obj


def mutate(rng: random.Random, line: str) -> str:
    """A sample line with a random cut, insertion, deletion or byte swap."""
    if not line:
        return rng.choice(["{", "}", "[]", "\x00"])
    i = rng.randrange(len(line))
    match rng.randrange(4):
        case 0:
            return line[:i]
        case 1:
            return line[:i] + rng.choice(['"', "{", "}", ",", "\\", "\ud800", "\x00", "9e999"]) + line[i:]
        case 2:
            return line[:i] + line[i + 1 :]
        case _:
            return line[:i] + chr(rng.randrange(0x20, 0x2FFF)) + line[i + 1 :]


def fuzz_lines(seed: int, n: int = 300) -> list[str]:
    """``n`` nasty lines: random JSON, mutated samples, garbage bytes and extremes."""
    rng = random.Random(seed)
    samples = [ln for f in sorted(STREAMS.iterdir()) for ln in sample(f.name) if ln]
    lines = [
        "", "   ", "null", "[]", "42", '"just a string"', "{", "{}", '{"type": null}',
        '{"type":"result","usage":{"input_tokens":NaN,"output_tokens":Infinity},"total_cost_usd":-Infinity}',
        "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
        '{"type":"message","text":"' + "x" * 2_000_000 + '"}', "y" * 9_000_000,
    ]  # fmt: skip
    while len(lines) < n:
        roll = rng.random()
        if roll < 0.4:
            lines.append(json.dumps(random_value(rng)))
        elif roll < 0.8:
            lines.append(mutate(rng, rng.choice(samples)))
        else:
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
            lines.append(raw.decode("latin-1"))
    return lines


def well_formed(event: object) -> bool:
    """An event a consumer can trust: a known kind, non-negative tokens, a sane cost."""
    return (
        isinstance(event, AgentEvent)
        and event.kind in AGENT_EVENT_KINDS
        and isinstance(event.text, str)
        and event.input_tokens >= 0
        and event.output_tokens >= 0
        and (event.cost_usd is None or (math.isfinite(event.cost_usd) and event.cost_usd >= 0))
    )


class TestFuzz:
    """No parser raises on any line, and what it returns is always well formed."""

    @pytest.mark.parametrize("name", sorted(PARSERS))
    def test_random_and_mutated_lines(self, name: str) -> None:
        """Three hundred random, mutated and extreme lines give well-formed events only."""
        parse = PARSERS[name]
        for i, line in enumerate(fuzz_lines(seed=sum(map(ord, name)))):
            events = parse(line)
            assert isinstance(events, list), (name, i)
            assert all(well_formed(e) for e in events), (name, i, events)
            Usage.of(events)

    @pytest.mark.parametrize("name", sorted(PARSERS))
    def test_bytes_and_non_strings(self, name: str) -> None:
        """Bytes and other objects that slip through are read, not raised on."""
        parse = PARSERS[name]
        for value in (b"\xff\xfe{\x00}", bytearray(b'{"type":"message"}'), 12, None):
            assert all(well_formed(e) for e in parse(value))  # type: ignore[arg-type]

    def test_huge_lines_are_clipped(self) -> None:
        """A 9 MB line becomes one log event of a bounded size."""
        (event,) = parse_claude("z" * 9_000_000)
        assert event.kind == "log" and len(event.text) < 3_000

    def test_parsers_are_pure(self) -> None:
        """Parsing the same line twice gives equal events."""
        for f in sorted(STREAMS.iterdir()):
            parse = parser_for(f.name.split(".")[0])
            for line in sample(f.name):
                assert parse(line) == parse(line)


class TestEventConventions:
    """Conventions shared by all parsers: file edits from tool arguments, clipped inputs."""

    def test_apply_patch_names_every_file(self) -> None:
        """An apply_patch call reports each added, updated and deleted file of its patch."""
        patch = ("*** Begin Patch\n*** Add File: new.py\n+x\n*** Update File: old.py\n@@\n-a\n+b\n"
                 "*** Delete File: gone.py\n*** End Patch")  # fmt: skip
        line = json.dumps({"type": "tool.execution_start",
                           "data": {"toolName": "apply_patch", "arguments": {"input": patch}}})  # fmt: skip
        events = parse_copilot(line)
        assert [(e.data["path"], e.data["change"]) for e in of_kind(events, "file_edit")] == [
            ("new.py", "add"), ("old.py", "update"), ("gone.py", "delete"),
        ]  # fmt: skip

    def test_viewing_is_not_editing(self) -> None:
        """str_replace_editor with command view edits nothing."""
        line = json.dumps({"type": "tool.execution_start", "data": {
            "toolName": "str_replace_editor", "arguments": {"command": "view", "path": "a.py"}}})  # fmt: skip
        assert edits(parse_copilot(line)) == []

    def test_long_tool_arguments_are_clipped(self) -> None:
        """A 1 MB file write keeps a bounded copy of its content in the event."""
        line = json.dumps({"type": "assistant", "message": {"content": [{"type": "tool_use",
            "name": "Write", "input": {"file_path": "big.txt", "content": "q" * 1_000_000}}]}})  # fmt: skip
        call = of_kind(parse_claude(line), "tool_call")[0]
        assert len(call.data["input"]["content"]) < 2_100
        assert call.data["input"]["file_path"] == "big.txt"

    def test_terminal_escapes_are_removed(self) -> None:
        """Colour codes and control characters do not reach event text."""
        (event,) = parse_text("\x1b[31mred\x1b[0m\x00 text")
        assert event.text == "red text"


AGENT_STREAMS = Path(__file__).parents[1] / "data" / "agent_streams"
RECORDED = sorted(p.name for p in AGENT_STREAMS.iterdir())


def recorded(name: str) -> tuple[list[AgentEvent], Usage]:
    """Parse a stream recorded from a real CLI (see its first line) with that agent's parser."""
    lines = (AGENT_STREAMS / name).read_text(encoding="utf-8").splitlines()
    events = parse_stream([ln for ln in lines if not ln.startswith("#")], name.split(".")[0])
    return events, Usage.of(events)


class TestRecordedStreams:
    """Streams of the published CLIs, recorded by `make test-agents` against the model server
    (scripted: write hello.txt, finish; or answer every call with a 500)."""

    def test_the_recordings_are_there(self):
        """At least the four agents of the brief have a recorded success."""
        for agent in ("claude", "codex", "gemini", "aider"):
            assert f"{agent}.success.{'txt' if agent == 'aider' else 'jsonl'}" in RECORDED

    @pytest.mark.parametrize("name", [n for n in RECORDED if ".success." in n])
    def test_success_is_read_as_success(self, name):
        """No error, the final message, tokens (Copilot prints none) and the edit where the
        tool names the file (Codex wrote it through its shell tool)."""
        events, usage = recorded(name)
        agent = name.split(".")[0]
        assert not usage.is_error and not usage.errors
        assert usage.final_message == "Created hello.txt." or agent == "aider"
        if agent != "copilot":
            assert usage.input_tokens > 0 and usage.output_tokens > 0
        if agent != "codex":
            assert [Path(p).name for p in edits(events)] == ["hello.txt"]
        assert all(e.kind in AGENT_EVENT_KINDS for e in events)

    def test_claude_reports_a_cost(self):
        """Claude Code's result line carries total_cost_usd, priced by the CLI itself."""
        _, usage = recorded("claude.success.jsonl")
        assert usage.cost_usd is not None and usage.cost_usd > 0

    @pytest.mark.parametrize("name", [n for n in RECORDED if ".server_error." in n])
    def test_server_errors_are_errors_worth_retrying(self, name):
        """Every call answered 500: the CLI's final words are an error nborch reads as
        transient; Claude and Codex end on a failed result."""
        events, usage = recorded(name)
        assert usage.errors and looks_transient(usage.errors[-1]), usage.errors
        if name.split(".")[0] in ("claude", "codex"):
            assert usage.is_error and of_kind(events, "result")[-1].is_error
