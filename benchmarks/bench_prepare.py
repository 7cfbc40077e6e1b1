"""Figure: preparing 20 attempts (worktree + branch each) in a repository of 10,000 files.

Target: WorktreeManager (new_run + create of 20 attempts) takes <= 1.2x the time of 20 plain
``git worktree add -b BRANCH PATH HEAD`` calls, measured in the same run on the same repository.
Each round runs both, in an order that flips every round, and the best round of each counts, so a
warm or cold page cache favours neither. On a disk the figures swing widely from round to round
(file creation is most of the time); ``TMPDIR=/dev/shm`` measures git and nborch themselves. Everything is made in a temporary folder and removed at the end.

    .venv/bin/python benchmarks/bench_prepare.py [--files 10000] [--attempts 20] [--rounds 4]
        [--workers 4]          # TMPDIR=/dev/shm measures git and nborch rather than the disk
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nborch.workspace.manager import WorktreeManager

_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=_ENV, check=True, capture_output=True)


def make_repo(path: Path, files: int) -> None:
    """A repository of ``files`` small python files in folders of 100, with one commit."""
    path.mkdir()
    for i in range(files):
        folder = path / f"pkg{i // 100:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{i % 100:03d}.py").write_text(f"VALUE = {i}\n\n\ndef f():\n    return VALUE\n")
    git(path, "init", "--quiet", "-b", "main")
    git(path, "config", "user.name", "bench")
    git(path, "config", "user.email", "bench@example.invalid")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "--no-verify", "-m", "generated")


def plain(repo: Path, root: Path, n: int, round_no: int) -> float:
    """20 sequential ``git worktree add -b``; returns seconds, then removes what it made."""
    start = time.perf_counter()
    for i in range(n):
        git(repo, "worktree", "add", "--quiet", "-b", f"plain/{round_no}/{i}",
            str(root / f"plain-{round_no}-{i}"), "HEAD")  # fmt: skip
    elapsed = time.perf_counter() - start
    for i in range(n):
        git(repo, "worktree", "remove", "--force", str(root / f"plain-{round_no}-{i}"))
        git(repo, "branch", "-D", f"plain/{round_no}/{i}")
    return elapsed


def ours(repo: Path, root: Path, n: int, workers: int) -> float:
    """WorktreeManager: new_run + create of n attempts; returns seconds, then cleans up."""
    start = time.perf_counter()
    manager = WorktreeManager(repo, root=root, max_workers=workers)
    run = manager.new_run()
    made = manager.create(run, [(f"task {i // 2}", ("claude", "codex")[i % 2]) for i in range(n)])
    elapsed = time.perf_counter() - start
    assert len(made) == n and all((a.path / "pkg000" / "mod000.py").is_file() for a in made)
    report = manager.cleanup(run.id)
    assert len(report.removed) == n and not report.kept, report
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="parallel checkouts (nborch)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nborch-bench-"))
    try:
        repo, root = tmp / "repo", tmp / "worktrees"
        start = time.perf_counter()
        make_repo(repo, args.files)
        print(f"repository: {args.files} files, made in {time.perf_counter() - start:.1f} s; "
              f"{os.cpu_count()} CPUs; {args.attempts} worktrees per round, best of {args.rounds}; "
              f"{args.workers} workers; temp folder {tmp}")  # fmt: skip
        base, mine = [], []
        for r in range(args.rounds):  # the order flips every round: neither always goes first
            if r % 2:
                mine.append(ours(repo, root, args.attempts, args.workers))
            base.append(plain(repo, root, args.attempts, r))
            if not r % 2:
                mine.append(ours(repo, root, args.attempts, args.workers))
            print(f"  round {r + 1}: plain {base[-1]:.2f} s, nborch {mine[-1]:.2f} s")
        ratio = min(mine) / min(base)
        print(f"plain git worktree add x{args.attempts}:       {min(base):.2f} s")
        print(f"WorktreeManager new_run+create x{args.attempts}: {min(mine):.2f} s")
        print(f"ratio: {ratio:.2f}x (target <= 1.2x)")
        return 0 if ratio <= 1.2 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
