"""Prompts and agent instruction files for one attempt (a task done by one agent in a worktree).

>>> import nborch
>>> from nborch.workspace.prompts import render_prompt
>>> plan = nborch.parse_plan("# P\\n## Task 1: Add a README\\n")
>>> print(render_prompt(plan.tasks[0], "claude", plan=plan, worktree="/tmp/wt",
...                     context=ProjectContext(), templates=PromptRenderer()).splitlines()[0])
# Task 1: Add a README

- ``render_prompt`` / ``write_prompt``: the task prompt (``templates/task.md.j2`` and the
  agent's part from ``templates/agents/``).
- ``write_agent_files``: the agent's native instruction files (CLAUDE.md, AGENTS.md, …) from
  ``templates/files/``, as a marked section that leaves the user's own text alone.
- ``ProjectContext.detect``: language, commands and standards from the repository's files.
- ``PromptRenderer``: the templates, with the repository's ``.nborch/templates/`` first.
"""

from .context import ProjectContext, readme_summary
from .files import (
    BEGIN,
    END,
    merge_section,
    remove_agent_files,
    render_agent_files,
    strip_section,
    write_agent_files,
)
from .render import (
    NATIVE_TEMPLATES,
    OVERRIDE_DIR,
    TEMPLATE_DIR,
    PromptRenderer,
    render_prompt,
    write_prompt,
)

__all__ = [
    "BEGIN",
    "END",
    "NATIVE_TEMPLATES",
    "OVERRIDE_DIR",
    "TEMPLATE_DIR",
    "ProjectContext",
    "PromptRenderer",
    "merge_section",
    "readme_summary",
    "remove_agent_files",
    "render_agent_files",
    "render_prompt",
    "strip_section",
    "write_agent_files",
    "write_prompt",
]
