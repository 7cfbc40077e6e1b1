"""The commands that work on a repository: prepare, execute, status, history, resume, done,
cleanup. Registered on the ``nborch`` group by :mod:`nborch.cli.main`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from ..agents.config import load_repo_agents
from ..errors import NborchError
from .common import (
    DURATION,
    EXECUTOR_OPTIONS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    emit_json,
    errors_exit,
    load_team,
    make_executor,
    plan_options,
    repo_option,
    root_option,
    table,
    team_options,
)


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@repo_option
@team_options
@click.option("--base", default=None, help="Commit the attempts start from (default: plan, HEAD).")
@click.option("--run-id", default=None, help="An id for the run (default: date-time-random).")
@click.option("--include-done", is_flag=True, help="Also prepare tasks the plan marks done.")
@root_option
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def prepare(plan_path: Path, repo: Path, agents: str | None, per_task: int | str, scripts: Sequence[str],
            base: str | None, run_id: str | None, include_done: bool, root: Path | None,
            fmt: str | None, split_subtasks: bool, as_json: bool) -> None:  # fmt: skip
    """Make a worktree, prompt and agent config file for every attempt; run nothing."""
    from ..workspace.prepare import prepare as do_prepare

    team = load_team(plan_path, agents, per_task, scripts, fmt, split_subtasks, repo)
    run = do_prepare(repo, team, root=root, base=base, run_id=run_id,
                     include_done=include_done)  # fmt: skip
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        emit_json(run.to_json())
        return
    table(run.summary(), ["task", "agent", "available", "worktree", "prompt"],
           [(p.attempt.task_id, p.attempt.agent, "yes" if p.available else "NO",
             p.attempt.path, p.prompt_path) for p in run.attempts])  # fmt: skip


@click.command()
@repo_option
@click.option("--run", "run_id", default=None, help="Only this run.")
@click.option("--check", is_flag=True,
              help="Count uncommitted files in every worktree, also those of finished attempts.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def status(repo: Path, run_id: str | None, check: bool, as_json: bool) -> None:
    """Show every run's attempts: execution status, branch, worktree, commits ahead, uncommitted
    files (counted where no coordinator committed the work, or everywhere with --check)."""
    from ..workspace.manager import WorktreeManager

    manager = WorktreeManager(repo)
    records = manager.status_records(run_id, check=check)
    runs = _runs_rows(manager, run_id)
    if run_id is not None and not runs:
        known = [r["run"] for r in _runs_rows(manager, None)]
        raise NborchError(f"no run {run_id!r} in {manager.repo} (runs: "
                          f"{', '.join(known[-5:]) or 'none'}) — nborch history lists them")  # fmt: skip
    if as_json:
        import json

        # The same document as emit_json, one attempt a line: json's C encoder only works
        # without indent, and the indented form of thousands of attempts costs more than all of
        # status's git calls (benchmarks/bench_status.py).
        encode = json.JSONEncoder(ensure_ascii=False).encode
        lines = ",\n".join(f"  {encode(r.to_dict())}" for r in records)
        click.echo('{"runs": ' + encode(runs) + ',\n"worktrees": ['
                   + (f"\n{lines}\n" if records else "") + "]}")  # fmt: skip
        return
    if not records:
        click.echo("no nborch runs in this repository yet (nborch prepare PLAN makes one)", err=True)
        return
    table(f"{len(runs)} runs", ["run", "created", "status", "plan", "base"],
           [(r["run"], r["created_at"][:19], r["status"], r["plan"], r["base_commit"][:10])
            for r in runs])  # fmt: skip
    table(f"{len(records)} attempts", ["run", "task", "agent", "status", "state", "ahead",
                                        "dirty", "exists", "path", "problem / note"],
           [(r.run, r.task, r.agent, r.status, r.state, r.ahead, "-" if r.dirty is None else r.dirty,
             "yes" if r.exists else "GONE", r.path,
             r.problem or (f"cached from {r.cached_from}" if r.cached_from else ""))
            for r in records])  # fmt: skip


def _runs_rows(manager: Any, run_id: str | None) -> list[dict[str, Any]]:
    """Runs from the store; a run whose coordinator died reads ``interrupted``."""
    from ..store import effective_status, run_alive

    runs = manager.run_records(run_id)  # reads only: no store file is made
    return [{"run": r.id, "created_at": r.created_at.isoformat(), "plan": r.plan_title,
             "base_commit": r.base_commit, "status": effective_status(r, run_alive(r))}
            for r in runs]  # fmt: skip


@click.command()
@repo_option
@click.option("--run", "run_id", default=None, help="Only this run (default: every run).")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--force", is_flag=True,
              help="Also delete branches with unmerged work (their heads are archived first).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def cleanup(repo: Path, run_id: str | None, dry_run: bool, force: bool, as_json: bool) -> None:
    """Remove worktrees without losing work: WIP is committed, unmerged branches are kept."""
    from ..workspace.manager import WorktreeManager

    report = WorktreeManager(repo).cleanup(run_id, dry_run=dry_run, force=force)
    if as_json:
        emit_json(report.to_json())
        return
    click.echo(str(report))



def _run_options(resume: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The execution options; on ``resume`` an option not given keeps the run's saved value."""
    keep = " (default: as the run was started)" if resume else ""

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed([
            click.option("-c", "--max-concurrent", type=click.IntRange(min=1),
                         default=None if resume else 5, show_default=not resume,
                         help="Attempts running at once." + keep),
            click.option("-t", "--timeout", type=DURATION, default=None if resume else "20m",
                         show_default=not resume,
                         help="Per attempt, e.g. 90s, 20m, 1h30m; 'none' for no limit." + keep),
            click.option("--retries", type=click.IntRange(min=0), default=None if resume else 0,
                         show_default=not resume,
                         help="Extra tries for failures that look transient (rate limits, 5xx)."
                              + keep),
            click.option("--validate/--no-validate", default=None if resume else True,
                         help="Run the tasks' validation criteria after each attempt." + keep),
            click.option("--race/--no-race", default=None if resume else False,
                         help="Per task, once an attempt completes and passes the task's checks, "
                              "stop its other attempts (their work kept as WIP)." + keep),
            click.option("--cache/--no-cache", default=None if resume else True,
                         help="Reuse the recorded result of an identical attempt (same task, "
                              "agent and version, model, start commit, prompt) instead of "
                              "running it again." + keep),
            click.option("--budget", "budget_usd", metavar="USD", default=None,
                         help="The most the run may spend, in dollars: no attempt starts once it "
                              "is spent, and running ones stop (work kept as WIP)." + keep),
            click.option("--task-budget", "task_budgets", metavar="TASK=USD", multiple=True,
                         help="The most one task's attempts may spend (repeatable)." + keep),
            click.option("--price", "prices", metavar="AGENT=IN/OUT", multiple=True,
                         help="Dollars per million input/output tokens for an agent that reports "
                              "no cost, e.g. --price claude=3/15 (repeatable)." + keep),
            click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout."),
            *EXECUTOR_OPTIONS,
        ]):  # fmt: skip
            fn = option(fn)
        return fn

    return add


