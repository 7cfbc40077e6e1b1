"""Script agents a repository declares for itself, in ``.nborch/agents.toml``::

    [agents]
    mine = "python tools/fix.py {prompt_file}"

    [agents.lint-bot]
    command = "bash scripts/lint_fix.sh {worktree}"
    env = ["MY_TOOL_TOKEN"]          # variables it may see besides PATH, LANG, …
    parser = "demo"                  # it prints JSON lines (tokens, cost…): see nborch.agents.parsers

They are registered like ``nborch.script_agent`` does, so plans (``Agents: mine``), ``assign``,
the CLI (``--agents mine``) and the coordinator can use them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from ..errors import AgentError
from . import register, script_agent
from .parsers import PARSERS

CONFIG = Path(".nborch") / "agents.toml"


def load_repo_agents(repo: str | Path) -> list[str]:
    """Register the script agents of ``<repo>/.nborch/agents.toml``; returns their names.

    A missing file registers nothing. A malformed one raises :class:`~nborch.AgentError` naming
    the file and what to write instead.
    """
    path = Path(repo) / CONFIG
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AgentError(f"{path}: cannot read it ({exc}) — write an [agents] table of "
                         "name = \"command {prompt_file}\" lines") from None  # fmt: skip
    table = data.get("agents", {})
    if not isinstance(table, dict):
        raise AgentError(f"{path}: [agents] must be a table of name = \"command\" entries")
    names = []
    for name, entry in table.items():
        command, env, parser = entry, [], "text"
        if isinstance(entry, dict):
            command, env = entry.get("command"), entry.get("env", [])
            parser = entry.get("parser", "text")
        if not isinstance(command, str) or not isinstance(env, list) or not all(
                isinstance(e, str) for e in env):  # fmt: skip
            raise AgentError(f"{path}: agent {name!r} needs a command string (and env, if any, "
                             "a list of variable names)")  # fmt: skip
        try:
            spec = script_agent(name, command)
        except AgentError as exc:
            raise AgentError(f"{path}: {exc}") from None
        if parser not in PARSERS:
            raise AgentError(f"{path}: agent {name!r} has parser {parser!r}; use one of "
                             f"{', '.join(sorted(PARSERS))} (\"demo\": JSON lines with usage "
                             "and cost, as nborch.agents.parsers describes)")  # fmt: skip
        if env or parser != "text":
            output = "text" if parser == "text" else "stream-json"
            register(dataclasses.replace(spec, env_allow=tuple(env), parser=parser, output=output),
                     replace=True)  # fmt: skip
        names.append(name)
    return names
