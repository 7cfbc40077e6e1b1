"""One request to the model server, read the same way whatever the protocol, and the answer to it.

Each ``wire_*`` module turns its protocol's JSON into a :class:`Turn` (the tools offered, the
conversation so far reduced to what the script needs) and renders a :class:`Reply` back. What to
answer is decided in :mod:`nborch.testing.conversation` from the :class:`Turn` alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Call",
    "Event",
    "Message",
    "Reply",
    "Tool",
    "Turn",
    "find_cwd",
    "make_turn",
    "pieces",
    "schema_tool",
    "text_of",
]

#: One server-sent event: its ``event:`` name (or None) and its data (JSON-encoded unless a str).
Event = tuple[str | None, Any]

# Prompts of side calls that do offer tools: Claude Code primes its sub-agents with "Warmup".
_SIDE_OPENINGS = frozenset({"Warmup"})

# Where each CLI tells the model its working directory (Codex, Claude Code, Gemini CLI, others).
_CWD = re.compile(
    r"<cwd>\s*([^<\n]+?)\s*</cwd>|"
    r"(?:primary working directory|current working directory|working directory|"
    r"working in the directory|cwd)\s*[:=]\s*[`'\"]?(/[^\s`'\"<>]*)|"
    r"workspace directories:\W*\n\s*-\s*(/[^\s`'\"<>]*)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool the client offers: its name, parameter schemas and required parameter names.

    ``kind`` is ``"function"`` (JSON arguments), ``"custom"`` (OpenAI Responses free-form text
    input, e.g. Codex's ``apply_patch``) or ``"local_shell"`` (Responses' built-in shell).
    """

    name: str
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    kind: str = "function"


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the conversation, reduced: role, its text, tool calls and tool results."""

    role: str  # "user", "assistant" or "system"
    text: str = ""
    calls: int = 0
    results: int = 0


@dataclass(frozen=True, slots=True)
class Turn:
    """A model request, protocol-independent.

    ``opening`` is the user text before the first tool call of the conversation (the prompt):
    it keys the conversation and selects its script. ``tool_results`` counts the tool results
    already sent back: it is the number of the step to answer.
    """

    protocol: str  # "anthropic", "chat", "responses" or "gemini"
    model: str
    stream: bool
    tools: tuple[Tool, ...]
    opening: str
    key: str
    tool_results: int
    assistant_turns: int
    replies: tuple[str, ...]  # the text of each assistant message (aider's examples, our answers)
    text: str  # system and user text, to find the working directory and files shown in the chat
    cwd: str | None
    schema: Mapping[str, Any] | None = None  # the JSON schema a side call asks the answer to match
    json_mode: bool = False
    side: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """A tool call in an answer. ``input`` is set for custom tools, ``arguments`` otherwise."""

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    input: str | None = None
    kind: str = "function"


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: text, then tool calls; ``stop`` is ``"tool_use"`` when there are calls."""

    text: str = ""
    calls: tuple[Call, ...] = ()

    @property
    def stop(self) -> str:
        return "tool_use" if self.calls else "end_turn"


def make_turn(
    protocol: str,
    model: str,
    stream: bool,
    tools: Sequence[Tool],
    system: str,
    messages: Sequence[Message],
    headers: Mapping[str, str],
    *,
    schema: Mapping[str, Any] | None = None,
    json_mode: bool = False,
) -> Turn:
    """Reduce a parsed request to a :class:`Turn`; decide whether it is a side call.

    A side call asks for JSON matching a schema, or offers no tools on a protocol whose agents
    always offer tools on their main loop (all but Chat Completions, where aider offers none),
    or is a known side prompt (Claude Code's "Warmup").
    The ``x-nborch-side`` header (``1``/``0``) overrides; ``x-nborch-conversation`` sets the key.
    """
    opening_parts: list[str] = []
    for msg in messages:
        if msg.role == "assistant" and msg.calls:
            break
        if msg.role == "user" and msg.text:
            opening_parts.append(msg.text)
    opening = "\n".join(opening_parts)
    header_key = headers.get("x-nborch-conversation")
    if header_key:
        opening = header_key
    text = "\n".join([system, *(m.text for m in messages if m.role != "assistant")])
    side = (schema is not None or json_mode or (not tools and protocol != "chat")
            or opening.strip() in _SIDE_OPENINGS)  # fmt: skip
    forced = headers.get("x-nborch-side")
    if forced in ("0", "1"):
        side = forced == "1"
    return Turn(
        protocol=protocol,
        model=model,
        stream=stream,
        tools=tuple(tools),
        opening=opening,
        key=hashlib.sha1(opening.encode("utf-8", "replace")).hexdigest()[:12],
        tool_results=sum(m.results for m in messages),
        assistant_turns=sum(1 for m in messages if m.role == "assistant"),
        replies=tuple(m.text for m in messages if m.role == "assistant"),
        text=text,
        cwd=find_cwd(text),
        schema=schema,
        json_mode=json_mode,
        side=side,
    )


def find_cwd(text: str) -> str | None:
    """The working directory a CLI told the model about, if any."""
    m = _CWD.search(text)
    if not m:
        return None
    found = next(g for g in m.groups() if g).rstrip(".,;:)")
    return found if found.startswith("/") else None


def schema_tool(name: str, schema: Any, kind: str = "function") -> Tool:
    """A :class:`Tool` from a JSON schema of its parameters (any casing of ``type``)."""
    schema = schema if isinstance(schema, Mapping) else {}
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    required = schema.get("required")
    return Tool(
        name=str(name),
        properties={str(k): v if isinstance(v, Mapping) else {} for k, v in props.items()},
        required=tuple(str(r) for r in required) if isinstance(required, list) else (),
        kind=kind,
    )


def text_of(content: Any) -> str:
    """The text in a message ``content``: a string, or a list of text-bearing parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        content = [content]
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "\n".join(parts)


def pieces(text: str, size: int = 24) -> list[str]:
    """``text`` cut into deltas of ``size`` characters, as a streaming model sends it."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
