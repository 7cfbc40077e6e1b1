"""What the run store holds, as records: pure data, and the rule that reads it now.

:class:`RunRecord` and :class:`AttemptRecord` are rows of the store (:mod:`.db`; the SQL is there
and in :mod:`.schema`); :func:`effective_status` is the one place a run or an attempt is found *interrupted*.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from ..procs import coordinator_alive

__all__ = ["ACTIVE", "ATTEMPT_COLUMNS", "EXEC_COLUMNS", "RUN_COLUMNS", "AttemptRecord", "RunRecord",
           "attempt_from_row", "effective_status", "parse_time", "run_alive", "run_from_row"]

# Statuses a coordinator has yet to finish; the only ones a dead coordinator turns interrupted.
ACTIVE = frozenset({"pending", "blocked", "running"})


def effective_status(record: Any, alive: bool) -> str:
    """The status of a run or attempt ``record`` as it is now: the one place *interrupted* is
    decided. ``alive`` says whether its run's coordinator is alive (or was never started:
    :func:`run_alive`). Reading never writes: a resume records the change.

    """
    return "interrupted" if not alive and record.status in ACTIVE else record.status


def run_alive(run: RunRecord) -> bool:
    """False only for a run that says *running* while its coordinator process is gone (same pid
    and start time, so a reused pid does not count)."""
    return run.status != "running" or coordinator_alive(run.coordinator_pid, run.coordinator_started)


def parse_time(text: str | None) -> datetime | None:
    """A stored ISO timestamp (or nothing) as a datetime."""
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run: a base commit and the root folder its attempts' worktrees live under."""

    id: str
    created_at: datetime
    repo: str
    base_ref: str
    base_commit: str
    root: str
    plan_path: str | None = None
    plan_title: str | None = None
    status: str = "prepared"
    settings_json: str = "{}"
    coordinator_pid: int | None = None
    coordinator_started: float | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """The run's settings, decoded from ``settings_json``."""
        return json.loads(self.settings_json)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt (task × agent) of a run: its branch, worktree path, own folder and state."""

    run_id: str
    task_id: str
    task_slug: str
    agent: str
    branch: str
    path: str
    attempt_dir: str
    state: str = "prepared"
    managed_files: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    head: str | None = None
    # What execution made of it (schema 2); ``state`` above is the worktree's life.
    status: str = "pending"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    return_code: int | None = None
    commit_sha: str | None = None
    files_changed: int = 0
    insertions: int = 0
    deletions: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    error: str = ""
    validation: str = ""
    validation_json: str = "[]"
    log_path: str = ""
    tries: int = 0
    done_requested: bool = False
    problem: str = ""  # schema 3: what sealing the attempt found wrong with its worktree
    worker: str = ""  # schema 3: the Dask worker the agent ran on ("" here)
    reason: str = ""  # schema 3: why it was stopped early ("race won by AGENT")
    cache_key: str = ""  # schema 4: what makes its result reusable (nborch.execute.cache)
    cached_from: str = ""  # schema 4: the run whose result it reused ("" when it ran)
    task_type: str = ""  # schema 4: its task's type, as the assigner classified it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.run_id, self.task_id, self.agent)


RUN_COLUMNS = [f.name for f in fields(RunRecord)]
EXEC_COLUMNS = ["status", "started_at", "ended_at", "return_code", "commit_sha", "files_changed",
              "insertions", "deletions", "input_tokens", "output_tokens", "cost_usd", "error",
              "validation", "validation_json", "log_path", "tries", "done_requested",
              "problem", "worker", "reason", "cache_key", "cached_from", "task_type"]  # fmt: skip
ATTEMPT_COLUMNS = ["run_id", "task_id", "task_slug", "agent", "branch", "path", "attempt_dir",
                 "state", "managed_files_json", "created_at", "updated_at", "head",
                 *EXEC_COLUMNS]  # fmt: skip


def run_from_row(row: tuple[Any, ...]) -> RunRecord:
    values = dict(zip(RUN_COLUMNS, row, strict=True))
    values["created_at"] = parse_time(values["created_at"])
    return RunRecord(**values)


def attempt_from_row(row: tuple[Any, ...]) -> AttemptRecord:
    v = dict(zip(ATTEMPT_COLUMNS, row, strict=True))
    return AttemptRecord(
        run_id=v["run_id"], task_id=v["task_id"], task_slug=v["task_slug"], agent=v["agent"],
        branch=v["branch"], path=v["path"], attempt_dir=v["attempt_dir"], state=v["state"],
        managed_files=tuple(json.loads(v["managed_files_json"])),
        created_at=parse_time(v["created_at"]), updated_at=parse_time(v["updated_at"]), head=v["head"],
        **{c: v[c] for c in EXEC_COLUMNS if c not in ("started_at", "ended_at", "done_requested")},
        started_at=parse_time(v["started_at"]), ended_at=parse_time(v["ended_at"]),
        done_requested=bool(v["done_requested"]),
    )  # fmt: skip
