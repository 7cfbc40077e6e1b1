"""Figure: 20 attempts of 0.5 s on a 2-worker Dask LocalCluster against the LocalExecutor.

Both runs are the same plan (20 tasks, a script agent that sleeps 0.5 s and writes a file) on
copies of one repository, at ``max_concurrent=4``; the cluster has two worker processes of two
threads each, started before the clock (a cluster is started once and serves many runs). What
the Dask run pays on top: a bundle of the start commit scattered once, a clone per attempt on
the worker, events over the scheduler, a bundle back and a fetch per attempt.

Target: Dask / local <= 1.25.

    .venv/bin/python benchmarks/bench_dask.py [--attempts 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_status import make_repo  # the same small repository: 50 modules, one commit

TARGET = 1.25


def main() -> int:
    import distributed

    import nborch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nborch-bench-dask-") as name:
        tmp = Path(name)
        agent = tmp / "agent.py"
        agent.write_text("import pathlib, sys, time\ntime.sleep(0.5)\n"
                         "pathlib.Path(sys.argv[1], 'out.txt').write_text(sys.argv[2])\n")  # fmt: skip
        nborch.script_agent("nap", f"{sys.executable} {agent} {{worktree}} {{task_id}}")
        text = "# P\n" + "".join(f"## Task {n}: T{n}\nAgents: nap\n" for n in range(1, opts.attempts + 1))
        plan = nborch.parse_plan(text)
        local, dask = [], []
        with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as client:  # fmt: skip
            executor = nborch.DaskExecutor(client)
            for i in range(opts.rounds):
                for label, times, how in (("local", local, None), ("dask", dask, executor)):
                    repo = tmp / f"{label}{i}"
                    make_repo(repo)
                    start = time.perf_counter()
                    run = nborch.Run(repo, plan, root=tmp / f"wt-{label}{i}", max_concurrent=4,
                                     timeout="2m", executor=how).run_sync()  # fmt: skip
                    times.append(time.perf_counter() - start)
                    states = {str(ex.status) for ex in run.executions.values()}
                    assert states == {"completed"}, states
    ratio = min(dask) / min(local)
    print(f"{opts.attempts} attempts of 0.5 s, max_concurrent=4, best of {opts.rounds}:")
    print(f"  LocalExecutor:                      {min(local):6.2f} s")
    print(f"  DaskExecutor, LocalCluster 2 x 2:   {min(dask):6.2f} s")
    print(f"  ratio: {ratio:.2f}x (target <= {TARGET}x)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
