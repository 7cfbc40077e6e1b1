"""Write a run's progress to the store as it happens, so a crash leaves a readable record.

Each attempt's row carries its execution state and results; every state change is also an event
row. The run row names the coordinator's process (pid and start time): when that process is gone
while attempts still say *running*, those attempts were interrupted (see :mod:`nborch.execute.runs`).
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import NborchError, StoreError
from ..events import AttemptState
from ..procs import process_identity
from ..store import Store, is_locked
from ..workspace.manager import WorktreeManager
from ..workspace.prepare import PreparedAttempt, PreparedRun
from .results import AgentExecution

SNAPSHOT = "run.pickle"
BUSY_S = 2.0  # a write waits this long for another process's lock, then is kept for later
FLUSH_S = 300.0  # at the end of a run, how long kept writes are retried before giving up
FULL_FLUSH_S = 5.0  # … when the disk is full, where waiting rarely helps
SNAPSHOT_FORMAT = 1  # bump when PreparedRun's pickled shape changes incompatibly


def snapshot_path(manager: WorktreeManager, run_id: str) -> Path:
    """Where a run's plan, assignments and prepared attempts are kept for ``Run.load``."""
    return manager.common_dir / "nborch" / "runs" / run_id / SNAPSHOT


class Recorder:
    """The coordinator's link to the store (every method is quick and synchronous)."""

    def __init__(self, manager: WorktreeManager, prepared: PreparedRun,
                 options: Mapping[str, Any] | None = None):  # fmt: skip
        self.manager = manager
        self.prepared = replace(prepared, options=dict(options or {}))
        self.run_id = prepared.run.id
        self._store: Store | None = None
        self._backlog: list[Callable[[Store], object]] = []  # writes a locked store refused
        self.deferred = 0  # how many writes waited for a lock, for the run's notes and tests
        self.disk_full: StoreError | None = None  # the last write a full disk refused
        self.problem = ""  # what the end of the run could not record, said once by the views
        # each task's type as the assigner saw it: the history `per_task="auto"` learns from
        self._types = {a.task: a.task_type for a in prepared.assignments}

    @property
    def store(self) -> Store:
        """One connection for the whole run (opening one per write costs more than the write)."""
        if self._store is None:
            self._store = self.manager.store()
            self._store.set_busy_timeout(BUSY_S)
        return self._store

    def write(self, fn: Callable[[Store], object]) -> None:
        """Do ``fn(store)`` now, after any writes kept earlier; when another process holds the
        store locked, or the disk is full, keep it for later instead of failing the attempt it
        records (the attempt's own work is in git either way)."""
        self._backlog.append(fn)
        self._drain()

    def _drain(self) -> None:
        """Write the kept writes in order, stopping (and counting) at a lock or a full disk."""
        try:
            while self._backlog:
                self._backlog[0](self.store)
                self._backlog.pop(0)
            self.disk_full = None
        except sqlite3.OperationalError as err:
            if not is_locked(err):
                self._backlog.pop(0)  # not a lock: it would fail again; say so once
                raise
            self.deferred += 1
        except StoreError as err:
            if not err.disk_full:
                self._backlog.pop(0)
                raise
            self.deferred += 1
            self.disk_full = err
        except BaseException:
            self._backlog.pop(0)
            raise

    def flush(self, within: float = FLUSH_S) -> None:
        """Write what a locked store (or a full disk) refused, waiting up to ``within`` seconds
        (:data:`FULL_FLUSH_S` for a full disk) for it to clear."""
        deadline = time.monotonic() + within
        self._drain()
        while self._backlog:
            if self.disk_full is not None and time.monotonic() > deadline - within + FULL_FLUSH_S:
                raise StoreError(f"{len(self._backlog)} result(s) of this run could not be "
                                 f"recorded: {self.disk_full}", disk_full=True)  # fmt: skip
            if time.monotonic() > deadline:
                raise NborchError(f"the run store {self.manager.store_path} stayed locked by "
                                  f"another process for {within:.0f} s: {len(self._backlog)} "
                                  "result(s) of this run could not be recorded (its branches and "
                                  "commits are intact) — find the process holding it (fuser "
                                  "the file) and resume the run")  # fmt: skip
            time.sleep(0.5)
            self._drain()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def begin(self, executions: Iterable[AgentExecution]) -> None:
        path = snapshot_path(self.manager, self.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        from ..version import __version__

        tmp.write_bytes(pickle.dumps({"format": SNAPSHOT_FORMAT, "nborch": __version__,
                                      "prepared": self.prepared}))  # fmt: skip
        tmp.replace(path)
        pid, started = process_identity()
        self.store.update_run(self.run_id, status="running", coordinator_pid=pid,
                              coordinator_started=started)  # fmt: skip
        for ex in executions:
            self.save(ex, event=False)

    def save(self, ex: AgentExecution, event: bool = True) -> None:
        fields = {
            "status": str(ex.status), "started_at": ex.started_at, "ended_at": ex.ended_at,
            "return_code": ex.return_code, "commit_sha": ex.commit,
            "files_changed": ex.files_changed, "insertions": ex.insertions,
            "deletions": ex.deletions, "input_tokens": ex.input_tokens,
            "output_tokens": ex.output_tokens, "cost_usd": ex.cost_usd, "error": ex.error,
            "validation": ex.validation, "validation_json": json.dumps(ex.validation_details),
            "log_path": ex.log_path, "tries": ex.tries, "problem": ex.problem,
            "worker": ex.worker, "reason": ex.reason, "cache_key": ex.cache_key,
            "cached_from": ex.cached_from or "", "task_type": self._types.get(ex.task, ""),
        }  # fmt: skip
        status, error = str(ex.status), ex.error
        self.write(lambda store: store.update_attempt(self.run_id, ex.task, ex.agent, **fields))
        if event:
            self.write(lambda store: store.add_event(self.run_id, ex.task, ex.agent, "state",
                                                     status, error))  # fmt: skip

    def note(self, text: str) -> None:
        self.write(lambda store: store.add_event(self.run_id, "", "", "note", "", text))

    def end(self, executions: Iterable[AgentExecution]) -> None:
        states = [ex.status for ex in executions]
        status = "completed" if all(s == AttemptState.COMPLETED for s in states) else (
            "finished" if all(s.is_final for s in states) else "stopped")
        try:
            self.write(lambda store: store.update_run(self.run_id, status=status))
            self.flush()
        except NborchError as err:  # the run itself ended: say what is missing, do not hide it
            self.problem = str(err)
        finally:
            self.close()

    def manual_done(self, pa: PreparedAttempt) -> bool:
        """Whether `nborch done` (another process) marked this manual attempt finished."""
        rec = self.store.attempt(self.run_id, pa.attempt.task_id, pa.attempt.agent)
        return bool(rec is not None and rec.done_requested)
