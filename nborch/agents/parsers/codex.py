"""Parser for OpenAI Codex CLI ``codex exec --json`` (JSON lines, one thread event per line).

Events: ``thread.started``, ``turn.started``, ``item.started`` / ``item.updated`` /
``item.completed`` (items: ``agent_message``, ``reasoning``, ``command_execution``,
``file_change``, ``mcp_tool_call``, ``web_search``, ``todo_list``, ``error``),
``turn.completed`` (with ``usage``), ``turn.failed`` and top-level ``error``.

How a Codex run is judged: by ``turn.completed`` / ``turn.failed`` (and the exit code), never by
an ``error`` line. Codex prints ``error`` lines on runs that succeed ("Reconnecting... 1/5",
"Model metadata for `m` not found"), so:

* ``turn.completed`` → a ``result`` with the turn's tokens (per turn: they add up);
* ``turn.failed`` → an ``error`` (fatal) and a ``result`` with ``is_error=True``;
* a top-level ``error`` that announces a reconnect → a ``log`` (``retry=True``);
* any other top-level ``error`` → an ``error`` with ``is_error=False`` (non-fatal: if it ended
  the run, a ``turn.failed`` follows);
* an ``error`` *item* (documented by Codex as non-fatal) → a ``log`` (``warning=True``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...events import AgentEvent
from .base import (
    LOG_CLIP,
    count,
    error,
    file_edit,
    items,
    json_parser,
    log,
    mapping,
    message,
    text_of,
    tool_call,
)

_RECONNECT = re.compile(r"reconnecting|retrying|re-?connect", re.IGNORECASE)


def _item_started(item: Mapping[str, Any]) -> list[AgentEvent]:
    kind = item.get("type")
    if kind == "command_execution":
        return tool_call("shell", {"command": item.get("command")}, item.get("id"))
    if kind == "mcp_tool_call":
        name = f"{text_of(item.get('server'), 100)}.{text_of(item.get('tool'), 100)}".strip(".")
        return tool_call(name or "mcp", item.get("arguments"), item.get("id"))
    if kind == "web_search":
        return tool_call("web_search", {"query": item.get("query")}, item.get("id"))
    if kind == "collab_tool_call":
        return tool_call(text_of(item.get("tool"), 100) or "collab", {}, item.get("id"))
    return []


def _item_completed(item: Mapping[str, Any]) -> list[AgentEvent]:
    kind = item.get("type")
    status = text_of(item.get("status"), 50)
    if kind == "agent_message":
        return message(text_of(item.get("text")))
    if kind == "file_change":
        changes = [mapping(c) for c in items(item.get("changes"))]
        paths = [(text_of(c.get("path"), LOG_CLIP), text_of(c.get("kind"), 20)) for c in changes]
        if status == "failed":
            return [log(f"patch failed: {', '.join(p for p, _ in paths)}", status=status)]
        return [file_edit(path, "apply_patch", kind or "update") for path, kind in paths if path]
    if kind == "command_execution":
        code = item.get("exit_code")
        if status in ("failed", "declined") or (isinstance(code, int) and code != 0):
            command = text_of(item.get("command"), 300)
            return [log(f"$ {command} → {status or 'exit'} {code}", exit_code=code)]
        return []
    if kind == "mcp_tool_call" and status == "failed":
        reason = text_of(mapping(item.get("error")).get("message"), LOG_CLIP)
        return [log(f"{text_of(item.get('tool'), 100)} failed: {reason}")]
    if kind == "error":
        return [log(text_of(item.get("message"), LOG_CLIP) or "error", warning=True)]
    return []  # reasoning, todo_list, plan, web_search results: nothing to report


@json_parser
def parse_codex(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """Codex ``exec --json``; see the module docstring for how errors are mapped."""
    kind = obj.get("type")
    if kind == "item.started":
        return _item_started(mapping(obj.get("item")))
    if kind == "item.completed":
        return _item_completed(mapping(obj.get("item")))
    if kind in ("item.updated", "turn.started", "item.plan.delta"):
        return []
    if kind == "turn.completed":
        usage = mapping(obj.get("usage"))
        data = {"cached_input_tokens": count(usage.get("cached_input_tokens"))}
        return [
            AgentEvent(
                "result",
                data=data,
                input_tokens=count(usage.get("input_tokens")),
                output_tokens=count(usage.get("output_tokens")),
            )
        ]
    if kind == "turn.failed":
        reason = text_of(mapping(obj.get("error")).get("message")) or "the turn failed"
        return [error(reason, fatal=True), AgentEvent("result", text=reason, is_error=True)]
    if kind == "error":
        text = text_of(obj.get("message")) or "error"
        if _RECONNECT.search(text):
            return [log(text, retry=True)]
        return [error(text, fatal=False)]
    if kind == "thread.started":
        return [log("thread started", thread_id=text_of(obj.get("thread_id"), 200))]
    return [log(f"{text_of(kind, 100) or 'event'}: {text_of(str(dict(obj)), 300)}")]
