"""Parsers for the Claude-shaped streams: Claude Code, Qwen Code and Cursor Agent.

All three print one JSON object per line with a ``type`` of ``system``, ``assistant``, ``user``
and finally ``result``; assistant messages carry Anthropic-style content blocks (``text``,
``tool_use``, ``thinking``). Cursor adds ``tool_call`` lines (``started`` / ``completed``)
and reports no tokens; Qwen Code's usage counts cached tokens inside ``input_tokens``, while
Claude Code reports them apart (``cache_creation_input_tokens``, ``cache_read_input_tokens``)
and they are added here so ``input_tokens`` is every prompt token the model read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...events import AgentEvent
from .base import (
    LOG_CLIP,
    clean,
    count,
    error,
    file_edit,
    items,
    json_parser,
    load_json,
    log,
    mapping,
    message,
    money,
    text_of,
    tool_call,
)

_SUBTYPE_TEXT = {
    "error_max_turns": "stopped: the maximum number of turns was reached",
    "error_during_execution": "stopped: an error happened during execution",
    "error_max_budget_usd": "stopped: the budget was used up",
    "error_max_structured_output_retries": "stopped: no valid structured output",
}


def _tokens(usage: Mapping[str, Any], *, cache_in_input: bool) -> tuple[int, int]:
    inp = count(usage.get("input_tokens"))
    if not cache_in_input:
        inp += count(usage.get("cache_creation_input_tokens"))
        inp += count(usage.get("cache_read_input_tokens"))
    return inp, count(usage.get("output_tokens"))


def _system(obj: Mapping[str, Any]) -> list[AgentEvent]:
    subtype = text_of(obj.get("subtype"), 100) or "system"
    if subtype in ("init", "session_start"):
        model = text_of(obj.get("model"), 200)
        session = text_of(obj.get("session_id"), 200)
        return [log(f"session started (model {model or '?'})", session_id=session, model=model)]
    if subtype == "api_retry":
        status = count(obj.get("error_status"))
        reason = text_of(obj.get("error"), 300) or "error"
        text = (
            f"API retry {count(obj.get('attempt'))}/{count(obj.get('max_retries'))}: "
            f"{reason}{f' (HTTP {status})' if status else ''}"
        )
        return [log(text, retry=True, error_status=status, error=reason)]
    return [log(f"system: {subtype}", subtype=subtype)]


def _assistant(obj: Mapping[str, Any]) -> list[AgentEvent]:
    msg = mapping(obj.get("message"))
    content = msg.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else items(content)
    texts: list[str] = []
    calls: list[AgentEvent] = []
    for block in blocks:
        block = mapping(block)
        kind = block.get("type")
        if kind == "text":
            texts.append(text_of(block.get("text")))
        elif kind == "tool_use":
            calls += tool_call(block.get("name"), block.get("input"), block.get("id"))
    text = "\n".join(t for t in texts if t)
    # Claude Code reports a failed API call as an assistant message from a "<synthetic>" model;
    # the result line that follows carries the same text as the run's error, so this is a log.
    if obj.get("error") or msg.get("model") == "<synthetic>":
        return [log(text, api_error=True), *calls] if text else calls
    return message(text) + calls


def _user(obj: Mapping[str, Any]) -> list[AgentEvent]:
    events = []
    for block in items(mapping(obj.get("message")).get("content")):
        block = mapping(block)
        if block.get("type") == "tool_result" and block.get("is_error") is True:
            content = block.get("content")
            if isinstance(content, list):
                content = " ".join(text_of(mapping(c).get("text")) for c in content)
            text = f"tool failed: {text_of(content, LOG_CLIP)}"
            events.append(log(text, tool_use_id=text_of(block.get("tool_use_id"), 200)))
    return events


def _result(obj: Mapping[str, Any], *, cache_in_input: bool) -> list[AgentEvent]:
    subtype = text_of(obj.get("subtype"), 100)
    is_error = obj.get("is_error") is True or subtype.startswith("error")
    text = text_of(obj.get("result"))
    reasons = [text_of(e) for e in items(obj.get("errors")) if isinstance(e, str)]
    reasons.append(text_of(mapping(obj.get("error")).get("message")))
    reason = "; ".join(r for r in reasons if r) or text or _SUBTYPE_TEXT.get(subtype, subtype)
    inp, out = _tokens(mapping(obj.get("usage")), cache_in_input=cache_in_input)
    cost = money(obj.get("total_cost_usd"))
    cost = money(obj.get("cost_usd")) if cost is None else cost
    data = {
        "subtype": subtype,
        "num_turns": count(obj.get("num_turns")),
        "duration_ms": count(obj.get("duration_ms")),
        "session_id": text_of(obj.get("session_id"), 200),
    }
    result = AgentEvent(
        "result",
        text=text or (reason if is_error else ""),
        data=data,
        input_tokens=inp,
        output_tokens=out,
        cost_usd=cost,
        cumulative=True,
        is_error=is_error,
    )
    if not is_error:
        return [result]
    return [error(reason or "the agent reported an error", fatal=True), result]


def _claude_like(obj: Mapping[str, Any], *, cache_in_input: bool) -> list[AgentEvent]:
    kind = obj.get("type")
    if kind == "system":
        return _system(obj)
    if kind == "assistant":
        return _assistant(obj)
    if kind == "user":
        return _user(obj)
    if kind == "result":
        return _result(obj, cache_in_input=cache_in_input)
    if kind in ("stream_event", "thinking", "control_response", "tool_progress"):
        return []  # partial deltas and progress: the complete message follows
    return [log(f"{text_of(kind, 100) or 'event'}: {clean(str(dict(obj)), 300)}")]


@json_parser
def parse_claude(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """Claude Code ``--output-format stream-json --verbose``: one JSON object per line."""
    return _claude_like(obj, cache_in_input=False)


@json_parser
def parse_qwen(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """Qwen Code ``--output-format stream-json``: Claude's shapes, cached tokens in the input."""
    return _claude_like(obj, cache_in_input=True)


