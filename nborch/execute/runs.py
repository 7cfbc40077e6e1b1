"""Runs from the store: history as a DataFrame, a run loaded back after a crash, and resume.

A run whose coordinator process is gone while some attempts still say *pending*, *blocked* or
*running* was interrupted (a kernel restart, ``kill -9``, a closed laptop): those attempts are
marked *interrupted*, and ``run.resume()`` runs only them again, in the same worktrees, after
committing whatever they had written as WIP.
"""

from __future__ import annotations

import json
import os
import pickle
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import agents as registry
from ..errors import NborchError
from ..events import AttemptState
from ..gitcmd import RepoLike
from ..moved import SnapshotUnpickler
from ..store import effective_status, run_alive
from ..workspace.manager import WorktreeManager
from .options import RunOptions
from .recorder import SNAPSHOT_FORMAT, snapshot_path
from .results import AgentExecution

if TYPE_CHECKING:
    from .coordinator import Coordinator

S = AttemptState
HISTORY_COLUMNS = ("run", "created_at", "status", "plan", "base_commit", "attempts", "completed",
                   "failed", "timeout", "cancelled", "interrupted", "running")  # fmt: skip


def live_coordinator(manager: WorktreeManager, run_id: str) -> int | None:
    """The pid of *another* process that is running ``run_id`` now, or None."""
    with manager.store() as store:
        run = store.get_run(run_id)
    if run is None or run.status != "running" or run.coordinator_pid == os.getpid():
        return None
    return run.coordinator_pid if run_alive(run) else None


def mark_interrupted(manager: WorktreeManager, run_id: str | None = None) -> int:
    """Record attempts of dead coordinators as interrupted (what :func:`~nborch.store.effective_status`
    shows without writing); returns how many were. Only a resume writes this."""
    changed = 0
    with manager.store() as store:
        for run in store.runs():
            if run_id in (None, run.id) and not run_alive(run):
                changed += store.interrupt_run(run.id)  # looks again, in one transaction
    return changed


def history(repo: str | Path):  # -> pandas.DataFrame
    """One row per run, newest first: status and how many attempts ended in each state."""
    import pandas as pd

    manager = WorktreeManager(repo)
    rows = []
    runs, attempts = manager.records()  # reads only: no store file is made
    by_run: dict[str, list[Any]] = {}
    for a in attempts:
        by_run.setdefault(a.run_id, []).append(a)
    for run in runs:
        alive = run_alive(run)
        states = [effective_status(a, alive) for a in by_run.get(run.id, [])]
        rows.append((run.id, run.created_at, effective_status(run, alive), run.plan_title,
                     run.base_commit[:10], len(states),
                     *(states.count(s) for s in ("completed", "failed", "timeout", "cancelled",
                                                 "interrupted", "running"))))  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame.sort_values("created_at", ascending=False, ignore_index=True)


def load_run(repo: RepoLike, run_id: str, cls: type[Coordinator], **options: Any) -> Coordinator:
    """The run ``run_id`` as a (not started) coordinator holding its recorded results, with
    the options it was saved with changed by ``options`` (``None`` keeps a saved value).
    ``cls`` is the class to make (``Coordinator.load`` passes its own)."""

    manager = WorktreeManager(repo)
    path = snapshot_path(manager, run_id)
    if not path.exists():
        known = [r.id for r in manager.runs()]
        raise NborchError(f"no executed run {run_id!r} in {manager.repo} (runs: "
                          f"{', '.join(known[-5:]) or 'none'}) — see nborch.history(repo)")  # fmt: skip
    prepared = read_snapshot(path, run_id)
    for pa in prepared.attempts:  # script agents given on the command line of the first run
        if pa.spec.name not in registry.names():
            registry.register(pa.spec)
    run = cls(repo, prepared, RunOptions.saved(prepared.options).updated(**options))
    with manager.store() as store:
        record = store.get_run(run_id)
        alive = record is None or run_alive(record)
        for rec in store.attempts(run_id):
            ex = run.executions.get((rec.task_id, rec.agent))
            if ex is not None:
                restore(ex, rec, alive)
    return run


def read_snapshot(path: Path, run_id: str) -> Any:  # -> PreparedRun
    """The prepared run saved when ``run_id`` started (written by nborch itself, inside .git),
    or an error that says what to do when this nborch cannot read it."""
    from ..version import __version__

    def unreadable(why: str) -> NborchError:
        return NborchError(f"the record of run {run_id} ({path}) cannot be read by nborch "
                           f"{__version__}: {why} — its branches and worktrees are intact "
                           "(nborch status); use the nborch version that made it, or run the "
                           "plan again")  # fmt: skip

    try:
        with path.open("rb") as f:
            data = SnapshotUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError,
            ValueError, IndexError) as err:  # fmt: skip
        raise unreadable(f"{type(err).__name__}: {err}") from err
    if isinstance(data, dict):
        if data.get("format") != SNAPSHOT_FORMAT:
            raise unreadable(f"it has format {data.get('format')!r} (written by nborch "
                             f"{data.get('nborch', '?')}); this version reads {SNAPSHOT_FORMAT}")
        return data["prepared"]
    return data  # format 0: the bare PreparedRun of the first versions


def restore(ex: AgentExecution, rec: Any, alive: bool = True) -> None:
    """Copy a stored attempt row into an execution record; ``alive``: whether the run's
    coordinator is (see :func:`~nborch.store.run_alive`), else unfinished reads *interrupted*."""
    status = effective_status(rec, alive)
    ex.status = S(status) if status in S._value2member_map_ else S.PENDING
    ex.branch, ex.worktree = rec.branch, rec.path
    ex.started_at = _dt(rec.started_at)
    ex.ended_at = _dt(rec.ended_at)
    ex.return_code, ex.commit = rec.return_code, rec.commit_sha
    ex.files_changed, ex.insertions, ex.deletions = rec.files_changed, rec.insertions, rec.deletions
    ex.input_tokens, ex.output_tokens, ex.cost_usd = rec.input_tokens, rec.output_tokens, rec.cost_usd
    ex.error, ex.validation, ex.log_path, ex.tries = rec.error, rec.validation, rec.log_path, rec.tries
    if status != rec.status and not ex.error:
        ex.error = f"the coordinator stopped while this attempt was {rec.status}"
    ex.validation_details = json.loads(rec.validation_json or "[]")
    ex.problem, ex.worker, ex.reason = rec.problem, rec.worker, rec.reason
    ex.cache_key, ex.cached_from = rec.cache_key, rec.cached_from or None


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)
