"""What to answer to a :class:`~nborch.testing.turn.Turn`: the next step of its script.

Stateless on purpose: the step to answer is the number of tool results already in the request,
so a retried request gets the same answer, and conversations never disturb one another. A side
call gets a harmless answer (JSON matching the schema it asks for, else a short text) and
consumes no step. A client that offers no tools (aider) gets every file write and edit at once,
in aider's "whole" edit format: a line with the file name, then a fenced block with the whole
file; reads and commands are left out (aider shows the model its files and runs nothing for it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .script import EditFile, Fault, Finish, Scenario, Script, WriteFile
from .tools import Unsupported, call_for, describe
from .turn import Reply, Turn

__all__ = ["Decision", "decide", "schema_instance"]

SIDE_TEXT = "OK"
PROBLEM = "nborch model server: "


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to a request, and where in its script it stands.

    ``step`` indexes ``Script.steps`` (``None`` for a side call or when no script matches);
    ``fault`` is that step's own fault; ``problem`` says why the answer is an explanation
    instead of the scripted step (no script matches, no tool fits).
    """

    reply: Reply
    step: int | None = None
    fault: Fault | None = None
    problem: str | None = None


def decide(turn: Turn, scenario: Scenario) -> Decision:
    """The answer to ``turn`` under ``scenario``."""
    if turn.side:
        return Decision(Reply(text=side_text(turn)))
    script = scenario.script_for(turn.opening)
    if script is None:
        matches = ", ".join(repr(s.match) for s in scenario.scripts)
        problem = f"no script matches this conversation (the scripts match {matches})"
        return Decision(Reply(text=PROBLEM + problem), problem=problem)
    if not turn.tools:
        return _whole(turn, script)
    index = min(turn.tool_results, len(script.steps) - 1)
    step = script.steps[index]
    if isinstance(step, Finish) and turn.tool_results > index:
        # The completion tool (if any) was called and answered: now just say it.
        return Decision(Reply(text=step.message), index, step.fault)
    found = call_for(step, turn.tools, _call_id(turn, index), turn.cwd)
    if isinstance(found, Unsupported):
        if isinstance(step, Finish):
            return Decision(Reply(text=step.message), index, step.fault)
        problem = f"step {index + 1} ({describe(step)}): {found.reason}"
        return Decision(Reply(text=PROBLEM + problem), index, step.fault, problem)
    return Decision(Reply(calls=(found,)), index, step.fault)


def side_text(turn: Turn) -> str:
    """A harmless answer to a side call."""
    if turn.schema is not None:
        return json.dumps(schema_instance(turn.schema))
    if turn.json_mode:
        return "{}"
    if "<policy_spec>" in turn.text:  # Claude Code's command-prefix check: "none" grants nothing
        return "none"
    return SIDE_TEXT


def schema_instance(schema: Any, depth: int = 0) -> Any:
    """A small value valid against a JSON schema (first enum value, required fields filled)."""
    if not isinstance(schema, Mapping) or depth > 20:
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema_instance(schema[key][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind or ("object" if "properties" in schema else "string")).lower()
    if kind == "object":
        props = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
        return {name: schema_instance(sub, depth + 1) for name, sub in props.items()}
    if kind == "array":
        item = schema_instance(schema.get("items", {}), depth + 1)
        return [item] * int(schema.get("minItems") or 0)
    if kind in ("integer", "number"):  # 1, not 0: scores and counts tend to start at 1
        return schema.get("minimum", min(1, schema.get("maximum", 1)))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "ok" * max(1, -(-int(schema.get("minLength") or 0) // 2))


def _call_id(turn: Turn, index: int) -> str:
    # Stable for a conversation and step, so a retried request gets the same id.
    return hashlib.sha1(f"{turn.key}:{index}".encode()).hexdigest()[:24]


def _whole(turn: Turn, script: Script) -> Decision:
    """Aider's "whole" edit format: every write and edit at once, then the final message."""
    files: dict[str, str] = {}
    for i, step in enumerate(script.actions):
        if isinstance(step, WriteFile):
            files[step.path] = step.content
        elif isinstance(step, EditFile):
            current = files.get(step.path)
            if current is None:
                current = _shown(turn.text, step.path)
            if current is None or step.old not in current:
                why = "is not in the chat" if current is None else "does not contain the old text"
                problem = f"step {i + 1} ({describe(step)}): the file {why}"
                return Decision(Reply(text=PROBLEM + problem), 0, script.steps[0].fault, problem)
            files[step.path] = current.replace(step.old, step.new, 1)
    text = script.finish.message + "\n" + "".join(_fenced(p, c) for p, c in files.items())
    # Aider's prompt has example exchanges, so only our own answer, sent back, means the edits
    # were made: a follow-up (aider reflecting on lint errors) then gets just the message.
    if any(reply.strip() == text.strip() for reply in turn.replies):
        return Decision(Reply(text=script.finish.message), len(script.steps) - 1, script.finish.fault)
    return Decision(Reply(text=text), 0, script.steps[0].fault)


def _fenced(path: str, content: str) -> str:
    newline = "" if not content or content.endswith("\n") else "\n"
    return f"\n{path}\n```\n{content}{newline}```\n"


def _shown(text: str, path: str) -> str | None:
    """The content of ``path`` as aider shows it: the name on a line, then a fenced block."""
    pattern = re.compile(rf"(?:^|\n){re.escape(path)}\n(`{{3,}})[^\n]*\n(.*?)(?<=\n)\1", re.S)
    found = pattern.findall(text)
    return found[-1][1] if found else None
