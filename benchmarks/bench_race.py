"""Figure: what race mode saves on the bundled sample plan, against the same run without it.

Both runs are the sample plan (8 tasks with checks) on copies of the sample repository, every
task given three demo agents — ``demo`` (careful: passes its checks), ``demo-hasty`` (often
fails them) and ``demo-slow`` (would work 600 s: the per-attempt timeout, 30 s, stops it) — at
``max_concurrent=4``, one run with ``race=True`` and one without. Printed: wall time, tokens, attempts stopped, and whether each task still got
an attempt that passed its checks.

    .venv/bin/python benchmarks/bench_race.py [--speed 0.3]
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
    parser.add_argument("--timeout", default="30s",
                        help="per attempt: demo-slow works 600 s, so without race it runs into this")
    opts = parser.parse_args()
    os.environ["NBORCH_DEMO_SPEED"] = str(opts.speed)
    import nborch
    from nborch.demo import make_sample_repo, sample_plan_path
    from nborch.execute.results import spending

    plan = nborch.load_plan(sample_plan_path())
    team = nborch.assign(plan, agents=["demo", "demo-hasty", "demo-slow"], per_task=3)
    rows = []
    with tempfile.TemporaryDirectory(prefix="nborch-bench-race-") as name:
        tmp = Path(name)
        for race in (False, True):
            repo = make_sample_repo(tmp / f"repo-{race}")
            start = time.perf_counter()
            run = nborch.Run(repo, team, race=race, max_concurrent=4, timeout=opts.timeout,
                             root=tmp / f"wt-{race}").run_sync()  # fmt: skip
            took = time.perf_counter() - start
            ex = list(run.executions.values())
            tokens = sum(e.input_tokens + e.output_tokens for e in ex)
            won = {e.task for e in ex if e.is_successful and e.validation == "passed"}
            rows.append((race, took, tokens, spending(ex), len(won), len({e.task for e in ex})))
    print(f"sample plan, 3 demo agents per task, max_concurrent=4, timeout {opts.timeout} "
          f"(NBORCH_DEMO_SPEED={opts.speed}):")
    for race, took, tokens, money, won, tasks in rows:
        print(f"  race={race!s:5}: {took:6.1f} s, {tokens:8,} tokens, "
              f"{money['stopped_by_race']} attempts stopped, "
              f"~{money['saved_tokens']:,} tokens not spent; tasks with a passing attempt {won}/{tasks}")  # fmt: skip
    (_, t0, k0, *_), (_, t1, k1, *_) = rows
    print(f"  race / no race: time {t1 / t0:.2f}x, tokens {k1 / k0:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
