"""One git worktree and branch per attempt, made from a fixed base commit, cleaned up without loss.

Layout for a run ``R`` and an attempt of task slug ``T`` by agent slug ``A``:

- branch ``nborch/R/T/A``, created from the run's base commit (resolved once, in :meth:`new_run`);
- worktree ``<root>/R/T--A``; the root is outside the user's working tree by default (see
  :func:`default_root`) so editors, test runners and ``git status`` never see the copies;
- attempt folder ``<git-common-dir>/nborch/runs/R/T--A/`` for nborch's own files (prompt, logs,
  the agent's HOME), never inside the worktree, so it cannot end up in a commit;
- archive ref ``refs/nborch/archive/R/T/A`` where ``cleanup(force=True)`` saves a branch's head.

Every name passes through :func:`nborch.names.slugify` and is checked against git's ref rules;
every path is checked to stay under the root. Ref and worktree changes hold the repository lock of
:mod:`nborch.gitcmd`; the file checkout of a new worktree runs outside it, in parallel.

:class:`WorktreeManager` is the one entry point; its stages live in modules of their own, and
their public names are re-exported here:

- :mod:`nborch.workspace.records`: ``RunInfo``, ``Attempt``, ``WorktreeStatus``, the reports;
- :mod:`nborch.workspace.create`: safe names, creation, rollback;
- :mod:`nborch.workspace.commit`: an attempt's work committed, nborch's own files left out;
- :mod:`nborch.workspace.status`: head, commits ahead, uncommitted files per attempt;
- :mod:`nborch.workspace.heads`: many branch heads and ahead counts in a few git calls;
- :mod:`nborch.workspace.cleanup`: cleanup without loss, and orphans.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..display import html_table
from ..errors import WorktreeError
from ..names import slugify
from ..procs import process_identity
from ..store import RunRecord
from . import cleanup as worktree_cleanup
from . import commit as worktree_commit
from . import create as worktree_create
from . import status as worktree_status
from .commit import FALLBACK_IDENTITY, identity_env
from .records import (
    ARCHIVE_PREFIX,
    BRANCH_PREFIX,
    DONE_STATES,
    STATUS_COLUMNS,
    Attempt,
    CleanupReport,
    OrphanReport,
    RunInfo,
    WorktreeStatus,
    attempt_of,
    run_info,
)
from .repo import Repo, default_root

if TYPE_CHECKING:
    from ..plan.model import Plan, Task

__all__ = ["ARCHIVE_PREFIX", "BRANCH_PREFIX", "FALLBACK_IDENTITY", "STATUS_COLUMNS", "Attempt",
           "CleanupReport", "OrphanReport", "RunInfo", "WorktreeManager", "WorktreeStatus",
           "default_root", "identity_env"]  # fmt: skip


class WorktreeManager(Repo):
    """Creates, inspects and cleans up the worktrees of nborch runs in one repository.

    Takes the parameters of :class:`~nborch.workspace.repo.Repo` (``repo``, ``root``,
    ``max_workers``) and raises as it does.

    Example
    -------
    >>> manager = WorktreeManager("path/to/repo")                      # doctest: +SKIP
    >>> run = manager.new_run(plan)                                     # doctest: +SKIP
    >>> attempts = manager.create(run, team.attempts)                   # doctest: +SKIP
    """

    # -- runs -----------------------------------------------------------------------------

    def new_run(self, plan: Plan | None = None, base: str | None = None,
                run_id: str | None = None, live: bool = False) -> RunInfo:  # fmt: skip
        """Start a run: resolve its base commit once and record it.

        ``live``: record it as run by this process from the start (a coordinator preparing it),
        so a ``cleanup`` meanwhile leaves its new worktrees alone.

        Parameters
        ----------
        plan
            The plan being run; its ``base:`` setting is used when ``base`` is not given.
        base
            Branch, tag or commit the attempts start from; default the plan's base, else HEAD.
        run_id
            An id of your own (slugged); default ``YYYYMMDD-HHMMSS-xxxx``.

        Raises
        ------
        WorktreeError
            If the base is not a commit, or ``run_id`` is taken.
        """
        base_ref = base or (plan.base if plan is not None else None)
        if base_ref is None:
            head_branch = self.git.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
            base_ref = head_branch.stdout.strip() or "HEAD"
            commit = self.resolve("HEAD")
            if commit is None:
                raise WorktreeError(f"HEAD of {self.repo} has no commit yet — commit first, or "
                                    "pass base= naming a branch that has commits")  # fmt: skip
        else:
            commit = self.resolve(base_ref)
            if commit is None:
                raise WorktreeError(f"base {base_ref!r} is not a commit in {self.repo} — name a "
                                    "branch, tag or commit that exists ('git branch -a' lists "
                                    "branches), or leave base unset to start from HEAD")  # fmt: skip
        warnings = list(self.warnings)
        dirty = self.dirty_files()
        if dirty:
            warnings.append(f"{len(dirty)} uncommitted change(s) in {self.repo} "
                            f"(e.g. {dirty[0]}); attempts start from commit {commit[:8]} and "
                            "will not see them")  # fmt: skip
        settings = json.dumps(dict(plan.settings) if plan is not None else {}, default=str)
        with self.store() as store:
            for _ in range(50):
                rid = slugify(run_id, 40) if run_id else (
                    time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2))
                taken = (self.root / rid).exists() or self.git.out(
                    "for-each-ref", "--count=1", f"refs/heads/{BRANCH_PREFIX}/{rid}/")
                record = RunRecord(
                    id=rid, created_at=datetime.now(UTC), repo=str(self.repo), base_ref=base_ref,
                    base_commit=commit, root=str(self.root), settings_json=settings,
                    plan_path=str(plan.path) if plan is not None and plan.path else None,
                    plan_title=plan.title if plan is not None else None)  # fmt: skip
                if live:
                    pid, started = process_identity()
                    record = replace(record, status="running", coordinator_pid=pid,
                                     coordinator_started=started)  # fmt: skip
                try:
                    if not taken:
                        store.add_run(record)
                        break
                except ValueError:
                    pass
                if run_id:
                    raise WorktreeError(f"run id {rid!r} is already used in {self.repo} — pick "
                                        "another, or leave run_id unset for a fresh one")  # fmt: skip
            else:  # pragma: no cover - 50 random collisions in a row
                raise WorktreeError("could not find a free run id — try again")
        return run_info(record, plan=plan, warnings=tuple(warnings))

    def attempts(self, run_id: str | None = None) -> list[Attempt]:
        """The attempts of one run (or all runs) as :class:`Attempt` objects."""
        runs, records = self.records(run_id)
        base = {r.id: r.base_commit for r in runs}
        return [attempt_of(a, base[a.run_id]) for a in records]

    # -- create ---------------------------------------------------------------------------

    def create(self, run: RunInfo | str, attempts: Iterable[tuple[Task | str, str]]) -> list[Attempt]:
        """Make one branch and worktree per (task, agent) from the run's base commit.

        All or nothing: if one creation fails, everything this call made is removed again and a
        WorktreeError names the attempt that failed.
        """
        return worktree_create.create(self, run, attempts)

    def record_managed(self, attempt: Attempt, paths: Iterable[str | Path]) -> Attempt:
        """Note files nborch wrote into the worktree (config files), so commits leave them out.

        ``paths`` are relative to the worktree (absolute paths inside it are accepted).
        """
        return worktree_commit.record_managed(self, attempt, paths)

    # -- commit ---------------------------------------------------------------------------

    def commit_work(self, attempt: Attempt, message: str, wip: bool = False,
                    ignored: Iterable[str] = ()) -> str | None:  # fmt: skip
        """Commit everything the agent changed in the worktree, leaving nborch's files out.

        Files in ``attempt.managed_files`` are reset to the base commit's version in the index
        (added ones are unstaged), so the branch tip never carries nborch's config files.

        Returns
        -------
        str | None
            The new commit's sha, or None when there was nothing to commit.
        """
        return worktree_commit.commit_work(self, attempt, message, wip=wip, ignored=ignored)

    # -- status ---------------------------------------------------------------------------

    def status_records(self, run_id: str | None = None, check: bool = False) -> list[WorktreeStatus]:
        """One :class:`WorktreeStatus` per attempt (for JSON and the CLI).

        Parameters
        ----------
        run_id
            Only this run; default every run.
        check
            Count uncommitted files in every worktree that exists; by default only in those whose
            work no coordinator committed (not run yet, pending, blocked, running, interrupted).
            The others get ``dirty=None``.
        """
        return worktree_status.status_records(self, run_id, check=check)

    def status(self, run_id: str | None = None, check: bool = False):  # -> pandas.DataFrame
        """One row per attempt; columns ``run, task, agent, branch, path, head, ahead`` (commits
        ahead of base), ``dirty`` (changed files, nborch's own not counted; ``<NA>`` where not
        looked at, see ``check`` in :meth:`status_records`), ``last_change`` (UTC datetime of the
        newest commit or changed file), ``exists`` (worktree folder still there), ``state`` (the
        worktree's life) and ``status`` (the attempt's execution status)."""
        return worktree_status.status_frame(self.status_records(run_id, check=check))

    # -- cleanup and orphans --------------------------------------------------------------

    def cleanup(self, run_id: str | None = None, dry_run: bool = False,
                force: bool = False) -> CleanupReport:  # fmt: skip
        """Remove attempts' worktrees without losing work.

        Uncommitted changes are first committed as a WIP commit; a branch with commits not merged
        into the base is kept (its worktree goes) unless ``force``, and then its head is saved
        under ``refs/nborch/archive/<run>/<task>/<agent>`` before the branch is deleted; a branch
        with nothing beyond the base is deleted with its worktree. A worktree whose folder was
        deleted by hand is de-registered. nborch's attempt folders (prompts, logs) are kept.

        Parameters
        ----------
        run_id
            Only this run; default every run.
        dry_run
            Report what would happen and change nothing.
        force
            Archive and delete unmerged branches too.
        """
        return worktree_cleanup.cleanup(self, run_id, dry_run=dry_run, force=force)

    def orphans(self, prune: bool = False) -> OrphanReport:
        """Report worktrees and ``nborch/*`` branches no run knows, and attempts whose worktree
        folder vanished.

        Parameters
        ----------
        prune
            Also de-register nborch worktrees whose folder is gone (what ``git worktree prune``
            would do, limited to nborch's: a plain prune would also drop the user's own worktrees
            on, say, an unmounted drive). Nothing with a folder is ever touched.
        """
        return worktree_cleanup.orphans(self, prune=prune)

    # -- display --------------------------------------------------------------------------

    def _summary(self) -> str:
        runs, records = self.records()
        live = sum(1 for a in records if a.state not in (*DONE_STATES, "branch-kept"))
        return f"{self.repo}: {len(runs)} runs, {len(records)} attempts ({live} with worktrees)"

    def __repr__(self) -> str:
        return f"<WorktreeManager {self._summary()}, root {self.root}>"

    def _repr_html_(self) -> str:
        _, records = self.records()
        rows = [(a.run_id, a.task_id, a.agent, a.branch, a.path, a.state) for a in records]
        return html_table(("run", "task", "agent", "branch", "path", "state"), rows,
                          f"WorktreeManager {self._summary()}")  # fmt: skip
