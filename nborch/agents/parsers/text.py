"""Parsers for agents that print text, and for nborch's own demo agents.

* ``parse_aider`` reads Aider's plain output (``--no-pretty``). Aider exits 0 even when every
  model call failed, so its error lines (``litellm.…Error``, "The API provider is not able to
  authenticate you", "Model … not found", "Only 3 reflections allowed") become ``error`` events,
  its "Applied edit to PATH" lines ``file_edit`` events and its per-message
  "Tokens: 1.2k sent, 345 received. Cost: $0.01 message, $0.02 session." lines ``usage``.
* ``parse_text`` is for script and manual agents: every non-blank line is a ``log`` event.
* ``parse_demo`` reads the JSON lines the demo agents print (format in ``parsers.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...events import AgentEvent
from .base import (
    LOG_CLIP,
    clean,
    count,
    error,
    file_edit,
    json_parser,
    log,
    message,
    money,
    text_of,
    text_parser,
    tool_call,
)

# --- Aider ---------------------------------------------------------------------------------

_NUMBER = r"(\d[\d,]*(?:\.\d+)?[kKmM]?)"
_TOKENS = re.compile(
    rf"^Tokens:\s*{_NUMBER}\s+sent\b.*?\s{_NUMBER}\s+received\.?"
    rf"(?:\s*Cost:\s*\$\s*([\d.,]+)\s+message,\s*\$\s*([\d.,]+)\s+session)?"
)
_APPLIED = re.compile(r"^Applied edit to (.+?)\s*$")
_ERRORS = re.compile(
    r"\blitellm\.\w*(?:Error|Exception|Exceeded|Timeout)\b|"
    r"^(?:APIConnectionError|AuthenticationError|RateLimitError|NotFoundError|BadRequestError|"
    r"ServiceUnavailableError|InternalServerError|APIError|PermissionDeniedError|"
    r"ContextWindowExceededError|UnprocessableEntityError|Timeout)\b|"
    r"The API provider is not able to authenticate you|"
    r"\bmodel\b.{0,200}?\bnot found\b|does not exist or you do not have access|"
    r"^Only \d+ reflections allowed|^Error:|^Traceback \(most recent call last\)|"
    r"API provider .{0,80}(?:error|unavailable|rate limit)|exceeded (?:your )?(?:current )?quota",
    re.IGNORECASE,
)
_WARNINGS = re.compile(
    r"^(?:Warning|Retrying in|Did you mean)|did not conform to the edit format", re.IGNORECASE
)


def _tokens(text: str) -> int:
    """``"1.2k"`` → 1200, ``"345"`` → 345, ``"1.5M"`` → 1500000 (Aider's own formatting)."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    number = text[:-1] if scale != 1 else text
    try:
        return count(round(float(number.replace(",", "")) * scale))
    except ValueError:
        return 0


def _dollars(text: str | None) -> float | None:
    try:
        return money(float(text.replace(",", ""))) if text else None
    except ValueError:
        return None


@text_parser
def parse_aider(line: str) -> list[AgentEvent]:
    """Aider's plain-text output; tokens and cost are per message (they add up)."""
    text = clean(line, LOG_CLIP)
    match = _TOKENS.match(text)
    if match:
        sent, received, cost, session = match.groups()
        data = {"session_cost_usd": _dollars(session)}
        return [
            AgentEvent(
                "usage",
                text=text,
                data=data,
                input_tokens=_tokens(sent),
                output_tokens=_tokens(received),
                cost_usd=_dollars(cost),
            )
        ]
    match = _APPLIED.match(text)
    if match:
        return [file_edit(match.group(1), "aider")]
    if _ERRORS.search(text) and not text.startswith("Retrying in"):
        return [error(text, fatal=True)]
    if _WARNINGS.search(text):
        return [log(text, warning=True, retry=text.startswith("Retrying in"))]
    return [log(text)]


@text_parser
def parse_text(line: str) -> list[AgentEvent]:
    """Any text output (script and manual agents): each non-blank line is a ``log`` event."""
    return [log(line)]


# --- demo agents ---------------------------------------------------------------------------


@json_parser
def parse_demo(obj: Mapping[str, Any]) -> list[AgentEvent]:
    """The demo agents' JSON lines (``message``, ``tool_call``, ``file_edit``, ``usage``,
    ``result``, ``error``, ``log``); the format is documented in ``nborch.agents.parsers``.
    """
    kind = obj.get("type")
    inp, out = count(obj.get("input_tokens")), count(obj.get("output_tokens"))
    if kind == "message":
        return message(text_of(obj.get("text")))
    if kind == "tool_call":  # the demo agents report their edits themselves, after the write
        return [e for e in tool_call(obj.get("name"), obj.get("input"), obj.get("id"))
                if e.kind == "tool_call"]  # fmt: skip
    if kind == "file_edit":
        path = text_of(obj.get("path"), LOG_CLIP)
        change = text_of(obj.get("change"), 20) or "update"
        return [file_edit(path, "demo", change)] if path else []
    if kind == "usage":
        return [
            AgentEvent(
                "usage", input_tokens=inp, output_tokens=out, cost_usd=money(obj.get("cost_usd"))
            )
        ]
    if kind == "result":
        is_error = obj.get("is_error") is True
        text = text_of(obj.get("text"))
        result = AgentEvent(
            "result",
            text=text,
            input_tokens=inp,
            output_tokens=out,
            cost_usd=money(obj.get("cost_usd")),
            cumulative=True,
            is_error=is_error,
        )
        if not is_error:
            return [result]
        return [error(text or "the demo agent failed", fatal=True), result]
    if kind == "error":
        return [error(text_of(obj.get("text")), fatal=obj.get("fatal") is True)]
    if kind == "log":
        return [log(text_of(obj.get("text"), LOG_CLIP))]
    return [log(f"{text_of(kind, 100) or 'event'}: {text_of(str(dict(obj)), 300)}")]
