"""``nborch compare`` and ``nborch merge``: judge a run's attempts with evidence, merge the winners.

Registered on the ``nborch`` group by :mod:`nborch.cli.main`. Exit codes as everywhere: 0 all good,
1 something needs a person (a task without a good attempt, a conflict, failing tests), 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .common import (
    DURATION,
    EXIT_INCOMPLETE,
    emit_json,
    errors_exit,
    make_executor,
    repo_option,
    table,
)


def _latest_run(repo: Path) -> str:
    from ..errors import NborchError
    from ..workspace.manager import WorktreeManager

    runs = WorktreeManager(repo).runs()
    if not runs:
        raise NborchError(f"no nborch runs in {repo} yet — `nborch execute PLAN` makes one")
    return max(runs, key=lambda r: r.created_at).id


def _progress(line: str) -> None:
    click.echo(f"  {line}", err=True)


def _compare_options(fn: Any) -> Any:
    for option in reversed([
        click.option("--test-command", default=None,
                     help="The command that runs the tests (default: the plan's test_command, "
                          "else detected: pytest, make test, npm test …)."),
        click.option("--test-timeout", type=DURATION, default="10m", show_default=True,
                     help="Limit for one test run, e.g. 90s, 10m."),
        click.option("-j", "--jobs", type=int, default=0,
                     help="Test runs at once (default: one per core, at most 4)."),
        click.option("--no-cross", is_flag=True, help="Skip running attempts' new tests on each other."),
        click.option("--no-metrics", is_flag=True, help="Skip complexity and lint (radon, ruff)."),
        click.option("--coverage/--no-coverage", "coverage", default=None,
                     help="Measure the coverage of changed lines (default: where it is cheap, "
                          "on Python 3.12+; before 3.12 it slows every test run ~2.8x)."),
        click.option("--executor", type=click.Choice(["local", "dask"]), default=None,
                     help="Where the test runs happen: here (default) or on a Dask cluster."),
        click.option("--scheduler", metavar="ADDRESS", default=None,
                     help="The Dask scheduler for the test runs (tcp://host:8786); implies "
                          "--executor dask."),
        click.option("-e", "--env", "env", multiple=True, metavar="NAME=VALUE",
                     help="An environment variable for the test runs (repeatable), e.g. "
                          "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1; NAME alone passes yours through. "
                          "Test runs get no credentials unless named here or in the plan's "
                          "test_env."),
    ]):  # fmt: skip
        fn = option(fn)
    return fn


def _env_pairs(pairs: tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """``-e`` options as explicit values, and names passed through (looked up where the tests
    run: here, or on a Dask worker — a value of yours never travels)."""
    import os
    import re

    from ..errors import NborchError

    out, names = {}, []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise NborchError(f"--env {pair!r}: write NAME=VALUE, e.g. --env PYTHONHASHSEED=0, "
                              "or NAME to pass a variable of yours through")  # fmt: skip
        if not sep:  # NAME alone: this variable of the caller's environment, by name
            if name not in os.environ:
                raise NborchError(f"--env {name}: no such variable in your environment — set "
                                  f"it, or write --env {name}=VALUE")  # fmt: skip
            names.append(name)
            continue
        out[name] = value
    return out, tuple(names)


def _run_compare(repo: Path, run_id: str, test_command: str | None, test_timeout: str, jobs: int,
                 no_cross: bool, no_metrics: bool, coverage: bool | None,
                 env: tuple[str, ...], executor: str | None = None,
                 scheduler: str | None = None) -> Any:  # fmt: skip
    from ..compare.comparison import compare
    from ..durations import parse_duration

    runner = make_executor(executor, scheduler)
    values, names = _env_pairs(env)
    click.echo(f"comparing run {run_id}…", err=True)
    try:
        return compare(repo, run_id, test_command=test_command,
                       test_timeout=parse_duration(test_timeout) or 3600.0, jobs=jobs,
                       cross=not no_cross, metrics=not no_metrics, coverage=coverage,
                       env=values, pass_env=names, progress=_progress, executor=runner)  # fmt: skip
    finally:
        if runner is not None:
            runner.close()


@click.command("compare")
@click.argument("run_id", metavar="[RUN]", required=False)
@repo_option
@_compare_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def compare_cmd(run_id: str | None, repo: Path, test_command: str | None, test_timeout: str,
                jobs: int, no_cross: bool, no_metrics: bool, coverage: bool | None,
                executor: str | None, scheduler: str | None, env: tuple[str, ...],
                as_json: bool) -> None:  # fmt: skip
    """Rank the attempts of RUN (default: the newest run) by tests, gates and metrics, and
    recommend one per task. Exit 1 when some task has no attempt good enough."""
    run_id = run_id or _latest_run(repo)
    result = _run_compare(repo, run_id, test_command, test_timeout, jobs, no_cross, no_metrics,
                          coverage, env, executor, scheduler)  # fmt: skip
    if as_json:
        emit_json(result.to_dict())
    else:
        show_comparison(result)
    if any(r.action == "none" for r in result.recommend().values()):
        sys.exit(EXIT_INCOMPLETE)


def show_comparison(result: Any) -> None:
    """The comparison as terminal tables: one per task, its recommendation as the title."""
    from ..compare.comparison import TASK_COLUMNS

    for note in result.notes:
        click.echo(note, err=True)
    for task in result.tasks:
        table(str(result.recommend(task)), TASK_COLUMNS, result.task_rows(task))


def _take_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    from ..errors import NborchError

    out = {}
    for pair in pairs:
        task, sep, agent = pair.partition("=")
        if not sep or not task.strip() or not agent.strip():
            raise NborchError(f"--take {pair!r}: write TASK=AGENT, e.g. --take 1.2=codex")
        out[task.strip()] = agent.strip()
    return out


def _fresh(repo: Path, data: dict[str, Any]) -> bool:
    """Whether a saved comparison still describes the branches: every branch at its commit."""
    from ..gitcmd import Git

    git = Git(repo)
    for task in data["tasks"]:
        for a in task["attempts"]:
            if not a.get("branch") or not a.get("commit"):
                continue
            head = git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{a['branch']}",
                           check=False)  # fmt: skip
            if head.ok and head.stdout.strip() != a["commit"]:
                return False
    return True


@click.command("merge")
@click.argument("run_id", metavar="[RUN]", required=False)
@repo_option
@click.option("--into", default=None,
              help="The branch to merge into (default: nborch/integration/RUN). Your current "
                   "branch only when you name it, and only with a clean working tree.")
@click.option("--force", is_flag=True, help="Replace an existing integration branch.")
@click.option("--take", "take", multiple=True, metavar="TASK=AGENT",
              help="Merge this attempt for TASK whatever the comparison recommends — also for a "
                   "task it recommends nothing for (repeatable).")
@_compare_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def merge_cmd(run_id: str | None, repo: Path, into: str | None, force: bool, take: tuple[str, ...],
              test_command: str | None, test_timeout: str, jobs: int, no_cross: bool,
              no_metrics: bool, coverage: bool | None, executor: str | None,
              scheduler: str | None, env: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """Merge the recommended attempt of every task of RUN, in dependency order, into an
    integration branch, then run the tests on it. Uses the saved comparison while the branches
    are unchanged, else compares first. Exit 1 on a conflict or failing tests."""
    from ..compare.comparison import load_comparison, picks_from
    from ..compare.merge import merge_picks
    from ..durations import parse_duration
    from ..execute.validate import check_env, test_env_of
    from ..run import Run

    run_id = run_id or _latest_run(repo)
    data = load_comparison(repo, run_id)
    if data is None or not _fresh(repo, data) or (test_command and test_command != data.get("test_command")):
        why = "no saved comparison" if data is None else "the saved comparison is out of date"
        click.echo(f"{why}: comparing first", err=True)
        data = _run_compare(repo, run_id, test_command, test_timeout, jobs, no_cross, no_metrics,
                            coverage, env, executor, scheduler).to_dict()  # fmt: skip
    run = Run.load(repo, run_id)
    order = [t.id for wave in run.plan.waves() for t in wave]
    chosen = _take_pairs(take)
    picks = picks_from(data, order, chosen)
    skipped = [t["task"] for t in data["tasks"]
               if t["recommendation"]["action"] == "none" and t["task"] not in chosen]  # fmt: skip
    if skipped:
        click.echo(f"not merged (no attempt passed the gates): {', '.join(skipped)} — name one "
                   "with --take TASK=AGENT to merge it anyway", err=True)  # fmt: skip
    for task, agent in chosen.items():
        click.echo(f"task {task}: merging {agent}'s attempt as you named it", err=True)
    values, names = _env_pairs(env)
    passed = {**check_env(allow=(*test_env_of(run.plan), *names)), **values}
    outcome = merge_picks(repo, data["base"], picks, into=into or f"nborch/integration/{run_id}",
                          test_command=data.get("test_command"),
                          test_timeout=parse_duration(test_timeout) or 3600.0, force=force,
                          env=passed)  # fmt: skip
    if as_json:
        emit_json({**outcome.to_dict(), "run_id": run_id, "not_merged": skipped})
    else:
        click.echo(str(outcome))
    if not outcome.ok or skipped:
        sys.exit(EXIT_INCOMPLETE)


COMMANDS = (compare_cmd, merge_cmd,)
