"""The run history (all of nborch's SQL is in this package): an SQLite file inside the repository's git dir, shared by every nborch process.

The database lives at ``<git-common-dir>/nborch/nborch.sqlite``, so it goes where the repository
goes, is shared by all of its worktrees, and is never part of a commit. It uses WAL mode and a
busy timeout so several processes (a notebook and a CLI) can read and write it at once.

Tables (schema version 2)::

    schema_version(version)
    runs(id PK, created_at, repo, base_ref, base_commit, plan_path, plan_title, root, status,
         settings_json)
    attempts(run_id → runs.id, task_id, task_slug, agent, branch, path, attempt_dir, state,
             managed_files_json, created_at, updated_at, head; PK (run_id, task_id, agent))
    -- version 2: execution
    runs     + coordinator_pid, coordinator_started
    attempts + status, started_at, ended_at, return_code, commit_sha, files_changed, insertions,
               deletions, input_tokens, output_tokens, cost_usd, error, validation,
               validation_json, log_path, tries, done_requested
    events(id, run_id → runs.id, task_id, agent, time, kind, state, text)

A schema change is one more entry in :data:`.schema.MIGRATIONS`; opening a database applies the missing ones
in one transaction. Records are frozen dataclasses; timestamps are timezone-aware UTC datetimes.
"""

from .db import BUSY_TIMEOUT_MS, Store, is_locked
from .rows import ACTIVE, AttemptRecord, RunRecord, effective_status, run_alive
from .schema import SCHEMA_VERSION

__all__ = [
    "ACTIVE",
    "BUSY_TIMEOUT_MS",
    "SCHEMA_VERSION",
    "AttemptRecord",
    "RunRecord",
    "Store",
    "effective_status",
    "is_locked",
    "run_alive",
]