def money_options(cache: bool | None, budget_usd: str | None, task_budgets: Sequence[str],
                  prices: Sequence[str]) -> dict[str, Any]:  # fmt: skip
    """The cache and budget options as RunOptions values (None where not given)."""
    from ..execute.budget import parse_price

    pairs = []
    for item in task_budgets:
        task, sep, usd = item.partition("=")
        if not sep or not task.strip():
            raise click.BadParameter(f"{item!r}: write TASK=USD, e.g. 1.2=0.5",
                                     param_hint="--task-budget")  # fmt: skip
        pairs.append((task.strip(), usd))
    return {"cache": cache, "budget_usd": budget_usd, "task_budget_usd": dict(pairs) or None,
            "prices": dict(parse_price(p) for p in prices) or None}  # fmt: skip


def _finish_run(run: Any, as_json: bool) -> None:
    """Print the result and exit 0 when every attempt completed, 1 otherwise."""
    from ..events import AttemptState

    if as_json:
        emit_json({"run_id": run.id, "attempts": [ex.to_json() for ex in run.executions.values()],
                   "unrecorded": run.unrecorded, **run.spending()})  # fmt: skip
        if run.unrecorded:
            click.echo(f"warning: {run.unrecorded}", err=True)
    else:
        from ..execute.table import COLUMNS, rows

        table(repr(run).strip("<>"), COLUMNS, rows(run.executions.values()))
        click.echo(f"run id: {run.id} — nborch status -r {run.repo} --run {run.id}", err=True)
        money = run.spending()
        if money["budget_usd"] is not None or money["spent_usd"]:
            budget = (f" of the ${money['budget_usd']:.2f} budget" if money["budget_usd"] is not None
                      else "")  # fmt: skip
            guess = (f" (${money['estimated_usd']:.4f} of it estimated from tokens at list prices)"
                     if money["estimated_usd"] else "")  # fmt: skip
            stopped = (f"; {money['stopped_by_budget']} attempt(s) stopped or not started when it "
                       "ran out" if money["stopped_by_budget"] else "")  # fmt: skip
            click.echo(f"spent: ${money['spent_usd']:.4f}{budget}{guess}{stopped}", err=True)
        if money["cached"]:
            click.echo(f"cache: {money['cached']} result(s) reused from earlier runs (about "
                       f"${money['saved_by_cache_usd']:.4f} and {money['saved_by_cache_tokens']:,} "
                       "tokens not spent again) — --no-cache runs them again", err=True)  # fmt: skip
        if money["stopped_by_race"]:
            click.echo(f"race: {money['stopped_by_race']} attempt(s) stopped once another won; "
                       f"about ${money['saved_by_race_usd']:.4f} and {money['saved_by_race_tokens']:,} tokens not "
                       "spent (estimated from the winners)", err=True)  # fmt: skip
    if run.unrecorded:
        click.echo(f"warning: {run.unrecorded}", err=True)
    ok = not run.unrecorded and all(ex.status == AttemptState.COMPLETED
                                    for ex in run.executions.values())  # fmt: skip
    sys.exit(EXIT_OK if ok else EXIT_INCOMPLETE)


