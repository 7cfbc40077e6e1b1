"""Selection benchmark: does nborch recommend the right attempt on real projects' real tests?

Each case (``cases/<name>/``) is a pinned sdist of a small permissively licensed project with a
bug injected into its code. Per case, two nborch runs of one task ("Fix: <symptom>", validation
criteria naming the failing test ids) with one script agent per attempt:

- run A: the correct fixes (``fix``, ``alt``) among a wrong fix, a partial one and the tampers;
- run B: the same attempts without the correct ones — nothing should be recommended.

Each run is compared with ``nborch.compare`` and, as the baseline, by an exit-code-only ranker
(the first attempt in assignment order whose test command exits 0). Prints a table per case and
the totals of both; see README.md for what the figures mean.

    .venv/bin/python benchmarks/selection/run.py [--cases NAME,...] [--keep] [--json FILE]

Exits 0 when it ran (the figures are the result), 1 when something failed to run. Everything it
makes lives in one temporary folder, removed at the end unless ``--keep``; the sdist cache
(``$TMPDIR/nborch-bench-selection/sdists``) stays for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from rich.console import Console

import nborch
from nborch.execute.executor import LocalExecutor

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baseline import ExitCodeRanker  # noqa: E402
from cases import Case, agent_name, kind_of, load_cases  # noqa: E402
from report import Attempt, CaseResult, RunResult, print_report  # noqa: E402
from sdists import make_repo  # noqa: E402

AGENT = HERE / "agent.py"
TASK = "1"  # the one task of every plan ("## Task 1: …")
# The inner pytest runs need no plugins: this venv's (nbmake …) cost about a second per start.
LEAN = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
TEST_TIMEOUT = 300.0  # seconds for one test run in compare (a case's suite needs a few)


def register(case: Case, variant: str) -> str:
    """The script agent making ``variant`` of ``case`` in its worktree; returns its name."""
    name = agent_name(variant)
    argv = [sys.executable, str(AGENT), variant, str(case.folder)]
    nborch.script_agent(name, f"{shlex.join(argv)} {{worktree}}")
    return name


def execute(case: Case, repo: Path, where: Path, variants: list[str]) -> nborch.Coordinator:
    for variant in variants:
        register(case, variant)
    plan = nborch.parse_plan(case.plan(variants))
    run = nborch.Coordinator(repo, plan, root=where, max_concurrent=4, timeout="120s",
                             executor=LocalExecutor(grace=0.5))  # fmt: skip
    return run.run_sync()


def attempts_of(cmp: nborch.Comparison, variants: list[str],
                verdicts: dict[str, bool]) -> list[Attempt]:  # fmt: skip
    """The attempts of the task in assignment order, from the comparison's JSON contract (its
    keys are never renamed, and a gate added later shows up by itself)."""
    task = next(t for t in cmp.to_dict()["tasks"] if t["task"] == TASK)
    seen = {a["agent"]: a for a in task["attempts"]}

    def attempt(variant: str) -> Attempt:
        data = seen[agent_name(variant)]
        return Attempt(agent=data["agent"], variant=variant, kind=kind_of(variant),
                       status=data["status"], gates=dict(data["gates"]), rank=data["rank"],
                       exit_zero=verdicts[data["agent"]])  # fmt: skip

    return [attempt(v) for v in variants]


def judge(case: Case, repo: Path, where: Path, variants: list[str], ranker: ExitCodeRanker,
          label: str) -> RunResult:  # fmt: skip
    """Run ``variants`` as the attempts of one nborch run, compare them, and rank by exit code."""
    started = time.monotonic()
    run = execute(case, repo, where, variants)
    cmp = nborch.compare(repo, run.id, env=LEAN, jobs=2, test_timeout=TEST_TIMEOUT)
    rec = cmp.recommend(TASK)
    commits = {a["agent"]: a["commit"] for t in cmp.to_dict()["tasks"] for a in t["attempts"]}
    verdicts = ranker.verdicts(commits)
    return RunResult(label=label, run_id=run.id, attempts=attempts_of(cmp, variants, verdicts),
                     action=rec.action, nborch_pick=rec.agent if rec.action != "none" else None,
                     reason=rec.reason, exit_pick=ranker.pick([agent_name(v) for v in variants],
                                                              verdicts),
                     seconds=time.monotonic() - started)  # fmt: skip


def run_case(case: Case, where: Path) -> CaseResult:
    started = time.monotonic()
    result = CaseResult(case)
    try:
        repo = make_repo(case, where)
        ranker = ExitCodeRanker(repo, case.test_command, LEAN)
        order = case.assignment_order(case.variants)
        without = [v for v in order if kind_of(v) != "correct"]
        for label, variants in (("A", order), ("B", without)):
            run = judge(case, repo, where / f"run-{label}", variants, ranker, label)
            result.runs.append(run)
            # an agent that did not complete means the case is broken (a patch that no longer
            # applies), not that nborch judged badly
            result.errors.extend(f"run {label}: agent {a.agent} ended {a.status}"
                                 for a in run.attempts if a.status != "completed")
    except Exception as err:  # one broken case must not hide the others' figures
        traceback.print_exc()
        result.errors.append(f"{type(err).__name__}: {err}")
    result.seconds = time.monotonic() - started
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the repositories, worktrees and runs (the folder is printed)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cases = load_cases(args.cases.split(",") if args.cases else None)
    # the coordinator runs the validation checks with this process's environment
    os.environ.update(LEAN)
    # a plain kill must still run the clean-up below (and nborch's own, for its test folders)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    console = Console()
    if not console.is_terminal:  # a log file: wide enough for the tables not to wrap
        console = Console(width=160)
    root = Path(tempfile.mkdtemp(prefix="nborch-bench-selection-"))
    started = time.monotonic()
    results: list[CaseResult] = []
    try:
        for case in cases:
            console.print(f"[bold]{case.name}[/bold]: {case.project} {case.version} …")
            results.append(run_case(case, root / case.name))
    finally:
        nborch.agents.reset()
        if args.keep:
            console.print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.monotonic() - started
    print_report(results, seconds, console)
    if args.json:
        args.json.write_text(json.dumps({"seconds": round(seconds, 1),
                                         "cases": [r.to_dict() for r in results]}, indent=2))  # fmt: skip
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
