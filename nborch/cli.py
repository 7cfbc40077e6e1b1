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


def _team_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--agents``, ``--per-task`` and ``--script``, for every command that assigns agents."""
    fn = click.option("--script", "scripts", multiple=True, metavar="NAME='CMD {prompt_file}'",
                      help="Register a command line as an agent; repeatable.")(fn)
    fn = click.option("--per-task", type=click.IntRange(min=1), default=1, show_default=True,
                      help="Different agents per task (best-of-N).")(fn)
    return click.option("--agents", "agents", default=None, metavar="A,B",
                        help="Agents to choose from (default: the installed ones).")(fn)


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
@_team_options
@_plan_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@_errors_exit
def assign(plan_path: Path, agents: str | None, per_task: int, scripts: Sequence[str],
           fmt: str | None, split_subtasks: bool, as_json: bool) -> None:  # fmt: skip
    """Assign agents to the tasks of PLAN and say why."""
    result = _load_team(plan_path, agents, per_task, scripts, fmt, split_subtasks)
    if as_json:
        _emit_json(result.to_json())
        return
    _show_assignments(result)


def _load_team(plan_path: Path, agents: str | None, per_task: int, scripts: Sequence[str],
               fmt: str | None, split_subtasks: bool, repo: Path | None = None) -> Any:
    """The steps every assigning command shares: the repository's and the command line's script
    agents, the plan, the assignments (their notes printed on stderr)."""
    from .assign import assign as do_assign
    from .loader import load_plan

    if repo is not None:
        from .agents.config import load_repo_agents

        load_repo_agents(repo)
    _register_scripts(scripts)
    plan = load_plan(plan_path, format=fmt, split_subtasks=split_subtasks)
    team = do_assign(plan, agents=_agents_option(agents), per_task=per_task)
    for note in team.notes:
        click.echo(f"note: {note}", err=True)
    return team


def _show_assignments(result: Any, title: str = "") -> None:
    rows = [(a.task, a.agents, a.task_type, a.complexity, f"{a.confidence:.2f}", a.justification)
            for a in result]  # fmt: skip
    _table(title or f"{len(result)} tasks assigned", ["task", "agents", "type", "cx", "conf", "why"],
           rows)  # fmt: skip


@main.command()
@click.option("--keep", "keep", type=click.Path(path_type=Path), default=None,
              help="Make the sample repository in this (new or empty) folder and keep it.")
@click.option("-t", "--timeout", default="20s", show_default=True,
              help="Per attempt; the slow demo agent runs into it.")
@click.option("-c", "--max-concurrent", type=click.IntRange(min=1), default=4, show_default=True)
@_errors_exit
def demo(keep: Path | None, timeout: str, max_concurrent: int) -> None:
    """Run the whole pipeline on the bundled sample project with the demo agents."""
    import shutil
    import tempfile

    from .classify import classify_plan
    from .demo import make_sample_repo, sample_plan_path
    from .demo.pipeline import demo_assignments
    from .execute.coordinator import Coordinator
    from .loader import load_plan
    from .progress import TerminalProgress

    plan = load_plan(sample_plan_path())
    click.echo(f"nborch demo — sample plan {sample_plan_path().name}: {plan.summary()}. Demo "
               "agents only: no model, no network.", err=True)  # fmt: skip
    classes = classify_plan(plan)
    _table("1. Parse and classify", ["id", "title", "phase", "depends on", "type", "cx", "stack"],
           [(t.id, t.title, t.phase, t.depends_on, classes[t.id].task_type,
             classes[t.id].complexity, classes[t.id].tech_stack) for t in plan])  # fmt: skip
    _table("Waves", ["wave", "tasks that can run together"],
           [(n, [t.id for t in wave]) for n, wave in enumerate(plan.waves(), 1)])  # fmt: skip
    _show_assignments(do_assign_real(plan), "2. Assign — what nborch would pick among real agents")
    team = demo_assignments(plan)
    folder = keep or Path(tempfile.mkdtemp(prefix="nborch-demo-"))
    try:
        repo = make_sample_repo(folder / "repo")
        run = Coordinator(repo, team, max_concurrent=max_concurrent, timeout=timeout,
                          root=folder / "worktrees")  # fmt: skip
        click.echo(f"3. Prepare and execute: {len(run.executions)} attempts of demo agents in "
                   f"{folder} (timeout {timeout})", err=True)  # fmt: skip
        with TerminalProgress(run):
            run.run_sync()
        from .execute.view import COLUMNS, rows

        _table("4. Summary — " + repr(run).strip("<>"), COLUMNS, rows(run))
        _demo_compare_and_merge(run)
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    where = f"kept in {keep}" if keep else "removed (use --keep DIR to look around)"
    click.echo(f"The sample repository and its worktrees were {where}.", err=True)


def _demo_compare_and_merge(run: Any) -> None:
    """Steps 5 and 6 of the demo: the comparison tables, then the merged integration branch."""
    from .cli_compare import show_comparison

    click.echo("5. Compare — every attempt's tests against the base, each other's new tests, "
               "coverage, lint; then the gates and a ranking", err=True)  # fmt: skip
    # The sample needs no pytest plugins; skipping their discovery saves ~1 s per test run when
    # nborch's own environment has plugins such as nbmake installed. Its suite is tiny, so
    # coverage is measured whatever the Python (by default only where it is cheap, 3.12+).
    result = run.compare(coverage=True, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
                         progress=lambda line: click.echo(f"  {line}", err=True))  # fmt: skip
    show_comparison(result)
    outcome = result.merge()
    click.echo(f"6. Merge — {outcome}", err=True)
    if not outcome.ok:
        raise NborchError(f"the demo's integration branch is not good: {outcome}")


def do_assign_real(plan: Any) -> Any:
    """What nborch would choose among the real agents (shown; the demo runs demo agents)."""
    from .assign import assign as do_assign

    return do_assign(plan, agents=["claude", "codex", "gemini", "aider"], per_task=2)


# registers the run commands, compare and merge, and rehearse on `main`
from . import cli_compare, cli_rehearse, cli_run  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    main()
