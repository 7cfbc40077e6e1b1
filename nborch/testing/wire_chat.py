"""OpenAI Chat Completions (``POST /v1/chat/completions``): JSON or SSE answers.

Streaming sends ``chat.completion.chunk`` objects: a first chunk with the role, text in
``choices[0].delta.content``, each tool call as ``delta.tool_calls[i]`` (id, type and name first,
then the arguments in pieces), a chunk with ``finish_reason``, the usage, then ``data: [DONE]``.
The usage rides on the finishing chunk, or in a chunk of its own with empty ``choices`` when the
client asked for it with ``stream_options.include_usage``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .script import Usage
from .turn import Event, Message, Reply, Tool, Turn, make_turn, pieces, schema_tool, text_of

__all__ = ["complete", "error", "parse", "stream", "usage_fields"]


def parse(body: Mapping[str, Any], headers: Mapping[str, str]) -> Turn:
    """The :class:`Turn` of a Chat Completions request."""
    tools: list[Tool] = []
    for tool in body.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and "name" in fn:
            tools.append(schema_tool(fn["name"], fn.get("parameters")))
    for fn in body.get("functions") or []:  # the legacy form
        if isinstance(fn, Mapping) and "name" in fn:
            tools.append(schema_tool(fn["name"], fn.get("parameters")))
    system, messages = [], []
    for msg in body.get("messages") or []:
        if not isinstance(msg, Mapping):
            continue
        role = str(msg.get("role"))
        text = text_of(msg.get("content"))
        if role in ("system", "developer"):
            system.append(text)
        elif role == "assistant":
            calls = len(msg.get("tool_calls") or []) + (1 if msg.get("function_call") else 0)
            messages.append(Message("assistant", text, calls=calls))
        elif role in ("tool", "function"):
            messages.append(Message("tool", results=1))
        else:
            messages.append(Message("user", text))
    fmt = body.get("response_format") or {}
    fmt = fmt if isinstance(fmt, Mapping) else {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    return make_turn("chat", str(body.get("model") or ""), bool(body.get("stream")), tools,
                     "\n".join(system), messages, headers, schema=schema,
                     json_mode=fmt.get("type") == "json_object")  # fmt: skip


def usage_fields(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def _finish(reply: Reply) -> str:
    return "tool_calls" if reply.calls else "stop"


def complete(reply: Reply, turn: Turn, usage: Usage) -> dict[str, Any]:
    """The non-streaming answer."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.calls:
        message["tool_calls"] = [
            {"id": f"call_{c.id}", "type": "function",
             "function": {"name": c.name, "arguments": json.dumps(dict(c.arguments))}}
            for c in reply.calls
        ]  # fmt: skip
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": turn.model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply)}],
        "usage": usage_fields(usage),
    }


def stream(reply: Reply, turn: Turn, usage: Usage, *, usage_chunk: bool = False) -> list[Event]:
    """The answer as server-sent events, ending with ``[DONE]``."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": turn.model}  # fmt: skip

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
        return None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [chunk({"role": "assistant", "content": ""})]
    if reply.text:
        events += [chunk({"content": p}) for p in pieces(reply.text)]
    for i, call in enumerate(reply.calls):
        head = {"index": i, "id": f"call_{call.id}", "type": "function",
                "function": {"name": call.name, "arguments": ""}}  # fmt: skip
        events.append(chunk({"tool_calls": [head]}))
        events += [chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]})
                   for p in pieces(json.dumps(dict(call.arguments)))]  # fmt: skip
    last = chunk({}, _finish(reply))
    if usage_chunk:
        events += [last, (None, {**base, "choices": [], "usage": usage_fields(usage)})]
    else:
        events.append((None, {**last[1], "usage": usage_fields(usage)}))
    events.append((None, "[DONE]"))
    return events


def error(status: int, message: str) -> dict[str, Any]:
    kind, code = {429: ("rate_limit_error", "rate_limit_exceeded"),
                  400: ("invalid_request_error", None),
                  404: ("invalid_request_error", "not_found")}.get(status, ("server_error", None))  # fmt: skip
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
