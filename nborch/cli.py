"""The ``nborch`` command line: thin commands over the library.

Conventions for every command: ``--json`` prints machine output on stdout and nothing else there;
messages go to stderr; exit code 0 when all is well, 1 when some work did not succeed, 2 for bad
input (a bad plan, an unknown agent, a bad option). A ``NborchError`` is printed as its one-line
message, never as a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import NborchError
from .loader import FORMATS

EXIT_OK, EXIT_INCOMPLETE, EXIT_BAD_INPUT = 0, 1, 2


def _errors_exit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn nborch's own errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NborchError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table with rich; plain and unwrapped-enough when stdout is not a terminal."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .display import cell_text

    table = Table(title=escape(title), title_justify="left", show_lines=False)
    for col in columns:
        table.add_column(escape(col), overflow="fold")
    for row in rows:  # plan text is data: "[language]" in a title must not be read as markup
        table.add_row(*(escape(cell_text(v, 200)) for v in row))
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _agents_option(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("give at least one agent name, e.g. --agents claude,codex")
    return names


def _register_scripts(scripts: Sequence[str]) -> None:
    from .agents import script_agent

    for item in scripts:
        name, sep, command = item.partition("=")
        if not sep or not name.strip() or not command.strip():
            raise click.BadParameter(f"{item!r}: write NAME='command {{prompt_file}}'",
                                     param_hint="--script")  # fmt: skip
        script_agent(name.strip(), command.strip())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nborch")
def main() -> None:
    """Turn an implementation plan into parallel work by AI coding agents."""


def _plan_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--format`` and ``--split-subtasks``, for every command that reads a plan."""
    fn = click.option("--split-subtasks", is_flag=True,
                      help="Make each sub-task of a spec-kit/Kiro/Taskmaster/checklist plan a task.")(fn)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help="Plan format (default: detected from the name and content).")(fn)


@main.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@_plan_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@_errors_exit
def parse(plan_path: Path, fmt: str | None, split_subtasks: bool, as_json: bool) -> None:
    """Parse and classify PLAN; show its tasks, waves and types."""
    from .classify import classify_plan
    from .loader import load_plan

    plan = load_plan(plan_path, format=fmt, split_subtasks=split_subtasks)
    classes = classify_plan(plan)
    if as_json:
        _emit_json(parse_json(plan, classes))
        return
    waves = {t.id: n for n, wave in enumerate(plan.waves(), 1) for t in wave}
    rows = []
    for task in plan:
        c = classes[task.id]
        rows.append((task.id, task.title, task.phase or "", waves[task.id], task.depends_on,
                     c.task_type, c.complexity, c.tech_stack, "yes" if task.done else ""))  # fmt: skip
    _table(f"{plan.summary()} ({plan.format})",
           ["id", "title", "phase", "wave", "depends on", "type", "cx", "stack", "done"], rows)


def parse_json(plan: Any, classes: Any) -> dict[str, Any]:
    """The ``nborch parse --json`` document (keys may be added, never renamed)."""
    return {
        "title": plan.title,
        "format": plan.format,
        "tasks": [_task_json(t, classes[t.id]) for t in plan],
    }


def _task_json(t: Any, c: Any) -> dict[str, Any]:
    return {
        "id": t.id, "title": t.title, "phase": t.phase, "depends_on": list(t.depends_on),
        "task_type": c.task_type, "complexity": c.complexity, "tech_stack": list(c.tech_stack),
        "done": t.done, "priority": t.priority, "line": t.line,
    }  # fmt: skip


@main.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@click.option("--agents", "agents", default=None, metavar="A,B",
              help="Agents to choose from (default: the installed ones).")
@click.option("--per-task", type=click.IntRange(min=1), default=1, show_default=True,
              help="Different agents per task (best-of-N).")
@click.option("--script", "scripts", multiple=True, metavar="NAME='CMD {prompt_file}'",
              help="Register a command line as an agent; repeatable.")
@_plan_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@_errors_exit
def assign(plan_path: Path, agents: str | None, per_task: int, scripts: Sequence[str],
           fmt: str | None, split_subtasks: bool, as_json: bool) -> None:  # fmt: skip
    """Assign agents to the tasks of PLAN and say why."""
    from .assign import assign as do_assign
    from .loader import load_plan

    _register_scripts(scripts)
    plan = load_plan(plan_path, format=fmt, split_subtasks=split_subtasks)
    result = do_assign(plan, agents=_agents_option(agents), per_task=per_task)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        _emit_json(result.to_json())
        return
    _show_assignments(result)


def _show_assignments(result: Any) -> None:
    rows = [(a.task, a.agents, a.task_type, a.complexity, f"{a.confidence:.2f}", a.justification)
            for a in result]  # fmt: skip
    _table(f"{len(result)} tasks assigned", ["task", "agents", "type", "cx", "conf", "why"], rows)


