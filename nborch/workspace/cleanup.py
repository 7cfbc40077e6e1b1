"""Cleaning up attempts without losing work, and finding what no run knows (orphans).

:meth:`nborch.workspace.manager.WorktreeManager.cleanup` and ``orphans`` call into here. An attempt that a
live coordinator is still running (or about to run) is never touched. Uncommitted work — and files
the agent made that ``.gitignore`` hides, caches aside — is committed as WIP before a worktree goes
(too many or too large such files keep the worktree, with the reason); a branch with unmerged commits stays unless forced, and then its head
is saved under ``refs/nborch/archive/`` first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WorktreeError
from ..gitcmd import worktree_list
from ..store import AttemptRecord, RunRecord
from .commit import commit_work, ignored_work
from .create import rmdir_empty
from .records import (
    ACTIVE_STATUSES,
    ARCHIVE_PREFIX,
    BRANCH_PREFIX,
    DONE_STATES,
    Attempt,
    CleanupReport,
    OrphanReport,
    attempt_of,
)
from .status import dirty_paths, live_runs

if TYPE_CHECKING:
    from .repo import Repo

__all__ = ["LIVE_REASON", "cleanup", "orphans"]

LIVE_REASON = "running in a live run (cancel it first)"

# Ignored files an agent made are committed (git add -f) before its worktree goes, up to this much.
MAX_IGNORED_FILES = 1000
MAX_IGNORED_BYTES = 50 * 10**6


def cleanup(manager: Repo, run_id: str | None = None, dry_run: bool = False,
            force: bool = False) -> CleanupReport:  # fmt: skip
    """Remove attempts' worktrees without losing work; see :meth:`WorktreeManager.cleanup`."""
    runs, records = manager.records(run_id)
    if run_id is not None and not runs:
        raise WorktreeError(f"no run {run_id!r} in {manager.repo} — see manager.runs()")
    by_id = {r.id: r for r in runs}
    heads = manager.branch_heads()
    registered = {e["worktree"]: e for e in worktree_list(manager.git)}
    live = live_runs(runs)
    report = CleanupReport(dry_run=dry_run)
    for rec in records:
        if rec.state in DONE_STATES:
            continue
        if rec.run_id in live and rec.status in ACTIVE_STATUSES:  # an agent may be working there
            report.kept.append((rec.path, LIVE_REASON))
            continue
        state = _cleanup_one(manager, rec, by_id[rec.run_id], heads, registered, report, force)
        if state and not dry_run:
            with manager.store() as store:
                store.update_attempt(rec.run_id, rec.task_id, rec.agent, state=state)
    if not dry_run:
        _finish_runs(manager, runs)
    return report


def _cleanup_one(manager: Repo, rec: AttemptRecord, run: RunRecord,
                 heads: dict[str, tuple[str, int]], registered: dict[str, dict[str, str]],
                 report: CleanupReport, force: bool) -> str | None:  # fmt: skip
    git = manager.git
    dry = report.dry_run
    att = attempt_of(rec, run.base_commit)
    path = str(att.path)
    exists = (att.path / ".git").exists()
    head = heads.get(att.branch, (None, 0))[0]
    wip = False
    if exists and (reason := _off_branch(manager, att, head)):
        report.kept.append((path, reason))
        return None
    ignored = ignored_work(git, att) if exists else []
    if ignored and (why := _too_big(att.path, ignored)):
        report.kept.append((path, why))
        return None
    dirty = exists and dirty_paths(git, att.path, att.managed_files)
    if dirty or ignored:
        if dry:
            wip = True
            if dirty:
                report.committed.append((path, "(uncommitted changes)"))
        else:
            what = "uncommitted work" + (" and ignored files" if ignored else "")
            try:
                sha = commit_work(manager, att, f"{what} of {att.agent} on task {att.task_id}, "
                                                "saved by nborch cleanup", wip=True, ignored=ignored)  # fmt: skip
            except WorktreeError as err:
                report.kept.append((path, f"could not save uncommitted changes, so nothing was removed: {err}"))
                return None
            if sha:
                report.committed.append((path, sha))
                head = sha
        if ignored:
            report.ignored.append((path, tuple(ignored)))
    if exists or path in registered:
        if not dry:
            r = git.run("worktree", "remove", "--force", path, locked=True, check=False)
            if not r.ok:
                report.kept.append((path, f"could not remove the worktree: {git.describe(r)}"))
                return None
        report.removed.append(path)
    if head is None:
        return "removed"
    if not wip and _merged(manager, head, run):
        if not dry:
            git.run("update-ref", "-d", f"refs/heads/{att.branch}", head, locked=True)
        return "removed"
    ahead = int(git.out("rev-list", "--count", f"{run.base_commit}..{head}")) + wip
    if not force:
        reason = (f"branch {att.branch} kept: {ahead} commit(s) not merged into "
                  f"{run.base_ref} — merge it, or cleanup(force=True) to save its head under "
                  f"{ARCHIVE_PREFIX}/ and delete it")  # fmt: skip
        report.kept.append((path, reason))
        return "branch-kept"
    ref = f"{ARCHIVE_PREFIX}/{run.id}/{att.task_slug}/{att.agent_slug}"
    if not dry:
        with git.lock():
            old = manager.resolve(ref)
            if old is not None and old != head:
                ref = f"{ref}-{head[:12]}"
            git.run("update-ref", ref, head)
            git.run("update-ref", "-d", f"refs/heads/{att.branch}", head)
    report.archived.append(ref)
    return "archived"


