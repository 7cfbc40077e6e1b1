"""What the model server answers: scripts of steps, token usage and faults, as plain records.

A :class:`Script` is one conversation's answers in order: read a file, write or edit one, run a
command, finish with a message. A :class:`Scenario` is what one server replays: its scripts (picked
per conversation by ``match``), the token usage every answer reports and a server-wide
:class:`Fault`. Both load from YAML or JSON (:meth:`Scenario.load`) and write back
(:meth:`Scenario.to_dict`), so a script file can drive a server in another process::

    usage: {input_tokens: 120, output_tokens: 30}
    fault: {kind: rate_limit, times: 1, retry_after: 1}   # optional, every conversation
    steps:                                                 # or `conversations:` (below)
      - write: hello.py
        content: "print('hi')\\n"
      - edit: hello.py
        old: "'hi'"
        new: "'hello'"
        fault: {kind: server_error, times: 1}              # optional, this step only
      - read: hello.py
      - run: python hello.py
      - call: TodoWrite                                    # any tool the client offers, by name
        arguments: {todos: []}
      - finish: Created hello.py.

    conversations:                   # instead of `steps`: one script per conversation
      - match: "Task 1.1"            # a substring of the conversation's opening user text
        steps: [{write: a.py, content: "a = 1\\n"}, {finish: done}]
      - steps: [{finish: "no script for this task"}]     # no `match`: the fallback
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import NborchError

__all__ = [
    "FAULT_KINDS",
    "CallTool",
    "EditFile",
    "Fault",
    "Finish",
    "ReadFile",
    "RunCommand",
    "Scenario",
    "Script",
    "ScriptError",
    "Step",
    "Usage",
    "WriteFile",
]

#: ``rate_limit`` answers 429 with ``retry-after``; ``server_error`` answers 500 (or ``status``);
#: ``hang`` reads the request and never answers (until the server stops); ``cut`` sends half the
#: answer and drops the connection mid-event; ``bad_json`` sends an event (or body) that is not JSON.
FAULT_KINDS = ("rate_limit", "server_error", "hang", "cut", "bad_json")


class ScriptError(NborchError, ValueError):
    """A model-server script cannot be used as written."""


@dataclass(frozen=True, slots=True)
class Fault:
    """A failure the server answers with instead of the scripted answer.

    Parameters
    ----------
    kind:
        One of :data:`FAULT_KINDS`.
    times:
        How many requests of each conversation get the fault (``None``: every one). ``times=1``
        makes a transient failure that a client's retry gets past.
    retry_after:
        Seconds sent in the ``retry-after`` header of a ``rate_limit`` answer.
    status:
        HTTP status of a ``server_error`` answer (500 unless given).
    scope:
        For a server-wide fault: ``"main"`` (default) faults only the main conversation,
        ``"all"`` faults side calls too (titles, routing, quota probes). Ignored on a step.
    """

    kind: str
    times: int | None = None
    retry_after: float = 1.0
    status: int | None = None
    scope: str = "main"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ScriptError(f"unknown fault kind {self.kind!r} — use one of {', '.join(FAULT_KINDS)}")
        if self.times is not None and self.times < 0:
            raise ScriptError(f"fault times must be 0 or more, not {self.times}")
        if self.scope not in ("main", "all"):
            raise ScriptError(f"fault scope must be 'main' or 'all', not {self.scope!r}")

    @property
    def http_status(self) -> int:
        return {"rate_limit": 429}.get(self.kind, self.status or 500)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts every answer reports, in each protocol's own usage fields.

    ``input_tokens`` is the uncached prompt and ``cached_tokens`` the prompt read from a cache, as
    Anthropic counts them; OpenAI's ``prompt_tokens`` and Gemini's ``promptTokenCount`` are
    their sum.
    """

    input_tokens: int = 100
    output_tokens: int = 20
    cached_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cached_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class ReadFile:
    """Read a file with the client's read tool (or ``cat`` through its shell tool)."""

    path: str
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Create or overwrite a file with the client's write tool, ``apply_patch`` or its shell."""

    path: str
    content: str
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class EditFile:
    """Replace the first ``old`` with ``new`` in a file (for ``apply_patch``: whole lines)."""

    path: str
    old: str
    new: str
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class RunCommand:
    """Run a shell command with the client's shell tool."""

    command: str
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class CallTool:
    """Call a tool the client offers by its exact name, with these arguments."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """End the conversation with a message (through a completion tool when the client has one)."""

    message: str = "Done."
    fault: Fault | None = None


Step = ReadFile | WriteFile | EditFile | RunCommand | CallTool | Finish


@dataclass(frozen=True, slots=True)
class Script:
    """One conversation's answers, in order; a missing final :class:`Finish` is added.

    ``match`` picks the script for a conversation: a substring of the user text that opens it
    (the prompt). A script without ``match`` is the fallback.
    """

    steps: tuple[Step, ...] = ()
    match: str | None = None

    def __init__(self, steps: Sequence[Step] = (), match: str | None = None) -> None:
        steps = tuple(steps)
        for i, step in enumerate(steps):
            if not isinstance(step, ReadFile | WriteFile | EditFile | RunCommand | CallTool | Finish):
                raise ScriptError(f"step {i + 1} is a {type(step).__name__}, not a step")
            if isinstance(step, Finish) and i != len(steps) - 1:
                raise ScriptError(f"step {i + 1} is a Finish but steps follow it — make it the last")
        if not steps or not isinstance(steps[-1], Finish):
            steps += (Finish(),)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "match", match)

    @property
    def actions(self) -> tuple[Step, ...]:
        """The steps before the final :class:`Finish`."""
        return self.steps[:-1]

    @property
    def finish(self) -> Finish:
        last = self.steps[-1]
        assert isinstance(last, Finish)
        return last


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything one server replays: scripts per conversation, usage and a server-wide fault."""

    scripts: tuple[Script, ...] = (Script(),)
    usage: Usage = Usage()
    fault: Fault | None = None

    def script_for(self, opening: str) -> Script | None:
        """The first script whose ``match`` is in ``opening``, else the fallback, else None."""
        for script in self.scripts:
            if script.match is not None and script.match in opening:
                return script
        return next((s for s in self.scripts if s.match is None), None)

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Scenario:
        """Read a scenario from a YAML (``.yaml``/``.yml``) or JSON file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ScriptError(f"{path}: cannot read the script ({err.strerror})") from err
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # only here: importing nborch.testing stays light

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as err:
                raise ScriptError(f"{path}: not valid YAML: {err}") from err
        else:
            try:
                data = json.loads(text)
            except ValueError as err:
                raise ScriptError(f"{path}: not valid JSON: {err}") from err
        try:
            return cls.from_dict(data or {})
        except ScriptError as err:
            raise ScriptError(f"{path}: {err}") from err

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from the mapping a script file holds (see the module docstring)."""
        if not isinstance(data, Mapping):
            raise ScriptError("a script is a mapping with `steps` or `conversations`")
        _only(data, {"steps", "conversations", "usage", "fault"}, "the script")
        if "steps" in data and "conversations" in data:
            raise ScriptError("give `steps` or `conversations`, not both")
        if "conversations" in data:
            convs = data["conversations"]
            if not isinstance(convs, list) or not convs:
                raise ScriptError("`conversations` is a non-empty list of {match, steps}")
            scripts = tuple(_script(c, i) for i, c in enumerate(convs))
        else:
            scripts = (_script({"steps": data.get("steps") or []}, 0),)
        usage = data.get("usage") or {}
        _only(usage, {"input_tokens", "output_tokens", "cached_tokens"}, "`usage`")
        fault = _fault(data["fault"]) if data.get("fault") else None
        return cls(scripts, Usage(**{k: int(v) for k, v in usage.items()}), fault)

    def to_dict(self) -> dict[str, Any]:
        """The mapping :meth:`from_dict` reads back into an equal scenario."""
        out: dict[str, Any] = {
            "usage": {"input_tokens": self.usage.input_tokens,
                      "output_tokens": self.usage.output_tokens,
                      "cached_tokens": self.usage.cached_tokens},
            "conversations": [
                {**({"match": s.match} if s.match is not None else {}),
                 "steps": [_step_dict(step) for step in s.steps]}
                for s in self.scripts
            ],
        }  # fmt: skip
        if self.fault is not None:
            out["fault"] = _fault_dict(self.fault)
        return out


