"""Figure: ``nborch status --json`` with 1,000 stored attempts, beyond interpreter start and import.

Target: the median of ``python -m nborch status -r REPO --json`` minus the median of
``python -c "import nborch.cli"`` (interpreter start plus the same imports) is <= 50 ms, both
measured in the same run, interleaved round by round so a warm or cold cache favours neither.

What is real and what is not:

- the repository, the run and its store rows are real; all 1,000 attempts are rows in the real
  SQLite store, written by ``Store.add_attempts`` as ``WorktreeManager.create`` would;
- every attempt has a real branch ``nborch/RUN/TASK/AGENT`` with one or two real commits beyond
  the base (made by one ``git fast-import``), so every ahead count is a real git answer;
- ``--real`` of them (default 8) are real worktrees made by ``WorktreeManager.create``, some with
  uncommitted files; the other folders are stubs, a folder holding a ``.git`` file as a worktree
  does but no checkout (1,000 checkouts would only measure the disk), so status finds and stats
  them as it would real ones;
- execution statuses are a realistic mix after a run: mostly completed/failed/timeout (their work
  was committed when they ended, so status runs no ``git status`` there), and among the real
  worktrees a few pending/interrupted ones whose files *are* counted.

    .venv/bin/python benchmarks/bench_status.py [--attempts 1000] [--real 8] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nborch.store import AttemptRecord
from nborch.worktrees import WorktreeManager

_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
TARGET_MS = 50.0


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=_ENV, input=stdin, text=True, check=True,
                          capture_output=True).stdout  # fmt: skip


def make_repo(path: Path) -> None:
    path.mkdir()
    for i in range(50):
        (path / f"mod{i:02d}.py").write_text(f"VALUE = {i}\n")
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "bench"],
                 ["config", "user.email", "bench@example.invalid"], ["add", "-A"],
                 ["commit", "-q", "--no-verify", "-m", "base"]):  # fmt: skip
        git(path, *args)


def branches_with_commits(repo: Path, base: str, branches: list[str]) -> None:
    """One or two commits on each branch (from ``base``), all in one ``git fast-import``."""
    parts = []
    for i, branch in enumerate(branches):
        for n in range(1 + i % 2):
            body = f"attempt {i} commit {n}\n"
            parts.append(f"commit refs/heads/{branch}\ncommitter bench <bench@example.invalid> "
                         f"{1_700_000_000 + i} +0000\ndata {len(body)}\n{body}"
                         + (f"from {base}\n" if n == 0 else "")
                         + f"M 100644 inline work{i}.txt\ndata {len(body)}\n{body}\n")  # fmt: skip
    git(repo, "fast-import", "--quiet", stdin="".join(parts))


def build(tmp: Path, attempts: int, real: int) -> tuple[Path, str]:
    repo = tmp / "repo"
    make_repo(repo)
    manager = WorktreeManager(repo, root=tmp / "wt")
    run = manager.new_run(run_id="bench")
    made = manager.create(run, [(f"real-{i}", "demo") for i in range(real)])
    rows = []
    for i in range(attempts - real):
        slug = f"task-{i:04d}"
        rows.append(AttemptRecord(
            run.id, slug, slug, "demo", f"nborch/{run.id}/{slug}/demo",
            str(run.path / f"{slug}--demo"), str(manager.common_dir / "nborch" / "runs" / run.id /
                                                 f"{slug}--demo"),
            status=("completed", "completed", "failed", "timeout")[i % 4], head=None))  # fmt: skip
    branches_with_commits(repo, run.base_commit, [r.branch for r in rows])
    for r in rows:  # stub worktree folders (see the module docstring)
        Path(r.path).mkdir(parents=True)
        (Path(r.path) / ".git").write_text(f"gitdir: {manager.common_dir}/worktrees/stub\n")
    with manager.store() as store:
        store.add_attempts(rows)
        for i, a in enumerate(made):  # real worktrees: some work committed, some files not
            (a.path / f"uncommitted{i}.txt").write_text("not yet committed\n")
            if i % 2:
                manager.commit_work(a, f"work of attempt {i}")
            status = ("completed", "pending", "completed", "interrupted")[i % 4]
            store.update_attempt(run.id, a.task_id, a.agent, status=status)
        store.update_run(run.id, status="finished")
    return repo, run.id


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=_ENV, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--real", type=int, default=8, help="attempts with a real worktree")
    parser.add_argument("--rounds", type=int, default=15)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nborch-bench-status-") as name:
        tmp = Path(name)
        t0 = time.perf_counter()
        repo, run_id = build(tmp, opts.attempts, opts.real)
        print(f"built {opts.attempts} attempts ({opts.real} real worktrees) in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)  # fmt: skip
        status = [sys.executable, "-m", "nborch", "status", "-r", str(repo), "--json"]
        base = [sys.executable, "-c", "import nborch.cli"]
        out = subprocess.run(status, cwd=tmp, env=_ENV, check=True, capture_output=True, text=True)
        rows = json.loads(out.stdout)["worktrees"]
        assert len(rows) == opts.attempts, len(rows)
        assert sum(r["ahead"] > 0 for r in rows) >= opts.attempts - opts.real
        checked = sum(r["dirty"] is not None for r in rows)
        timed(base, tmp), timed(status, tmp)  # warm the page cache for both
        base_ms, status_ms = [], []
        for i in range(opts.rounds):
            pair = [(base, base_ms), (status, status_ms)]
            for argv, sink in pair if i % 2 else pair[::-1]:
                sink.append(timed(argv, tmp))
    b, s = statistics.median(base_ms), statistics.median(status_ms)
    print(f"attempts {opts.attempts} (run {run_id}; {opts.real} real worktrees, git status in "
          f"{checked} by default), {opts.rounds} rounds, medians:")  # fmt: skip
    print(f"  baseline  python -c 'import nborch.cli'     {b:7.1f} ms  (min {min(base_ms):.1f})")
    print(f"  nborch    python -m nborch status --json    {s:7.1f} ms  (min {min(status_ms):.1f})")
    print(f"  status beyond start+import: {s - b:.1f} ms (target <= {TARGET_MS:.0f} ms; "
          f"min-to-min {min(status_ms) - min(base_ms):.1f} ms); ratio {s / b:.2f}")  # fmt: skip
    print("PASS" if s - b <= TARGET_MS else "FAIL")


if __name__ == "__main__":
    main()
