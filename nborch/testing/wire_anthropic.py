"""Anthropic Messages (``POST /v1/messages``): read a request, write an answer as JSON or SSE.

Streaming follows the documented event order: ``message_start``, then per content block
``content_block_start``, ``content_block_delta`` (``text_delta`` or ``input_json_delta``),
``content_block_stop``, then ``message_delta`` (stop reason and usage) and ``message_stop``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from .script import Usage
from .turn import Event, Message, Reply, Tool, Turn, make_turn, pieces, schema_tool, text_of

__all__ = ["complete", "count_tokens", "error", "parse", "stream"]

# Anthropic-defined client tools come with a type and a name but no schema.
_EDITOR = {"command": {"type": "string", "enum": ["view", "create", "str_replace", "insert"]},
           "path": {"type": "string"}, "file_text": {"type": "string"},
           "old_str": {"type": "string"}, "new_str": {"type": "string"}}  # fmt: skip


def parse(body: Mapping[str, Any], headers: Mapping[str, str]) -> Turn:
    """The :class:`Turn` of a Messages request."""
    tools: list[Tool] = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, Mapping) or "name" not in tool:
            continue
        kind = str(tool.get("type") or "")
        if "input_schema" in tool:
            tools.append(schema_tool(tool["name"], tool["input_schema"]))
        elif kind.startswith("text_editor_"):
            tools.append(Tool(str(tool["name"]), _EDITOR, ("command", "path")))
        elif kind.startswith("bash_"):
            tools.append(Tool(str(tool["name"]), {"command": {"type": "string"}}, ("command",)))
    messages = []
    for msg in body.get("messages") or []:
        if not isinstance(msg, Mapping):
            continue
        content = msg.get("content")
        blocks = content if isinstance(content, list) else []
        kinds = [b.get("type") for b in blocks if isinstance(b, Mapping)]
        text = text_of([b for b in blocks if isinstance(b, Mapping) and b.get("type") == "text"]
                       if blocks else content)  # fmt: skip
        messages.append(Message(str(msg.get("role")), text, kinds.count("tool_use"),
                                kinds.count("tool_result")))  # fmt: skip
    fmt = body.get("output_format") or (body.get("output_config") or {}).get("format") or {}
    schema = fmt.get("schema") if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema" else None
    return make_turn("anthropic", str(body.get("model") or ""), bool(body.get("stream")), tools,
                     text_of(body.get("system")), messages, headers, schema=schema)  # fmt: skip


def _usage(usage: Usage, *, start: bool = False) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": 1 if start else usage.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
    }


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text or not reply.calls:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.calls:
        blocks.append({"type": "tool_use", "id": f"toolu_{call.id}", "name": call.name,
                       "input": dict(call.arguments)})  # fmt: skip
    return blocks


def complete(reply: Reply, turn: Turn, usage: Usage) -> dict[str, Any]:
    """The non-streaming answer."""
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": _blocks(reply),
        "stop_reason": reply.stop,
        "stop_sequence": None,
        "usage": _usage(usage),
    }


def stream(reply: Reply, turn: Turn, usage: Usage) -> list[Event]:
    """The answer as server-sent events."""
    message = {**complete(reply, turn, usage), "content": [], "stop_reason": None}
    message["usage"] = _usage(usage, start=True)
    events: list[Event] = [("message_start", {"type": "message_start", "message": message}),
                           ("ping", {"type": "ping"})]  # fmt: skip
    for index, block in enumerate(_blocks(reply)):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
        else:
            start = {**block, "input": {}}
            raw = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces(raw)]
        events.append(("content_block_start",
                       {"type": "content_block_start", "index": index, "content_block": start}))  # fmt: skip
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
                   for d in deltas]  # fmt: skip
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": reply.stop, "stop_sequence": None},
                                     "usage": {"output_tokens": usage.output_tokens}}))  # fmt: skip
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def count_tokens(usage: Usage) -> dict[str, Any]:
    return {"input_tokens": usage.prompt_tokens}


def error(status: int, message: str) -> dict[str, Any]:
    kind = {429: "rate_limit_error", 529: "overloaded_error", 400: "invalid_request_error",
            404: "not_found_error"}.get(status, "api_error")  # fmt: skip
    return {"type": "error", "error": {"type": kind, "message": message}}
