"""Figure: what the result cache saves when a plan is executed again, against running it afresh.

On one copy of the sample repository, the sample plan (8 tasks) with two demo agents per task is
executed three times: the first run (nothing to reuse: the baseline), the same plan again (every
attempt reusable), and the plan with one task edited (that task and the tasks that depend on it
run; the rest are reused). Printed: wall time, attempts whose agent ran, tokens spent, and the
ratios against the first run.

    .venv/bin/python benchmarks/bench_cache.py [--speed 0.3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", type=float, default=0.3, help="NBORCH_DEMO_SPEED")
    opts = parser.parse_args()
    os.environ["NBORCH_DEMO_SPEED"] = str(opts.speed)
    import nborch
    from nborch.demo import make_sample_repo, sample_plan_path

    text = Path(sample_plan_path()).read_text()
    plan = nborch.parse_plan(text)
    def dependents(task_id: str) -> set[str]:  # every task that builds on it, directly or not
        direct = {t.id for t in plan if task_id in t.depends_on}
        return direct.union(*(dependents(d) for d in direct))

    # the task with the fewest (but some) dependents: the rest of the plan is reusable
    edited_id = min((t.id for t in plan if dependents(t.id)), key=lambda i: len(dependents(i)))
    edited_task = plan[edited_id]
    edited = text.replace(edited_task.title, edited_task.title + " (edited)", 1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="nborch-bench-cache-") as name:
        tmp = Path(name)
        repo = make_sample_repo(tmp / "repo")
        for label, plan_text in (("first run", text), ("same plan again", text),
                                 (f"task {edited_id} edited", edited)):  # fmt: skip
            team = nborch.assign(nborch.parse_plan(plan_text), agents=["demo", "demo-hasty"],
                                 per_task=2)  # fmt: skip
            start = time.perf_counter()
            run = nborch.Run(repo, team, max_concurrent=4, root=tmp / "wt").run_sync()
            took = time.perf_counter() - start
            ex = list(run.executions.values())
            ran = [e for e in ex if not e.cached_from]
            tokens = sum(e.input_tokens + e.output_tokens for e in ran)
            rows.append((label, took, len(ran), len(ex), tokens, sorted({e.task for e in ran})))
    print(f"sample plan, 2 demo agents per task, max_concurrent=4 (NBORCH_DEMO_SPEED={opts.speed});"
          f" task {edited_id} has dependents {sorted(dependents(edited_id))}:")  # fmt: skip
    base_time, base_tokens = rows[0][1], rows[0][4]
    for label, took, ran, total, tokens, tasks in rows:
        print(f"  {label:18}: {took:6.2f} s ({took / base_time:.2f}x), agents ran {ran}/{total}, "
              f"{tokens:7,} tokens ({tokens / base_tokens:.2f}x); tasks run: {', '.join(tasks) or 'none'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
