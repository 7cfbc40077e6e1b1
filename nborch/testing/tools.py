"""Turn a script step into a call of a tool the client offers, with that tool's argument shape.

Tools are found by name first (each CLI's names are listed below), then by the shape of their
parameters. A step no offered tool can do falls back the way an agent would: a file write or edit
through ``apply_patch``, then through the shell. Only when nothing fits is the answer an
explanation instead of a call (:class:`Unsupported`), which ends the conversation visibly.

=================  =================================  =======================================
client             write / edit / read                run / finish
=================  =================================  =======================================
Claude Code        Write, Edit, Read (``file_path``)  Bash (``command``)
Codex              apply_patch, else shell heredoc    exec_command (``cmd``) or shell (argv)
Gemini CLI, Qwen   write_file, replace, read_file     run_shell_command
opencode           write, edit, read (``filePath``)   bash
Copilot            create, str_replace/edit, view     bash
Cline              write_to_file, replace_in_file     execute_command; attempt_completion
=================  =================================  =======================================
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .script import CallTool, EditFile, Finish, ReadFile, RunCommand, Step, WriteFile
from .turn import Call, Tool

__all__ = ["Unsupported", "call_for", "describe"]

_WRITE = ("write", "write_file", "create_file", "create", "write_to_file", "writefile", "file_write")
_EDIT = ("edit", "replace", "edit_file", "str_replace", "replace_in_file", "search_replace",
         "file_edit")  # fmt: skip
_READ = ("read", "read_file", "view", "readfile", "file_read", "cat")
_SHELL = ("bash", "run_shell_command", "exec_command", "shell", "execute_command", "run_command",
          "shell_command", "run_terminal_cmd", "terminal")  # fmt: skip
_FINISH = ("attempt_completion", "task_complete", "complete_task", "mark_task_complete")
_PATCH = ("apply_patch",)

_ROLES = {
    "path": ("file_path", "path", "filePath", "absolute_path", "filename", "file", "target_file"),
    "content": ("content", "file_text", "contents", "text", "new_content", "code"),
    "old": ("old_string", "old_str", "oldString", "old_text", "search", "old"),
    "new": ("new_string", "new_str", "newString", "new_text", "replace", "new", "replacement"),
    "command": ("command", "cmd", "commandLine", "script"),
    "result": ("result", "message", "summary", "text", "content"),
    "patch": ("input", "patch", "diff"),
}


@dataclass(frozen=True, slots=True)
class Unsupported:
    """Why a step cannot be done with the tools offered: the answer says so and stops."""

    reason: str


def describe(step: Step) -> str:
    """A few words naming a step, for explanations and filler arguments."""
    match step:
        case WriteFile(path):
            return f"write {path}"
        case EditFile(path):
            return f"edit {path}"
        case ReadFile(path):
            return f"read {path}"
        case RunCommand(command):
            return f"run {command}"
        case CallTool(name):
            return f"call {name}"
        case Finish():
            return "finish"


def call_for(step: Step, tools: Iterable[Tool], call_id: str, cwd: str | None) -> Call | Unsupported:
    """The call that performs ``step`` with one of ``tools``; :class:`Unsupported` if none can.

    ``cwd`` (the client's working directory, when it said) makes file paths absolute for file
    tools, which Claude Code and Gemini CLI require; shell commands and patches stay relative.
    """
    tools = tuple(tools)
    what = describe(step)
    match step:
        case CallTool(name, arguments):
            tool = _named(tools, (name,), exact=True)
            if tool is None:
                return Unsupported(f"the script calls {name!r}, which the client does not offer")
            if tool.kind == "custom":
                return Call(call_id, tool.name, input=str(arguments.get("input", "")), kind="custom")
            return Call(call_id, tool.name, dict(arguments), kind=tool.kind)
        case WriteFile(path, content):
            full = _abs(path, cwd)
            return _first(
                lambda: _fill(tools, _WRITE, {"path": full, "content": content}, what, "create"),
                lambda: _patch(tools, _add_patch(path, content)),
                lambda: _shell(tools, _write_cmd(path, content), what),
                reason=f"no tool to write files among {_names(tools)}",
                call_id=call_id,
            )
        case EditFile(path, old, new):
            full = _abs(path, cwd)
            return _first(
                lambda: _fill(tools, _EDIT, {"path": full, "old": old, "new": new}, what, "str_replace"),
                lambda: _patch(tools, _update_patch(path, old, new)),
                lambda: _shell(tools, _edit_cmd(path, old, new), what),
                reason=f"no tool to edit files among {_names(tools)}",
                call_id=call_id,
            )
        case ReadFile(path):
            full = _abs(path, cwd)
            return _first(
                lambda: _fill(tools, _READ, {"path": full}, what, "view"),
                lambda: _shell(tools, f"cat {shlex.quote(path)}", what),
                reason=f"no tool to read files among {_names(tools)}",
                call_id=call_id,
            )
        case RunCommand(command):
            return _first(
                lambda: _shell(tools, command, what),
                reason=f"no shell tool among {_names(tools)}",
                call_id=call_id,
            )
        case Finish(message):
            return _first(
                lambda: _fill(tools, _FINISH, {"result": message}, what),
                reason="no completion tool",
                call_id=call_id,
            )


def _first(*makers: Any, reason: str, call_id: str) -> Call | Unsupported:
    for make in makers:
        found = make()
        if found is not None:
            name, kind, arguments, text = found
            return Call(call_id, name, arguments if text is None else {}, input=text, kind=kind)
    return Unsupported(reason)


Found = tuple[str, str, dict[str, Any], str | None]  # name, kind, arguments, custom input


def _named(tools: tuple[Tool, ...], names: Iterable[str], *, exact: bool = False) -> Tool | None:
    for name in names:
        for tool in tools:
            if tool.name == name or (not exact and tool.name.lower() == name.lower()):
                return tool
    return None


def _param(tool: Tool, role: str) -> str | None:
    return next((p for p in _ROLES[role] if p in tool.properties), None)


def _fill(
    tools: tuple[Tool, ...], names: Iterable[str], wanted: Mapping[str, Any], what: str,
    command: str | None = None,
) -> Found | None:  # fmt: skip
    """Arguments for the first tool named in ``names`` that has a parameter for each role."""
    candidates = [t for n in names for t in tools if t.name.lower() == n and t.kind == "function"]
    # A multi-command editor (Anthropic's text editor tool, Copilot's) under any name.
    if command:
        candidates += [t for t in tools if command in _enum(t.properties.get("command"))]
    for tool in candidates:
        params = {role: _param(tool, role) for role in wanted}
        if any(p is None for p in params.values()):
            continue
        args: dict[str, Any] = {params[role]: value for role, value in wanted.items()}
        if command and command in _enum(tool.properties.get("command")):
            args["command"] = command
        return tool.name, "function", _complete(tool, args, what), None
    return None


def _patch(tools: tuple[Tool, ...], patch: str) -> Found | None:
    tool = _named(tools, _PATCH)
    if tool is None:
        return None
    if tool.kind == "custom":
        return tool.name, "custom", {}, patch
    param = _param(tool, "patch")
    return (tool.name, "function", {param: patch}, None) if param else None


def _shell(tools: tuple[Tool, ...], command: str, what: str) -> Found | None:
    argv = ["bash", "-lc", command]
    for tool in tools:
        if tool.kind == "local_shell":
            return tool.name, "local_shell", {"command": argv}, None
    ordered = [t for n in _SHELL for t in tools if t.name.lower() == n]
    # Then any other tool that looks like a shell (``Shell``, ``bash_exec`` …).
    ordered += [t for t in tools if t not in ordered and re.search(r"shell|bash", t.name, re.I)]
    for tool in ordered:
        param = _param(tool, "command")
        if param is None or tool.kind != "function":
            continue
        value: Any = argv if _type(tool.properties[param]) == "array" else command
        return tool.name, "function", _complete(tool, {param: value}, what), None
    return None


def _complete(tool: Tool, args: dict[str, Any], what: str) -> dict[str, Any]:
    """Give every required parameter the script says nothing about a harmless value."""
    for name in tool.required:
        if name not in args:
            args[name] = _filler(tool.properties.get(name, {}), what)
    return args


def _filler(schema: Mapping[str, Any], what: str) -> Any:
    choices = _enum(schema)
    if choices:
        return choices[0]
    return {"boolean": False, "integer": 1, "number": 1, "array": [], "object": {}}.get(
        _type(schema), f"nborch model server: {what}"
    )


def _type(schema: Any) -> str:
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return str(kind or "").lower()


def _enum(schema: Any) -> list[Any]:
    found = schema.get("enum") if isinstance(schema, Mapping) else None
    return list(found) if isinstance(found, list) else []


def _abs(path: str, cwd: str | None) -> str:
    return posixpath.join(cwd, path) if cwd and not posixpath.isabs(path) else path


def _names(tools: tuple[Tool, ...]) -> str:
    return ", ".join(t.name for t in tools) or "(none)"


def _lines(text: str) -> list[str]:
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def _add_patch(path: str, content: str) -> str:
    body = "".join(f"+{line}\n" for line in _lines(content)) if content else ""
    return f"*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch\n"


def _update_patch(path: str, old: str, new: str) -> str:
    minus = "".join(f"-{line}\n" for line in _lines(old))
    plus = "".join(f"+{line}\n" for line in _lines(new)) if new else ""
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n{minus}{plus}*** End Patch\n"


def _write_cmd(path: str, content: str) -> str:
    parent = posixpath.dirname(path)
    mkdir = f"mkdir -p {shlex.quote(parent)} && " if parent else ""
    return f"{mkdir}printf '%s' {shlex.quote(content)} > {shlex.quote(path)}"


def _edit_cmd(path: str, old: str, new: str) -> str:
    code = (
        "import pathlib,sys\n"
        f"p = pathlib.Path({path!r}); s = p.read_text()\n"
        f"old, new = {old!r}, {new!r}\n"
        "if old not in s: sys.exit(f'{p}: text to replace not found')\n"
        "p.write_text(s.replace(old, new, 1))\n"
    )
    return f"python3 -c {shlex.quote(code)}"