# --- Cursor --------------------------------------------------------------------------------

_CURSOR_EDITS = ("write", "edit", "delete", "patch", "replace")


def _cursor_call(obj: Mapping[str, Any]) -> tuple[str, dict[str, Any], Mapping[str, Any]]:
    """``(tool name, args, result)`` from ``{"writeToolCall": {"args": …, "result": …}}``."""
    for key, payload in mapping(obj.get("tool_call")).items():
        payload = mapping(payload)
        if key == "function":
            raw = payload.get("arguments")
            args = load_json(raw) if isinstance(raw, str) else raw
            return text_of(payload.get("name"), 200) or "function", mapping(args), {}
        name = key[: -len("ToolCall")] if key.endswith("ToolCall") else key
        return name, dict(mapping(payload.get("args"))), mapping(payload.get("result"))
    return "tool", {}, {}


def _cursor_tool(obj: Mapping[str, Any]) -> list[AgentEvent]:
    name, args, result = _cursor_call(obj)
    call_id = obj.get("call_id")
    if obj.get("subtype") != "completed":
        return [e for e in tool_call(name, args, call_id) if e.kind == "tool_call"]
    if "success" not in result:
        failure = mapping(result.get("error") or result.get("failure") or result.get("rejected"))
        reason = text_of(failure.get("message") or failure.get("error"), LOG_CLIP) or "failed"
        return [log(f"{name} failed: {reason}", tool=name)] if result else []
    path = text_of(mapping(result.get("success")).get("path"), LOG_CLIP)
    path = path or text_of(args.get("path") or args.get("file_path"), LOG_CLIP)
    if path and any(word in name.lower() for word in _CURSOR_EDITS):
        return [file_edit(path, name, "delete" if "delete" in name.lower() else "update")]
    return []


@json_parser
def parse_cursor(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """Cursor Agent ``--output-format stream-json``: Claude's shapes plus ``tool_call`` lines.

    A ``file_edit`` is reported when a writing tool call *completes* with success (Cursor says
    which file it wrote there), the ``tool_call`` when it starts.
    """
    if obj.get("type") == "tool_call":
        return _cursor_tool(obj)
    if obj.get("type") == "user":
        return []  # the prompt, echoed back
    return _claude_like(obj, cache_in_input=True)