def _repo_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-r", "--repo-path", "repo", type=click.Path(path_type=Path), default=".",
                        show_default=True, help="The git repository.")(fn)  # fmt: skip


def _root_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--root", type=click.Path(path_type=Path), default=None,
                        help="Where worktrees go (default: outside the repository, in the user "
                             "cache folder; or $NBORCH_WORKTREE_ROOT).")(fn)  # fmt: skip


@main.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@_repo_option
@click.option("--agents", "agents", default=None, metavar="A,B",
              help="Agents to choose from (default: the installed ones).")
@click.option("--per-task", type=click.IntRange(min=1), default=1, show_default=True,
              help="Different agents per task (best-of-N).")
@click.option("--script", "scripts", multiple=True, metavar="NAME='CMD {prompt_file}'",
              help="Register a command line as an agent; repeatable.")
@click.option("--base", default=None, help="Commit the attempts start from (default: plan, HEAD).")
@click.option("--run-id", default=None, help="An id for the run (default: date-time-random).")
@click.option("--include-done", is_flag=True, help="Also prepare tasks the plan marks done.")
@_root_option
@_plan_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@_errors_exit
def prepare(plan_path: Path, repo: Path, agents: str | None, per_task: int, scripts: Sequence[str],
            base: str | None, run_id: str | None, include_done: bool, root: Path | None,
            fmt: str | None, split_subtasks: bool, as_json: bool) -> None:  # fmt: skip
    """Make a worktree, prompt and agent config file for every attempt; run nothing."""
    from .loader import load_plan
    from .prepare import prepare as do_prepare

    _register_scripts(scripts)
    plan = load_plan(plan_path, format=fmt, split_subtasks=split_subtasks)
    run = do_prepare(repo, plan, agents=_agents_option(agents), per_task=per_task, root=root,
                     base=base, run_id=run_id, include_done=include_done)  # fmt: skip
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        _emit_json(run.to_json())
        return
    _table(run.summary(), ["task", "agent", "available", "worktree", "prompt"],
           [(p.attempt.task_id, p.attempt.agent, "yes" if p.available else "NO",
             p.attempt.path, p.prompt_path) for p in run.attempts])  # fmt: skip


@main.command()
@_repo_option
@click.option("--run", "run_id", default=None, help="Only this run.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@_errors_exit
def status(repo: Path, run_id: str | None, as_json: bool) -> None:
    """Show every run's attempts: branch, worktree, commits ahead, uncommitted files."""
    from .worktrees import WorktreeManager

    records = WorktreeManager(repo).status_records(run_id)
    if as_json:
        _emit_json({"worktrees": [r.to_dict() for r in records]})
        return
    if not records:
        click.echo("no nborch runs in this repository yet (nborch prepare PLAN makes one)", err=True)
        return
    _table(f"{len(records)} attempts", ["run", "task", "agent", "state", "ahead", "dirty",
                                        "exists", "path"],
           [(r.run, r.task, r.agent, r.state, r.ahead, r.dirty, "yes" if r.exists else "GONE",
             r.path) for r in records])  # fmt: skip


@main.command()
@_repo_option
@click.option("--run", "run_id", default=None, help="Only this run (default: every run).")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--force", is_flag=True,
              help="Also delete branches with unmerged work (their heads are archived first).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@_errors_exit
def cleanup(repo: Path, run_id: str | None, dry_run: bool, force: bool, as_json: bool) -> None:
    """Remove worktrees without losing work: WIP is committed, unmerged branches are kept."""
    from .worktrees import WorktreeManager

    report = WorktreeManager(repo).cleanup(run_id, dry_run=dry_run, force=force)
    if as_json:
        _emit_json(report.to_json())
        return
    click.echo(str(report))


@main.command()
@_errors_exit
def demo() -> None:
    """Run the pipeline on the bundled sample project and plan (demo agents only)."""
    from .assign import assign as do_assign
    from .classify import classify_plan
    from .demo import sample_plan_path
    from .loader import load_plan

    plan = load_plan(sample_plan_path())
    click.echo(f"nborch demo — sample plan {sample_plan_path().name}: {plan.summary()}", err=True)
    classes = classify_plan(plan)
    _table("1. Parse and classify", ["id", "title", "phase", "depends on", "type", "cx", "stack"],
           [(t.id, t.title, t.phase, t.depends_on, classes[t.id].task_type,
             classes[t.id].complexity, classes[t.id].tech_stack) for t in plan])  # fmt: skip
    _table("Waves", ["wave", "tasks that can run together"],
           [(n, [t.id for t in wave]) for n, wave in enumerate(plan.waves(), 1)])  # fmt: skip
    result = do_assign(plan, agents=["claude", "codex", "gemini", "aider"], per_task=2)
    _show_assignments(result)
    click.echo("Next steps (coming in later releases): prepare worktrees, execute, compare, merge.",
               err=True)  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    main()
