"""Figure: orchestration overhead of the coordinator against a plain shell baseline.

Target: 20 attempts of a script agent that sleeps 0.5 s and writes one file, at most 5 at once,
take <= 1.10x the time of a shell script doing the same work by hand, measured in the same run.

- nborch: ``parse_plan`` of a generated 20-task markdown plan (no dependencies), then
  ``Coordinator(repo, plan, agents=[AGENT], max_concurrent=5, validate=False, root=...)`` and
  ``run_sync()``; the time covers prepare (worktrees, prompts, store), the agents and the commits.
- shell: ``git worktree add -b BRANCH PATH HEAD`` x20, then ``xargs -P5`` running
  ``sleep 0.5; echo x > FILE; git add -A; git commit`` in each worktree.

The agent is a ``sh`` script (``sleep 0.5`` and one ``echo``), the same work as the baseline's
``sh -c`` so only the orchestration differs. Every measurement gets a fresh copy of a small
repository (40 files, one commit, its own user.name/user.email so commits work without a global
git identity); the order of the two flips every round and the best of each counts (the first
nborch round also pays nborch's lazy imports once). Everything is made in one temporary folder
(worktrees included) and removed at the end, on failure too.

The margin is small (a few hundred ms on ~2.5 s) and a busy disk or CPU swings single rounds by
more than 10%: use more rounds, and ``TMPDIR=/dev/shm`` to measure git and nborch, not the disk.

    .venv/bin/python benchmarks/bench_overhead.py [--rounds 3] [--attempts 20] [--concurrency 5]
    .venv/bin/python benchmarks/bench_overhead.py --profile   # where nborch's time goes

Exit status 0 when the target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nborch

TARGET = 1.10
SLEEP_S = 0.5
AGENT = "bench-sleep"
_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

# The agent: the same work as one line of the baseline's xargs (the commit is nborch's job).
AGENT_SH = f'sleep {SLEEP_S}\necho x > "$1/task-$2.txt"\n'
# For --profile: the same, noting when the sleep started and ended (wall clock).
TIMED_AGENT_SH = (f't0=$(date +%s.%N)\nsleep {SLEEP_S}\n'
                  'echo "$t0 $(date +%s.%N)" > "$1/task-$2.txt"\n')  # fmt: skip

BASELINE_SH = """\
set -eu
repo=$1 root=$2 n=$3 c=$4 sleep_s=$5 marks=$6
t0=$EPOCHREALTIME  # bash builtins: no process, so timing the phases costs nothing
cd "$repo"
for i in $(seq 1 "$n"); do
    git worktree add --quiet -b "shell/$i" "$root/task-$i" HEAD
done
echo "$t0 $EPOCHREALTIME" > "$marks"
for i in $(seq 1 "$n"); do printf '%s %s\\n' "$root/task-$i" "$i"; done |
    xargs -P"$c" -n2 sh -c 'sleep "$0"; echo x > "$1/task-$2.txt"; git -C "$1" add -A;
                            git -C "$1" commit -qm "task $2"' "$sleep_s"
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=_ENV, check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def make_repo(path: Path) -> None:
    """A small python project: 40 files, one commit, a local git identity."""
    files = {"README.md": "# bench\n", "pyproject.toml": '[project]\nname = "bench"\n',
             ".gitignore": "__pycache__/\n", "src/bench/__init__.py": ""}  # fmt: skip
    for i in range(28):
        files[f"src/bench/mod{i:02d}.py"] = f"VALUE = {i}\n\n\ndef f():\n    return VALUE\n"
    for i in range(8):
        files[f"tests/test_mod{i:02d}.py"] = (
            f"from bench.mod{i:02d} import f\n\n\ndef test_f():\n    assert f() == {i}\n"
        )
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git(path, "init", "--quiet", "-b", "main")
    git(path, "config", "user.name", "bench")
    git(path, "config", "user.email", "bench@example.invalid")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "--no-verify", "-m", "generated")


def plan_text(n: int) -> str:
    out = ["# Overhead benchmark", "", "Independent tasks that each write one file.", ""]
    for i in range(1, n + 1):
        out += [f"## Task {i}: Write note {i}", "", f"Write `task-{i}.txt` in the worktree.", ""]
    return "\n".join(out)


