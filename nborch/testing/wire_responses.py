"""OpenAI Responses (``POST /v1/responses``), the API Codex speaks: JSON or SSE answers.

Streaming sends ``response.created`` and ``response.in_progress``; per output item
``response.output_item.added``, its deltas (``response.output_text.delta`` inside a content part,
``response.function_call_arguments.delta``, ``response.custom_tool_call_input.delta``), their
``….done`` and ``response.output_item.done``; then ``response.completed`` with the usage. Every
event carries a ``sequence_number``. Function tools, custom (free-form) tools such as Codex's
``apply_patch``, and the built-in ``local_shell`` are all answered in their own item types.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .script import Usage
from .turn import Call, Event, Message, Reply, Tool, Turn, make_turn, pieces, schema_tool, text_of

__all__ = ["complete", "models", "parse", "stream"]  # errors: wire_chat.error

_CALLS = ("function_call", "custom_tool_call", "local_shell_call")
_RESULTS = ("function_call_output", "custom_tool_call_output", "local_shell_call_output")


def parse(body: Mapping[str, Any], headers: Mapping[str, str]) -> Turn:
    """The :class:`Turn` of a Responses request."""
    tools: list[Tool] = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, Mapping):
            continue
        kind = tool.get("type")
        if kind == "function" and "name" in tool:
            tools.append(schema_tool(tool["name"], tool.get("parameters")))
        elif kind == "custom" and "name" in tool:
            tools.append(Tool(str(tool["name"]), kind="custom"))
        elif kind == "local_shell":
            tools.append(Tool("local_shell", kind="local_shell"))
    system = [text_of(body.get("instructions"))]
    items = body.get("input")
    items = [{"role": "user", "content": items}] if isinstance(items, str) else items or []
    messages = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        kind, role = item.get("type", "message"), str(item.get("role"))
        if kind in _CALLS:
            messages.append(Message("assistant", calls=1))
        elif kind in _RESULTS:
            messages.append(Message("tool", results=1))
        elif kind == "message" and role in ("system", "developer"):
            system.append(text_of(item.get("content")))
        elif kind == "message":
            messages.append(Message("assistant" if role == "assistant" else "user",
                                    text_of(item.get("content"))))  # fmt: skip
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), Mapping) else None
    fmt = fmt if isinstance(fmt, Mapping) else {}
    return make_turn("responses", str(body.get("model") or ""), bool(body.get("stream")), tools,
                     "\n".join(system), messages, headers,
                     schema=fmt.get("schema") if fmt.get("type") == "json_schema" else None,
                     json_mode=fmt.get("type") == "json_object")  # fmt: skip


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def _item(call: Call) -> dict[str, Any]:
    if call.kind == "custom":
        return {"type": "custom_tool_call", "id": f"ctc_{call.id}", "status": "completed",
                "call_id": f"call_{call.id}", "name": call.name, "input": call.input or ""}  # fmt: skip
    if call.kind == "local_shell":
        action = {"type": "exec", "command": list(call.arguments.get("command") or []), "env": {},
                  "timeout_ms": None, "user": None, "working_directory": None}  # fmt: skip
        return {"type": "local_shell_call", "id": f"lsh_{call.id}", "status": "completed",
                "call_id": f"call_{call.id}", "action": action}  # fmt: skip
    return {"type": "function_call", "id": f"fc_{call.id}", "status": "completed",
            "call_id": f"call_{call.id}", "name": call.name,
            "arguments": json.dumps(dict(call.arguments))}  # fmt: skip


def _items(reply: Reply) -> list[dict[str, Any]]:
    items = []
    if reply.text or not reply.calls:
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        items.append({"type": "message", "id": f"msg_{uuid.uuid4().hex[:24]}",
                      "status": "completed", "role": "assistant", "content": [part]})  # fmt: skip
    return items + [_item(call) for call in reply.calls]


def _response(turn: Turn, status: str, output: list[Any], usage: Any, rid: str) -> dict[str, Any]:
    return {"id": rid, "object": "response", "created_at": int(time.time()), "status": status,
            "model": turn.model, "output": output, "usage": usage, "error": None,
            "incomplete_details": None, "parallel_tool_calls": False}  # fmt: skip


def complete(reply: Reply, turn: Turn, usage: Usage) -> dict[str, Any]:
    """The non-streaming answer."""
    return _response(turn, "completed", _items(reply), _usage(usage), f"resp_{uuid.uuid4().hex}")


def stream(reply: Reply, turn: Turn, usage: Usage) -> list[Event]:
    """The answer as server-sent events."""
    rid = f"resp_{uuid.uuid4().hex}"
    events: list[Event] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **fields}))

    emit("response.created", response=_response(turn, "in_progress", [], None, rid))
    emit("response.in_progress", response=_response(turn, "in_progress", [], None, rid))
    items = _items(reply)
    for n, item in enumerate(items):
        where = {"item_id": item["id"], "output_index": n}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            emit("response.output_item.added", output_index=n, item={**item, "status": "in_progress", "content": []})
            emit("response.content_part.added", **where, content_index=0,
                 part={"type": "output_text", "text": "", "annotations": []})  # fmt: skip
            for p in pieces(text):
                emit("response.output_text.delta", **where, content_index=0, delta=p)
            emit("response.output_text.done", **where, content_index=0, text=text)
            emit("response.content_part.done", **where, content_index=0, part=item["content"][0])
        elif item["type"] == "function_call":
            emit("response.output_item.added", output_index=n, item={**item, "status": "in_progress", "arguments": ""})
            for p in pieces(item["arguments"]):
                emit("response.function_call_arguments.delta", **where, delta=p)
            emit("response.function_call_arguments.done", **where, arguments=item["arguments"])
        elif item["type"] == "custom_tool_call":
            emit("response.output_item.added", output_index=n, item={**item, "status": "in_progress", "input": ""})
            for p in pieces(item["input"]):
                emit("response.custom_tool_call_input.delta", **where, delta=p)
            emit("response.custom_tool_call_input.done", **where, input=item["input"])
        else:
            emit("response.output_item.added", output_index=n, item={**item, "status": "in_progress"})
        emit("response.output_item.done", output_index=n, item=item)
    emit("response.completed", response=_response(turn, "completed", items, _usage(usage), rid))
    return events


def models(model: str = "m") -> dict[str, Any]:
    """``GET /v1/models``: OpenAI's list shape (and an empty ``models`` list, for Codex)."""
    entry = {"id": model, "object": "model", "created": 0, "owned_by": "nborch",
             "type": "model", "display_name": model, "created_at": "1970-01-01T00:00:00Z"}  # fmt: skip
    return {"object": "list", "data": [entry], "has_more": False, "first_id": model,
            "last_id": model, "models": []}  # fmt: skip
