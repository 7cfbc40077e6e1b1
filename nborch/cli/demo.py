"""``nborch demo``: the whole pipeline on the bundled sample project, with the demo agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..durations import format_duration
from ..errors import NborchError
from .common import DURATION, errors_exit, show_assignments, table


@click.command()
@click.option("--keep", "keep", type=click.Path(path_type=Path), default=None,
              help="Make the sample repository in this (new or empty) folder and keep it.")
@click.option("-t", "--timeout", type=DURATION, default="20s", show_default=True,
              help="Per attempt; the slow demo agent runs into it.")
@click.option("-c", "--max-concurrent", type=click.IntRange(min=1), default=4, show_default=True)
@errors_exit
def demo(keep: Path | None, timeout: float | None, max_concurrent: int) -> None:
    """Run the whole pipeline on the bundled sample project with the demo agents."""
    import shutil
    import tempfile

    from ..demo import make_sample_repo, sample_plan_path
    from ..demo.pipeline import demo_assignments
    from ..plan.load import load_plan
    from ..run import Run
    from ..team.classify import classify_plan
    from ..view.terminal import TerminalProgress

    plan = load_plan(sample_plan_path())
    click.echo(f"nborch demo — sample plan {sample_plan_path().name}: {plan.summary()}. Demo "
               "agents only: no model, no network.", err=True)  # fmt: skip
    classes = classify_plan(plan)
    table("1. Parse and classify", ["id", "title", "phase", "depends on", "type", "cx", "stack"],
           [(t.id, t.title, t.phase, t.depends_on, classes[t.id].task_type,
             classes[t.id].complexity, classes[t.id].tech_stack) for t in plan])  # fmt: skip
    table("Waves", ["wave", "tasks that can run together"],
           [(n, [t.id for t in wave]) for n, wave in enumerate(plan.waves(), 1)])  # fmt: skip
    show_assignments(do_assign_real(plan), "2. Assign — what nborch would pick among real agents")
    team = demo_assignments(plan)
    folder = keep or Path(tempfile.mkdtemp(prefix="nborch-demo-"))
    try:
        repo = make_sample_repo(folder / "repo")
        run = Run(repo, team, max_concurrent=max_concurrent, timeout=timeout,
                          root=folder / "worktrees")  # fmt: skip
        click.echo(f"3. Prepare and execute: {len(run.executions)} attempts of demo agents in "
                   f"{folder} (timeout {format_duration(timeout)})", err=True)  # fmt: skip
        with TerminalProgress(run):
            run.run_sync()
        from ..execute.table import COLUMNS, rows

        table("4. Summary — " + repr(run).strip("<>"), COLUMNS, rows(run.executions.values()))
        _demo_compare_and_merge(run)
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    where = f"kept in {keep}" if keep else "removed (use --keep DIR to look around)"
    click.echo(f"The sample repository and its worktrees were {where}.", err=True)


def _demo_compare_and_merge(run: Any) -> None:
    """Steps 5 and 6 of the demo: the comparison tables, then the merged integration branch."""
    from .compare import show_comparison

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
    from ..team.assign import assign as do_assign

    return do_assign(plan, agents=["claude", "codex", "gemini", "aider"], per_task=2)


COMMANDS = (demo,)