def run_nborch(repo: Path, root: Path, n: int, c: int,
               on_event=None) -> tuple[float, float, float, nborch.Coordinator]:  # fmt: skip
    """One nborch run; seconds, wall-clock start and end, and the run."""
    wall0, start = time.time(), time.perf_counter()
    plan = nborch.parse_plan(plan_text(n), source="bench.md")
    run = nborch.Coordinator(repo, plan, agents=[AGENT], max_concurrent=c, timeout=60,
                             validate=False, root=root)  # fmt: skip
    if on_event is not None:
        run.subscribe(on_event)
    run.run_sync()
    elapsed, wall1 = time.perf_counter() - start, time.time()
    bad = [(ex.task, str(ex.status), ex.error) for ex in run.executions.values()
           if str(ex.status) != "completed" or not ex.commit]  # fmt: skip
    if run.error is not None or len(run.executions) != n or bad:
        raise RuntimeError(f"nborch run did not complete every attempt: {run.error!r} {bad[:3]}")
    return elapsed, wall0, wall1, run


def run_shell(script: Path, repo: Path, root: Path, n: int, c: int) -> tuple[float, float]:
    """One shell baseline run; seconds in all and seconds of its ``git worktree add`` loop."""
    marks = repo.parent / "marks"
    start = time.perf_counter()
    subprocess.run(["bash", str(script), str(repo), str(root), str(n), str(c), str(SLEEP_S),
                    str(marks)], env=_ENV, check=True)  # fmt: skip
    elapsed = time.perf_counter() - start
    made = git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/shell/").split()
    if len(made) != n or not all(git(repo, "log", "-1", "--format=%s", b).startswith("task")
                                 for b in made):  # fmt: skip
        raise RuntimeError("the shell baseline did not commit in every worktree")
    t0, t1 = map(float, marks.read_text().split())
    return elapsed, t1 - t0


class Fresh:
    """A fresh copy of the template repository per measurement, removed afterwards."""

    def __init__(self, tmp: Path, template: Path):
        self.tmp, self.template, self.count = tmp, template, 0

    def __enter__(self) -> tuple[Path, Path]:
        self.count += 1
        self.here = self.tmp / f"m{self.count}"
        shutil.copytree(self.template, self.here / "repo", symlinks=True)
        return self.here / "repo", self.here / "worktrees"

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.here, ignore_errors=True)


def compare(args: argparse.Namespace, fresh: Fresh, baseline: Path) -> int:
    nb: list[float] = []
    sh: list[tuple[float, float]] = []
    for r in range(args.rounds):  # the order flips every round: neither always goes first
        for which in ("nborch", "shell") if r % 2 else ("shell", "nborch"):
            with fresh as (repo, root):
                if which == "nborch":
                    nb.append(run_nborch(repo, root, args.attempts, args.concurrency)[0])
                else:
                    sh.append(run_shell(baseline, repo, root, args.attempts, args.concurrency))
        print(f"  round {r + 1}: shell {sh[-1][0]:.2f} s (worktrees {sh[-1][1]:.2f} s), "
              f"nborch {nb[-1]:.2f} s ({nb[-1] / sh[-1][0]:.2f}x)")  # fmt: skip
    best_sh = min(sh)
    ideal = -(-args.attempts // args.concurrency) * SLEEP_S
    ratio = min(nb) / best_sh[0]
    print(f"shell (worktree add + xargs -P{args.concurrency} + commit): best {best_sh[0]:.2f} s "
          f"(worktrees {best_sh[1]:.2f} s), worst {max(sh)[0]:.2f} s")  # fmt: skip
    print(f"nborch (prepare + run + commit):                best {min(nb):.2f} s, "
          f"worst {max(nb):.2f} s")  # fmt: skip
    print(f"the sleeps alone take {ideal:.2f} s; beyond that: shell {best_sh[0] - ideal:.2f} s, "
          f"nborch {min(nb) - ideal:.2f} s")  # fmt: skip
    met = ratio <= TARGET
    print(f"ratio: {ratio:.2f}x (target <= {TARGET:.2f}x): {'met' if met else 'NOT met'}")
    return 0 if met else 1


def _ms(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0] * 1000:4.0f} ms"
    xs = sorted(xs)
    return (f"mean {sum(xs) / len(xs) * 1000:4.0f} ms, median {xs[len(xs) // 2] * 1000:4.0f} ms, "
            f"max {xs[-1] * 1000:4.0f} ms")  # fmt: skip


