"""nborch.testing.ModelServer: each protocol's answers, checked against the documented shapes."""

from __future__ import annotations

import doctest
import http.client
import json
from typing import Any

import pytest

import nborch.testing
from nborch.testing import (
    CallTool,
    EditFile,
    Fault,
    Finish,
    ModelServer,
    ReadFile,
    RunCommand,
    Scenario,
    Script,
    ScriptError,
    Usage,
    WriteFile,
)
from nborch.testing.client import Answer, post, request

CWD = "/work/tree"
SCRIPT = Script([WriteFile("hello.py", "print('hi')\n"), EditFile("hello.py", "'hi'", "'hello'"),
                 ReadFile("hello.py"), RunCommand("python hello.py"), Finish("Created hello.py.")])  # fmt: skip
USAGE = Usage(input_tokens=321, output_tokens=45, cached_tokens=6)


def schema(*params: str, required: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": {p: {"type": "string"} for p in params},
            "required": list(params if required is None else required)}  # fmt: skip


CLAUDE_TOOLS = [
    {"name": "Read", "input_schema": schema("file_path", "offset", required=("file_path",))},
    {"name": "Write", "input_schema": schema("file_path", "content")},
    {"name": "Edit", "input_schema": schema("file_path", "old_string", "new_string")},
    {"name": "Bash", "input_schema": schema("command", "description", required=("command",))},
]


@pytest.fixture
def server():
    with ModelServer(SCRIPT, usage=USAGE) as srv:
        yield srv
    assert not srv.errors


