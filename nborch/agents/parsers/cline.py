"""Parser for Cline CLI ``cline -y --json`` (JSON lines).

In JSON mode the CLI prints ``{"type": "task_started", "taskId": …}`` and then every finished
Cline message as it is (``cli/src/utils/plain-text-task.ts``): ``{"ts", "type": "say"|"ask",
"say"|"ask": <kind>, "text", …}``. The run ends on ``completion_result`` (success) or on
``say: error`` / ``ask: api_req_failed`` (failure), after which the CLI prints
``{"type": "error", "message": …}`` (also for its own failures, e.g. a timeout): that line is
the failed ``result``. ``api_req_started`` carries a JSON text with ``tokensIn``,
``tokensOut``, ``cacheWrites``, ``cacheReads`` and ``cost`` per API request, when Cline has
filled them in by the time the line is printed. ``tool`` messages carry a JSON text such as
``{"tool": "editedExistingFile", "path": …}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...events import AgentEvent
from .base import (
    LOG_CLIP,
    count,
    error,
    file_edit,
    json_parser,
    load_json,
    log,
    mapping,
    message,
    money,
    text_of,
    tool_call,
)

_EDITS = {"editedExistingFile": "update", "newFileCreated": "add", "fileDeleted": "delete"}
_QUIET = ("api_req_finished", "reasoning", "checkpoint_created", "command_output", "partial")


def _failed(reason: str) -> list[AgentEvent]:
    return [error(reason, fatal=True), AgentEvent("result", text=reason, is_error=True)]


def _api_request(text: str) -> list[AgentEvent]:
    info = mapping(load_json(text))
    inp = count(info.get("tokensIn")) + count(info.get("cacheWrites"))
    inp += count(info.get("cacheReads"))
    out = count(info.get("tokensOut"))
    cost = money(info.get("cost"))
    if not inp and not out and cost is None:
        return []
    return [AgentEvent("usage", input_tokens=inp, output_tokens=out, cost_usd=cost)]


def _tool(text: str) -> list[AgentEvent]:
    info = mapping(load_json(text))
    name = text_of(info.get("tool"), 100) or "tool"
    path = text_of(info.get("path"), LOG_CLIP)
    events = [e for e in tool_call(name, {"path": path} if path else {}) if e.kind == "tool_call"]
    if name in _EDITS and path:
        events.append(file_edit(path, name, _EDITS[name]))
    return events


def _cline_message(kind: str, obj: Mapping[str, Any]) -> list[AgentEvent]:
    text = text_of(obj.get("text"))
    if kind == "text":
        return message(text)
    if kind == "completion_result":
        return [AgentEvent("result", text=text)] if obj.get("type") == "say" else []
    if kind == "api_req_started":
        return _api_request(text)
    if kind == "tool":
        return _tool(text)
    if kind == "command":
        return tool_call("execute_command", {"command": text})
    if kind == "error" and obj.get("type") == "say":
        return [error(text or "Cline reported an error", fatal=True)]
    if kind == "api_req_failed":
        return [error(text or "the API request failed", fatal=True)]
    if kind == "mistake_limit_reached":
        return [error(text or "Cline made too many mistakes in a row", fatal=True)]
    if kind in ("api_req_retried", "error_retry"):
        return [log(text or "retrying the API request", retry=True)]
    if kind in ("followup", "plan_mode_respond", "act_mode_respond"):
        question = text_of(mapping(load_json(text)).get("question")) or text
        return message(question)
    if kind in _QUIET:
        return []
    return [log(f"{kind}: {text}" if text else kind)]


@json_parser
def parse_cline(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """Cline ``--json``: ``say``/``ask`` messages; ``completion_result`` is the final result."""
    kind = obj.get("type")
    if kind in ("say", "ask"):
        if obj.get("partial") is True:
            return []
        return _cline_message(text_of(obj.get(kind), 100) or "message", obj)
    if kind == "error":
        return _failed(text_of(obj.get("message")) or "the Cline CLI failed")
    if kind == "task_started":
        return [log("task started", task_id=text_of(obj.get("taskId"), 200))]
    return [log(f"{text_of(kind, 100) or 'event'}: {text_of(str(dict(obj)), 300)}")]
