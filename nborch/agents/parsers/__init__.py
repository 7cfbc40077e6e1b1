"""Output parsers: one line of an agent's stdout in, zero or more ``AgentEvent`` records out.

Every parser is a pure function ``parse_<name>(line: str) -> list[AgentEvent]`` that never
raises: a line it cannot read (plain text, broken or non-object JSON, a huge line, binary
garbage) becomes one ``log`` event holding the line, clipped. ``PARSERS`` maps the name an
``AgentSpec`` gives in its ``parser`` field to the function; ``parser_for`` looks one up;
``parse_stream`` runs one over many lines and joins streamed message chunks.

>>> events = parse_stream(['{"type":"message","text":"hi"}', 'not json'], "demo")
>>> [(e.kind, e.text) for e in events]
[('message', 'hi'), ('log', 'not json')]

What the events mean, for every agent:

* ``message`` — assistant text. ``data["delta"]`` is True for a streamed chunk (Gemini).
* ``tool_call`` — ``text`` is a one-line summary; ``data`` has ``name``, ``input`` (string
  arguments clipped to 2,000 characters) and ``id``.
* ``file_edit`` — the agent says it wrote ``data["path"]`` (``text`` too) with ``data["tool"]``;
  ``data["change"]`` is ``add``, ``update`` or ``delete``. It is reported where the tool names
  the file (Claude/Gemini/Copilot/opencode: the call; Codex/Cursor: the completed change; Aider:
  "Applied edit to …"). It is a claim: the diff in the worktree is the proof.
* ``error`` — ``is_error=True`` when the line itself says the run failed (a failed turn or
  result, an exhausted API call, Aider's model errors); ``False`` for warnings the tool may
  recover from (Codex's stray ``error`` lines, Gemini ``warning`` errors). ``data["transient"]``
  is ``looks_transient(text)`` (or the tool's own retryable flag). A failed ``result`` is always
  preceded by an ``error`` carrying its reason, so ``Usage.errors`` is never empty on failure.
* ``usage`` — tokens and dollars for one step (added up), or run totals with ``cumulative=True``
  (replace). ``input_tokens`` counts every prompt token the model read, cached ones included.
  Costs are dollars only: Copilot's premium-request multiplier stays in ``data``.
* ``result`` — the tool's verdict on the run (Claude/Qwen/Cursor/Gemini/Copilot ``result``,
  Codex ``turn.completed``/``turn.failed``, Cline ``completion_result``); ``is_error`` says it
  failed. Opencode and Aider print none: opencode's fatal session ``error`` yields a failed
  ``result``; for Aider (``exit_zero_on_failure``) judge by the diff and the ``error`` events.
* ``log`` — anything else worth keeping: plain lines, session starts, retries
  (``data["retry"]``), failed tool calls, events nborch does not know.

The demo agents' format (``parser="demo"``): one JSON object per line, with ``type`` one of

=============  ================================================================================
``message``    ``{"type": "message", "text": "Added the store."}``
``tool_call``  ``{"type": "tool_call", "name": "write", "input": {"path": "store.py"}}`` (``id``
               optional); it reports no file edit by itself …
``file_edit``  … this does, once the file is written: ``{"type": "file_edit", "path":
               "store.py"}`` (``change``: ``add``/``update``/``delete``, default ``update``)
``usage``      ``{"type": "usage", "input_tokens": 1200, "output_tokens": 300}`` — for one step,
               added up (``cost_usd`` optional)
``result``     ``{"type": "result", "text": "Done.", "is_error": false, "input_tokens": 2400,
               "output_tokens": 600, "cost_usd": 0.0}`` — last line; its numbers are the totals
               for the whole run and replace what the ``usage`` lines added up
``error``      ``{"type": "error", "text": "…", "fatal": false}`` (optional)
``log``        ``{"type": "log", "text": "…"}`` (optional)
=============  ================================================================================

Any other line, JSON or not, is kept as a ``log`` event.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...errors import AgentError
from ...events import AgentEvent
from ...names import closest
from ..spec import AgentSpec
from .base import Parser, log_block, looks_like_auth, looks_transient
from .claude import parse_claude, parse_cursor, parse_qwen
from .cline import parse_cline
from .codex import parse_codex
from .copilot import parse_copilot
from .gemini import parse_gemini
from .opencode import parse_opencode
from .text import parse_aider, parse_demo, parse_text

__all__ = [
    "LOG_ONLY",
    "PARSERS",
    "Parser",
    "log_block",
    "looks_like_auth",
    "looks_transient",
    "merge_deltas",
    "parse_aider",
    "parse_claude",
    "parse_cline",
    "parse_codex",
    "parse_copilot",
    "parse_cursor",
    "parse_demo",
    "parse_gemini",
    "parse_opencode",
    "parse_qwen",
    "parse_stream",
    "parse_text",
    "parser_for",
]

PARSERS: dict[str, Parser] = {
    "claude": parse_claude,
    "codex": parse_codex,
    "gemini": parse_gemini,
    "aider": parse_aider,
    "copilot": parse_copilot,
    "cursor": parse_cursor,
    "cline": parse_cline,
    "opencode": parse_opencode,
    "qwen": parse_qwen,
    "text": parse_text,
    "manual": parse_text,  # a person's agent prints nothing nborch must understand
    "demo": parse_demo,
}
# Parsers that make every non-blank line a plain ``log`` event: their output is batched into one
# event per read (:func:`log_block`) instead of one per line.
LOG_ONLY: frozenset[Parser] = frozenset({parse_text})


def parser_for(spec_or_name: AgentSpec | str) -> Parser:
    """The parser an agent spec names (its ``parser`` field), or the parser with that name.

    Raises
    ------
    AgentError
        When no parser has that name; the message suggests the closest one and lists all.
    """
    name = spec_or_name.parser if isinstance(spec_or_name, AgentSpec) else spec_or_name
    key = name.strip().lower() if isinstance(name, str) else name
    if isinstance(key, str) and key in PARSERS:
        return PARSERS[key]
    near = closest(str(key), PARSERS)
    maybe = f" — did you mean {near!r}?" if near else ""
    raise AgentError(
        f"unknown output parser {name!r}{maybe} Known parsers: {', '.join(PARSERS)}. "
        "Use 'text' for a tool whose output nborch need not understand."
    )


def merge_deltas(events: Iterable[AgentEvent]) -> list[AgentEvent]:
    """Join neighbouring streamed chunks (``message`` events with ``data["delta"]``) into one."""
    out: list[AgentEvent] = []
    for event in events:
        prev = out[-1] if out else None
        if (
            event.kind == "message"
            and event.data.get("delta")
            and prev is not None
            and prev.kind == "message"
            and prev.data.get("delta")
        ):
            out[-1] = AgentEvent("message", text=prev.text + event.text, data=prev.data)
        else:
            out.append(event)
    return out


def parse_stream(lines: Iterable[str] | str, parser: Parser | AgentSpec | str) -> list[AgentEvent]:
    """Parse every line of a captured output with one parser; streamed chunks are joined.

    Parameters
    ----------
    lines:
        The output, as lines or as one string (split on line breaks).
    parser:
        A parser function, an ``AgentSpec`` or a parser name (see ``PARSERS``).

    Returns
    -------
    list[AgentEvent]
        The events in order; fold them with ``nborch.events.Usage.of`` for totals.
    """
    parse = parser if callable(parser) else parser_for(parser)
    if isinstance(lines, str):
        lines = lines.splitlines()
    return merge_deltas(event for line in lines for event in parse(line))
