"""Script agents a repository declares for itself, in ``.nborch/agents.toml``::

    [agents]
    mine = "python tools/fix.py {prompt_file}"

    [agents.lint-bot]
    command = "bash scripts/lint_fix.sh {worktree}"
    env = ["MY_TOOL_TOKEN"]          # variables it may see besides PATH, LANG, …

They are registered like ``nborch.script_agent`` does, so plans (``Agents: mine``), ``assign``,
the CLI (``--agents mine``) and the coordinator can use them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from ..errors import AgentError
from . import register, script_agent

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
        command, env = entry, []
        if isinstance(entry, dict):
            command, env = entry.get("command"), entry.get("env", [])
        if not isinstance(command, str) or not isinstance(env, list) or not all(
                isinstance(e, str) for e in env):  # fmt: skip
            raise AgentError(f"{path}: agent {name!r} needs a command string (and env, if any, "
                             "a list of variable names)")  # fmt: skip
        try:
            spec = script_agent(name, command)
        except AgentError as exc:
            raise AgentError(f"{path}: {exc}") from None
        if env:
            register(dataclasses.replace(spec, env_allow=tuple(env)), replace=True)
        names.append(name)
    return names
