"""The parts every output parser shares: never-raising wrappers, field readers, event builders.

Nothing here knows a particular tool. ``parsers.py`` has the registry and the conventions the
events follow; each ``parsers_<tool>.py`` module reads one family of output formats.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from ...events import AgentEvent

Parser = Callable[[str], list[AgentEvent]]

MAX_LINE = 8_000_000  # longer lines are logged, not decoded: no tool emits a sane event this big
LOG_CLIP = 2_000  # characters of a log line kept in its event (the full line is in the log file)
TEXT_CLIP = 200_000  # characters of a message or error kept in its event
VALUE_CLIP = 2_000  # characters of each string argument of a tool call kept in its event
MAX_TOKENS = 10**12  # token counts above this are nonsense and read as 0

# (an unterminated OSC ends at the line's end: a batch of lines must not lose the rest)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")

# Wording of failures worth retrying (rate limits, overload, 5xx, dropped connections) …
_TRANSIENT = re.compile(
    r"rate[ _-]?limit|too many requests|overloaded|temporarily unavailable|"
    r"service unavailable|bad gateway|gateway time-?out|internal server error|server error|"
    r"high demand|temporary errors?|"  # Codex's wording for a 5xx it gave up retrying
    r"connection (?:reset|refused|error|aborted|closed|timed out)|econnreset|econnrefused|"
    r"etimedout|epipe|socket hang up|network error|stream disconnected|reconnecting|"
    r"timed out|time-?out|try again (?:later|in a few)|resource[ _]exhausted|"
    r"APIConnectionError|ServiceUnavailable|InternalServerError|RateLimitError|"
    r"(?:status|code|http|error|api error)\W{0,3}(?:429|5\d\d)\b|"
    r"\b(?:429|5\d\d)\W{0,3}(?:too many|internal|bad gateway|service|gateway|overloaded|\{)",
    re.IGNORECASE,
)
# … unless it says the failure is permanent: out of quota or credit, bad credentials, no model.
_PERMANENT = re.compile(
    r"insufficient[_ ]quota|exceeded your current quota|billing|credit balance|usage limit|"
    r"invalid[_ ]api[_ ]key|incorrect api key|api key not valid|authenticat|unauthori[sz]ed|"
    r"permission[_ ]denied|forbidden|\b40[13]\b|not[_ ]found|does not exist|"
    r"context[_ ]length|context window|maximum context|prompt is too long",
    re.IGNORECASE,
)


# Wording of a failed login or a missing/bad key (never retried; worth a hint about credentials).
_AUTH = re.compile(
    r"invalid[_ ]api[_ ]key|incorrect api key|api key not valid|authentication[_ ]?(?:error|failed)|"
    r"unauthori[sz]ed|\b401\b|not (?:logged|signed) in|please (?:run )?/?login|"
    r"(?:missing|no) api[_ ]key|api[_ ]key (?:is )?(?:missing|required|not (?:set|found))|"
    r"could not (?:find|load) (?:your )?credentials",
    re.IGNORECASE,
)


def looks_like_auth(text: str) -> bool:
    """True when ``text`` reads like a failed login or a missing or rejected key.

    >>> looks_like_auth("Invalid API key · Please run /login")
    True
    >>> looks_like_auth("API Error: 529 overloaded")
    False
    """
    return isinstance(text, str) and bool(_AUTH.search(text))


def looks_transient(text: str) -> bool:
    """True when ``text`` reads like a failure that may pass if retried later.

    Rate limits (429, "rate limit"), overload (529, "overloaded"), server errors (5xx), dropped
    or refused connections and timeouts count; wording that says the failure is permanent
    (exhausted quota or billing, bad credentials, unknown model, context too long) wins over them.

    >>> looks_transient("API Error: 529 {'type':'overloaded_error'}")
    True
    >>> looks_transient("429 You exceeded your current quota, please check your plan and billing")
    False
    """
    if not isinstance(text, str) or not text:
        return False
    return bool(_TRANSIENT.search(text)) and not _PERMANENT.search(text)


# --- cleaning and reading fields -----------------------------------------------------------


def clean(text: str, limit: int = TEXT_CLIP) -> str:
    """``text`` without terminal escapes and control characters, clipped to ``limit``."""
    text = _CONTROL.sub("", _ANSI.sub("", text))
    if len(text) > limit:
        return f"{text[:limit]}… [{len(text) - limit} more characters]"
    return text


def text_of(value: object, limit: int = TEXT_CLIP) -> str:
    """A string field, cleaned and clipped; anything that is not a string reads as ``""``."""
    return clean(value, limit) if isinstance(value, str) else ""


def count(value: object) -> int:
    """A token count: a non-negative whole number, else 0 (bools, strings, NaN read as 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    number = int(value)
    return number if 0 <= number <= MAX_TOKENS else 0


def money(value: object) -> float | None:
    """A cost in dollars: a finite non-negative number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def items(value: object) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def clip_args(value: object) -> dict[str, Any]:
    """Tool-call arguments with long strings clipped, so a 1 MB file write stays small."""
    out: dict[str, Any] = {}
    for key, item in mapping(value).items():
        if isinstance(item, str):
            out[str(key)] = clean(item, VALUE_CLIP)
        elif isinstance(item, dict | list):
            text = json.dumps(item, ensure_ascii=False, default=str)
            out[str(key)] = item if len(text) <= VALUE_CLIP else clean(text, VALUE_CLIP)
        else:
            out[str(key)] = item
    return out


def load_json(text: str) -> Any:
    """``json.loads`` that answers None instead of raising (bad JSON, too deep, too long)."""
    if not isinstance(text, str) or len(text) > MAX_LINE:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


# --- building events -----------------------------------------------------------------------


def log(text: str, **data: Any) -> AgentEvent:
    """A ``log`` event: a line worth keeping that is not one of the other kinds."""
    return AgentEvent("log", text=clean(text, LOG_CLIP), data=data)


def log_block(lines: list[str], **data: Any) -> AgentEvent | None:
    """Many output lines that are only worth logging as one ``log`` event: its ``text`` holds
    them one per line, as :func:`log` would (stripped, blank ones left out, each clipped), and
    ``data["lines"]`` their number (with ``data`` added); None when all are blank. One regex pass for the batch
    instead of two per line: a flood of output costs a few calls per read, not per line.

    >>> log_block(["  one", "", "two"]).text.splitlines()
    ['one', 'two']
    """
    texts = [t for t in map(str.strip, lines) if t]
    if not texts:
        return None
    if max(map(len, texts)) > LOG_CLIP:
        texts = [clean(t, LOG_CLIP) if len(t) > LOG_CLIP else t for t in texts]
    text = "\n".join(texts)
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if not text.replace("\n", "").replace("\t", "").isprintable():  # a 10x faster test than the regex
        text = _CONTROL.sub("", text)
    return AgentEvent("log", text=text, data={"lines": len(texts), **data})


def message(text: str, **data: Any) -> list[AgentEvent]:
    """A ``message`` event for non-blank text, else nothing."""
    return [AgentEvent("message", text=text, data=data)] if text.strip() else []


def error(text: str, *, fatal: bool, **data: Any) -> AgentEvent:
    """An ``error`` event; ``is_error`` says the line itself reports that the run failed."""
    text = text or "unknown error"
    return AgentEvent(
        "error", text=text, data={"transient": looks_transient(text), **data}, is_error=fatal
    )


# Tools that write files, by lowercased name, across the CLIs; their path argument names.
EDIT_TOOLS = frozenset(
    {
        *("edit", "write", "multiedit", "notebookedit", "write_file", "replace", "create"),
        *("create_file", "edit_file", "delete_file", "apply_patch", "patch", "search_replace"),
        *("str_replace_editor", "str_replace_based_edit_tool"),
    }
)
PATH_KEYS = ("file_path", "filePath", "path", "notebook_path", "absolute_path", "target_file")
_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+)$", re.MULTILINE)


def edited_paths(tool: str, args: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(path, change)`` pairs a file-writing tool call touches; empty for other tools.

    ``change`` is ``add``, ``update`` or ``delete`` when the call says, else ``update``.
    """
    name = tool.lower()
    if name not in EDIT_TOOLS or args.get("command") == "view":
        return []
    for key in ("patch", "input", "patchText"):
        patch = args.get(key)
        if isinstance(patch, str) and "*** " in patch:
            return [(p.strip(), c.lower()) for c, p in _PATCH_FILE.findall(patch[:MAX_LINE])]
    for key in PATH_KEYS:
        path = args.get(key)
        if isinstance(path, str) and path.strip():
            change = "add" if name in ("create", "create_file") else "update"
            change = "delete" if name == "delete_file" else change
            return [(clean(path.strip(), LOG_CLIP), change)]
    return []


def file_edit(path: str, tool: str, change: str = "update") -> AgentEvent:
    """A ``file_edit`` event: the agent says it wrote ``path`` (the diff is the proof)."""
    return AgentEvent("file_edit", text=path, data={"path": path, "tool": tool, "change": change})


def tool_call(name: str, args: object = None, call_id: object = None) -> list[AgentEvent]:
    """A ``tool_call`` event, followed by a ``file_edit`` per file the call writes."""
    name = text_of(name, 200) or "tool"
    arguments = clip_args(args)
    hint = next(
        (
            str(arguments[k])
            for k in ("command", *PATH_KEYS, "query", "pattern", "url")
            if isinstance(arguments.get(k), str)
        ),
        "",
    )
    text = f"{name}: {clean(hint, 200)}" if hint else name
    data = {"name": name, "input": arguments, "id": text_of(call_id, 200)}
    events = [AgentEvent("tool_call", text=text, data=data)]
    events += [file_edit(p, name, c) for p, c in edited_paths(name, mapping(args))]
    return events


# --- never-raising wrappers ----------------------------------------------------------------


def _as_text(line: object) -> str:
    if isinstance(line, bytes | bytearray):
        return bytes(line).decode("utf-8", "replace")
    return line if isinstance(line, str) else str(line)


def text_parser(parse: Callable[[str], list[AgentEvent]]) -> Parser:
    """Wrap a parser of one stripped, non-blank text line so it never raises.

    Anything it raises on becomes a ``log`` event holding the line.
    """

    @functools.wraps(parse)
    def parse_line(line: str) -> list[AgentEvent]:
        try:
            text = _as_text(line).strip()
            return parse(text) if text else []
        except Exception as err:  # a parser bug must not stop a run: keep the line
            try:
                return [log(_as_text(line), parser_error=type(err).__name__)]
            except Exception:
                return [AgentEvent("log", text="<unreadable line>")]

    return parse_line


def json_parser(parse: Callable[[Mapping[str, Any]], list[AgentEvent]]) -> Parser:
    """Wrap a parser of one decoded JSON object into a never-raising parser of one line.

    Lines that are not a JSON object (plain text, arrays, broken JSON, huge lines) become one
    ``log`` event each.
    """

    @text_parser
    @functools.wraps(parse)
    def parse_line(text: str) -> list[AgentEvent]:
        obj = load_json(text) if text.startswith("{") else None
        if not isinstance(obj, dict):
            return [log(text)]
        return parse(obj)

    return parse_line
