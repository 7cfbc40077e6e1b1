"""Parser for opencode ``opencode run --format json`` (JSON lines).

``run`` prints ``{"type", "timestamp", "sessionID", …}`` events (``cli/cmd/run.ts``):
``step_start`` and ``step_finish`` (``part.tokens`` ``input``/``output``/``reasoning``/
``cache.read``/``cache.write`` and ``part.cost`` in dollars, per step), ``text`` (a finished
text part), ``reasoning``, ``tool_use`` (a tool part once ``completed`` or ``error``, with
``part.tool`` and ``part.state.input``) and ``error`` (``error.name``, ``error.data.message``).
There is no closing event: the run ends with the process. A session ``error`` ends the run, so
it maps to a fatal ``error`` plus a ``result`` with ``is_error=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...events import AgentEvent
from .base import (
    LOG_CLIP,
    count,
    error,
    json_parser,
    log,
    looks_transient,
    mapping,
    message,
    money,
    text_of,
    tool_call,
)


def _tool(part: Mapping[str, Any]) -> list[AgentEvent]:
    state = mapping(part.get("state"))
    name = text_of(part.get("tool"), 200) or "tool"
    events = tool_call(name, state.get("input"), part.get("callID"))
    if state.get("status") == "error":
        # a failed call wrote nothing: keep the call, drop the file_edit, say why it failed
        reason = text_of(state.get("error"), LOG_CLIP) or "failed"
        events = [e for e in events if e.kind == "tool_call"]
        events.append(log(f"{name} failed: {reason}", tool=name))
    return events


def _step_finish(part: Mapping[str, Any]) -> list[AgentEvent]:
    tokens = mapping(part.get("tokens"))
    cache = mapping(tokens.get("cache"))
    inp = count(tokens.get("input")) + count(cache.get("read")) + count(cache.get("write"))
    out = count(tokens.get("output")) + count(tokens.get("reasoning"))
    cost = money(part.get("cost"))
    if not inp and not out and cost is None:
        return []
    data = {"reason": text_of(part.get("reason"), 50), "cache_read": count(cache.get("read"))}
    return [AgentEvent("usage", data=data, input_tokens=inp, output_tokens=out, cost_usd=cost)]


@json_parser
def parse_opencode(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """opencode ``run --format json``; each ``step_finish`` adds that step's tokens and cost."""
    kind = obj.get("type")
    part = mapping(obj.get("part"))
    if kind == "text":
        return message(text_of(part.get("text")))
    if kind == "tool_use":
        return _tool(part)
    if kind == "step_finish":
        return _step_finish(part)
    if kind in ("step_start", "reasoning"):
        return []
    if kind == "error":
        problem = mapping(obj.get("error"))
        details = mapping(problem.get("data"))
        name = text_of(problem.get("name"), 100)
        reason = text_of(details.get("message")) or name or "the session failed"
        status = count(details.get("statusCode"))
        retryable = details.get("isRetryable") is True or status == 429 or 500 <= status < 600
        return [
            error(
                reason,
                fatal=True,
                name=name,
                status_code=status,
                transient=retryable or looks_transient(reason),
            ),
            AgentEvent("result", text=reason, is_error=True),
        ]
    return [log(f"{text_of(kind, 100) or 'event'}: {text_of(str(dict(obj)), 300)}")]
