"""Figure: ``nborch status --json`` with 1,000 stored attempts, beyond interpreter start and import.

Target: the median of ``python -m nborch status -r REPO --json`` minus the median of
``python -c "import nborch.cli.main"`` (interpreter start plus the same imports) is <= 50 ms. Every
round runs, in an order that turns round by round, the baseline and status in three states of
nborch's memory of ahead counts (``<git-common-dir>/nborch/ahead.txt``, see
:mod:`nborch.workspace.heads`):

- *after run*: as a run leaves it, the first status after a run (the coordinator's
  ``commit_work`` notes every head it commits, or finds an agent committed; here the same
  ``remember`` call is made for each attempt);
- *no memory*: deleted, so status walks every branch itself (agents that committed after nborch's
  last commit, a repository prepared by hand);
- *warm*: as status itself leaves it, every later status.

What is real and what is not:

- the repository, the run and its store rows are real; all 1,000 attempts are rows in the real
  SQLite store, written by ``Store.add_attempts`` as ``WorktreeManager.create`` would;
- every attempt has a real branch ``nborch/RUN/TASK/AGENT`` (a loose ref, as ``git branch``
  leaves it) with one or two real commits beyond the base; they are made by one ``git
  fast-import`` and then unpacked into loose objects, as 1,000 ``git commit`` calls leave them
  (a walk over loose commits costs several times one over a pack);
- ``--real`` of them (default 8) are real worktrees made by ``WorktreeManager.create``, some with
  uncommitted files; the others are stubs: the folder with its ``.git`` file and git's own
  ``.git/worktrees/NAME`` folder (``HEAD``, ``gitdir``, ``commondir``) as ``git worktree add
  --no-checkout`` leaves them, but no checkout (1,000 checkouts would only measure the disk), so
  git lists them and status finds and reads them as it would real ones;
- execution statuses are a realistic mix after a run: mostly completed/failed/timeout (their work
  was committed when they ended, so status runs no ``git status`` there), and among the real
  worktrees a few pending/interrupted ones whose files *are* counted.

    .venv/bin/python benchmarks/bench_status.py [--attempts 1000] [--real 8] [--rounds 15]

Wall-clock medians are the target's measure; CPU time (user + system of the command and its git
children, from ``getrusage``; Unix only) is printed beside them because it swings less with the
load of a shared machine than wall-clock time does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nborch.store import AttemptRecord
from nborch.workspace.heads import cache_path, remember
from nborch.workspace.manager import WorktreeManager

_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
TARGET_MS = 50.0


def git(repo: Path, *args: str, stdin: str | bytes | None = None) -> str:
    text = not isinstance(stdin, bytes)
    out = subprocess.run(["git", *args], cwd=repo, env=_ENV, input=stdin, text=text, check=True,
                         capture_output=True).stdout  # fmt: skip
    return out if text else out.decode()


def make_repo(path: Path) -> None:
    path.mkdir()
    for i in range(50):
        (path / f"mod{i:02d}.py").write_text(f"VALUE = {i}\n")
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "bench"],
                 ["config", "user.email", "bench@example.invalid"], ["add", "-A"],
                 ["commit", "-q", "--no-verify", "-m", "base"]):  # fmt: skip
        git(path, *args)


def branches_with_commits(repo: Path, base: str, branches: list[str]) -> None:
    """One or two commits on each branch (from ``base``), as loose objects and loose refs."""
    parts = []
    for i, branch in enumerate(branches):
        for n in range(1 + i % 2):
            body = f"attempt {i} commit {n}\n"
            parts.append(f"commit refs/heads/{branch}\ncommitter bench <bench@example.invalid> "
                         f"{1_700_000_000 + i} +0000\ndata {len(body)}\n{body}"
                         + (f"from {base}\n" if n == 0 else "")
                         + f"M 100644 inline work{i}.txt\ndata {len(body)}\n{body}\n")  # fmt: skip
    packs = repo / ".git" / "objects" / "pack"
    before = set(packs.iterdir())
    git(repo, "fast-import", "--quiet", stdin="".join(parts))
    for pack in set(packs.iterdir()) - before:  # unpack: git commit leaves loose objects
        if pack.suffix == ".pack":
            data = pack.read_bytes()
            for made in pack.parent.glob(pack.stem + ".*"):
                made.unlink()
            git(repo, "unpack-objects", "-q", stdin=data)


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
    for r in rows:  # what commit_work notes for each attempt it commits (see the docstring)
        head = git(repo, "rev-parse", r.branch).strip()
        remember(manager.git_at(repo), cache_path(manager), run.base_commit, head)
    for r in rows:  # stub worktrees (see the module docstring): git knows them, no checkout
        admin = manager.common_dir / "worktrees" / Path(r.path).name
        admin.mkdir(parents=True)
        (admin / "HEAD").write_text(f"ref: refs/heads/{r.branch}\n")
        (admin / "gitdir").write_text(f"{r.path}/.git\n")
        (admin / "commondir").write_text("../..\n")
        Path(r.path).mkdir(parents=True)
        (Path(r.path) / ".git").write_text(f"gitdir: {admin}\n")
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


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds (user + system, git children included) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=_ENV, check=True, stdout=subprocess.DEVNULL)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


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
        loose = git(repo, "count-objects").split()[0]
        print(f"built {opts.attempts} attempts ({opts.real} real worktrees, {loose} loose "
              f"objects) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)  # fmt: skip
        cache = cache_path(WorktreeManager(repo))
        after_run = cache.read_bytes()
        status = [sys.executable, "-m", "nborch", "status", "-r", str(repo), "--json"]
        out = subprocess.run(status, cwd=tmp, env=_ENV, check=True, capture_output=True, text=True)
        rows = json.loads(out.stdout)["worktrees"]
        assert len(rows) == opts.attempts, len(rows)
        assert sum(r["ahead"] > 0 for r in rows) >= opts.attempts - opts.real
        checked = sum(r["dirty"] is not None for r in rows)

        def with_memory(memory: bytes | None) -> tuple[float, float]:
            if memory is None:
                cache.unlink(missing_ok=True)
            else:
                cache.write_bytes(memory)
            return timed(status, tmp)

        runs = {"baseline": lambda: timed([sys.executable, "-c", "import nborch.cli.main"], tmp),
                "after run": lambda: with_memory(after_run),
                "no memory": lambda: with_memory(None),
                "warm": lambda: timed(status, tmp)}  # fmt: skip
        for run in runs.values():  # warm the page cache for each
            run()
        ms: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
        order = list(runs)
        for i in range(opts.rounds):
            for key in order[i % 4:] + order[:i % 4]:
                ms[key].append(runs[key]())
    wall = {k: statistics.median(w for w, _ in v) for k, v in ms.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in ms.items()}
    print(f"{opts.attempts} attempts (run {run_id}; {opts.real} real worktrees, git status in "
          f"{checked} by default), {opts.rounds} rounds; medians, wall / CPU incl. git:")  # fmt: skip
    for key in runs:
        label = "import nborch.cli.main" if key == "baseline" else f"nborch status --json ({key})"
        print(f"  {label:34s} {wall[key]:6.1f} ms / {cpu[key]:6.1f} ms  "
              f"(min wall {min(w for w, _ in ms[key]):.1f})")  # fmt: skip
    for key in list(runs)[1:]:
        extra, ratio = wall[key] - wall["baseline"], wall[key] / wall["baseline"]
        verdict = "PASS" if extra <= TARGET_MS else "FAIL"
        print(f"  {key:9s}: {extra:5.1f} ms beyond start+import (target <= {TARGET_MS:.0f} ms: "
              f"{verdict}), {cpu[key] - cpu['baseline']:5.1f} ms CPU; ratio {ratio:.2f}")  # fmt: skip

if __name__ == "__main__":
    main()
