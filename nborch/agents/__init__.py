"""Agents: their specs (:mod:`.spec`), the built-in ones (:mod:`.builtin`), the registry that
names them (:mod:`.registry`), a repository's own agents (:mod:`.config`) and one output parser
per vendor (:mod:`.parsers`).

>>> import nborch
>>> nborch.agents.get("claude").kind
'cli'
"""

from .registry import (
    BUILTIN,
    TASK_TYPES,
    AgentSpec,
    Capability,
    all_specs,
    available_agents,
    get,
    names,
    register,
    registry_frame,
    reset,
    script_agent,
    unregister,
)

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
