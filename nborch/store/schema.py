"""The store's tables, as the SQL that makes them: one entry per schema version.

Opening a database applies the missing entries in one transaction (:meth:`.db.Store._migrate`).
A schema change is one more entry here.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            repo TEXT NOT NULL,
            base_ref TEXT NOT NULL,
            base_commit TEXT NOT NULL,
            plan_path TEXT,
            plan_title TEXT,
            root TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'prepared',
            settings_json TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE attempts (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            task_slug TEXT NOT NULL,
            agent TEXT NOT NULL,
            branch TEXT NOT NULL,
            path TEXT NOT NULL,
            attempt_dir TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'prepared',
            managed_files_json TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            head TEXT,
            PRIMARY KEY (run_id, task_id, agent)
        )""",
        "CREATE INDEX attempts_branch ON attempts(branch)",
    )),
    # 2: execution — the coordinator's process, each attempt's outcome, and an event log.
    (2, (
        "ALTER TABLE runs ADD COLUMN coordinator_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN coordinator_started REAL",
        *(f"ALTER TABLE attempts ADD COLUMN {col}" for col in (
            "status TEXT NOT NULL DEFAULT 'pending'", "started_at TEXT", "ended_at TEXT",
            "return_code INTEGER", "commit_sha TEXT", "files_changed INTEGER NOT NULL DEFAULT 0",
            "insertions INTEGER NOT NULL DEFAULT 0", "deletions INTEGER NOT NULL DEFAULT 0",
            "input_tokens INTEGER NOT NULL DEFAULT 0", "output_tokens INTEGER NOT NULL DEFAULT 0",
            "cost_usd REAL", "error TEXT NOT NULL DEFAULT ''",
            "validation TEXT NOT NULL DEFAULT ''", "validation_json TEXT NOT NULL DEFAULT '[]'",
            "log_path TEXT NOT NULL DEFAULT ''", "tries INTEGER NOT NULL DEFAULT 0",
            "done_requested INTEGER NOT NULL DEFAULT 0")),
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL DEFAULT '',
            agent TEXT NOT NULL DEFAULT '',
            time TEXT NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX events_run ON events(run_id, id)",
    )),
    # 3: what the coordinator found wrong with a worktree when it sealed the attempt (the agent
    # switched branches or deleted .git), so status need not look again in every worktree.
    # And where the agent ran when not on this machine (a Dask worker's address).
    (3, (
        "ALTER TABLE attempts ADD COLUMN problem TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE attempts ADD COLUMN worker TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE attempts ADD COLUMN reason TEXT NOT NULL DEFAULT ''",
    )),
    # 4: the result cache and the history `per_task="auto"` reads: each attempt's cache key (what
    # it was asked to do, by which agent, from which commit), the run whose result it reused, and
    # the type the assigner gave its task.
    (4, (
        "ALTER TABLE attempts ADD COLUMN cache_key TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE attempts ADD COLUMN cached_from TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE attempts ADD COLUMN task_type TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX attempts_cache_key ON attempts(cache_key)",
    )),
)  # fmt: skip
SCHEMA_VERSION = MIGRATIONS[-1][0]
