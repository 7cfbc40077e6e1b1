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
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from .display import html_table, text_table
from .errors import WorktreeError
from .gitcmd import Git, ref_problem, split_z
from .names import short_hash, slugify
from .store import AttemptRecord, RunRecord, Store

if TYPE_CHECKING:
    from .plan import Plan, Task

__all__ = ["Attempt", "CleanupReport", "OrphanReport", "RunInfo", "WorktreeManager",
           "WorktreeStatus", "default_root"]  # fmt: skip

BRANCH_PREFIX = "nborch"
ARCHIVE_PREFIX = "refs/nborch/archive"
FALLBACK_IDENTITY = ("nborch", "nborch@localhost")
MAX_WORKERS = 4
_DONE = ("removed", "archived")  # attempt states with neither worktree nor branch left
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


@dataclass(frozen=True, slots=True, repr=False)
class RunInfo:
    """A run: its id, the base commit every attempt starts from, and where its worktrees go."""

    id: str
    repo: Path
    root: Path
    base_ref: str
    base_commit: str
    created_at: datetime
    plan_title: str | None = None
    plan_path: str | None = None
    status: str = "prepared"
    warnings: tuple[str, ...] = ()
    plan: Plan | None = field(default=None, compare=False)

    @property
    def path(self) -> Path:
        """The folder holding this run's worktrees."""
        return self.root / self.id

    def __repr__(self) -> str:
        warn = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        return f"<RunInfo {self.id}: {self.status}, base {self.base_ref}@{self.base_commit[:8]}{warn}>"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt's room: branch, worktree, nborch's own folder, and the files nborch wrote."""

    run_id: str
    task_id: str
    task_slug: str
    agent: str
    branch: str
    path: Path
    attempt_dir: Path
    base_commit: str
    managed_files: tuple[str, ...] = ()

    @property
    def agent_slug(self) -> str:
        return self.branch.rsplit("/", 1)[-1]

    @property
    def name(self) -> str:
        """``<task-slug>--<agent-slug>``: the worktree's and the attempt folder's name."""
        return f"{self.task_slug}--{self.agent_slug}"


@dataclass(frozen=True, slots=True)
class WorktreeStatus:
    """One row of :meth:`WorktreeManager.status`."""

    run: str
    task: str
    agent: str
    branch: str
    path: str
    head: str | None
    ahead: int
    dirty: int
    last_change: datetime | None
    exists: bool
    state: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_change"] = self.last_change.isoformat() if self.last_change else None
        return out


STATUS_COLUMNS = tuple(WorktreeStatus.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class CleanupReport:
    """What :meth:`WorktreeManager.cleanup` did (or, with ``dry_run``, would do).

    ``removed``: worktree paths removed (or de-registered when the folder was already gone);
    ``kept``: (path, reason) for every attempt whose branch or worktree stays; ``archived``: refs
    under ``refs/nborch/archive/`` holding the heads of force-deleted branches; ``committed``:
    (path, sha) of the WIP commits made to save uncommitted work first.
    """

    removed: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    committed: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``nborch cleanup --json`` document."""
        return {"removed": list(self.removed),
                "kept": [{"path": p, "reason": r} for p, r in self.kept],
                "archived": list(self.archived)}  # fmt: skip

    def _rows(self) -> list[tuple[str, str, str]]:
        verb = "would " if self.dry_run else ""
        return ([(f"{verb}commit WIP", p, sha) for p, sha in self.committed]
                + [(f"{verb}remove", p, "") for p in self.removed]
                + [(f"{verb}keep", p, r) for p, r in self.kept]
                + [(f"{verb}archive", ref, "") for ref in self.archived])  # fmt: skip

    def __repr__(self) -> str:
        dry = " (dry run)" if self.dry_run else ""
        return (f"<CleanupReport{dry}: {len(self.removed)} removed, {len(self.kept)} kept, "
                f"{len(self.archived)} archived, {len(self.committed)} WIP commits>")  # fmt: skip

    def __str__(self) -> str:
        return repr(self) + "\n" + text_table(("action", "what", "detail"), self._rows(), 70)

    def _repr_html_(self) -> str:
        return html_table(("action", "what", "detail"), self._rows(), repr(self)[1:-1])


