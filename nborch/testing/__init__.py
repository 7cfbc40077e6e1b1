"""A local model server that speaks the vendors' APIs and replays scripted answers.

Real coding-agent CLIs (Claude Code, Codex, Gemini CLI, aider, …) can run against it on
127.0.0.1 without an account or a token spent: tests drive them end to end, and users rehearse a
plan to check their agents' set-up. One server speaks every protocol at once:

==========================  =============================================================
Anthropic Messages          ``POST /v1/messages`` (SSE or JSON), ``/v1/messages/count_tokens``
OpenAI Chat Completions     ``POST /v1/chat/completions`` (SSE or JSON)
OpenAI Responses            ``POST /v1/responses`` (SSE or JSON), ``GET /v1/models``
Gemini                      ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``,
                            ``:generateContent``, ``:countTokens``
==========================  =============================================================

Any API key is accepted. Each conversation replays a :class:`Script`: the step it is at is the
number of tool results already in the request, so a client's retries, and several conversations
at once, all get the right answer. Each step becomes a call of the tool the client offers for it
(``Write``/``write_file``/``apply_patch``/a shell heredoc …); a client that offers no tools (aider)
gets aider's "whole" edit format instead. Side calls (Claude Code's title and quota probes,
Gemini CLI's routing call asking for JSON) get a harmless valid answer and consume no step.

>>> import json, urllib.request
>>> from nborch.testing import Finish, ModelServer, Script, WriteFile
>>> script = Script([WriteFile("hello.py", "print('hi')\\n"), Finish("Created hello.py.")])
>>> with ModelServer(script) as server:                    # a thread; process=True for a process
...     body = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "go"}],
...             "tools": [{"name": "Write", "input_schema": {"type": "object", "properties": {
...                 "file_path": {"type": "string"}, "content": {"type": "string"}}}}]}
...     req = urllib.request.Request(server.url + "/v1/messages", json.dumps(body).encode(),
...                                  {"content-type": "application/json"})
...     answer = json.load(urllib.request.urlopen(req))
>>> answer["content"][0]["name"], answer["content"][0]["input"]
('Write', {'file_path': 'hello.py', 'content': "print('hi')\\n"})
>>> server.requests[0].path, server.requests[0].step
('/v1/messages', 0)

``ModelServer(scenario_or_script, *, usage=None, fault=None, process=False)``; ``.url``,
``.port``, ``.env()`` (the variables that point each CLI here), ``.requests``, ``.fault`` (assign
to change it while running), ``.errors``, ``.stop()``. From a shell:
``python -m nborch.testing.server --script FILE.yaml --port-file F [--record REQUESTS.jsonl]``.
The script file format is in :mod:`nborch.testing.script`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .script import (
    FAULT_KINDS,
    CallTool,
    EditFile,
    Fault,
    Finish,
    ReadFile,
    RunCommand,
    Scenario,
    Script,
    ScriptError,
    Step,
    Usage,
    WriteFile,
)
from .state import RecordedRequest

if TYPE_CHECKING:
    from .server import ModelServer


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `python -m nborch.testing.server` does not find the module
    # already imported by its own package (runpy warns about that).
    if name == "ModelServer":
        from .server import ModelServer

        return ModelServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAULT_KINDS",
    "CallTool",
    "EditFile",
    "Fault",
    "Finish",
    "ModelServer",
    "ReadFile",
    "RecordedRequest",
    "RunCommand",
    "Scenario",
    "Script",
    "ScriptError",
    "Step",
    "Usage",
    "WriteFile",
]