def timeline(args: argparse.Namespace, fresh: Fresh) -> None:
    """One nborch run (no profiler) split into phases from its events and the agents' clocks."""
    marks: dict[tuple[str, str], float] = {}

    def on_event(ev: nborch.RunEvent) -> None:
        if ev.kind == "run":
            marks.setdefault((ev.text, ""), ev.time)
        elif ev.kind == "state":
            marks[(str(ev.state), ev.task_id)] = ev.time

    with fresh as (repo, root):
        elapsed, t0, t_end, run = run_nborch(repo, root, args.attempts, args.concurrency, on_event)
        rows = []  # (running, sleep start, sleep end, agent end seen, completed) per attempt
        for ex in run.executions.values():
            note = next(root.glob(f"*/{ex.task}--*/task-{ex.task}.txt"))
            s0, s1 = map(float, note.read_text().split())
            assert ex.ended_at is not None
            rows.append((marks[("running", ex.task)], s0, s1, ex.ended_at.timestamp(),
                         marks[("completed", ex.task)]))  # fmt: skip
    c, started = args.concurrency, marks[("started", "")]
    running, s0, s1, seen, _ = (sorted(col) for col in zip(*rows, strict=True))
    steps = [
        ("prepare (assign, worktrees, prompts, store) to 'started'", [started - t0]),
        ("'started' -> the first agent's sleep begins", [s0[0] - started]),
        ("slot handover: a sleep ends -> the next sleep begins", [b - a for a, b in zip(s1, s0[c:], strict=False)]),
        ("  sleep ends -> nborch sees the agent end (exit, tree)", [r[3] - r[2] for r in rows]),
        ("  agent end -> the next attempt 'running' (slot, git)", [b - a for a, b in zip(seen, running[c:], strict=False)]),
        ("  'running' -> its sleep begins (job, spawn, sh)", [r[1] - r[0] for r in rows]),
        ("agent end -> 'completed' (commit, diffstat, store)", [r[4] - r[3] for r in rows]),
        ("the last sleep ends -> run_sync returns", [t_end - s1[-1]]),
    ]  # fmt: skip
    print(f"nborch run without profiler: {elapsed:.2f} s")
    for label, values in steps:
        print(f"  {label:56} {_ms(values)}")


def profile(args: argparse.Namespace, fresh: Fresh) -> None:
    """One nborch run with cProfile in every thread (the loop thread, the to_thread workers)."""
    profiles: list[cProfile.Profile] = []

    def start_profiler(*_: object) -> None:  # the first event of each new thread
        sys.setprofile(None)
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.enable()

    if threading.main_thread() is not threading.current_thread():
        raise RuntimeError("run the profile from the main thread")
    threading.setprofile(start_profiler)
    main = cProfile.Profile()
    profiles.append(main)
    try:
        with fresh as (repo, root):
            main.enable()
            elapsed = run_nborch(repo, root, args.attempts, args.concurrency)[0]
            main.disable()
    finally:
        threading.setprofile(None)
    stats = pstats.Stats(main)
    for p in profiles[1:]:
        p.disable()
        with contextlib.suppress(TypeError):  # a thread that recorded nothing
            stats.add(p)
    print(f"\nnborch run under cProfile (slower): {elapsed:.2f} s; cumulative seconds summed over "
          "threads (they overlap; 'calls' of coroutines count resumptions):")  # fmt: skip
    shown = []
    for (file, line, name), (_, nc, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "/nborch/" in file and "benchmarks" not in file and ct >= 0.01:
            shown.append((ct, nc, f"{Path(file).parent.name}/{Path(file).name}:{line} {name}"))
        elif name == "run" and file.endswith("subprocess.py"):
            shown.append((ct, nc, "subprocess.run (git, mostly)"))
    for ct, nc, where in sorted(shown, reverse=True)[: args.top]:
        print(f"  {ct:6.2f} s {nc:5d} calls  {where}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true",
                        help="show where nborch's time goes (phases, then cProfile)")  # fmt: skip
    parser.add_argument("--top", type=int, default=30, help="profile rows to show")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nborch-bench-overhead-"))
    try:
        agent = tmp / "agent.sh"
        agent.write_text(TIMED_AGENT_SH if args.profile else AGENT_SH)
        nborch.script_agent(AGENT, f"sh {agent} {{worktree}} {{task_id}}")
        baseline = tmp / "baseline.sh"
        baseline.write_text(BASELINE_SH)
        template = tmp / "template"
        template.mkdir()
        make_repo(template)
        fresh = Fresh(tmp, template)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"repository: 40 files; {args.attempts} attempts of 'sleep {SLEEP_S}; write a file', "
              f"c={args.concurrency}; {os.cpu_count()} CPUs, load {load}; temp folder {tmp}")  # fmt: skip
        if args.profile:
            with fresh as (repo, root):
                total, worktrees = run_shell(baseline, repo, root, args.attempts, args.concurrency)
            print(f"shell baseline for reference: {total:.2f} s (worktree adds {worktrees:.2f} s)")
            profile(args, fresh)  # first: its threads (the loop's, the workers) must be new
            timeline(args, fresh)
            return 0
        return compare(args, fresh, baseline)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
