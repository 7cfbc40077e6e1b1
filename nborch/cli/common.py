"""What every ``nborch`` command shares: options, output helpers and how errors end a command.

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

from ..durations import parse_duration
from ..errors import NborchError
from ..plan.load import FORMATS

EXIT_OK, EXIT_INCOMPLETE, EXIT_BAD_INPUT = 0, 1, 2


def errors_exit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn nborch's own errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NborchError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table with rich; plain and unwrapped-enough when stdout is not a terminal."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..display import cell_text

    table = Table(title=escape(title), title_justify="left", show_lines=False)
    for col in columns:
        table.add_column(escape(col), overflow="fold")
    for row in rows:  # plan text is data: "[language]" in a title must not be read as markup
        table.add_row(*(escape(cell_text(v, 200)) for v in row))
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def agents_option(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("give at least one agent name, e.g. --agents claude,codex")
    return names


def register_scripts(scripts: Sequence[str]) -> None:
    from ..agents import script_agent

    for item in scripts:
        name, sep, command = item.partition("=")
        if not sep or not name.strip() or not command.strip():
            raise click.BadParameter(f"{item!r}: write NAME='command {{prompt_file}}'",
                                     param_hint="--script")  # fmt: skip
        script_agent(name.strip(), command.strip())


def team_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--agents``, ``--per-task`` and ``--script``, for every command that assigns agents."""
    fn = click.option("--script", "scripts", multiple=True, metavar="NAME='CMD {prompt_file}'",
                      help="Register a command line as an agent; repeatable.")(fn)
    fn = click.option("--per-task", type=PER_TASK, default=1, show_default=True,
                      help="Different agents per task (best-of-N), or 'auto': how many and which "
                           "from the repository's recorded results per task type.")(fn)
    return click.option("--agents", "agents", default=None, metavar="A,B",
                        help="Agents to choose from (default: the installed ones).")(fn)


def plan_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--format`` and ``--split-subtasks``, for every command that reads a plan."""
    fn = click.option("--split-subtasks", is_flag=True,
                      help="Make each sub-task of a spec-kit/Kiro/Taskmaster/checklist plan a task.")(fn)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help="Plan format (default: detected from the name and content).")(fn)


def load_team(plan_path: Path, agents: str | None, per_task: int | str, scripts: Sequence[str],
               fmt: str | None, split_subtasks: bool, repo: Path | None = None) -> Any:
    """The steps every assigning command shares: the repository's and the command line's script
    agents, the plan, the assignments (their notes printed on stderr). ``--per-task auto`` learns
    from the runs recorded in ``repo`` (the current folder when there is none)."""
    from ..plan.load import load_plan
    from ..team.assign import assign as do_assign
    from ..team.history import load_history

    if repo is not None:
        from ..agents.config import load_repo_agents

        load_repo_agents(repo)
    register_scripts(scripts)
    plan = load_plan(plan_path, format=fmt, split_subtasks=split_subtasks)
    history = load_history(repo if repo is not None else Path(".")) if per_task == "auto" else None
    team = do_assign(plan, agents=agents_option(agents), per_task=per_task, history=history)
    for note in team.notes:
        click.echo(f"note: {note}", err=True)
    return team


def show_assignments(result: Any, title: str = "") -> None:
    rows = [(a.task, a.agents, a.task_type, a.complexity, f"{a.confidence:.2f}", a.justification)
            for a in result]  # fmt: skip
    table(title or f"{len(result)} tasks assigned", ["task", "agents", "type", "cx", "conf", "why"],
           rows)  # fmt: skip


def repo_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-r", "--repo-path", "repo", type=click.Path(path_type=Path), default=".",
                        show_default=True, help="The git repository.")(fn)  # fmt: skip


def root_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--root", type=click.Path(path_type=Path), default=None,
                        help="Where worktrees go (default: outside the repository, in the user "
                             "cache folder; or $NBORCH_WORKTREE_ROOT).")(fn)  # fmt: skip


class PerTask(click.ParamType):
    """``--per-task``: a whole number of attempts (1 or more), or ``auto``."""

    name = "n|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        if text.isascii() and text.isdigit() and int(text) >= 1:
            return int(text)
        self.fail(f"{value!r}: give a whole number of attempts per task (1 or more), or 'auto' "
                  "to choose from the repository's recorded results", param, ctx)  # fmt: skip


PER_TASK = PerTask()


class Duration(click.ParamType):
    """A duration option (``90s``, ``20m``, ``1h30m``, ``none``) checked when the command line is
    read: a bad one is click's one-line usage error (exit 2), never a traceback later."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, float | int):
            return value
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(f"{value!r}: {exc}", param, ctx)


DURATION = Duration()


EXECUTOR_OPTIONS = [
    click.option("--executor", type=click.Choice(["local", "dask"]), default=None,
                 help="Where agents run: here (default) or on a Dask cluster."),
    click.option("--scheduler", metavar="ADDRESS", default=None,
                 help="The Dask scheduler to use (tcp://host:8786); implies --executor dask. "
                      "Without it, dask runs a LocalCluster sized to this machine."),
    click.option("--resources", metavar="NAME=N,...", default=None,
                 help="Dask worker resources each attempt takes, e.g. AGENTS=1 with workers "
                      "started --resources AGENTS=2."),
    click.option("--limit", "limits", metavar="PROVIDER=N", multiple=True,
                 help="At most N attempts of a provider's agents at once on the whole cluster "
                      "(e.g. anthropic=4); repeatable."),
]  # fmt: skip


def make_executor(executor: str | None, scheduler: str | None, resources: str | None = None,
                  limits: Sequence[str] = ()) -> Any:  # fmt: skip
    """The executor the options ask for (None: the local one)."""
    dask = executor == "dask" or scheduler is not None
    if not dask:
        if resources or limits:
            raise NborchError("--resources and --limit are for the Dask executor: add "
                              "--executor dask (or --scheduler ADDRESS)")  # fmt: skip
        return None
    if executor == "local":
        raise NborchError("--scheduler is for the Dask executor; drop --executor local")
    from ..execute.cluster import DaskExecutor

    return DaskExecutor(scheduler, resources=name_values(resources.split(",") if resources else (),
                                                    "--resources", float),
                        limits=name_values(limits, "--limit", int))  # fmt: skip


def name_values(items: Sequence[str], option: str, kind: type) -> dict[str, Any]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            number = kind(value)
        except ValueError:
            number = None
        if not sep or not name.strip() or number is None or number <= 0:
            raise NborchError(f"{option} {item!r}: write NAME=N with N a positive number")
        out[name.strip()] = number
    return out