def _drive(run: Any, as_json: bool, resume: bool = False) -> None:
    from ..view.terminal import TerminalProgress

    try:
        with TerminalProgress(run):
            if resume:
                run.resume(retry_failed=resume == "failed")
                run.wait_or_stop()
            else:
                run.run_sync()
    except KeyboardInterrupt:
        click.echo(f"interrupted: {_stopped(run)}", err=True)
    finally:
        close = getattr(run.executor, "close", None)
        if close is not None:  # the Dask cluster this command started
            close()
    _finish_run(run, as_json)


def _stopped(run: Any) -> str:
    """What a Ctrl-C did, as it happened: attempts stopped, and whose work was committed."""
    from ..events import AttemptState

    cancelled = [ex for ex in run.executions.values() if ex.status == AttemptState.CANCELLED]
    if run.prepared is None:
        return "stopped before any attempt started (nothing was prepared)"
    if not cancelled:
        return "no attempt was running; nothing was stopped"
    saved = [ex for ex in cancelled if ex.commit]
    said = f"{len(cancelled)} attempt(s) stopped; "
    if not saved:
        return said + "none had written anything to commit"
    said += f"the work of {len(saved)} committed as WIP on {'its branch' if len(saved) == 1 else 'their branches'}"
    if len(saved) < len(cancelled):
        said += f"; {len(cancelled) - len(saved)} had written nothing"
    return said


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@repo_option
@team_options
@click.option("--model", default=None, help="Model name passed to every agent that takes one.")
@click.option("--base", default=None, help="Commit the attempts start from (default: plan, HEAD).")
@click.option("--include-done", is_flag=True, help="Also run tasks the plan marks done.")
@click.option("--dry-run", is_flag=True,
              help="Show assignments, worktrees and exact command lines; change nothing.")
@root_option
@plan_options
@_run_options(resume=False)
@errors_exit
def execute(plan_path: Path, repo: Path, agents: str | None, per_task: int | str, scripts: Sequence[str],
            model: str | None, base: str | None, include_done: bool, dry_run: bool,
            root: Path | None, fmt: str | None, split_subtasks: bool, max_concurrent: int,
            timeout: float | None, retries: int, validate: bool, race: bool, cache: bool,
            budget_usd: str | None, task_budgets: Sequence[str], prices: Sequence[str],
            as_json: bool, executor: str | None, scheduler: str | None, resources: str | None,
            limits: Sequence[str]) -> None:  # fmt: skip
    """Run agents on every task of PLAN in parallel, each in its own worktree."""
    from ..run import Run

    runner = make_executor(executor, scheduler, resources, limits)
    team = load_team(plan_path, agents, per_task, scripts, fmt, split_subtasks, repo)
    if dry_run:
        from ..execute.dryrun import dry_run as plan_run

        report = plan_run(repo, team, root=root, base=base, model=model, timeout=timeout,
                          include_done=include_done)  # fmt: skip
        if as_json:
            emit_json(report)
        else:
            table(f"dry run: {len(report['attempts'])} attempts (nothing was changed)",
                   ["task", "agent", "available", "branch", "worktree", "command"],
                   [(a["task"], a["agent"], "yes" if a["available"] else "NO", a["branch"],
                     a["worktree"], a["command"]) for a in report["attempts"]])  # fmt: skip
        return
    run = Run(repo, team, max_concurrent=max_concurrent, timeout=timeout, retries=retries,
              root=root, base=base, model=model, validate=validate, race=race,
              include_done=include_done, executor=runner,
              **money_options(cache, budget_usd, task_budgets, prices))  # fmt: skip
    run.check_agents()
    _drive(run, as_json)


