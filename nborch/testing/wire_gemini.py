"""Gemini (``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent``).

An answer is a ``GenerateContentResponse``: ``candidates[0].content.parts[]`` holding ``text``
and ``functionCall`` parts, ``finishReason``, and ``usageMetadata``. Streaming with ``alt=sse``
sends one such object per ``data:`` event (text in pieces, each function call whole, the last
with the finish reason and usage); without ``alt=sse`` the stream is a JSON array of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .script import Usage
from .turn import Event, Message, Reply, Tool, Turn, make_turn, pieces, schema_tool, text_of

__all__ = ["complete", "count_tokens", "error", "models", "parse", "stream"]


def parse(body: Mapping[str, Any], headers: Mapping[str, str], model: str, stream: bool) -> Turn:
    """The :class:`Turn` of a generateContent request for ``model``."""
    tools: list[Tool] = []
    for group in body.get("tools") or []:
        decls = group.get("functionDeclarations") if isinstance(group, Mapping) else None
        for decl in decls or []:
            if isinstance(decl, Mapping) and "name" in decl:
                params = decl.get("parametersJsonSchema") or decl.get("parameters")
                tools.append(schema_tool(decl["name"], params))
    messages = []
    for content in body.get("contents") or []:
        if not isinstance(content, Mapping):
            continue
        parts = [p for p in content.get("parts") or [] if isinstance(p, Mapping)]
        role = "assistant" if content.get("role") == "model" else "user"
        text = text_of([p for p in parts if "text" in p and not p.get("thought")])
        messages.append(Message(role, text, sum("functionCall" in p for p in parts),
                                sum("functionResponse" in p for p in parts)))  # fmt: skip
    system = body.get("systemInstruction") or body.get("system_instruction")
    system_text = text_of(system.get("parts")) if isinstance(system, Mapping) else text_of(system)
    config = body.get("generationConfig") or {}
    config = config if isinstance(config, Mapping) else {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    return make_turn("gemini", model, stream, tools, system_text, messages, headers,
                     schema=schema if isinstance(schema, Mapping) else None,
                     json_mode=config.get("responseMimeType") == "application/json")  # fmt: skip


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": usage.output_tokens,
        "totalTokenCount": usage.total_tokens,
        "cachedContentTokenCount": usage.cached_tokens,
    }


def _chunk(parts: list[dict[str, Any]], turn: Turn, rid: str, usage: Usage | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": turn.model, "responseId": rid}
    if usage is not None:
        candidate["finishReason"] = "STOP"
        out["usageMetadata"] = _usage(usage)
    return out


def _call_parts(reply: Reply) -> list[dict[str, Any]]:
    return [{"functionCall": {"id": f"fc_{c.id}", "name": c.name, "args": dict(c.arguments)}}
            for c in reply.calls]  # fmt: skip


def complete(reply: Reply, turn: Turn, usage: Usage) -> dict[str, Any]:
    """The non-streaming answer."""
    parts = ([{"text": reply.text}] if reply.text or not reply.calls else []) + _call_parts(reply)
    return _chunk(parts, turn, uuid.uuid4().hex[:20], usage)


def stream(reply: Reply, turn: Turn, usage: Usage) -> list[Event]:
    """The answer as ``data:``-only server-sent events (one GenerateContentResponse each)."""
    rid = uuid.uuid4().hex[:20]
    parts = [[{"text": p}] for p in pieces(reply.text)] if reply.text or not reply.calls else []
    parts += [[part] for part in _call_parts(reply)]
    return [(None, _chunk(p, turn, rid, usage if i == len(parts) - 1 else None))
            for i, p in enumerate(parts)]  # fmt: skip


def count_tokens(usage: Usage) -> dict[str, Any]:
    return {"totalTokens": usage.prompt_tokens}


def models(model: str = "m") -> dict[str, Any]:
    """``GET /v1beta/models``."""
    return {"models": [{"name": f"models/{model}", "displayName": model,
                        "supportedGenerationMethods": ["generateContent", "countTokens"]}]}  # fmt: skip


def error(status: int, message: str) -> dict[str, Any]:
    kind = {429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT", 404: "NOT_FOUND",
            503: "UNAVAILABLE"}.get(status, "INTERNAL")  # fmt: skip
    return {"error": {"code": status, "message": message, "status": kind}}
