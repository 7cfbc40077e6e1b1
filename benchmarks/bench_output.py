"""Figure: 200 MB of agent output through ``nborch execute``, against the same output into a pipe.

An agent prints 200 MB in 2,000,000 lines of 100 bytes. nborch reads it, masks secrets, writes
the (capped) log, keeps the tail and hands the lines to the run's subscribers and the terminal
progress; the baseline is the same agent piped into ``cat > /dev/null``, measured in the same run.

Target: the whole command (CLI start, prepare, commit included) within 10x the pipe and under 10 s
(the issue measured 49 s before output was batched).

    .venv/bin/python benchmarks/bench_output.py [--mb 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_status import make_repo  # the same small repository: 50 modules, one commit

AGENT = """\
import sys
chunk = ("x" * 99 + "\\n") * 10000
for _ in range(int(sys.argv[1]) * 1_000_000 // len(chunk)):
    sys.stdout.write(chunk)
"""
_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nborch-bench-output-") as name:
        tmp = Path(name)
        repo = tmp / "repo"
        make_repo(repo)
        agent = tmp / "flood.py"
        agent.write_text(AGENT)
        plan = tmp / "plan.md"
        plan.write_text("# Flood\n## Task 1: Print a lot\n")
        pipe, ours, logs = [], [], []
        for i in range(opts.rounds):
            start = time.perf_counter()
            subprocess.run(f"{sys.executable} {agent} {opts.mb} | cat > /dev/null", shell=True,
                           check=True)  # fmt: skip
            pipe.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nborch", "execute", str(plan), "-r", str(repo),
                            "--script", f"flood={sys.executable} {agent} {opts.mb}",
                            "--agents", "flood", "--root", str(tmp / f"wt{i}"), "-t", "10m"],
                           env=_ENV, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
            ours.append(time.perf_counter() - start)
            logs += [p.stat().st_size for p in (repo / ".git" / "nborch" / "runs").glob("*/*/agent.log")]
    best_pipe, best = min(pipe), min(ours)
    ratio = best / best_pipe
    print(f"{opts.mb} MB of agent output in {opts.mb * 10_000:,} lines, best of {opts.rounds}:")
    print(f"  into a pipe (cat > /dev/null):   {best_pipe:6.2f} s")
    print(f"  nborch execute (whole command):  {best:6.2f} s  (log kept: {max(logs) / 2**20:.0f} MiB)")
    print(f"  ratio: {ratio:.1f}x (target <= 10x and <= 10 s)")
    return 0 if ratio <= 10 and best <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
