"""What each attempt's worktree holds: head, commits ahead of base, uncommitted files.

Status is driven by the store, so it stays fast with thousands of attempts. It reads the columns
it shows, then asks git a fixed handful of questions however many attempts there are:

- ``git show-ref --verify`` of exactly the attempts' branches gives their heads (a walk over every
  ref folder with ``for-each-ref`` is slower, and is kept for when a branch was deleted by hand);
- at the same time, ``git rev-list --parents --timestamp BRANCHES ^BASE``, once per base commit,
  gives every ahead count and commit time (see :func:`walk_heads`);
- a stat per attempt says whether its folder is there;
- ``git status`` runs only in worktrees whose work no coordinator committed (attempts prepared or
  pending, blocked, running, interrupted), or in every one with ``check=True``.

The git calls run in parallel threads. :meth:`nborch.worktrees.WorktreeManager.status_records`
and ``status`` call into here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .errors import WorktreeError
from .events import AttemptState
from .gitcmd import Git, split_z
from .procs import coordinator_alive
from .store import RunRecord, Store
from .worktree_records import ACTIVE_STATUSES, DONE_STATES, STATUS_COLUMNS, WorktreeStatus

if TYPE_CHECKING:
    from .worktrees import WorktreeManager

__all__ = ["branch_tips", "dirty_paths", "live_runs", "porcelain_paths", "status_frame",
           "status_records", "walk_heads"]  # fmt: skip

# Attempts whose end the coordinator sealed with a commit of everything they changed (WIP for the
# unsuccessful): their worktrees hold nothing uncommitted unless someone edited them since.
COMMITTED_STATUSES = frozenset(s.value for s in AttemptState if s.is_final) - {"interrupted"}
# Characters of arguments per git call: Windows' command line ends at 32K, Linux's far later.
_ARGS_CHARS = 30_000 if os.name == "nt" else 1_000_000
_GIT_FAST = ("-c", "core.warnAmbiguousRefs=false")  # full names: no check against every ref


_Walk = tuple[dict[str, dict[str, list[str]]], dict[str, int]]  # ({base: graph}, {commit: time})


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


def status_records(manager: WorktreeManager, run_id: str | None = None,
                   check: bool = False) -> list[WorktreeStatus]:  # fmt: skip
    """One :class:`WorktreeStatus` per attempt; see :meth:`WorktreeManager.status_records`."""
    if not manager.store_path.exists():
        return []
    with manager.store() as store:
        runs = store.runs() if run_id is None else [r for r in [store.get_run(run_id)] if r]
        rows = _rows(store, run_id)
    if not rows:
        return []
    git, base = manager._git, {r.id: r.base_commit for r in runs}
    dead = {r.id for r in runs if r.status == "running"} - live_runs(runs)
    branched = [r for r in rows if r.state not in DONE_STATES]
    with ThreadPoolExecutor(manager.max_workers + 2) as pool:
        # Heads, and the history beyond each base read from the branch names, at the same time.
        tips_job = pool.submit(branch_tips, manager, sorted({r.branch for r in branched}))
        walk_job = pool.submit(walk_heads, git, {(base[r.run_id], f"refs/heads/{r.branch}")
                                                 for r in branched})  # fmt: skip
        base_job = pool.submit(_commit_times, git, sorted(set(base.values())))
        status = [_status(r, dead) for r in rows]
        exists = [os.path.exists(os.path.join(r.path, ".git")) for r in rows]
        dirty_jobs = {i: pool.submit(dirty_paths, git, Path(r.path), json.loads(r.managed_files_json))
                      for i, r in enumerate(rows)
                      if exists[i] and (check or status[i] not in COMMITTED_STATUSES)}  # fmt: skip
        tips = tips_job.result()
        graphs, times = _walk_result(walk_job, git, {(base[r.run_id], tips[r.branch])
                                                     for r in branched if r.branch in tips})  # fmt: skip
        times.update(base_job.result())
        dirty = {i: job.result() for i, job in dirty_jobs.items()}

    def one(i: int, r: _Row) -> WorktreeStatus:
        head = tips.get(r.branch)
        changed = dirty.get(i)
        stamps = [times[head]] if head in times else []
        stamps += [_mtime(os.path.join(r.path, p)) for p in changed or ()]
        last = max(stamps) if stamps else None
        return WorktreeStatus(
            r.run_id, r.task_id, r.agent, r.branch, r.path, head,
            _reach(head, graphs.get(base[r.run_id], {})) if head else 0,
            None if changed is None else len(changed),
            datetime.fromtimestamp(last, UTC) if last else None, exists[i], r.state, status[i])  # fmt: skip

    return [one(i, r) for i, r in enumerate(rows)]


def _walk_result(job: Future[_Walk], git: Git, pairs: set[tuple[str, str]]) -> _Walk:
    """The walk from branch names; again from the heads read if a branch went missing or moved
    between the two git calls (a head that is not in its base's graph is read again too)."""
    try:
        graphs, times = job.result()
    except WorktreeError:  # a branch was deleted: walk from the heads that are left
        graphs, times = {}, {}
    again = {(b, h) for b, h in pairs if h != b and h not in graphs.get(b, {})}
    if again:
        more, more_times = walk_heads(git, again)
        times.update(more_times)
        times.update(_commit_times(git, sorted({h for _, h in again} - more_times.keys())))
        for b, graph in more.items():
            graphs.setdefault(b, {}).update(graph)
    return graphs, times


def status_frame(rows: Sequence[WorktreeStatus]):  # -> pandas.DataFrame
    """The rows as a DataFrame with :data:`STATUS_COLUMNS` and proper dtypes (``dirty`` is a
    nullable integer: missing where no ``git status`` ran)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(s) for s in rows], columns=list(STATUS_COLUMNS))
    frame["last_change"] = pd.to_datetime(frame["last_change"], utc=True)
    return frame.astype({"ahead": "int64", "dirty": "Int64", "exists": "bool"})


def _rows(store: Store, run_id: str | None) -> list[_Row]:
    """The attempts' shown columns, in creation order, as ``Store.attempts`` orders them.

    Reading eight columns instead of building full records is most of what makes status fast
    with thousands of attempts (the schema is :mod:`nborch.store`'s, version 2).
    """
    sql = f"SELECT {', '.join(_Row._fields)} FROM attempts"
    params: tuple[str, ...] = ()
    if run_id is not None:
        sql, params = sql + " WHERE run_id = ?", (run_id,)
    return [_Row(*row) for row in store.db.execute(sql + " ORDER BY created_at, rowid", params)]


def branch_tips(manager: WorktreeManager, branches: Sequence[str]) -> dict[str, str]:
    """``{branch: head}`` for these branch names (without ``refs/heads/``); missing ones left out.

    ``git show-ref --verify`` reads exactly these refs. It stops at a ref that is gone, and then
    every ``nborch/*`` branch is listed instead.
    """
    names = [f"refs/heads/{b}" for b in branches]
    tips: dict[str, str] = {}
    for chunk in _chunks(names):
        shown = manager._git.run("show-ref", "--verify", *chunk, check=False)
        if not shown.ok:
            return {b: sha for b, (sha, _) in manager._branch_heads().items()}
        for line in shown.stdout.splitlines():
            sha, _, ref = line.partition(" ")
            tips[ref[len("refs/heads/"):]] = sha
    return tips


def walk_heads(git: Git, pairs: Iterable[tuple[str, str]], pool: Executor | None = None) -> _Walk:
    """The commits each base lacks of its tips, with their parents and times, in a few git calls.

    ``pairs`` are (base commit, tip) with tips as commits or ref names. Returns ``({base: {commit:
    parents}}, {commit: unix time})`` where each base's graph holds every commit in one of its
    tips but not in the base: one ``git rev-list --parents --timestamp TIPS... ^BASE`` per base
    (and per chunk of tips). A tip's commits ahead of its base are then the commits of that graph
    it reaches (:func:`_reach`): any path from a tip to such a commit stays inside the graph.
    """
    by_base: dict[str, set[str]] = {}
    for base, tip in pairs:
        if tip != base:
            by_base.setdefault(base, set()).add(tip)
    calls = [(base, chunk) for base, tips in by_base.items() for chunk in _chunks(sorted(tips))]

    def rev_list(base: str, chunk: list[str]) -> list[list[str]]:
        out = git.out(*_GIT_FAST, "rev-list", "--parents", "--timestamp", *chunk, f"^{base}", "--")
        return [line.split() for line in out.splitlines() if line]

    jobs = [pool.submit(rev_list, *call) for call in calls] if pool else []
    graphs: dict[str, dict[str, list[str]]] = {}
    times: dict[str, int] = {}
    for i, (base, chunk) in enumerate(calls):
        listed = jobs[i].result() if jobs else rev_list(base, chunk)
        graphs.setdefault(base, {}).update((f[1], f[2:]) for f in listed)
        times.update((f[1], int(f[0])) for f in listed)
    return graphs, times


def _reach(head: str, parents: dict[str, list[str]]) -> int:
    """How many commits of ``parents`` (a graph without the base's history) ``head`` reaches:
    its commits ahead of that base."""
    seen: set[str] = set()
    stack = [head]
    while stack:
        sha = stack.pop()
        if sha in parents and sha not in seen:
            seen.add(sha)
            stack.extend(parents[sha])
    return len(seen)


def _commit_times(git: Git, commits: Sequence[str]) -> dict[str, int]:
    if not commits:
        return {}
    out = git.out(*_GIT_FAST, "rev-list", "--no-walk", "--timestamp", *commits, "--")
    return {sha: int(ts) for ts, sha in (line.split() for line in out.splitlines() if line)}


def _chunks(items: list[str]) -> list[list[str]]:
    """``items`` in runs short enough for one command line."""
    out: list[list[str]] = []
    size = _ARGS_CHARS
    for item in items:
        if size + len(item) + 1 > _ARGS_CHARS:
            out.append([])
            size = 0
        out[-1].append(item)
        size += len(item) + 1
    return out


def live_runs(runs: Iterable[RunRecord]) -> set[str]:
    """Ids of the runs whose coordinator process is alive now (same pid and start time)."""
    return {r.id for r in runs if r.status == "running"
            and coordinator_alive(r.coordinator_pid, r.coordinator_started)}  # fmt: skip


def _status(a: _Row, dead: set[str]) -> str:
    """The attempt's execution status; unfinished ones of a dead coordinator read *interrupted*
    (what :func:`nborch.execute.runs.mark_interrupted` will record), without writing anything."""
    if a.status in ACTIVE_STATUSES and a.run_id in dead:
        return AttemptState.INTERRUPTED.value
    return a.status


def dirty_paths(git: Git, path: Path, managed: Sequence[str]) -> list[str]:
    """Uncommitted changes in the worktree at ``path``, nborch's ``managed`` files left out."""
    out = git.at(path).out("status", "--porcelain", "-z", "--untracked-files=all")
    skip = set(managed)
    return [p for p in porcelain_paths(out) if p not in skip]


def porcelain_paths(out: str) -> list[str]:
    """Paths from ``git status --porcelain -z`` (v1): ``XY path``, renames followed by the old path."""
    paths = []
    fields = split_z(out)
    i = 0
    while i < len(fields):
        entry = fields[i]
        paths.append(entry[3:])
        i += 2 if {"R", "C"} & set(entry[:2]) else 1
    return paths


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:  # deleted files count as changed now
        return time.time()