def anthropic(server: ModelServer, results: int = 0, stream: bool = True, **extra: Any) -> Answer:
    """A Claude Code-like request after ``results`` tool round trips."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": "Make hello.py"}]}]
    for i in range(results):
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": "X", "input": {}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}]})
    body = {"model": "claude-x", "max_tokens": 1000, "stream": stream, "messages": messages,
            "system": [{"type": "text", "text": f"Working directory: {CWD}\n"}], "tools": CLAUDE_TOOLS, **extra}  # fmt: skip
    return post(server.port, "/v1/messages?beta=true", body, headers={"x-api-key": "sk-secret"})


class TestScript:
    def test_finish_is_added_and_must_be_last(self) -> None:
        """A script without a Finish gets one; a Finish in the middle is refused with the fix."""
        assert Script([ReadFile("a")]).steps[-1] == Finish("Done.")
        with pytest.raises(ScriptError, match="make it the last"):
            Script([Finish("x"), ReadFile("a")])

    def test_yaml_file_round_trips(self, tmp_path) -> None:
        """A YAML script file loads every step kind, fault and usage, and to_dict reads back equal."""
        path = tmp_path / "s.yaml"
        path.write_text(
            "usage: {input_tokens: 7, output_tokens: 8}\n"
            "fault: {kind: rate_limit, times: 1, retry_after: 2}\n"
            "steps:\n"
            "  - {write: a.py, content: \"x = 1\\n\"}\n"
            "  - {edit: a.py, old: '1', new: '2', fault: {kind: server_error, times: 1}}\n"
            "  - read: a.py\n"
            "  - run: python a.py\n"
            "  - {call: TodoWrite, arguments: {todos: []}}\n"
            "  - finish: done\n"
        )
        scenario = Scenario.load(path)
        steps = scenario.scripts[0].steps
        assert steps == (WriteFile("a.py", "x = 1\n"), EditFile("a.py", "1", "2", Fault("server_error", times=1)),
                         ReadFile("a.py"), RunCommand("python a.py"), CallTool("TodoWrite", {"todos": []}),
                         Finish("done"))  # fmt: skip
        assert scenario.usage == Usage(7, 8) and scenario.fault == Fault("rate_limit", times=1, retry_after=2)
        assert Scenario.from_dict(json.loads(json.dumps(scenario.to_dict()))) == scenario

    def test_conversations_pick_a_script_by_match(self) -> None:
        """`conversations` gives one script per match; the one without `match` is the fallback."""
        scenario = Scenario.from_dict({"conversations": [
            {"match": "Task 1.1", "steps": [{"finish": "one"}]}, {"steps": [{"finish": "other"}]}]})  # fmt: skip
        assert scenario.script_for("Do Task 1.1 now").finish.message == "one"
        assert scenario.script_for("Task 2").finish.message == "other"

    @pytest.mark.parametrize(("data", "message"), [
        ({"steps": [{"write": "a"}]}, "missing content"),
        ({"steps": [{"wirte": "a"}]}, "needs exactly one of write"),
        ({"steps": [], "fault": {"kind": "boom"}}, "unknown fault kind 'boom'"),
        ({"stpes": []}, "unknown key"),
    ])  # fmt: skip
    def test_bad_scripts_say_what_to_fix(self, data, message) -> None:
        """A misspelt key, a missing field or an unknown fault is a ScriptError naming it."""
        with pytest.raises(ScriptError, match=message):
            Scenario.from_dict(data)

    def test_bad_yaml_names_the_file(self, tmp_path) -> None:
        """Unparseable YAML raises a ScriptError with the path."""
        (tmp_path / "s.yml").write_text("steps: [\n")
        with pytest.raises(ScriptError, match=r"s\.yml: not valid YAML"):
            Scenario.load(tmp_path / "s.yml")

    def test_docstrings_run(self) -> None:
        """The examples in the package docstrings work."""
        for module in (nborch.testing, nborch.testing.client):
            assert doctest.testmod(module).failed == 0


class TestAnthropic:
    def test_tool_use_stream_has_the_documented_event_sequence(self, server) -> None:
        """A streamed tool_use answer: message_start … input_json_delta … message_delta, message_stop."""
        answer = anthropic(server)
        assert answer.status == 200 and answer.headers["content-type"] == "text/event-stream"
        names = answer.names()
        assert names[:3] == ["message_start", "ping", "content_block_start"]
        assert set(names[3:-3]) == {"content_block_delta"}
        assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
        datas = answer.datas()
        assert [d["type"] for d in datas] == names  # each data's type matches its event name
        start = datas[0]["message"]
        assert start["role"] == "assistant" and start["content"] == [] and start["stop_reason"] is None
        assert start["usage"]["input_tokens"] == 321 and start["usage"]["cache_read_input_tokens"] == 6
        block = datas[2]["content_block"]
        assert block["type"] == "tool_use" and block["name"] == "Write" and block["input"] == {}
        assert block["id"].startswith("toolu_")
        partial = "".join(d["delta"]["partial_json"] for d in datas[3:-3])
        assert all(d["delta"]["type"] == "input_json_delta" for d in datas[3:-3])
        assert json.loads(partial) == {"file_path": f"{CWD}/hello.py", "content": "print('hi')\n"}
        assert datas[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
        assert datas[-2]["usage"] == {"output_tokens": 45}

    def test_each_tool_result_moves_to_the_next_step(self, server) -> None:
        """After n tool results the answer is step n: Edit, Read, Bash, then the final message."""
        calls = [anthropic(server, n, stream=False).json["content"][0] for n in (1, 2, 3)]
        assert [(c["name"], c["input"]) for c in calls] == [
            ("Edit", {"file_path": f"{CWD}/hello.py", "old_string": "'hi'", "new_string": "'hello'"}),
            ("Read", {"file_path": f"{CWD}/hello.py"}),
            ("Bash", {"command": "python hello.py"}),
        ]
        final = anthropic(server, 4, stream=False).json
        assert final["content"] == [{"type": "text", "text": "Created hello.py."}]
        assert final["stop_reason"] == "end_turn" and final["usage"]["output_tokens"] == 45
        assert [r.step for r in server.requests] == [1, 2, 3, 4]

    def test_final_text_streams_as_text_deltas(self, server) -> None:
        """The finishing answer streams a text block in text_delta pieces and stops with end_turn."""
        datas = anthropic(server, 4).datas()
        assert datas[2]["content_block"] == {"type": "text", "text": ""}
        text = "".join(d["delta"]["text"] for d in datas if d["type"] == "content_block_delta")
        assert text == "Created hello.py." and datas[-2]["delta"]["stop_reason"] == "end_turn"

    def test_a_retry_gets_the_same_call(self, server) -> None:
        """The same request twice gets the same tool call id: retries do not skip steps."""
        first, second = (anthropic(server, 1, stream=False).json for _ in range(2))
        assert first["content"] == second["content"]

    def test_side_calls_consume_no_step(self, server) -> None:
        """No tools (Claude Code's title or quota probe) or a "Warmup" prompt: "OK", no step."""
        body = {"model": "haiku", "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}
        answer = post(server.port, "/v1/messages", body).json
        assert answer["content"] == [{"type": "text", "text": "OK"}]
        policy = {**body, "messages": [{"role": "user", "content": "<policy_spec>…</policy_spec> ls"}]}
        assert post(server.port, "/v1/messages", policy).json["content"][0]["text"] == "none"
        warmup = {**body, "tools": CLAUDE_TOOLS, "messages": [{"role": "user", "content": "Warmup"}]}
        assert post(server.port, "/v1/messages", warmup).json["content"][0]["text"] == "OK"
        assert anthropic(server, stream=False).json["content"][0]["name"] == "Write"
        assert [(r.side, r.step) for r in server.requests] == [(True, None)] * 3 + [(False, 0)]

    def test_count_tokens_and_startup_gets(self, server) -> None:
        """count_tokens answers the configured prompt size; start-up GETs get JSON, not errors."""
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        assert post(server.port, "/v1/messages/count_tokens?beta=true", body).json == {"input_tokens": 327}
        assert request(server.port, "GET", "/v1/models").json["data"][0]["id"] == "m"
        assert request(server.port, "GET", "/api/hello").json == {}

    def test_requests_are_recorded_without_credentials(self, server) -> None:
        """Each request is recorded with its body and headers, minus the API key."""
        anthropic(server)
        rec = server.requests[0]
        assert rec.method == "POST" and rec.path == "/v1/messages?beta=true"
        assert rec.protocol == "anthropic" and rec.body["model"] == "claude-x"
        assert "x-api-key" not in rec.headers and rec.headers["content-type"] == "application/json"
        assert "sk-secret" not in json.dumps(rec.body) + json.dumps(rec.headers)

    def test_anthropic_text_editor_tool(self) -> None:
        """Anthropic's schema-less text editor tool gets its create command and argument names."""
        tools = [{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]
        with ModelServer(Script([WriteFile("a.txt", "A")])) as srv:
            body = {"model": "m", "max_tokens": 9, "tools": tools, "messages": [{"role": "user", "content": "go"}]}
            block = post(srv.port, "/v1/messages", body).json["content"][0]
        assert block["input"] == {"command": "create", "path": "a.txt", "file_text": "A"}


def chat(server: ModelServer, tools: list[Any] | None, results: int = 0, **extra: Any) -> Answer:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You code."},
                                      {"role": "user", "content": "Make hello.py"}]  # fmt: skip
    for i in range(results):
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": f"c{i}", "type": "function", "function": {"name": "x", "arguments": "{}"}}]})
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": "ok"})
    body = {"model": "m", "stream": True, "messages": messages, **extra}
    if tools is not None:
        body["tools"] = tools
    return post(server.port, "/v1/chat/completions", body)


def fn(name: str, *params: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": schema(*params)}}


QWEN_TOOLS = [fn("write_file", "file_path", "content"), fn("replace", "file_path", "old_string", "new_string"),
              fn("read_file", "absolute_path"), fn("run_shell_command", "command")]  # fmt: skip


class TestChatCompletions:
    def test_tool_call_stream_shape(self, server) -> None:
        """Chunks: role first, tool call id/name then argument pieces, finish_reason, usage, [DONE]."""
        answer = chat(server, QWEN_TOOLS)
        datas = answer.datas()
        assert answer.names() == [None] * len(datas) and datas[-1] == "[DONE]"
        chunks = datas[:-1]
        assert all(c["object"] == "chat.completion.chunk" and c["model"] == "m" for c in chunks)
        assert len({c["id"] for c in chunks}) == 1
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        head = chunks[1]["choices"][0]["delta"]["tool_calls"][0]
        assert head["index"] == 0 and head["type"] == "function" and head["id"].startswith("call_")
        assert head["function"] == {"name": "write_file", "arguments": ""}
        args = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in chunks[2:-1])
        assert json.loads(args) == {"file_path": "hello.py", "content": "print('hi')\n"}
        last = chunks[-1]
        assert last["choices"] == [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]
        assert last["usage"] == {"prompt_tokens": 327, "completion_tokens": 45, "total_tokens": 372,
                                 "prompt_tokens_details": {"cached_tokens": 6}}  # fmt: skip

    def test_include_usage_sends_a_usage_chunk(self, server) -> None:
        """With stream_options.include_usage the usage comes in its own chunk with empty choices."""
        chunks = chat(server, QWEN_TOOLS, 4, stream_options={"include_usage": True}).datas()[:-1]
        assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and "usage" not in chunks[-2]
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 372
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
        assert text == "Created hello.py."

    def test_non_stream_answers(self, server) -> None:
        """Without stream: one chat.completion with message.tool_calls (arguments as a JSON string)."""
        answer = chat(server, QWEN_TOOLS, 3, stream=False).json
        choice = answer["choices"][0]
        assert answer["object"] == "chat.completion" and choice["finish_reason"] == "tool_calls"
        call = choice["message"]["tool_calls"][0]
        assert call["function"]["name"] == "run_shell_command"
        assert json.loads(call["function"]["arguments"]) == {"command": "python hello.py"}
        assert answer["usage"]["completion_tokens"] == 45

    def test_aider_gets_the_whole_edit_format(self) -> None:
        """No tools (aider): every write and edit at once as `name` + fenced whole file, then done."""
        script = Script([WriteFile("new.py", "x = 1\n"), EditFile("app.py", "return 42", "return 43"),
                         RunCommand("pytest"), Finish("Edited.")])  # fmt: skip
        shown = "Here are the files:\n\napp.py\n```\ndef answer():\n    return 42\n```\n"
        with ModelServer(script) as srv:
            body = {"model": "m", "messages": [  # aider opens with an example exchange
                {"role": "system", "content": "Act as an expert."},
                {"role": "user", "content": "Change the greeting"},
                {"role": "assistant", "content": "Ok.\n\ngreeting.py\n```\nprint('hey')\n```\n"},
                {"role": "user", "content": shown + "Do the task."}]}  # fmt: skip
            first = post(srv.port, "/v1/chat/completions", body).json["choices"][0]["message"]["content"]
            body["messages"] += [{"role": "assistant", "content": first}, {"role": "user", "content": "lint ok?"}]
            second = post(srv.port, "/v1/chat/completions", body).json["choices"][0]["message"]["content"]
        assert first == ("Edited.\n\nnew.py\n```\nx = 1\n```\n"
                         "\napp.py\n```\ndef answer():\n    return 43\n```\n")  # fmt: skip
        assert second == "Edited."
        assert [r.side for r in srv.requests] == [False, False]

    def test_aider_edit_of_a_file_not_in_the_chat_is_explained(self) -> None:
        """An edit the whole format cannot make (file not shown) answers why, and records it."""
        with ModelServer(Script([EditFile("gone.py", "a", "b")])) as srv:
            body = {"model": "m", "messages": [{"role": "user", "content": "go"}]}
            text = post(srv.port, "/v1/chat/completions", body).json["choices"][0]["message"]["content"]
        assert "edit gone.py" in text and "not in the chat" in text
        assert srv.requests[0].problem and "gone.py" in srv.requests[0].problem


def responses(server: ModelServer, tools: list[Any], results: int = 0, **extra: Any) -> Answer:
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": f"<environment_context><cwd>{CWD}</cwd></environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Make hello.py"}]},
    ]
    for i in range(results):
        items += [{"type": "function_call", "call_id": f"c{i}", "name": "x", "arguments": "{}"},
                  {"type": "function_call_output", "call_id": f"c{i}", "output": "ok"}]  # fmt: skip
    body = {"model": "m", "instructions": "You are Codex.", "input": items, "tools": tools,
            "stream": True, "store": False, **extra}  # fmt: skip
    return post(server.port, "/v1/responses", body)


EXEC = {"type": "function", "name": "exec_command", "parameters": schema("cmd", "workdir", required=("cmd",))}
PATCH = {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "…"}}


