"""Parser for Gemini CLI ``--output-format stream-json`` (and its one-object ``json`` format).

Events (``packages/core/src/output/types.ts``): ``init``, ``message`` (``role``, ``content``,
``delta``), ``tool_use`` (``tool_name``, ``tool_id``, ``parameters``), ``tool_result``
(``status``, ``output``, ``error``), ``error`` (``severity`` warning|error, ``message``) and a
final ``result`` (``status`` success|error, ``error``, ``stats`` with ``input_tokens``,
``output_tokens``, ``cached``, ``duration_ms``, ``tool_calls`` summed over models).

Assistant text arrives in chunks (``delta: true``); each chunk is a ``message`` event with
``data["delta"] = True`` and ``parse_stream`` joins neighbouring chunks into one message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...events import AgentEvent
from .base import LOG_CLIP, count, error, json_parser, log, mapping, message, text_of, tool_call


def _result(obj: Mapping[str, Any]) -> list[AgentEvent]:
    stats = mapping(obj.get("stats"))
    problem = mapping(obj.get("error"))
    is_error = obj.get("status") == "error" or bool(problem)
    reason = text_of(problem.get("message")) or ("the run failed" if is_error else "")
    data = {
        "cached": count(stats.get("cached")),
        "duration_ms": count(stats.get("duration_ms")),
        "tool_calls": count(stats.get("tool_calls")),
        "error_type": text_of(problem.get("type"), 100),
    }
    result = AgentEvent(
        "result",
        text=reason,
        data=data,
        is_error=is_error,
        cumulative=True,
        input_tokens=count(stats.get("input_tokens")),
        output_tokens=count(stats.get("output_tokens")),
    )
    return [error(reason, fatal=True), result] if is_error else [result]


def _json_output(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """The single object of ``--output-format json``: ``response``, ``stats``, ``error``."""
    inp = out = 0
    for model in mapping(mapping(obj.get("stats")).get("models")).values():
        tokens = mapping(mapping(model).get("tokens"))
        inp += count(tokens.get("prompt"))
        out += count(tokens.get("candidates"))
    problem = mapping(obj.get("error"))
    reason = text_of(problem.get("message")) or ("the run failed" if problem else "")
    result = AgentEvent(
        "result",
        text=reason,
        is_error=bool(problem),
        cumulative=True,
        input_tokens=inp,
        output_tokens=out,
    )
    head = message(text_of(obj.get("response")))
    return [*head, error(reason, fatal=True), result] if problem else [*head, result]


@json_parser
def parse_gemini(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """Gemini CLI stream-json; the ``result`` stats are run totals (``cumulative=True``)."""
    kind = obj.get("type")
    if kind == "message":
        if obj.get("role") != "assistant":
            return []  # the prompt, echoed back
        return message(text_of(obj.get("content")), delta=obj.get("delta") is True)
    if kind == "tool_use":
        return tool_call(obj.get("tool_name"), obj.get("parameters"), obj.get("tool_id"))
    if kind == "tool_result":
        if obj.get("status") != "error":
            return []
        reason = text_of(mapping(obj.get("error")).get("message"), LOG_CLIP) or "failed"
        return [log(f"tool failed: {reason}", tool_id=text_of(obj.get("tool_id"), 200))]
    if kind == "error":
        return [
            error(
                text_of(obj.get("message")),
                fatal=obj.get("severity") == "error",
                severity=text_of(obj.get("severity"), 20),
            )
        ]
    if kind == "result":
        return _result(obj)
    if kind == "init":
        model = text_of(obj.get("model"), 200)
        return [
            log(
                f"session started (model {model or '?'})",
                model=model,
                session_id=text_of(obj.get("session_id"), 200),
            )
        ]
    if kind is None and ("response" in obj or "stats" in obj):
        return _json_output(obj)
    return [log(f"{text_of(kind, 100) or 'event'}: {text_of(str(dict(obj)), 300)}")]