@dataclass(frozen=True, slots=True)
class OrphanReport:
    """Things that do not match the run history; nothing here is changed by reporting it.

    ``unknown_worktrees``: worktrees on ``nborch/*`` branches or folders under a root that no run
    knows; ``unknown_branches``: ``nborch/*`` branches no run knows; ``missing``: (run, task,
    agent, path) of attempts whose worktree folder vanished; ``vanished_runs``: runs all of whose
    worktrees vanished; ``prunable``: every worktree git itself would prune (folder gone).
    """

    unknown_worktrees: list[str] = field(default_factory=list)
    unknown_branches: list[str] = field(default_factory=list)
    missing: list[tuple[str, str, str, str]] = field(default_factory=list)
    vanished_runs: list[str] = field(default_factory=list)
    prunable: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.unknown_worktrees, self.unknown_branches, self.missing, self.prunable))

    def to_json(self) -> dict[str, Any]:
        return {"unknown_worktrees": list(self.unknown_worktrees),
                "unknown_branches": list(self.unknown_branches),
                "missing": [dict(zip(("run", "task", "agent", "path"), m, strict=True))
                            for m in self.missing],
                "vanished_runs": list(self.vanished_runs), "prunable": list(self.prunable)}  # fmt: skip

    def _rows(self) -> list[tuple[str, str]]:
        return ([("unknown worktree", p) for p in self.unknown_worktrees]
                + [("unknown branch", b) for b in self.unknown_branches]
                + [("worktree vanished", f"{m[3]} (run {m[0]}, task {m[1]}, agent {m[2]})")
                   for m in self.missing]
                + [("run vanished", r) for r in self.vanished_runs]
                + [("prunable", p) for p in self.prunable])  # fmt: skip

    def __repr__(self) -> str:
        return (f"<OrphanReport: {len(self.unknown_worktrees)} unknown worktrees, "
                f"{len(self.unknown_branches)} unknown branches, {len(self.missing)} vanished, "
                f"{len(self.prunable)} prunable>")  # fmt: skip

    def __str__(self) -> str:
        return repr(self) + "\n" + text_table(("kind", "what"), self._rows(), 90)

    def _repr_html_(self) -> str:
        return html_table(("kind", "what"), self._rows(), repr(self)[1:-1])


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
        self.root = Path(root).expanduser().resolve() if root else default_root(self.repo, self.common_dir)
        self.max_workers = max(1, max_workers)
        self.warnings: list[str] = []
        if self.root.is_relative_to(self.repo):
            self.warnings.append(f"worktree root {self.root} is inside the working tree "
                                 f"{self.repo}; its worktrees will show up in 'git status' there")  # fmt: skip

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
        return _porcelain_paths(out)

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
        return _run_info(record, plan=plan, warnings=tuple(warnings))

    def runs(self) -> list[RunInfo]:
        """Every run recorded for this repository, oldest first."""
        return [_run_info(r) for r in self._records()[0]]

    def run(self, run_id: str) -> RunInfo:
        """One recorded run; raises WorktreeError if there is none with that id."""
        runs, _ = self._records(run_id)
        if not runs:
            raise WorktreeError(f"no run {run_id!r} in {self.repo} — see manager.runs()")
        return _run_info(runs[0])

    def attempts(self, run_id: str | None = None) -> list[Attempt]:
        """The attempts of one run (or all runs) as :class:`Attempt` objects."""
        runs, records = self._records(run_id)
        base = {r.id: r.base_commit for r in runs}
        return [_attempt(a, base[a.run_id]) for a in records]

    # -- create ---------------------------------------------------------------------------

    def create(self, run: RunInfo | str, attempts: Iterable[tuple[Task | str, str]]) -> list[Attempt]:
        """Make one branch and worktree per (task, agent) from the run's base commit.

        All or nothing: if one creation fails, everything this call made is removed again and a
        WorktreeError names the attempt that failed.
        """
        info = run if isinstance(run, RunInfo) else self.run(run)
        with self.store() as store:
            existing = store.attempts(info.id)
        todo = self._name_attempts(info, list(attempts), existing)
        if not todo:
            return []
        with self.store() as store:
            try:
                store.add_attempts(_record(a, "creating") for a in todo)
            except ValueError as err:
                raise WorktreeError(f"cannot record attempts of run {info.id}: {err}") from err
        made: dict[str, set[str]] = {a.name: set() for a in todo}
        run_dir_existed = info.path.exists()
        errors: list[tuple[Attempt, WorktreeError]] = []

        def make(a: Attempt) -> None:
            if errors:
                return
            try:
                self._make(a, made[a.name])
            except Exception as err:  # anything half-made is rolled back below
                errors.append((a, err if isinstance(err, WorktreeError) else WorktreeError(str(err))))

        self._pool(make, todo)
        if errors:
            failed, err = errors[0]
            problems = self._rollback(info, todo, made, run_dir_existed)
            extra = f"; rollback problems: {'; '.join(problems)}" if problems else ""
            raise WorktreeError(f"could not create the worktree of task {failed.task_id!r} × agent "
                                f"{failed.agent!r} at {failed.path}: {err} — nothing of this call "
                                f"was kept{extra}") from err  # fmt: skip
        with self.store() as store:
            for a in todo:
                store.update_attempt(a.run_id, a.task_id, a.agent, state="prepared", head=a.base_commit)
        return todo

    def _name_attempts(self, info: RunInfo, pairs: list[tuple[Task | str, str]],
                       existing: list[AttemptRecord]) -> list[Attempt]:  # fmt: skip
        task_slug = {a.task_id: a.task_slug for a in existing}
        agent_slug = {a.agent: a.branch.rsplit("/", 1)[-1] for a in existing}
        keys = {(a.task_id, a.agent) for a in existing}
        out = []
        for task, agent in pairs:
            task_id = task if isinstance(task, str) else task.id
            preferred = task.slug if not isinstance(task, str) else (
                info.plan[task].slug if info.plan is not None and task in info.plan else "")
            if not isinstance(agent, str) or not agent.strip() or not task_id.strip():
                raise WorktreeError(f"attempt ({task_id!r}, {agent!r}) needs a task id and an "
                                    "agent name that are not empty")  # fmt: skip
            if (task_id, agent) in keys:
                raise WorktreeError(f"task {task_id!r} × agent {agent!r} is listed twice or already "
                                    f"exists in run {info.id} — list each pair once")  # fmt: skip
            keys.add((task_id, agent))
            if task_id not in task_slug:
                task_slug[task_id] = _free_slug(task_id, preferred, set(task_slug.values()), 48)
            if agent not in agent_slug:
                agent_slug[agent] = _free_slug(agent, "", set(agent_slug.values()), 32)
            ts, ags = task_slug[task_id], agent_slug[agent]
            branch = f"{BRANCH_PREFIX}/{info.id}/{ts}/{ags}"
            problem = ref_problem(f"refs/heads/{branch}")
            if problem:  # slugs make this impossible; the check guards future changes
                raise WorktreeError(f"branch name {branch!r} {problem} — report this as a bug")
            path = (info.path / f"{ts}--{ags}").resolve()
            if not path.is_relative_to(info.root.resolve()):
                raise WorktreeError(f"worktree path {path} would leave the root {info.root}")
            attempt_dir = self.common_dir / BRANCH_PREFIX / "runs" / info.id / f"{ts}--{ags}"
            out.append(Attempt(info.id, task_id, ts, agent, branch, path, attempt_dir, info.base_commit))
        return out

    def _make(self, a: Attempt, made: set[str]) -> None:
        a.attempt_dir.mkdir(parents=True)
        made.add("dir")
        a.path.parent.mkdir(parents=True, exist_ok=True)
        with self._git.lock():  # refs and worktree registrations: one git at a time per repo
            self._git.run("branch", "--no-track", a.branch, a.base_commit)
            made.add("branch")
            self._git.run("worktree", "add", "--no-checkout", "--quiet", str(a.path), a.branch)
            made.add("worktree")
        # The checkout writes only this worktree's files and index: safe to run in parallel.
        self._git.at(a.path).run("reset", "--hard", "--quiet", "--no-recurse-submodules")

    def _rollback(self, info: RunInfo, todo: list[Attempt], made: dict[str, set[str]],
                  run_dir_existed: bool) -> list[str]:  # fmt: skip
        problems = []
        for a in todo:
            done = made[a.name]
            if "worktree" in done:
                r = self._git.run("worktree", "remove", "--force", str(a.path), locked=True, check=False)
                if not r.ok:
                    problems.append(self._git.describe(r))
            if "branch" in done:
                r = self._git.run("branch", "-D", a.branch, locked=True, check=False)
                if not r.ok:
                    problems.append(self._git.describe(r))
            if "dir" in done:
                shutil.rmtree(a.attempt_dir, ignore_errors=True)
        with self.store() as store:
            store.delete_attempts(info.id, [(a.task_id, a.agent) for a in todo])
        if not run_dir_existed:
            _rmdir_empty(info.path)
        _rmdir_empty(self.common_dir / BRANCH_PREFIX / "runs" / info.id)
        return problems

    def record_managed(self, attempt: Attempt, paths: Iterable[str | Path]) -> Attempt:
        """Note files nborch wrote into the worktree (config files), so commits leave them out.

        ``paths`` are relative to the worktree (absolute paths inside it are accepted).
        """
        rel = set(attempt.managed_files)
        for p in paths:
            p = Path(p)
            if p.is_absolute():
                if not p.resolve().is_relative_to(attempt.path):
                    raise WorktreeError(f"{p} is not inside the worktree {attempt.path}")
                p = p.resolve().relative_to(attempt.path)
            posix = PurePosixPath(p.as_posix())
            if ".." in posix.parts or not posix.parts or str(posix) == ".":
                raise WorktreeError(f"managed file {str(p)!r} must be a path inside the worktree")
            rel.add(str(posix))
        updated = replace(attempt, managed_files=tuple(sorted(rel)))
        with self.store() as store:
            store.update_attempt(attempt.run_id, attempt.task_id, attempt.agent,
                                 managed_files=updated.managed_files)  # fmt: skip
        return updated

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
        if not (attempt.path / ".git").exists():
            raise WorktreeError(f"the worktree {attempt.path} is gone; nothing to commit — see "
                                "manager.orphans()")  # fmt: skip
        wt = self._git.at(attempt.path)
        wt.run("add", "-A")
        if attempt.managed_files:
            wt.run("reset", "-q", attempt.base_commit, "--",
                   *(f":(literal){p}" for p in attempt.managed_files))  # fmt: skip
        staged = wt.run("diff", "--cached", "--quiet", check=False)
        if staged.returncode == 0:
            return None
        if staged.returncode != 1:
            raise WorktreeError(wt.describe(staged))
        if wip and not message.startswith("WIP"):
            message = f"WIP: {message}"
        wt.run("-c", "commit.gpgsign=false", "-c", "gc.auto=0", "commit", "--quiet", "--no-verify",
               "-m", message, env=identity_env(wt))  # fmt: skip
        sha = wt.out("rev-parse", "HEAD")
        # An attempt the store does not know (made by hand) still gets its commit.
        with self.store() as store, suppress(KeyError):
            store.update_attempt(attempt.run_id, attempt.task_id, attempt.agent, head=sha)
        return sha

    # -- status ---------------------------------------------------------------------------

    def status_records(self, run_id: str | None = None) -> list[WorktreeStatus]:
        """One :class:`WorktreeStatus` per attempt (for JSON and the CLI)."""
        runs, records = self._records(run_id)
        base = {r.id: r.base_commit for r in runs}
        heads = self._branch_heads()

        def one(a: AttemptRecord) -> WorktreeStatus:
            path = Path(a.path)
            exists = (path / ".git").exists()
            head, when = heads.get(a.branch, (None, 0))
            ahead = 0
            if head is not None and head != base[a.run_id]:
                ahead = int(self._git.out("rev-list", "--count", f"{base[a.run_id]}..{head}"))
            dirty = self._dirty(path, a.managed_files) if exists else []
            stamps = [when] if head else []
            stamps += [_mtime(path / p) for p in dirty]
            last = max(stamps) if stamps else None
            return WorktreeStatus(a.run_id, a.task_id, a.agent, a.branch, a.path, head, ahead,
                                  len(dirty), datetime.fromtimestamp(last, UTC) if last else None,
                                  exists, a.state)  # fmt: skip

        return self._pool(one, records)

    def status(self, run_id: str | None = None):  # -> pandas.DataFrame
        """One row per attempt; columns ``run, task, agent, branch, path, head, ahead`` (commits
        ahead of base), ``dirty`` (changed files, nborch's own not counted), ``last_change``
        (UTC datetime of the newest commit or changed file), ``exists`` (worktree folder still
        there), ``state``."""
        import pandas as pd

        frame = pd.DataFrame([asdict(s) for s in self.status_records(run_id)],
                             columns=list(STATUS_COLUMNS))  # fmt: skip
        frame["last_change"] = pd.to_datetime(frame["last_change"], utc=True)
        return frame.astype({"ahead": "int64", "dirty": "int64", "exists": "bool"})

    def _dirty(self, path: Path, managed: Sequence[str]) -> list[str]:
        out = self._git.at(path).out("status", "--porcelain", "-z", "--untracked-files=all")
        skip = set(managed)
        return [p for p in _porcelain_paths(out) if p not in skip]

    # -- cleanup --------------------------------------------------------------------------

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
        runs, records = self._records(run_id)
        if run_id is not None and not runs:
            raise WorktreeError(f"no run {run_id!r} in {self.repo} — see manager.runs()")
        by_id = {r.id: r for r in runs}
        heads = self._branch_heads()
        registered = {e["worktree"]: e for e in self._worktree_list()}
        report = CleanupReport(dry_run=dry_run)
        for rec in records:
            if rec.state in _DONE:
                continue
            state = self._cleanup_one(rec, by_id[rec.run_id], heads, registered, report, force)
            if state and not dry_run:
                with self.store() as store:
                    store.update_attempt(rec.run_id, rec.task_id, rec.agent, state=state)
        if not dry_run:
            self._finish_runs(runs)
        return report

    def _cleanup_one(self, rec: AttemptRecord, run: RunRecord, heads: dict[str, tuple[str, int]],
                     registered: dict[str, dict[str, str]], report: CleanupReport,
                     force: bool) -> str | None:  # fmt: skip
        dry = report.dry_run
        att = _attempt(rec, run.base_commit)
        path = str(att.path)
        exists = (att.path / ".git").exists()
        head = heads.get(att.branch, (None, 0))[0]
        wip = False
        if exists and (reason := self._off_branch(att, head)):
            report.kept.append((path, reason))
            return None
        if exists and self._dirty(att.path, att.managed_files):
            if dry:
                wip = True
                report.committed.append((path, "(uncommitted changes)"))
            else:
                try:
                    sha = self.commit_work(att, f"uncommitted work of {att.agent} on task "
                                                f"{att.task_id}, saved by nborch cleanup", wip=True)  # fmt: skip
                except WorktreeError as err:
                    report.kept.append((path, f"could not save uncommitted changes, so nothing was removed: {err}"))
                    return None
                if sha:
                    report.committed.append((path, sha))
                    head = sha
        if exists or path in registered:
            if not dry:
                r = self._git.run("worktree", "remove", "--force", path, locked=True, check=False)
                if not r.ok:
                    report.kept.append((path, f"could not remove the worktree: {self._git.describe(r)}"))
                    return None
            report.removed.append(path)
        if head is None:
            return "removed"
        if not wip and self._merged(head, run):
            if not dry:
                self._git.run("update-ref", "-d", f"refs/heads/{att.branch}", head, locked=True)
            return "removed"
        ahead = int(self._git.out("rev-list", "--count", f"{run.base_commit}..{head}")) + wip
        if not force:
            reason = (f"branch {att.branch} kept: {ahead} commit(s) not merged into "
                      f"{run.base_ref} — merge it, or cleanup(force=True) to save its head under "
                      f"{ARCHIVE_PREFIX}/ and delete it")  # fmt: skip
            report.kept.append((path, reason))
            return "branch-kept"
        ref = f"{ARCHIVE_PREFIX}/{run.id}/{att.task_slug}/{att.agent_slug}"
        if not dry:
            with self._git.lock():
                old = self._resolve(ref)
                if old is not None and old != head:
                    ref = f"{ref}-{head[:12]}"
                self._git.run("update-ref", ref, head)
                self._git.run("update-ref", "-d", f"refs/heads/{att.branch}", head)
        report.archived.append(ref)
        return "archived"

    def _off_branch(self, att: Attempt, head: str | None) -> str | None:
        """Why a worktree must stay because its HEAD left the attempt's branch, or None.

        Commits on a detached HEAD live only in that worktree's reflog, which goes with it.
        """
        wt = self._git.at(att.path)
        if wt.run("symbolic-ref", "-q", "HEAD", check=False).stdout.strip() == f"refs/heads/{att.branch}":
            return None
        now = wt.run("rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()
        safe = not now or any(self._git.ok("merge-base", "--is-ancestor", now, c)
                              for c in (head, att.base_commit) if c)  # fmt: skip
        if safe and not self._dirty(att.path, att.managed_files):
            return None
        return (f"the worktree is not on its branch {att.branch} (HEAD is {now[:8] or 'unborn'}) "
                "and holds work that is not on that branch; nothing was removed — check out the "
                "branch there (or save the work elsewhere) and clean up again")  # fmt: skip

    def _merged(self, head: str, run: RunRecord) -> bool:
        """Whether ``head`` is in the base commit or in the base ref's current tip."""
        if head == run.base_commit or self._git.ok("merge-base", "--is-ancestor", head, run.base_commit):
            return True
        tip = self._resolve(run.base_ref)
        return tip is not None and self._git.ok("merge-base", "--is-ancestor", head, tip)

    def _finish_runs(self, runs: list[RunRecord]) -> None:
        with self.store() as store:
            for run in runs:
                states = {a.state for a in store.attempts(run.id)}
                if states and states <= {*_DONE, "branch-kept"} and run.status != "cleaned":
                    store.update_run(run.id, status="cleaned")
                _rmdir_empty(Path(run.root) / run.id)

    # -- orphans --------------------------------------------------------------------------

    def _worktree_list(self) -> list[dict[str, str]]:
        entries: list[dict[str, str]] = []
        for line in self._git.out("worktree", "list", "--porcelain", "-z").split("\0"):
            if line.startswith("worktree "):
                entries.append({"worktree": line[len("worktree "):]})
            elif line and entries:
                key, _, value = line.partition(" ")
                entries[-1][key] = value
        return entries

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
        runs, records = self._records()
        roots = {self.root} | {Path(r.root) for r in runs}
        known_paths = {str(Path(a.path)) for a in records}
        known_branches = {a.branch for a in records}
        report = OrphanReport()
        listed = self._worktree_list()
        for e in listed:
            p = e["worktree"]
            ours = e.get("branch", "").startswith(f"refs/heads/{BRANCH_PREFIX}/") or any(
                Path(p).is_relative_to(r) for r in roots)
            if "prunable" in e:
                report.prunable.append(p)
                if prune and ours:
                    self._git.run("worktree", "remove", p, locked=True, check=False)
            elif ours and p not in known_paths:
                report.unknown_worktrees.append(p)
        listed_paths = {e["worktree"] for e in listed}
        for root in sorted(roots):
            for folder in sorted(root.glob("*/*")) if root.is_dir() else []:
                if folder.is_dir() and str(folder) not in known_paths | listed_paths:
                    report.unknown_worktrees.append(str(folder))
        report.unknown_branches.extend(b for b in self._branch_heads() if b not in known_branches)
        live: dict[str, list[bool]] = {}
        for a in records:
            if a.state in (*_DONE, "branch-kept"):
                continue
            gone = not (Path(a.path) / ".git").exists()
            live.setdefault(a.run_id, []).append(gone)
            if gone:
                report.missing.append((a.run_id, a.task_id, a.agent, a.path))
        report.vanished_runs.extend(r for r, gone in live.items() if all(gone))
        return report

    # -- display --------------------------------------------------------------------------

    def _summary(self) -> str:
        runs, records = self._records()
        live = sum(1 for a in records if a.state not in (*_DONE, "branch-kept"))
        return f"{self.repo}: {len(runs)} runs, {len(records)} attempts ({live} with worktrees)"

    def __repr__(self) -> str:
        return f"<WorktreeManager {self._summary()}, root {self.root}>"

    def _repr_html_(self) -> str:
        _, records = self._records()
        rows = [(a.run_id, a.task_id, a.agent, a.branch, a.path, a.state) for a in records]
        return html_table(("run", "task", "agent", "branch", "path", "state"), rows,
                          f"WorktreeManager {self._summary()}")  # fmt: skip


def _run_info(r: RunRecord, plan: Plan | None = None, warnings: tuple[str, ...] = ()) -> RunInfo:
    return RunInfo(r.id, Path(r.repo), Path(r.root), r.base_ref, r.base_commit, r.created_at,
                   r.plan_title, r.plan_path, r.status, warnings, plan)  # fmt: skip


def _attempt(r: AttemptRecord, base_commit: str) -> Attempt:
    return Attempt(r.run_id, r.task_id, r.task_slug, r.agent, r.branch, Path(r.path),
                   Path(r.attempt_dir), base_commit, r.managed_files)  # fmt: skip


def _record(a: Attempt, state: str) -> AttemptRecord:
    return AttemptRecord(a.run_id, a.task_id, a.task_slug, a.agent, a.branch, str(a.path),
                         str(a.attempt_dir), state, a.managed_files)  # fmt: skip


def _free_slug(text: str, preferred: str, used: set[str], max_len: int) -> str:
    """``text``'s slug (or the slugged ``preferred``), with a hash appended if already used."""
    slug = slugify(preferred or text, max_len)
    n = 6
    while slug in used:
        slug = f"{slugify(text, max_len - n - 1)}-{short_hash(text, n)}"
        n += 2
    return slug


def identity_env(git: Git) -> dict[str, str]:
    """Author/committer variables for a commit: the configured identity where there is one,
    ``nborch <nborch@localhost>`` for what is missing."""
    env: dict[str, str] = {}
    name = os.environ.get("GIT_AUTHOR_NAME") or git.run("config", "user.name", check=False).stdout.strip()
    email = (os.environ.get("GIT_AUTHOR_EMAIL") or os.environ.get("EMAIL")
             or git.run("config", "user.email", check=False).stdout.strip())  # fmt: skip
    if not name:
        env.update(GIT_AUTHOR_NAME=FALLBACK_IDENTITY[0], GIT_COMMITTER_NAME=FALLBACK_IDENTITY[0])
    if not email:
        env.update(GIT_AUTHOR_EMAIL=FALLBACK_IDENTITY[1], GIT_COMMITTER_EMAIL=FALLBACK_IDENTITY[1])
    return env


def _porcelain_paths(out: str) -> list[str]:
    """Paths from ``git status --porcelain -z`` (v1): ``XY path``, renames followed by the old path."""
    paths = []
    fields = split_z(out)
    i = 0
    while i < len(fields):
        entry = fields[i]
        paths.append(entry[3:])
        i += 2 if {"R", "C"} & set(entry[:2]) else 1
    return paths


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:  # deleted files count as changed now
        return time.time()


def _rmdir_empty(path: Path) -> None:
    with suppress(OSError):
        path.rmdir()