class TestResponses:
    def test_function_call_stream_shape(self, server) -> None:
        """created, in_progress, output_item.added, arguments deltas/done, item done, completed."""
        answer = responses(server, [EXEC], results=3)
        names, datas = answer.names(), answer.datas()
        assert names[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
        assert names[-3:] == ["response.function_call_arguments.done", "response.output_item.done",
                              "response.completed"]  # fmt: skip
        assert set(names[3:-3]) == {"response.function_call_arguments.delta"}
        assert [d["type"] for d in datas] == names
        assert [d["sequence_number"] for d in datas] == list(range(len(datas)))
        added, done = datas[2]["item"], datas[-2]["item"]
        assert added["type"] == "function_call" and added["arguments"] == "" and added["name"] == "exec_command"
        assert done["call_id"] == added["call_id"] and done["status"] == "completed"
        assert "".join(d["delta"] for d in datas[3:-3]) == done["arguments"]
        assert json.loads(done["arguments"]) == {"cmd": "python hello.py"}
        final = datas[-1]["response"]
        assert final["status"] == "completed" and final["output"] == [done]
        assert final["usage"] == {"input_tokens": 327, "input_tokens_details": {"cached_tokens": 6},
                                  "output_tokens": 45, "output_tokens_details": {"reasoning_tokens": 0},
                                  "total_tokens": 372}  # fmt: skip

    def test_codex_without_a_file_tool_writes_through_its_shell(self, server) -> None:
        """With only exec_command, a file write is a shell command that creates the exact content."""
        done = responses(server, [EXEC]).datas()[-2]["item"]
        assert json.loads(done["arguments"]) == {"cmd": "printf '%s' 'print('\"'\"'hi'\"'\"')\n' > hello.py"}

    def test_apply_patch_custom_tool(self, server) -> None:
        """A custom apply_patch tool gets a custom_tool_call with the patch streamed as input deltas."""
        answer = responses(server, [EXEC, PATCH], results=1)
        names, datas = answer.names(), answer.datas()
        assert "response.custom_tool_call_input.delta" in names
        item = datas[-2]["item"]
        assert item["type"] == "custom_tool_call" and item["name"] == "apply_patch"
        # apply_patch replaces whole lines: the script's old/new text becomes -/+ lines.
        assert item["input"] == "*** Begin Patch\n*** Update File: hello.py\n@@\n-'hi'\n+'hello'\n*** End Patch\n"
        deltas = "".join(d["delta"] for d in datas if d["type"] == "response.custom_tool_call_input.delta")
        assert deltas == item["input"]

    def test_final_message_stream(self, server) -> None:
        """The last answer is a message item: content part, output_text deltas, done events."""
        answer = responses(server, [EXEC], results=4)
        assert answer.names() == [
            "response.created", "response.in_progress", "response.output_item.added",
            "response.content_part.added", "response.output_text.delta", "response.output_text.done",
            "response.content_part.done", "response.output_item.done", "response.completed"]  # fmt: skip
        item = answer.datas()[-2]["item"]
        assert item["type"] == "message" and item["role"] == "assistant"
        assert item["content"] == [{"type": "output_text", "text": "Created hello.py.", "annotations": []}]

    def test_non_stream_and_models(self, server) -> None:
        """Without stream: the response object; GET /v1/models lists a model."""
        answer = responses(server, [EXEC], results=2, stream=False).json
        assert answer["object"] == "response" and answer["status"] == "completed"
        assert json.loads(answer["output"][0]["arguments"]) == {"cmd": "cat hello.py"}
        assert request(server.port, "GET", "/v1/models").json["object"] == "list"


def gemini(server: ModelServer, path: str, results: int = 0, **extra: Any) -> Answer:
    contents: list[dict[str, Any]] = [
        {"role": "user", "parts": [{"text": f"I'm currently working in the directory: {CWD}\n"}]},
        {"role": "model", "parts": [{"text": "Got it. Thanks for the context!"}]},
        {"role": "user", "parts": [{"text": "Make hello.py"}]},
    ]
    for i in range(results):
        contents += [{"role": "model", "parts": [{"functionCall": {"name": "x", "args": {}}}]},
                     {"role": "user", "parts": [{"functionResponse": {"name": "x", "response": {"output": "ok"}}}]}]  # fmt: skip
    tools = [{"functionDeclarations": [
        {"name": "write_file", "parametersJsonSchema": schema("file_path", "content")},
        {"name": "replace", "parametersJsonSchema": schema("file_path", "old_string", "new_string", "instruction")},
        {"name": "read_file", "parametersJsonSchema": schema("absolute_path")},
        {"name": "run_shell_command", "parametersJsonSchema": schema("command", "description", required=("command",))}]}]  # fmt: skip
    body = {"contents": contents, "tools": tools, "systemInstruction": {"parts": [{"text": "You are Gemini CLI."}]}, **extra}
    return post(server.port, path, body, headers={"x-goog-api-key": "secret"})


SSE = "/v1beta/models/gemini-x:streamGenerateContent?alt=sse"


class TestGemini:
    def test_function_call_stream(self, server) -> None:
        """One data event: candidates[0].content.parts[0].functionCall, STOP, usageMetadata."""
        answer = gemini(server, SSE)
        assert answer.names() == [None]
        chunk = answer.datas()[0]
        candidate = chunk["candidates"][0]
        assert candidate["content"]["role"] == "model" and candidate["finishReason"] == "STOP"
        call = candidate["content"]["parts"][0]["functionCall"]
        assert call["name"] == "write_file"
        assert call["args"] == {"file_path": f"{CWD}/hello.py", "content": "print('hi')\n"}
        assert chunk["usageMetadata"] == {"promptTokenCount": 327, "candidatesTokenCount": 45,
                                          "totalTokenCount": 372, "cachedContentTokenCount": 6}  # fmt: skip
        assert chunk["modelVersion"] == "gemini-x"

    def test_unknown_required_arguments_get_a_filler(self, server) -> None:
        """replace's required `instruction` (not in the script) is filled; the edit is exact."""
        args = gemini(server, SSE, results=1).datas()[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["args"]
        assert args["old_string"] == "'hi'" and args["new_string"] == "'hello'"
        assert args["instruction"].startswith("nborch model server: edit hello.py")

    def test_text_streams_in_pieces_with_usage_last(self, server) -> None:
        """The final message comes in several text chunks; only the last has finishReason and usage."""
        chunks = gemini(server, SSE, results=4).datas()
        assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "Created hello.py."
        assert "usageMetadata" not in chunks[0] or len(chunks) == 1
        assert chunks[-1]["candidates"][0]["finishReason"] == "STOP" and "usageMetadata" in chunks[-1]

    def test_routing_call_gets_json_matching_its_schema(self, server) -> None:
        """Gemini CLI's routing call (generateContent with a JSON schema) is a side call."""
        route = {"type": "object", "properties": {"reasoning": {"type": "string"},
                 "model_choice": {"type": "string", "enum": ["flash", "pro"]}}, "required": ["reasoning", "model_choice"]}  # fmt: skip
        body = {"contents": [{"role": "user", "parts": [{"text": "route this"}]}],
                "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": route}}  # fmt: skip
        answer = post(server.port, "/v1beta/models/flash:generateContent", body).json
        text = answer["candidates"][0]["content"]["parts"][0]["text"]
        assert json.loads(text) == {"reasoning": "ok", "model_choice": "flash"}
        assert server.requests[0].side and server.requests[0].step is None

    def test_stream_without_sse_is_a_json_array_and_count_tokens(self, server) -> None:
        """streamGenerateContent without alt=sse answers a JSON array; countTokens a total."""
        answer = gemini(server, "/v1beta/models/g:streamGenerateContent").json
        assert isinstance(answer, list) and "functionCall" in answer[0]["candidates"][0]["content"]["parts"][0]
        assert post(server.port, "/v1beta/models/g:countTokens", {"contents": []}).json == {"totalTokens": 327}

    def test_api_key_in_the_query_is_not_recorded(self, server) -> None:
        """A `key=` query parameter and the x-goog-api-key header are left out of the records."""
        gemini(server, SSE + "&key=topsecret")
        rec = server.requests[0]
        assert "topsecret" not in rec.path and "key=REDACTED" in rec.path
        assert "x-goog-api-key" not in rec.headers


class TestConversations:
    def test_scripts_are_picked_by_the_prompt(self) -> None:
        """Each conversation replays the script whose match is in its prompt."""
        scripts = [Script([WriteFile("a.txt", "A")], match="Task A"),
                   Script([WriteFile("b.txt", "B")], match="Task B")]  # fmt: skip
        with ModelServer(scripts) as srv:
            for task, name in (("Task B", "b.txt"), ("Task A", "a.txt")):
                body = {"model": "m", "max_tokens": 9, "tools": CLAUDE_TOOLS,
                        "messages": [{"role": "user", "content": f"Do {task}"}]}  # fmt: skip
                assert post(srv.port, "/v1/messages", body).json["content"][0]["input"]["file_path"] == name
            body["messages"][0]["content"] = "Do Task C"
            text = post(srv.port, "/v1/messages", body).json["content"][0]["text"]
        assert "no script matches" in text and srv.requests[-1].problem
        assert len({r.conversation for r in srv.requests}) == 3

    def test_header_names_the_conversation(self) -> None:
        """x-nborch-conversation selects the script and keys the conversation."""
        with ModelServer([Script([Finish("by header")], match="conv-7")]) as srv:
            body = {"model": "m", "max_tokens": 9, "tools": CLAUDE_TOOLS,
                    "messages": [{"role": "user", "content": "anything"}]}  # fmt: skip
            answer = post(srv.port, "/v1/messages", body, headers={"x-nborch-conversation": "conv-7"})
        assert answer.json["content"][0]["text"] == "by header"

    def test_a_step_no_tool_can_do_is_explained(self) -> None:
        """A command with no shell tool offered ends the conversation with the reason."""
        with ModelServer(Script([RunCommand("make")])) as srv:
            body = {"model": "m", "max_tokens": 9, "tools": CLAUDE_TOOLS[:1],
                    "messages": [{"role": "user", "content": "go"}]}  # fmt: skip
            text = post(srv.port, "/v1/messages", body).json["content"][0]["text"]
        assert text == "nborch model server: step 1 (run make): no shell tool among Read"

    def test_unknown_endpoint_and_bad_json(self, server) -> None:
        """An unknown POST is a 404 naming the endpoints; a body that is not JSON a 400."""
        missing = post(server.port, "/v2/complete", {})
        assert missing.status == 404 and "/v1/messages" in missing.json["error"]["message"]
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("POST", "/v1/chat/completions", b"{not json", {"content-type": "application/json"})
        bad = conn.getresponse()
        assert bad.status == 400 and "not JSON" in json.loads(bad.read())["error"]["message"]
        conn.close()

    def test_env_points_clients_here(self, server) -> None:
        """env() gives the base URLs (OpenAI's with /v1) and a key for each vendor's client."""
        env = server.env()
        assert env["ANTHROPIC_BASE_URL"] == server.url and env["OPENAI_BASE_URL"] == server.url + "/v1"
        assert env["GOOGLE_GEMINI_BASE_URL"] == server.url and env["GEMINI_API_KEY"]