_STEP_KEYS = {
    "write": (WriteFile, ("content",)),
    "edit": (EditFile, ("old", "new")),
    "read": (ReadFile, ()),
    "run": (RunCommand, ()),
    "call": (CallTool, ("arguments",)),
    "finish": (Finish, ()),
}


def _only(data: Any, allowed: set[str], what: str) -> None:
    if not isinstance(data, Mapping):
        raise ScriptError(f"{what} must be a mapping, not {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScriptError(f"{what} has unknown key(s) {', '.join(map(str, unknown))} — "
                          f"allowed: {', '.join(sorted(allowed))}")  # fmt: skip


def _script(data: Any, i: int) -> Script:
    _only(data, {"match", "steps"}, f"conversation {i + 1}")
    steps = data.get("steps") or []
    if not isinstance(steps, list):
        raise ScriptError(f"conversation {i + 1}: `steps` must be a list")
    match = data.get("match")
    return Script([_step(s, n) for n, s in enumerate(steps)], None if match is None else str(match))


def _step(data: Any, n: int) -> Step:
    where = f"step {n + 1}"
    if not isinstance(data, Mapping):
        raise ScriptError(f"{where} must be a mapping like {{write: path, content: ...}}")
    kinds = [k for k in _STEP_KEYS if k in data]
    if len(kinds) != 1:
        raise ScriptError(f"{where} needs exactly one of {', '.join(_STEP_KEYS)} (has {sorted(data)})")
    kind = kinds[0]
    cls, extra = _STEP_KEYS[kind]
    _only(data, {kind, *extra, "fault"}, where)
    missing = [k for k in extra if k not in data and k != "arguments"]
    if missing:
        raise ScriptError(f"{where} ({kind}) is missing {', '.join(missing)}")
    fault = _fault(data["fault"]) if data.get("fault") else None
    head = data[kind]
    if kind == "call":
        args = data.get("arguments") or {}
        if not isinstance(args, Mapping):
            raise ScriptError(f"{where}: `arguments` must be a mapping")
        return CallTool(str(head), dict(args), fault)
    if kind == "finish" and head is None:
        return Finish(fault=fault)
    return cls(str(head), *(str(data[k]) for k in extra), fault=fault)  # type: ignore[call-arg]


def _fault(data: Any) -> Fault:
    if isinstance(data, str):
        data = {"kind": data}
    _only(data, {"kind", "times", "retry_after", "status", "scope"}, "`fault`")
    if "kind" not in data:
        raise ScriptError(f"`fault` needs a kind: one of {', '.join(FAULT_KINDS)}")
    return Fault(**dict(data))


def _fault_dict(fault: Fault) -> dict[str, Any]:
    return {"kind": fault.kind, "times": fault.times, "retry_after": fault.retry_after,
            "status": fault.status, "scope": fault.scope}  # fmt: skip


def _step_dict(step: Step) -> dict[str, Any]:
    match step:
        case WriteFile(path, content):
            out: dict[str, Any] = {"write": path, "content": content}
        case EditFile(path, old, new):
            out = {"edit": path, "old": old, "new": new}
        case ReadFile(path):
            out = {"read": path}
        case RunCommand(command):
            out = {"run": command}
        case CallTool(name, arguments):
            out = {"call": name, "arguments": dict(arguments)}
        case Finish(message):
            out = {"finish": message}
    if step.fault is not None:
        out["fault"] = _fault_dict(step.fault)
    return out
