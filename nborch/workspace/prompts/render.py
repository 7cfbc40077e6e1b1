"""Render the task prompt and the agents' instruction files from jinja2 templates.

Templates come from the user's ``<repo>/.nborch/templates/`` first (same file names), then from
the package. Rendering is strict: a variable a template uses but nobody passed is an error, not
an empty string. Plan text is only ever a *value* in a template, never a template itself, so
``{{ }}`` in a task title is printed as written.

The variables every template sees (see ``PromptRenderer.variables``):

- ``task``: the :class:`~nborch.Task` (``id``, ``title``, ``overview``, ``objectives``…)
- ``agent``: the :class:`~nborch.AgentSpec` (``name``, ``display_name``, ``kind``…)
- ``worktree``: the attempt's worktree, as a string
- ``project``: the :class:`ProjectContext`; ``project.source("name")`` says where from
- ``plan_title``: the plan's title (``""`` without a plan)
- ``plan_overview``: the plan's introduction, shortened
- ``source``: where the task came from: ``"from plan.md line 12"`` (or ``""``)
- ``phase``: the task's phase title (or ``""``)
- ``dependencies``: the tasks it depends on: ``id``, ``title``, ``deliverables``
- ``criteria_run``: validation criteria with a command or test id, as written
- ``guidance``: validation criteria in prose only (shown, never run)
- ``runs``: exactly the command lines that will judge the work
- ``test_runner``: the command that runs test ids (the plan's ``test_command``)
- ``config_files``: the instruction files nborch places for this agent
- ``agent_instructions``: what this agent in particular must know (``task.md.j2`` only)
- ``path``: the instruction file being written (``files/*`` templates only)
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import agents as registry
from ...errors import NborchError
from ...plan.model import DEFAULT_TEST_COMMAND
from .context import ProjectContext

if TYPE_CHECKING:
    from ...agents import AgentSpec
    from ...plan.model import Plan, Task

__all__ = [
    "OVERRIDE_DIR",
    "TEMPLATE_DIR",
    "PromptRenderer",
    "agent_spec",
    "render_prompt",
    "renderer_for",
    "shorten",
    "write_prompt",
]

TEMPLATE_DIR = Path(__file__).parent / "templates"
OVERRIDE_DIR = Path(".nborch") / "templates"
PROMPT_TEMPLATE = "task.md.j2"
OVERVIEW_LIMIT = 1500

# The template for each native instruction file; any other path gets files/generic.md.j2.
NATIVE_TEMPLATES = {
    "CLAUDE.md": "files/CLAUDE.md.j2",
    "AGENTS.md": "files/AGENTS.md.j2",
    "GEMINI.md": "files/GEMINI.md.j2",
    "QWEN.md": "files/QWEN.md.j2",
    "CONVENTIONS.md": "files/CONVENTIONS.md.j2",
    ".github/copilot-instructions.md": "files/copilot-instructions.md.j2",
    ".cursor/rules/nborch.mdc": "files/cursor-rule.mdc.j2",
    ".clinerules": "files/clinerules.md.j2",
    ".windsurfrules": "files/windsurfrules.md.j2",
}
GENERIC_FILE_TEMPLATE = "files/generic.md.j2"


class PromptRenderer:
    """Loads templates (the repository's overrides first) and renders them strictly.

    Parameters
    ----------
    repo_path:
        A repository or worktree whose ``.nborch/templates/`` overrides package templates of the
        same name; None for the package templates only.
    """

    def __init__(self, repo_path: str | Path | None = None):
        import jinja2  # here, not at the top: importing nborch stays fast
        from jinja2.sandbox import SandboxedEnvironment

        self.roots: list[Path] = []
        if repo_path is not None:
            self.roots.append(Path(repo_path) / OVERRIDE_DIR)
        self.roots.append(TEMPLATE_DIR)
        loaders = [jinja2.FileSystemLoader(str(root)) for root in self.roots]
        # Sandboxed: an override template (repository content an agent could have written)
        # can read the values it is given but cannot reach Python internals through them.
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["yaml_str"] = lambda value: json.dumps(str(value), ensure_ascii=False)
        self.env.filters["quote"] = _quote

    def __repr__(self) -> str:
        where = self.roots[0] if len(self.roots) > 1 else "package templates only"
        return f"<PromptRenderer {where}>"

    # ---- rendering ------------------------------------------------------------------------

    def render(self, names: str | list[str], variables: Mapping[str, Any]) -> str:
        """Render the first template of ``names`` that exists; errors become ``NborchError``."""
        import jinja2

        names = [names] if isinstance(names, str) else names
        try:
            template = self.env.select_template(names)
            return template.render(variables)
        except jinja2.TemplateSyntaxError as err:
            raise NborchError(
                f"template {err.name or names[0]!r} line {err.lineno}: {err.message} — "
                f"fix the jinja2 syntax in {err.filename or err.name}"
            ) from None
        except jinja2.TemplateNotFound as err:
            wanted = " or ".join(map(repr, err.templates))
            raise NborchError(
                f"no template {wanted} in {', '.join(map(str, self.roots))} — restore the file, "
                "or fix the name in the template that includes it"
            ) from None
        except jinja2.UndefinedError as err:
            name, line = self._where(err, names[0])
            raise NborchError(
                f"template {name!r} line {line}: {err.message} — the template uses a variable "
                f"nobody passed; the variables are: {', '.join(sorted(variables))} "
                "(check the spelling, or remove it from the template)"
            ) from None
        except jinja2.TemplateError as err:
            name, line = self._where(err, names[0])
            raise NborchError(f"template {name!r} line {line}: {err}") from None

    def _where(self, err: BaseException, default: str) -> tuple[str, int | str]:
        """The innermost template frame of a jinja2 error: its name and line."""
        for frame in reversed(traceback.extract_tb(err.__traceback__)):
            path = Path(frame.filename)
            for root in self.roots:
                if path.is_relative_to(root):
                    return path.relative_to(root).as_posix(), frame.lineno or "?"
        return default, "?"

    def variables(
        self,
        task: Task,
        agent: str | AgentSpec,
        *,
        plan: Plan | None = None,
        worktree: str | Path,
        context: ProjectContext | None = None,
    ) -> dict[str, Any]:
        """Everything a template may use (the table in this module's docstring); pure."""
        spec = agent_spec(agent)
        project = context if context is not None else ProjectContext()
        runner = (plan.test_command if plan is not None else None) or project.test_command
        # Exactly the commands nborch.execute.validate runs, so the agent is told the truth.
        runs = [cmd for _, cmd in task.checks(runner or DEFAULT_TEST_COMMAND)]
        deps = []
        for dep in task.depends_on:
            other = plan[dep] if plan is not None and dep in plan else None
            deps.append(
                {
                    "id": dep,
                    "title": other.title if other else "",
                    "deliverables": list(other.deliverables) if other else [],
                }
            )
        if not task.line:
            source = ""
        elif plan is not None and plan.path is not None:
            source = f"from {plan.path.name} line {task.line}"
        else:
            source = f"from line {task.line} of the plan"
        return {
            "task": task,
            "agent": spec,
            "worktree": str(worktree),
            "project": project,
            "plan_title": plan.title if plan is not None else "",
            "plan_overview": shorten(plan.overview, OVERVIEW_LIMIT) if plan is not None else "",
            "source": source,
            "phase": task.phase or "",
            "dependencies": deps,
            "criteria_run": [c.text for c in task.validation if c.kind != "prose"],
            "guidance": [c.text for c in task.validation if c.kind == "prose"],
            "runs": list(dict.fromkeys(runs)),
            "test_runner": runner,
            "config_files": list(spec.config_files),
        }

    def prompt(
        self,
        task: Task,
        agent: str | AgentSpec,
        *,
        plan: Plan | None = None,
        worktree: str | Path,
        context: ProjectContext | None = None,
    ) -> str:
        """The task prompt for one attempt (``task.md.j2`` with the agent's instructions)."""
        values = self.variables(task, agent, plan=plan, worktree=worktree, context=context)
        values["agent_instructions"] = self.render(
            _agent_templates(values["agent"]), values
        ).strip()
        text = self.render(PROMPT_TEMPLATE, values).strip() + "\n"
        # Prompts are passed as one argv item by most CLIs: a leading '-' would read as a flag.
        return text if not text.startswith("-") else f"Task {task.id}:\n\n{text}"

    def agent_file(
        self,
        path: str,
        task: Task,
        agent: str | AgentSpec,
        *,
        plan: Plan | None = None,
        worktree: str | Path,
        context: ProjectContext | None = None,
    ) -> str:
        """The content nborch wants in one instruction file (whole file, markers included)."""
        values = self.variables(task, agent, plan=plan, worktree=worktree, context=context)
        values["path"] = path
        return self.render([NATIVE_TEMPLATES.get(path, GENERIC_FILE_TEMPLATE)], values)


def render_prompt(
    task: Task,
    agent: str | AgentSpec,
    *,
    plan: Plan | None = None,
    worktree: str | Path,
    context: ProjectContext | None = None,
    templates: PromptRenderer | str | Path | None = None,
) -> str:
    """The prompt for one attempt at ``task`` by ``agent`` in ``worktree``.

    Parameters
    ----------
    context:
        The project context; when None it is detected from ``worktree`` (reading its files)
        with ``plan``'s settings applied.
    templates:
        A :class:`PromptRenderer`, or the repository whose ``.nborch/templates/`` to use; when
        None, the worktree's own ``.nborch/templates/`` (a checkout of the user's repository).

    Raises
    ------
    NborchError
        When a template is missing, malformed or uses a variable that is not passed.
    """
    if context is None:
        context = ProjectContext.detect(worktree, plan)
    renderer = renderer_for(templates, worktree)
    return renderer.prompt(task, agent, plan=plan, worktree=worktree, context=context)


def write_prompt(
    path: str | Path,
    task: Task,
    agent: str | AgentSpec,
    *,
    plan: Plan | None = None,
    worktree: str | Path,
    context: ProjectContext | None = None,
    templates: PromptRenderer | str | Path | None = None,
) -> Path:
    """Render the prompt (as ``render_prompt``) into the UTF-8 file ``path``; returns the path."""
    text = render_prompt(task, agent, plan=plan, worktree=worktree, context=context,
                         templates=templates)  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def renderer_for(
    templates: PromptRenderer | str | Path | None, worktree: str | Path
) -> PromptRenderer:
    """``templates`` if it is a renderer; else one for that repository (default: the worktree)."""
    if isinstance(templates, PromptRenderer):
        return templates
    return PromptRenderer(templates if templates is not None else worktree)


def _quote(text: str) -> str:
    """``text`` as a markdown block quote (blank lines become a bare ``>``)."""
    return "\n".join(f"> {line}".rstrip() for line in str(text).splitlines())


def agent_spec(agent: str | AgentSpec) -> AgentSpec:
    """The spec for an agent name (from the registry) or the spec itself."""
    return registry.get(agent) if isinstance(agent, str) else agent


def _agent_templates(spec: AgentSpec) -> list[str]:
    """``agents/<name>``, then ``agents/<kind>``, then ``agents/generic``.

    A script registered under a built-in's name gets the script instructions, not the built-in's.
    """
    names = [f"agents/{spec.kind}.md.j2", "agents/generic.md.j2"]
    if not (spec.kind == "script" and spec.name in registry.BUILTIN):
        names.insert(0, f"agents/{spec.name}.md.j2")
    return names


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a paragraph end when one is near, else at
    a word, and marked with '…'.

    >>> shorten("A first paragraph.\\n\\nA second one that is long.", 30)
    'A first paragraph.\\n\\n…'
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = head.rfind("\n\n")
    if cut > limit // 3:
        return head[:cut].rstrip() + "\n\n…"
    return head.rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
