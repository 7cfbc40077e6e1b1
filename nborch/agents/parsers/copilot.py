"""Parser for GitHub Copilot CLI ``copilot -p … --output-format json`` (JSON lines).

Each line is a session event ``{"type": …, "data": {…}, "id", "timestamp", …}``: among others
``assistant.message`` (``content``, ``toolRequests``), ``assistant.message_delta``,
``assistant.usage`` (``inputTokens``, ``outputTokens``, ``cost`` — a premium-request
multiplier, *not* dollars), ``tool.execution_start`` (``toolName``, ``arguments``),
``tool.execution_complete`` (``success``, ``result``, ``error``), ``session.error``,
``session.warning``, and a terminal ``{"type": "result", "exitCode": N, "usage": {…}}`` whose
usage holds ``premiumRequests`` and ``codeChanges`` but no tokens. The CLI's own exit code is 0
even when the agent failed: ``exitCode`` on the ``result`` line is the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...events import AgentEvent
from .base import (
    LOG_CLIP,
    count,
    error,
    items,
    json_parser,
    log,
    mapping,
    message,
    text_of,
    tool_call,
)

_QUIET = (
    "assistant.message_delta",
    "assistant.message_start",
    "assistant.reasoning",
    "assistant.reasoning_delta",
    "assistant.streaming_delta",
    "assistant.turn_start",
    "assistant.turn_end",
    "assistant.intent",
    "tool.execution_partial_result",
    "tool.execution_progress",
    "user.message",
    "session.idle",
)


def _usage(data: Mapping[str, Any]) -> list[AgentEvent]:
    extra = {"model": text_of(data.get("model"), 200), "premium_cost": data.get("cost")}
    inp, out = count(data.get("inputTokens")), count(data.get("outputTokens"))
    return [AgentEvent("usage", data=extra, input_tokens=inp, output_tokens=out)]


def _shutdown(data: Mapping[str, Any]) -> list[AgentEvent]:
    """``session.shutdown`` may carry per-model totals for the whole session."""
    inp = out = 0
    for metrics in mapping(data.get("modelMetrics")).values():
        usage = mapping(mapping(metrics).get("usage"))
        inp += count(usage.get("inputTokens"))
        out += count(usage.get("outputTokens"))
    if not inp and not out:
        return []
    return [AgentEvent("usage", input_tokens=inp, output_tokens=out, cumulative=True)]


def _result(obj: Mapping[str, Any]) -> list[AgentEvent]:
    code = obj.get("exitCode")
    is_error = isinstance(code, int) and not isinstance(code, bool) and code != 0
    usage = mapping(obj.get("usage"))
    changes = mapping(usage.get("codeChanges"))
    data = {
        "exit_code": code if isinstance(code, int) else None,
        "premium_requests": usage.get("premiumRequests"),
        "files_modified": [
            text_of(f, LOG_CLIP) for f in items(changes.get("filesModified")) if isinstance(f, str)
        ],
        "session_id": text_of(obj.get("sessionId"), 200),
    }
    reason = f"copilot reported exit code {code}" if is_error else ""
    result = AgentEvent("result", text=reason, data=data, is_error=is_error)
    return [error(reason, fatal=True), result] if is_error else [result]


@json_parser
def parse_copilot(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """Copilot CLI JSON events; tokens come from ``assistant.usage`` lines when it prints them."""
    kind = obj.get("type")
    data = mapping(obj.get("data"))
    if kind == "assistant.message":
        return message(text_of(data.get("content")))
    if kind == "tool.execution_start":
        return tool_call(data.get("toolName"), data.get("arguments"), data.get("toolCallId"))
    if kind == "tool.execution_complete":
        if data.get("success") is not False:
            return []
        reason = data.get("error")
        reason = text_of(mapping(reason).get("message") if isinstance(reason, dict) else reason)
        return [log(f"tool failed: {reason or 'no reason given'}"[:LOG_CLIP])]
    if kind == "assistant.usage":
        return _usage(data)
    if kind == "session.error":
        return [
            error(
                text_of(data.get("message")),
                fatal=True,
                error_type=text_of(data.get("errorType"), 100),
            )
        ]
    if kind == "session.shutdown":
        return _shutdown(data)
    if kind == "result":
        return _result(obj)
    if kind in _QUIET or obj.get("ephemeral") is True:
        return []  # streaming fragments and UI state: the complete events follow
    if kind in ("session.warning", "session.info"):
        return [log(text_of(data.get("message"), LOG_CLIP) or str(kind), level=kind)]
    return [log(f"{text_of(kind, 100) or 'event'}: {text_of(str(dict(data)), 300)}")]
