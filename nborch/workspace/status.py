"""What each attempt's worktree holds: head, commits ahead of base, uncommitted files.

Status is driven by the store, so it stays fast with thousands of attempts. It reads the columns
it shows, then asks git a fixed handful of questions however many attempts there are:

- the branch heads, with one ``git show-ref`` (:func:`nborch.workspace.heads.branch_tips`);
- the commits ahead of base and the head's time, remembered per (base, head) and otherwise one
  ``git rev-list`` per base commit (:func:`nborch.workspace.heads.ahead_of`);
- a stat per attempt says whether its folder is there;
- ``git status`` runs only in worktrees whose work no coordinator committed (attempts prepared or
  pending, blocked, running, interrupted), or in every one with ``check=True``; in parallel
  threads, while the heads are read;
- whether the agent left its branch or deleted ``.git`` (:func:`worktree_problem`, two small
  reads) is looked at in the same worktrees; for the others the coordinator looked when it
  committed their work, and status shows what it stored (``check=True`` looks again everywhere).

:meth:`nborch.workspace.manager.WorktreeManager.status_records` and ``status`` call into here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..events import AttemptState
from ..gitcmd import Git, porcelain_paths
from ..store import RunRecord, Store, effective_status, run_alive
from .heads import ahead_of, branch_tips, cache_path
from .records import DONE_STATES, STATUS_COLUMNS, WorktreeStatus

if TYPE_CHECKING:
    from .repo import Repo

__all__ = ["dirty_paths", "live_runs", "status_frame", "status_records", "worktree_problem"]

# Attempts whose end the coordinator sealed with a commit of everything they changed (WIP for the
# unsuccessful): their worktrees hold nothing uncommitted unless someone edited them since.
COMMITTED_STATUSES = frozenset(s.value for s in AttemptState if s.is_final) - {"interrupted"}


class _Row(NamedTuple):
    """The columns of a stored attempt that status shows."""

    run_id: str
    task_id: str
    agent: str
    branch: str
    path: str
    state: str
    status: str
    managed_files_json: str
    problem: str
    cached_from: str


def status_records(manager: Repo, run_id: str | None = None,
                   check: bool = False) -> list[WorktreeStatus]:  # fmt: skip
    """One :class:`WorktreeStatus` per attempt; see :meth:`WorktreeManager.status_records`."""
    if not manager.store_path.exists():
        return []
    with manager.store() as store:
        runs = store.runs() if run_id is None else [r for r in [store.get_run(run_id)] if r]
        rows = _rows(store, run_id)
    if not rows:
        return []
    git, base = manager.git, {r.id: r.base_commit for r in runs}
    dead = {r.id for r in runs if not run_alive(r)}
    with ThreadPoolExecutor(manager.max_workers + 1) as pool:
        tips_job = pool.submit(branch_tips, manager, sorted(
            {r.branch for r in rows if r.state not in DONE_STATES}))  # fmt: skip
        status = [effective_status(r, r.run_id not in dead) for r in rows]
        exists = [os.path.exists(os.path.join(r.path, ".git")) for r in rows]
        look = [check or s not in COMMITTED_STATUSES for s in status]  # no coordinator sealed it
        dirty_jobs = {i: pool.submit(dirty_paths, git, Path(r.path), json.loads(r.managed_files_json))
                      for i, r in enumerate(rows) if exists[i] and look[i]}  # fmt: skip
        # Two small reads per worktree looked at: done while git answers the other questions.
        problems_job = pool.submit(lambda: [
            "" if r.state in DONE_STATES else r.problem if not look[i]
            else worktree_problem(r.path, r.branch) for i, r in enumerate(rows)])  # fmt: skip
        tips = tips_job.result()
        ahead = ahead_of(git, {(base[r.run_id], tips[r.branch]) for r in rows if r.branch in tips},
                         cache_path(manager))  # fmt: skip
        dirty = {i: job.result() for i, job in dirty_jobs.items()}
        problems = problems_job.result()

    def one(i: int, r: _Row) -> WorktreeStatus:
        head = tips.get(r.branch)
        count, when = ahead.get((base[r.run_id], head), (0, None)) if head else (0, None)
        changed = dirty.get(i)
        stamps = ([when] if when else []) + [_mtime(os.path.join(r.path, p)) for p in changed or ()]
        last = max(stamps) if stamps else None
        return WorktreeStatus(
            r.run_id, r.task_id, r.agent, r.branch, r.path, head, count,
            None if changed is None else len(changed),
            datetime.fromtimestamp(last, UTC) if last else None, exists[i], r.state, status[i],
            problems[i], r.cached_from)  # fmt: skip

    return [one(i, r) for i, r in enumerate(rows)]


def status_frame(rows: Sequence[WorktreeStatus]):  # -> pandas.DataFrame
    """The rows as a DataFrame with :data:`STATUS_COLUMNS` and proper dtypes (``dirty`` is a
    nullable integer: missing where no ``git status`` ran)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(s) for s in rows], columns=list(STATUS_COLUMNS))
    frame["last_change"] = pd.to_datetime(frame["last_change"], utc=True)
    return frame.astype({"ahead": "int64", "dirty": "Int64", "exists": "bool"})


def _rows(store: Store, run_id: str | None) -> list[_Row]:
    """The attempts' shown columns, in creation order, as ``Store.attempts`` orders them (eight
    columns instead of full records save ~8 ms per 1,000 attempts)."""
    return [_Row(*row) for row in store.attempt_columns(_Row._fields, run_id)]


def live_runs(runs: Iterable[RunRecord]) -> set[str]:
    """Ids of the runs whose coordinator process is alive now (same pid and start time)."""
    return {r.id for r in runs if r.status == "running" and run_alive(r)}


_GIT_MISSING = ".git is missing: the folder is no longer a worktree (its commits are on the branch)"


def worktree_problem(path: str, branch: str) -> str:
    """What is wrong with an attempt's worktree that an agent may have done — it deleted or
    replaced ``.git``, or switched away from the attempt's branch — or ``""``. Reads two small
    files, no git call (status reads thousands of these)."""
    dot_git = os.path.join(path, ".git")
    try:
        with open(dot_git) as f:
            pointer = f.read().strip()
    except IsADirectoryError:
        return ".git was replaced by a repository of its own: this is no longer the attempt's worktree"
    except OSError:
        if not os.path.isdir(path):
            return ""  # the folder is gone: `exists` says so
        return _GIT_MISSING
    gitdir = pointer.removeprefix("gitdir:").strip()
    try:
        with open(os.path.join(path, gitdir, "HEAD")) as f:  # join keeps an absolute gitdir
            head = f.read().strip()
    except OSError:
        return f".git points at {gitdir}, which is gone: run `git worktree repair` in the repository"
    if head == f"ref: refs/heads/{branch}":
        return ""
    now = head.removeprefix("ref: refs/heads/") if head.startswith("ref: ") else f"detached at {head[:8]}"
    return f"HEAD left the attempt's branch: now on {now} (cleanup keeps its work; check out {branch} there)"


def dirty_paths(git: Git, path: Path, managed: Sequence[str]) -> list[str]:
    """Uncommitted changes in the worktree at ``path``, nborch's ``managed`` files left out."""
    out = git.at(path).out("status", "--porcelain", "-z", "--untracked-files=all")
    skip = set(managed)
    return [p for p in porcelain_paths(out) if p not in skip]


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:  # deleted files count as changed now
        return time.time()