def _too_big(root: Path, files: list[str]) -> str | None:
    """Why ignored files are too many or too large to commit (the worktree then stays), or None."""
    size = sum((root / f).lstat().st_size for f in files if (root / f).is_file())
    if len(files) <= MAX_IGNORED_FILES and size <= MAX_IGNORED_BYTES:
        return None
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return (f"kept: {len(files)} files .gitignore hides ({size / 1e6:.1f} MB: {shown}) were made "
            f"here and are too many or too large to save in a commit (limits {MAX_IGNORED_FILES} "
            f"files, {MAX_IGNORED_BYTES // 10**6} MB) — move what you need, delete the rest, and "
            "run cleanup again")  # fmt: skip


def _off_branch(manager: Repo, att: Attempt, head: str | None) -> str | None:
    """Why a worktree must stay because its HEAD left the attempt's branch, or None.

    Commits on a detached HEAD live only in that worktree's reflog, which goes with it.
    """
    git = manager.git
    wt = git.at(att.path)
    if wt.run("symbolic-ref", "-q", "HEAD", check=False).stdout.strip() == f"refs/heads/{att.branch}":
        return None
    now = wt.run("rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()
    safe = not now or any(git.ok("merge-base", "--is-ancestor", now, c)
                          for c in (head, att.base_commit) if c)  # fmt: skip
    if safe and not dirty_paths(git, att.path, att.managed_files):
        return None
    return (f"the worktree is not on its branch {att.branch} (HEAD is {now[:8] or 'unborn'}) "
            "and holds work that is not on that branch; nothing was removed — check out the "
            "branch there (or save the work elsewhere) and clean up again")  # fmt: skip


def _merged(manager: Repo, head: str, run: RunRecord) -> bool:
    """Whether ``head`` is in the base commit or in the base ref's current tip."""
    git = manager.git
    if head == run.base_commit or git.ok("merge-base", "--is-ancestor", head, run.base_commit):
        return True
    tip = manager.resolve(run.base_ref)
    return tip is not None and git.ok("merge-base", "--is-ancestor", head, tip)


def _finish_runs(manager: Repo, runs: list[RunRecord]) -> None:
    with manager.store() as store:
        for run in runs:
            states = {a.state for a in store.attempts(run.id)}
            if states and states <= {*DONE_STATES, "branch-kept"} and run.status != "cleaned":
                store.update_run(run.id, status="cleaned")
            rmdir_empty(Path(run.root) / run.id)


def orphans(manager: Repo, prune: bool = False) -> OrphanReport:
    """Worktrees and branches no run knows, and vanished ones; see :meth:`WorktreeManager.orphans`."""
    runs, records = manager.records()
    roots = {manager.root} | {Path(r.root) for r in runs}
    known_paths = {str(Path(a.path)) for a in records}
    known_branches = {a.branch for a in records}
    report = OrphanReport()
    listed = worktree_list(manager.git)
    for e in listed:
        p = e["worktree"]
        ours = e.get("branch", "").startswith(f"refs/heads/{BRANCH_PREFIX}/") or any(
            Path(p).is_relative_to(r) for r in roots)
        if "prunable" in e:
            report.prunable.append(p)
            if prune and ours:
                manager.git.run("worktree", "remove", p, locked=True, check=False)
        elif ours and p not in known_paths:
            report.unknown_worktrees.append(p)
    listed_paths = {e["worktree"] for e in listed}
    for root in sorted(roots):
        for folder in sorted(root.glob("*/*")) if root.is_dir() else []:
            if folder.is_dir() and str(folder) not in known_paths | listed_paths:
                report.unknown_worktrees.append(str(folder))
    report.unknown_branches.extend(b for b in manager.branch_heads() if b not in known_branches)
    live: dict[str, list[bool]] = {}
    for a in records:
        if a.state in (*DONE_STATES, "branch-kept"):
            continue
        gone = not (Path(a.path) / ".git").exists()
        live.setdefault(a.run_id, []).append(gone)
        if gone:
            report.missing.append((a.run_id, a.task_id, a.agent, a.path))
    report.vanished_runs.extend(r for r, gone in live.items() if all(gone))
    return report
