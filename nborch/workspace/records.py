"""The records of the worktree modules: a run, an attempt's room, a status row, two reports.

Pure data (frozen dataclasses, their text and HTML views) and the names every worktree module
shares; no git here. :mod:`nborch.workspace.manager` re-exports all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..display import html_table, text_table
from ..events import AttemptState
from ..store import AttemptRecord, RunRecord

if TYPE_CHECKING:
    from ..plan.model import Plan

__all__ = ["ACTIVE_STATUSES", "ARCHIVE_PREFIX", "BRANCH_PREFIX", "DONE_STATES", "STATUS_COLUMNS",
           "Attempt", "CleanupReport", "OrphanReport", "RunInfo", "WorktreeStatus"]  # fmt: skip

BRANCH_PREFIX = "nborch"
ARCHIVE_PREFIX = "refs/nborch/archive"
DONE_STATES = ("removed", "archived")  # attempt states with neither worktree nor branch left
# Execution statuses of attempts that a coordinator has yet to finish (pending, blocked, running).
ACTIVE_STATUSES = tuple(s.value for s in AttemptState if not s.is_final)


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
    """One row of :meth:`WorktreeManager.status`.

    ``dirty`` is None where no ``git status`` ran: the folder is gone, or the coordinator
    committed the attempt's work when it ended and ``check=True`` was not asked. ``state`` is the
    worktree's life (prepared, removed, branch-kept, archived), ``status`` the attempt's execution
    status (pending … interrupted).
    """

    run: str
    task: str
    agent: str
    branch: str
    path: str
    head: str | None
    ahead: int
    dirty: int | None
    last_change: datetime | None
    exists: bool
    state: str
    status: str = "pending"
    problem: str = ""  # the worktree is not what nborch made: HEAD left its branch, .git gone
    cached_from: str = ""  # the run whose result the attempt reused (the result cache)

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values (``last_change`` as ISO text)."""
        out = {name: getattr(self, name) for name in STATUS_COLUMNS}  # asdict deep-copies: slow
        out["last_change"] = self.last_change.isoformat() if self.last_change else None
        out["cached_from"] = self.cached_from or None
        return out


STATUS_COLUMNS = tuple(WorktreeStatus.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class CleanupReport:
    """What :meth:`WorktreeManager.cleanup` did (or, with ``dry_run``, would do).

    ``removed``: worktree paths removed (or de-registered when the folder was already gone);
    ``kept``: (path, reason) for every attempt whose branch or worktree stays; ``archived``: refs
    under ``refs/nborch/archive/`` holding the heads of force-deleted branches; ``committed``:
    (path, sha) of the WIP commits made to save uncommitted work first; ``ignored``: (path,
    files) the agent made that ``.gitignore`` matches, saved in such a commit (``git add -f``)
    before the worktree went.
    """

    removed: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    committed: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False
    ignored: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``nborch cleanup --json`` document."""
        return {"removed": list(self.removed),
                "kept": [{"path": p, "reason": r} for p, r in self.kept],
                "archived": list(self.archived),
                "committed": [{"path": p, "commit": c} for p, c in self.committed],
                "ignored_saved": [{"path": p, "files": list(f)} for p, f in self.ignored]}  # fmt: skip

    def _rows(self) -> list[tuple[str, str, str]]:
        verb = "would " if self.dry_run else ""
        return ([(f"{verb}commit WIP", p, sha) for p, sha in self.committed]
                + [(f"{verb}save ignored files", p, _preview(f)) for p, f in self.ignored]
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


def run_info(r: RunRecord, plan: Plan | None = None, warnings: tuple[str, ...] = ()) -> RunInfo:
    """A stored run as a :class:`RunInfo`."""
    return RunInfo(r.id, Path(r.repo), Path(r.root), r.base_ref, r.base_commit, r.created_at,
                   r.plan_title, r.plan_path, r.status, warnings, plan)  # fmt: skip


def attempt_of(r: AttemptRecord, base_commit: str) -> Attempt:
    """A stored attempt as an :class:`Attempt`."""
    return Attempt(r.run_id, r.task_id, r.task_slug, r.agent, r.branch, Path(r.path),
                   Path(r.attempt_dir), base_commit, r.managed_files)  # fmt: skip


def record_of(a: Attempt, state: str) -> AttemptRecord:
    """An :class:`Attempt` as a store row in worktree state ``state``."""
    return AttemptRecord(a.run_id, a.task_id, a.task_slug, a.agent, a.branch, str(a.path),
                         str(a.attempt_dir), state, a.managed_files)  # fmt: skip


def _preview(files: tuple[str, ...], n: int = 3) -> str:
    shown = ", ".join(files[:n])
    return shown + (f" and {len(files) - n} more" if len(files) > n else "")