@click.command()
@click.argument("run_id", metavar="RUN")
@repo_option
@click.option("--retry-failed", is_flag=True, help="Also run failed, timed-out and cancelled attempts.")
@_run_options(resume=True)
@errors_exit
def resume(run_id: str, repo: Path, retry_failed: bool, max_concurrent: int | None,
           timeout: float | None, retries: int | None, validate: bool | None, race: bool | None,
           cache: bool | None, budget_usd: str | None, task_budgets: Sequence[str],
           prices: Sequence[str], as_json: bool, executor: str | None, scheduler: str | None,
           resources: str | None, limits: Sequence[str]) -> None:  # fmt: skip
    """Run again what an interrupted RUN did not finish, in the same worktrees, with the options
    it was started with unless given again (the executor is the local one unless given)."""
    from ..execute.coordinator import executor_of
    from ..run import Run

    runner = make_executor(executor, scheduler, resources, limits)
    load_repo_agents(repo)
    run = Run.load(repo, run_id, max_concurrent=max_concurrent, timeout=timeout,
                   retries=retries, validate=validate, race=race,
                   **money_options(cache, budget_usd, task_budgets, prices))  # fmt: skip
    run.executor = executor_of(runner)
    run.check_agents()
    _drive(run, as_json, resume="failed" if retry_failed else True)


@click.command()
@repo_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def history(repo: Path, as_json: bool) -> None:
    """List the runs of this repository, newest first, with how their attempts ended."""
    from ..execute.runs import history as run_history

    frame = run_history(repo)
    if as_json:
        emit_json({"runs": frame.assign(created_at=frame["created_at"].astype(str))
                    .to_dict(orient="records")})  # fmt: skip
        return
    table(f"{len(frame)} runs", list(frame.columns), frame.itertuples(index=False))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("task")
@click.argument("agent")
@repo_option
@errors_exit
def done(run_id: str, task: str, agent: str, repo: Path) -> None:
    """Mark a manual attempt (a person, Windsurf) of RUN as finished."""
    from ..errors import NborchError
    from ..workspace.manager import WorktreeManager

    with WorktreeManager(repo).store() as store:
        try:
            store.update_attempt(run_id, task, agent, done_requested=True)
        except KeyError:
            raise NborchError(f"no attempt of task {task!r} by {agent!r} in run {run_id!r} — "
                              "see nborch status") from None  # fmt: skip
    click.echo(f"marked done: run {run_id}, task {task}, agent {agent}", err=True)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("task", required=False)
@click.argument("agent", required=False)
@repo_option
@click.option("-f", "--follow", "follow_", is_flag=True,
              help="Keep printing lines as they are written, until the attempts end (Ctrl-C stops).")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=50, show_default=True,
              help="Lines of each log shown first.")
@errors_exit
def logs(run_id: str, task: str | None, agent: str | None, repo: Path, follow_: bool,
         lines: int) -> None:  # fmt: skip
    """Print the log of an attempt of RUN (TASK AGENT), of a task's attempts (TASK), or of all
    of them, each line led by task/agent; with -f, follow them as they run — from any process."""
    import time

    from ..display import printable
    from ..proc.follow import follow
    from ..store import effective_status, run_alive
    from ..workspace.manager import WorktreeManager

    manager = WorktreeManager(repo)
    if not manager.store_path.exists():
        raise NborchError(f"no nborch runs in {manager.repo} yet (nborch history lists them)")
    with manager.store() as store:
        if store.get_run(run_id) is None:
            known = [r.id for r in store.runs()][-5:]
            raise NborchError(f"no run {run_id!r} in {manager.repo} (runs: {', '.join(known) or 'none'}) "
                              "— nborch history lists them")  # fmt: skip
        attempts = [a for a in store.attempts(run_id)
                    if task in (None, a.task_id) and agent in (None, a.agent)]  # fmt: skip
    if not attempts:
        raise NborchError(f"no attempt of task {task!r} by {agent!r} in run {run_id} — "
                          f"nborch status --run {run_id} lists them")  # fmt: skip
    paths = {(a.task_id, a.agent): Path(a.log_path) if a.log_path else Path(a.attempt_dir) / "agent.log"
             for a in attempts}  # fmt: skip
    final = {"completed", "failed", "timeout", "cancelled", "interrupted"}
    asked = [0.0, False]

    def ended() -> bool:  # from the store (the run may be another process's): once a second
        if time.monotonic() - asked[0] >= 1.0:
            with manager.store() as store:
                alive = run_alive(store.get_run(run_id))
                asked[1] = all(effective_status(a, alive) in final for a in store.attempts(run_id)
                               if (a.task_id, a.agent) in paths)  # fmt: skip
            asked[0] = time.monotonic()
        return bool(asked[1])

    one = len(paths) == 1 and agent is not None
    try:
        for (t, a), line in follow(paths, ended, lines=lines, follow=follow_):
            click.echo(printable(line) if one else f"{t}/{a} | {printable(line)}")
    except KeyboardInterrupt:
        pass


COMMANDS = (prepare, status, cleanup, execute, resume, history, done, logs)
