"""Figure: a load of 200 attempts of a trivial script agent at ``max_concurrent=20``.

Checked and printed: every attempt accounted for (200 completed, 200 WIP-free commits on 200
branches), the store consistent with git (each attempt's recorded commit is its branch's head),
``nborch status --json`` answering *during* the run (its latency, and that it saw running
attempts), and the live view's renders per second while the run's events stream (target <= ~4).
Baseline, measured in the same run: the same 200 agents run by ``xargs -P20`` in one checkout
(no worktrees, no commits), so the ratio is what orchestration costs per attempt at this scale.

    .venv/bin/python benchmarks/bench_load.py [--attempts 200] [--concurrent 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_overhead import git, make_repo, plan_text

import nborch

AGENT_SH = 'sleep 0.2; echo done > "$1/note.txt"\n'


class RenderCounter:
    """Counts the live view's renders through its throttle, as a notebook would see them."""

    def __init__(self, run: nborch.Coordinator) -> None:
        from nborch.view.live import Throttle

        self.renders = 0
        self.throttle = Throttle(self.render, interval=0.25)
        run.subscribe(lambda event: self.throttle.request())

    def render(self) -> None:
        self.renders += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()
    n, c = args.attempts, args.concurrent
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        repo = tmp / "repo"
        make_repo(repo)
        agent = tmp / "agent.sh"
        agent.write_text(AGENT_SH)
        nborch.script_agent("load", f"sh {agent} {{worktree}}")

        start = time.perf_counter()
        subprocess.run(f"seq 1 {n} | xargs -P{c} -I{{}} sh {agent} {tmp}/base-{{}}", shell=True,
                       check=False, capture_output=True)  # fmt: skip
        baseline = time.perf_counter() - start

        run = nborch.Coordinator(repo, nborch.parse_plan(plan_text(n)), agents=["load"],
                                 max_concurrent=c, timeout=120, validate=False,
                                 root=tmp / "wt")  # fmt: skip
        counter = RenderCounter(run)
        status: list[tuple[float, int]] = []

        def poll_status() -> None:
            while not run.done:
                t0 = time.perf_counter()
                out = subprocess.run([sys.executable, "-m", "nborch", "status", "-r", str(repo),
                                      "--json"], capture_output=True, text=True)  # fmt: skip
                if out.returncode == 0:
                    doc = json.loads(out.stdout)
                    running = sum(w["status"] == "running" for w in doc["worktrees"])
                    status.append((time.perf_counter() - t0, running))
                time.sleep(0.5)

        start = time.perf_counter()
        run.start()
        poller = threading.Thread(target=poll_status)
        poller.start()
        run.wait()
        ours = time.perf_counter() - start
        poller.join()
        counter.throttle.cancel()

        states = [str(ex.status) for ex in run.executions.values()]
        heads = dict(line.split() for line in git(repo, "for-each-ref", "--format=%(refname:short) "
                                                  "%(objectname)", "refs/heads/nborch/").splitlines())  # fmt: skip
        with nborch.WorktreeManager(repo).store() as store:
            records = store.attempts(run.id)
        consistent = all(heads.get(r.branch) == r.commit_sha for r in records)
        print(f"load: {n} attempts of a 0.2 s script agent, max_concurrent={c}")
        print(f"  accounted for: {states.count('completed')}/{n} completed, {len(records)} store "
              f"rows, {len(heads)} branches; store agrees with git: {consistent}")  # fmt: skip
        if status:
            latencies = sorted(s for s, _ in status)
            print(f"  nborch status --json during the run: {len(status)} calls, median "
                  f"{latencies[len(latencies) // 2] * 1000:.0f} ms, saw up to "
                  f"{max(r for _, r in status)} running")  # fmt: skip
        print(f"  live view renders: {counter.renders} in {ours:.1f} s = "
              f"{counter.renders / ours:.2f} /s (target <= ~4 /s)")  # fmt: skip
        print(f"  baseline (xargs -P{c}, no worktrees or commits): {baseline:.1f} s; nborch: "
              f"{ours:.1f} s; ratio {ours / baseline:.2f}x; {ours / n * 1000:.0f} ms per attempt")
        ok = states.count("completed") == n and len(records) == n and consistent
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
