"""Write a run's progress to the store as it happens, so a crash leaves a readable record.

Each attempt's row carries its execution state and results; every state change is also an event
row. The run row names the coordinator's process (pid and start time): when that process is gone
while attempts still say *running*, those attempts were interrupted (see :mod:`nborch.execute.runs`).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..events import AttemptState
from ..procs import process_identity
from ..store import Store
from ..workspace.manager import WorktreeManager
from ..workspace.prepare import PreparedAttempt, PreparedRun
from .results import AgentExecution

SNAPSHOT = "run.pickle"
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

    @property
    def store(self) -> Store:
        """One connection for the whole run (opening one per write costs more than the write)."""
        if self._store is None:
            self._store = self.manager.store()
        return self._store

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
            "log_path": ex.log_path, "tries": ex.tries,
        }  # fmt: skip
        self.store.update_attempt(self.run_id, ex.task, ex.agent, **fields)
        if event:
            self.store.add_event(self.run_id, ex.task, ex.agent, "state", str(ex.status), ex.error)

    def note(self, text: str) -> None:
        self.store.add_event(self.run_id, "", "", "note", "", text)

    def end(self, executions: Iterable[AgentExecution]) -> None:
        states = [ex.status for ex in executions]
        status = "completed" if all(s == AttemptState.COMPLETED for s in states) else (
            "finished" if all(s.is_final for s in states) else "stopped")
        try:
            self.store.update_run(self.run_id, status=status)
        finally:
            self.close()

    def manual_done(self, pa: PreparedAttempt) -> bool:
        """Whether `nborch done` (another process) marked this manual attempt finished."""
        rec = self.store.attempt(self.run_id, pa.attempt.task_id, pa.attempt.agent)
        return bool(rec is not None and rec.done_requested)
