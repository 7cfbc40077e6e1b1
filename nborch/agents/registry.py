"""The agent registry: name → ``AgentSpec``, built-ins plus any the user registers.

The registry is a plain module-level dict; importing it runs no process and touches no file.

>>> get("claude").install_hint
'npm install -g @anthropic-ai/claude-code'
>>> get("cluade")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nborch.errors.AgentError: unknown agent 'cluade' — did you mean 'claude'? ...
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ..errors import AgentError
from ..names import closest
from .builtin import BUILTIN_SPECS
from .spec import KINDS, NAME_RE, TASK_TYPES, AgentSpec, Capability, check_placeholders

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BUILTIN",
    "TASK_TYPES",
    "AgentSpec",
    "Capability",
    "all_specs",
    "available_agents",
    "get",
    "names",
    "register",
    "registry_frame",
    "reset",
    "script_agent",
    "unregister",
]

BUILTIN: tuple[str, ...] = tuple(spec.name for spec in BUILTIN_SPECS)
SCRIPT_PLACEHOLDERS = frozenset({"prompt_file", "worktree", "task_id"})

_REGISTRY: dict[str, AgentSpec] = {spec.name: spec for spec in BUILTIN_SPECS}


def get(name: str) -> AgentSpec:
    """The spec registered under ``name``.

    Raises
    ------
    AgentError
        When no agent has that name; the message suggests the closest name and lists all.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    try:
        return _REGISTRY[key]
    except (KeyError, TypeError):
        pass
    close = closest(str(key), _REGISTRY)
    maybe = f" — did you mean {close!r}?" if close else ""
    raise AgentError(
        f"unknown agent {name!r}{maybe} Known agents: {', '.join(_REGISTRY)}. "
        "Any command line can be an agent: nborch.agents.script_agent(name, command)."
    )


def register(spec: AgentSpec, replace: bool = False) -> AgentSpec:
    """Add ``spec`` to the registry and return it; ``replace=True`` overrides an existing one."""
    if not isinstance(spec, AgentSpec):
        raise AgentError(f"register() takes an AgentSpec, got {type(spec).__name__}")
    if spec.name in _REGISTRY and not replace:
        raise AgentError(
            f"an agent named {spec.name!r} is already registered; "
            "pass replace=True to override it"
        )
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> AgentSpec:
    """Remove the agent called ``name`` and return its spec (``reset()`` restores built-ins)."""
    spec = get(name)
    del _REGISTRY[spec.name]
    return spec


def reset() -> None:
    """Forget every registered agent and restore the built-in specs."""
    _REGISTRY.clear()
    _REGISTRY.update((spec.name, spec) for spec in BUILTIN_SPECS)


def names() -> list[str]:
    """Every registered agent name, built-ins first, then in registration order."""
    return list(_REGISTRY)


def all_specs() -> list[AgentSpec]:
    """Every registered spec, in the order of ``names()``."""
    return list(_REGISTRY.values())


def available_agents() -> list[str]:
    """Names of the agents that can run on this machine now (their program is on PATH)."""
    return [spec.name for spec in _REGISTRY.values() if spec.available()]


def script_agent(
    name: str,
    command: str,
    *,
    capability: Capability | None = None,
    replace: bool = False,
) -> AgentSpec:
    """Register any command line as an agent and return its spec.

    The command is split like a POSIX shell would (``shlex.split``) but never run through one.
    It may use ``{prompt_file}``, ``{worktree}`` and ``{task_id}``; write ``{{``/``}}`` for
    literal braces. Re-defining a script agent replaces it; shadowing a built-in or another
    non-script agent needs ``replace=True``.

    >>> script_agent("mine", "python fix.py --prompt '{prompt_file}'").render_argv(
    ...     prompt_file="/tmp/p 1.md")
    ['python', 'fix.py', '--prompt', '/tmp/p 1.md']
    >>> _ = unregister("mine")
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise AgentError(
            f"bad agent name {name!r}: use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit (e.g. 'my-script')"
        )
    try:
        argv = shlex.split(command)
    except ValueError as err:  # unbalanced quotes, a trailing backslash
        raise AgentError(f"cannot split the command for agent {name!r}: {err}") from None
    if not argv:
        raise AgentError(f"the command for agent {name!r} is empty")
    check_placeholders(argv, SCRIPT_PLACEHOLDERS)
    existing = _REGISTRY.get(name)
    if existing is not None and existing.kind != "script" and not replace:
        raise AgentError(
            f"{name!r} is already the {existing.kind} agent {existing.display_name}; "
            "choose another name or pass replace=True"
        )
    spec = AgentSpec(
        name=name,
        display_name=name,
        kind="script",
        argv=tuple(argv),
        prompt_via="file",
        output="text",
        parser="text",
        install_hint=f"put {argv[0]!r} on PATH or give its full path",
        docs=f"script agent: {command}",
        capability=capability
        if capability is not None
        else Capability(
            strengths=dict.fromkeys(TASK_TYPES, 0.5),
            cost_tier=1,
            notes="User command line; neutral default profile.",
        ),
    )
    return register(spec, replace=True)


def registry_frame() -> pd.DataFrame:
    """One row per registered agent, in ``names()`` order.

    Columns: ``name``, ``kind`` (categorical), ``available`` (bool), ``executable`` (the program
    looked up on PATH; None for manual agents), ``cost_tier``, ``context_tokens`` (int),
    ``best_at`` (the two strongest task types, comma-separated), ``install_hint``.
    """
    import pandas as pd

    specs = all_specs()
    frame = pd.DataFrame(
        {
            "name": [s.name for s in specs],
            "kind": pd.Categorical([s.kind for s in specs], categories=list(KINDS)),
            "available": [s.available() for s in specs],
            "executable": [s.program for s in specs],
            "cost_tier": [s.capability.cost_tier for s in specs],
            "context_tokens": [s.capability.context_tokens for s in specs],
            "best_at": [", ".join(s.capability.best_at(2)) for s in specs],
            "install_hint": [s.install_hint for s in specs],
        }
    )
    return frame.astype({"available": bool, "cost_tier": "int64", "context_tokens": "int64"})

