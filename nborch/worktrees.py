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

- :mod:`nborch.worktree_records`: ``RunInfo``, ``Attempt``, ``WorktreeStatus``, the reports;
- :mod:`nborch.worktree_create`: safe names, creation, rollback;
- :mod:`nborch.worktree_commit`: an attempt's work committed, nborch's own files left out;
- :mod:`nborch.worktree_status`: head, commits ahead, uncommitted files per attempt;
- :mod:`nborch.worktree_heads`: many branch heads and ahead counts in a few git calls;
- :mod:`nborch.worktree_cleanup`: cleanup without loss, and orphans.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from . import worktree_cleanup, worktree_commit, worktree_create, worktree_status
from .display import html_table
from .errors import WorktreeError
from .gitcmd import Git
from .names import short_hash, slugify
from .store import AttemptRecord, RunRecord, Store
from .worktree_commit import FALLBACK_IDENTITY, identity_env
from .worktree_records import (
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
from .worktree_status import porcelain_paths

if TYPE_CHECKING:
    from .plan import Plan, Task

__all__ = ["ARCHIVE_PREFIX", "BRANCH_PREFIX", "FALLBACK_IDENTITY", "STATUS_COLUMNS", "Attempt",
           "CleanupReport", "OrphanReport", "RunInfo", "WorktreeManager", "WorktreeStatus",
           "default_root", "identity_env"]  # fmt: skip

MAX_WORKERS = 4
_T = TypeVar("_T")
_R = TypeVar("_R")


def default_root(repo: Path, common_dir: Path) -> Path:
    """Where a repository's worktrees go when no ``root`` is given.

    ``$NBORCH_WORKTREE_ROOT/<repo>-<hash>`` if that variable is set, else
    ``$XDG_STATE_HOME/nborch/worktrees/<repo>-<hash>`` (``~/.local/state/...``;
    ``%LOCALAPPDATA%\\nborch\\worktrees\\...`` on Windows). State, not cache: a worktree can hold an
    agent's uncommitted work, and cache folders are emptied by cleaners without asking. The hash
    of the git dir keeps two repositories with the same folder name apart.
    """
    base = os.environ.get("NBORCH_WORKTREE_ROOT")
    if base:
        parent = Path(base).expanduser()
    elif os.name == "nt":
        parent = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        parent = parent / "nborch" / "worktrees"
    else:
        parent = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        parent = parent / "nborch" / "worktrees"
    return (parent / f"{slugify(repo.name, 32)}-{short_hash(str(common_dir), 8)}").resolve()


class WorktreeManager:
    """Creates, inspects and cleans up the worktrees of nborch runs in one repository.

    Parameters
    ----------
    repo
        A folder inside a non-bare git repository with at least one commit.
    root
        Where worktrees of new runs go; default :func:`default_root`. Existing runs keep the
        root they were made with.
    max_workers
        Worktrees checked out in parallel.

    Raises
    ------
    WorktreeError
        If ``repo`` is missing, not a git repository, bare, or has no commit.

    Example
    -------
    >>> manager = WorktreeManager("path/to/repo")                      # doctest: +SKIP
    >>> run = manager.new_run(plan)                                     # doctest: +SKIP
    >>> attempts = manager.create(run, team.attempts)                   # doctest: +SKIP
    """

    def __init__(self, repo: str | Path, root: str | Path | None = None, *,
                 max_workers: int = MAX_WORKERS):  # fmt: skip
        path = Path(repo).expanduser().absolute()
        if not path.is_dir():
            what = "is a file" if path.exists() else "does not exist"
            raise WorktreeError(f"{path} {what} — pass the folder of a git repository")
        # The usual case takes one git call; when it fails, the calls below say what is wrong.
        fast = Git(path).run("rev-parse", "--is-bare-repository", "--is-inside-work-tree",
                             "--git-common-dir", "--show-toplevel", "HEAD^{commit}", "--",
                             check=False)  # fmt: skip
        if fast.ok and fast.stdout.startswith("false\ntrue\n"):
            common, top = fast.stdout.splitlines()[2:4]
            self.common_dir = (path / common).resolve()
            self._git = Git(Path(top).resolve(), self.common_dir / "nborch" / "git.lock")
            self.repo = self._git.cwd
        else:
            self._probe(path)
        self.root = Path(root).expanduser().resolve() if root else default_root(self.repo, self.common_dir)
        self.max_workers = max(1, max_workers)
        self.warnings: list[str] = []
        if self.root.is_relative_to(self.repo):
            self.warnings.append(f"worktree root {self.root} is inside the working tree "
                                 f"{self.repo}; its worktrees will show up in 'git status' there")  # fmt: skip

    def _probe(self, path: Path) -> None:
        """Find the repository around ``path`` one question at a time, or say what is wrong."""
        probe = Git(path).run("rev-parse", "--is-bare-repository", "--is-inside-work-tree",
                              "--git-common-dir", check=False)  # fmt: skip
        if not probe.ok:
            raise WorktreeError(f"{path} is not a git repository ({probe.stderr.strip()}) — pass "
                                "a repository, or run 'git init' there and commit your files")  # fmt: skip
        bare, inside, common = probe.stdout.splitlines()[:3]
        if bare == "true":
            raise WorktreeError(f"{path} is a bare repository: it has no working tree to branch "
                                f"worktrees from — clone it ('git clone {path} DEST') and pass the "
                                "clone")  # fmt: skip
        if inside != "true":
            raise WorktreeError(f"{path} is inside a git dir, not a working tree — pass the "
                                "repository's top folder")  # fmt: skip
        self.common_dir = (path / common).resolve()
        self._git = Git(path, self.common_dir / "nborch" / "git.lock")
        self.repo = Path(self._git.out("rev-parse", "--show-toplevel")).resolve()
        self._git = self._git.at(self.repo)
        if not self._git.ok("rev-parse", "--verify", "-q", "HEAD^{commit}") and not self._git.out(
                "for-each-ref", "--count=1", "refs/heads", "refs/tags"):  # fmt: skip
            raise WorktreeError(f"{self.repo} has no commit yet; attempts start from a commit — "
                                "commit something first (git add -A && git commit -m 'first')")  # fmt: skip

    # -- store and small helpers ----------------------------------------------------------

    def git_at(self, path: str | Path) -> Git:
        """Git running in ``path`` (a worktree of this repository), sharing its lock."""
        return self._git.at(path)

    @property
    def store_path(self) -> Path:
        return Store.path_for(self.common_dir)

    def store(self) -> Store:
        """Open this repository's run history (close it, or use ``with``)."""
        return Store(self.store_path)

    def _records(self, run_id: str | None = None) -> tuple[list[RunRecord], list[AttemptRecord]]:
        if not self.store_path.exists():
            return [], []
        with self.store() as store:
            runs = store.runs() if run_id is None else [r for r in [store.get_run(run_id)] if r]
            return runs, store.attempts(run_id)

    def _pool(self, fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        if len(items) <= 1 or self.max_workers == 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(min(self.max_workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def dirty_files(self) -> list[str]:
        """Uncommitted changes in the main working tree (attempts start from a commit and will
        not see them)."""
        out = self._git.out("status", "--porcelain", "-z")
        return porcelain_paths(out)

    def _branch_heads(self) -> dict[str, tuple[str, int]]:
        out = self._git.out("for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00"
                            "%(committerdate:unix)", f"refs/heads/{BRANCH_PREFIX}/")  # fmt: skip
        heads = {}
        for line in out.splitlines():
            name, sha, when = line.split("\0")
            heads[name] = (sha, int(when or 0))
        return heads

    def _resolve(self, ref: str) -> str | None:
        if ref.startswith("-"):
            return None
        result = self._git.run("rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}",
                               check=False)  # fmt: skip
        return result.stdout.strip() if result.ok else None


    # -- runs -----------------------------------------------------------------------------

    def new_run(self, plan: Plan | None = None, base: str | None = None,
                run_id: str | None = None) -> RunInfo:  # fmt: skip
        """Start a run: resolve its base commit once and record it.

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
            head_branch = self._git.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
            base_ref = head_branch.stdout.strip() or "HEAD"
            commit = self._resolve("HEAD")
            if commit is None:
                raise WorktreeError(f"HEAD of {self.repo} has no commit yet — commit first, or "
                                    "pass base= naming a branch that has commits")  # fmt: skip
        else:
            commit = self._resolve(base_ref)
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
                taken = (self.root / rid).exists() or self._git.out(
                    "for-each-ref", "--count=1", f"refs/heads/{BRANCH_PREFIX}/{rid}/")
                record = RunRecord(
                    id=rid, created_at=datetime.now(UTC), repo=str(self.repo), base_ref=base_ref,
                    base_commit=commit, root=str(self.root), settings_json=settings,
                    plan_path=str(plan.path) if plan is not None and plan.path else None,
                    plan_title=plan.title if plan is not None else None)  # fmt: skip
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

    def runs(self) -> list[RunInfo]:
        """Every run recorded for this repository, oldest first."""
        return [run_info(r) for r in self._records()[0]]

    def run(self, run_id: str) -> RunInfo:
        """One recorded run; raises WorktreeError if there is none with that id."""
        runs, _ = self._records(run_id)
        if not runs:
            raise WorktreeError(f"no run {run_id!r} in {self.repo} — see manager.runs()")
        return run_info(runs[0])

    def attempts(self, run_id: str | None = None) -> list[Attempt]:
        """The attempts of one run (or all runs) as :class:`Attempt` objects."""
        runs, records = self._records(run_id)
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

    def commit_work(self, attempt: Attempt, message: str, wip: bool = False) -> str | None:
        """Commit everything the agent changed in the worktree, leaving nborch's files out.

        Files in ``attempt.managed_files`` are reset to the base commit's version in the index
        (added ones are unstaged), so the branch tip never carries nborch's config files.

        Returns
        -------
        str | None
            The new commit's sha, or None when there was nothing to commit.
        """
        return worktree_commit.commit_work(self, attempt, message, wip=wip)

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
        runs, records = self._records()
        live = sum(1 for a in records if a.state not in (*DONE_STATES, "branch-kept"))
        return f"{self.repo}: {len(runs)} runs, {len(records)} attempts ({live} with worktrees)"

    def __repr__(self) -> str:
        return f"<WorktreeManager {self._summary()}, root {self.root}>"

    def _repr_html_(self) -> str:
        _, records = self._records()
        rows = [(a.run_id, a.task_id, a.agent, a.branch, a.path, a.state) for a in records]
        return html_table(("run", "task", "agent", "branch", "path", "state"), rows,
                          f"WorktreeManager {self._summary()}")  # fmt: skip
