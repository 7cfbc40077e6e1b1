"""The :class:`Store`: one SQLite connection with its lock, migrations applied on open, and every
query nborch makes (the SQL of the tables is :mod:`.schema`)."""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import StoreError, WorktreeError
from .rows import (
    ACTIVE,
    ATTEMPT_COLUMNS,
    EXEC_COLUMNS,
    RUN_COLUMNS,
    AttemptRecord,
    RunRecord,
    attempt_from_row,
    parse_time,
    run_alive,
    run_from_row,
)
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["BUSY_TIMEOUT_MS", "Store", "is_locked"]

BUSY_TIMEOUT_MS = 15_000
FULL_BELOW_BYTES = 1 << 20  # an SQLite I/O error with less free space than this is a full disk


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str:
    return (value or _now()).astimezone(UTC).isoformat(timespec="microseconds")


_RUN_UPDATABLE = {"status", "settings_json", "plan_path", "plan_title", "coordinator_pid",
                  "coordinator_started"}  # fmt: skip
_ATTEMPT_UPDATABLE = {"task_slug", "branch", "path", "attempt_dir", "state", "managed_files", "head",
                      *EXEC_COLUMNS}  # fmt: skip


class Store:
    """The SQLite history of one repository; use :meth:`open` and close it (or use ``with``).

    Parameters
    ----------
    path
        The database file; its folder is created if needed.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None, check_same_thread=False)  # fmt: skip
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._wal()
            self._db.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, and fast
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as err:
            self.close()
            if is_locked(err):
                raise
            raise store_error(self.path, err) from None
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, repo_path: str | Path) -> Store:
        """Open (creating if needed) the store of the repository that contains ``repo_path``."""
        from ..gitcmd import Git

        git = Git(repo_path)
        result = git.run("rev-parse", "--git-common-dir", check=False)
        if not result.ok:
            raise WorktreeError(
                f"{repo_path} is not inside a git repository ({result.stderr.strip()}) — pass the "
                "path of a repository, or create one with 'git init' and a first commit"
            )
        common = (Path(repo_path) / result.stdout.strip()).resolve()
        return cls(cls.path_for(common))

    @staticmethod
    def path_for(common_dir: str | Path) -> Path:
        """Where the database of the repository with this git common dir lives."""
        return Path(common_dir) / "nborch" / "nborch.sqlite"

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {self.path}{' closed' if self._db is None else ''}>"

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise WorktreeError(f"the store {self.path} is closed — open it again with Store.open")
        return self._db

    def set_busy_timeout(self, seconds: float) -> None:
        """How long a write waits for another process's lock before ``is_locked`` errors."""
        with self._lock:
            self.db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            with self._lock, self._transaction():
                return self.db.execute(sql, tuple(params))
        except sqlite3.IntegrityError:
            raise  # the callers say which record already exists
        except sqlite3.DatabaseError as err:
            if is_locked(err):
                raise
            raise store_error(self.path, err) from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT: take the write lock up front so WAL readers never deadlock."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if db.in_transaction:  # SQLite has already rolled back after SQLITE_FULL
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _wal(self) -> None:
        """Switch to WAL mode (it sticks to the file). Switching ignores the busy timeout when
        another connection is opening the new file at the same moment, hence the retries."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self) -> None:
        # Opening a store another process is writing to must not wait for its lock: read the
        # version first, and take the write lock only when there is something to migrate.
        try:
            row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError:
            row = None  # a new file: no table yet
        if row is not None and row[0] == SCHEMA_VERSION:
            return
        with self._lock, self._transaction():
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise WorktreeError(
                    f"{self.path} was written by a newer nborch (schema {current}, this one knows "
                    f"{SCHEMA_VERSION}) — upgrade nborch"
                )
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements:
                        self.db.execute(statement)
                    self.db.execute("DELETE FROM schema_version")
                    self.db.execute("INSERT INTO schema_version VALUES (?)", (version,))

    @property
    def schema_version(self) -> int:
        return self.db.execute("SELECT max(version) FROM schema_version").fetchone()[0]

    # -- runs -------------------------------------------------------------------------------

    def add_run(self, record: RunRecord) -> RunRecord:
        """Insert a run; raises ValueError if a run with that id exists."""
        values = [getattr(record, c) for c in RUN_COLUMNS]
        values[RUN_COLUMNS.index("created_at")] = _ts(record.created_at)
        try:
            self._write(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(RUN_COLUMNS))})", values)  # fmt: skip
        except sqlite3.IntegrityError as err:
            raise ValueError(f"a run with id {record.id!r} already exists") from err
        return record

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first."""
        with self._lock:
            rows = self.db.execute(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY created_at, id").fetchall()
        return [run_from_row(row) for row in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run by id, or None."""
        with self._lock:
            row = self.db.execute(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return run_from_row(row) if row else None

    def update_run(self, run_id: str, **values: Any) -> RunRecord:
        """Change ``status``, ``settings_json``, ``plan_path`` or ``plan_title`` of a run."""
        unknown = set(values) - _RUN_UPDATABLE
        if unknown:
            raise TypeError(f"cannot update run field(s) {sorted(unknown)}; "
                            f"updatable: {sorted(_RUN_UPDATABLE)}")  # fmt: skip
        if values:
            sets = ", ".join(f"{k} = ?" for k in values)
            cur = self._write(f"UPDATE runs SET {sets} WHERE id = ?", [*values.values(), run_id])
            if cur.rowcount == 0:
                raise KeyError(f"no run {run_id!r} in {self.path}")
        record = self.get_run(run_id)
        if record is None:
            raise KeyError(f"no run {run_id!r} in {self.path}")
        return record

    def claim_run(self, run_id: str, pid: int, started: float) -> int | None:
        """Make process ``(pid, started)`` the run's coordinator, atomically: of two processes
        claiming one run at once, one wins. Returns the pid of another live coordinator instead
        (and changes nothing); raises KeyError for an unknown run."""
        with self._lock, self._transaction():
            run = self.get_run(run_id)  # inside the transaction: no other writer meanwhile
            if run is None:
                raise KeyError(f"no run {run_id!r} in {self.path}")
            mine = run.coordinator_pid == pid and abs((run.coordinator_started or 0) - started) < 1
            if run.status == "running" and not mine and run_alive(run):
                return run.coordinator_pid
            self.db.execute("UPDATE runs SET status = 'running', coordinator_pid = ?, "
                            "coordinator_started = ? WHERE id = ?", (pid, started, run_id))  # fmt: skip
        return None

    def interrupt_run(self, run_id: str) -> int:
        """Record a run whose coordinator died as *interrupted*, with its unfinished attempts,
        atomically: a process that claimed the run meanwhile (:meth:`claim_run`) is left alone
        — otherwise a second resume could overwrite the first one's claim and run the agents
        again. Returns how many attempts changed; 0 for a run that is alive."""
        with self._lock, self._transaction():
            run = self.get_run(run_id)
            if run is None or run_alive(run):
                return 0
            rows = self.db.execute("SELECT task_id, agent, status FROM attempts WHERE run_id = ? "
                                   f"AND status IN ({', '.join('?' * len(ACTIVE))})",
                                   (run_id, *sorted(ACTIVE))).fetchall()  # fmt: skip
            now = _ts(None)
            for task_id, agent, status in rows:
                self.db.execute("UPDATE attempts SET status = 'interrupted', error = ?, "
                                "updated_at = ? WHERE run_id = ? AND task_id = ? AND agent = ?",
                                (f"the coordinator stopped while this attempt was {status}", now,
                                 run_id, task_id, agent))  # fmt: skip
                self.db.execute("INSERT INTO events (run_id, task_id, agent, time, kind, state, "
                                "text) VALUES (?, ?, ?, ?, 'state', 'interrupted', '')",
                                (run_id, task_id, agent, now))  # fmt: skip
            self.db.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", (run_id,))
        return len(rows)

    def delete_run(self, run_id: str) -> None:
        """Forget a run and its attempts (the worktrees and branches are not touched)."""
        self._write("DELETE FROM runs WHERE id = ?", (run_id,))

    # -- attempts ---------------------------------------------------------------------------

    def add_attempts(self, records: Iterable[AttemptRecord]) -> list[AttemptRecord]:
        """Insert attempts in one transaction; all or none. Raises ValueError on a duplicate."""
        now = _now()
        out = []
        rows = []
        for r in records:
            created = r.created_at or now
            out.append(replace(r, created_at=created, updated_at=r.updated_at or created))
            rows.append((r.run_id, r.task_id, r.task_slug, r.agent, r.branch, r.path,
                         r.attempt_dir, r.state, json.dumps(list(r.managed_files)), _ts(created),
                         _ts(r.updated_at or created), r.head,
                         *(_sql(getattr(r, c)) for c in EXEC_COLUMNS)))  # fmt: skip
        sql = (f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) VALUES "
               f"({', '.join('?' * len(ATTEMPT_COLUMNS))})")  # fmt: skip
        with self._lock:
            try:
                with self._transaction():
                    self.db.executemany(sql, rows)
            except sqlite3.IntegrityError as err:
                raise ValueError(f"cannot add attempts: {err} (an attempt already exists, or "
                                 "its run does not)") from err  # fmt: skip
        return out

    def attempts(self, run_id: str | None = None) -> list[AttemptRecord]:
        """The attempts of one run, or of every run; in creation order."""
        sql = f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts"
        params: tuple[str, ...] = ()
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params = (run_id,)
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        return [attempt_from_row(row) for row in rows]

    def cached_attempts(self, cache_key: str, exclude_run: str = "") -> list[AttemptRecord]:
        """Attempts with ``cache_key`` that completed, newest first (the result cache's
        candidates); none of run ``exclude_run``."""
        if not cache_key:
            return []
        sql = (f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts WHERE cache_key = ? AND "
               "status = 'completed' AND run_id != ? "
               "ORDER BY ended_at DESC, rowid DESC")  # fmt: skip
        with self._lock:
            rows = self.db.execute(sql, (cache_key, exclude_run)).fetchall()
        return [attempt_from_row(row) for row in rows]

    def attempt_columns(self, columns: Iterable[str], run_id: str | None = None) -> list[tuple[Any, ...]]:
        """Some columns of the attempts (of one run, or all), in creation order: cheaper than
        :meth:`attempts` when a view needs few fields of many attempts."""
        names = list(columns)
        unknown = set(names) - set(ATTEMPT_COLUMNS)
        if unknown:
            raise ValueError(f"no attempt column(s) {', '.join(sorted(unknown))}")
        sql = f"SELECT {', '.join(names)} FROM attempts"
        params: tuple[str, ...] = ()
        if run_id is not None:
            sql, params = sql + " WHERE run_id = ?", (run_id,)
        with self._lock:
            return self.db.execute(sql + " ORDER BY created_at, rowid", params).fetchall()

    def history_rows(self) -> list[dict[str, Any]]:
        """The evidence ``assign(per_task="auto")`` learns from: every attempt that ran to an
        outcome, with its task's type, in creation order. Keys: ``run_id, task_id, agent,
        task_type, passed`` (completed and its validation did not fail) and ``started_at``.

        Left out: rows without a task type (recorded before schema 4), results reused from
        another run (``cached_from``: counted where they ran), attempts that were cancelled or
        interrupted (stopped from outside), that never started (a dependency did not merge, its
        program could not start, its Dask job failed) or that failed for nborch's own reasons
        (a bug, a full disk): none says anything about the agent."""
        sql = ("SELECT run_id, task_id, agent, task_type, "
               "status = 'completed' AND validation != 'failed', started_at FROM attempts "
               "WHERE task_type != '' AND cached_from = '' AND started_at IS NOT NULL "
               "AND status IN ('completed', 'failed', 'timeout') "
               "AND error NOT LIKE 'nborch error:%' AND error NOT LIKE 'the disk is full%' "
               "AND NOT (status = 'failed' AND return_code IS NULL) "  # its agent never ran
               "ORDER BY created_at, rowid")  # fmt: skip
        with self._lock:
            rows = self.db.execute(sql).fetchall()
        keys = ("run_id", "task_id", "agent", "task_type", "passed", "started_at")
        return [dict(zip(keys, (*row[:4], bool(row[4]), parse_time(row[5])), strict=True))
                for row in rows]  # fmt: skip

    def update_attempt(self, run_id: str, task_id: str, agent: str, **values: Any) -> AttemptRecord:
        """Change fields of one attempt (``state``, ``head``, ``managed_files``, …); sets
        ``updated_at``. Raises KeyError if there is no such attempt."""
        unknown = set(values) - _ATTEMPT_UPDATABLE
        if unknown:
            raise TypeError(f"cannot update attempt field(s) {sorted(unknown)}; "
                            f"updatable: {sorted(_ATTEMPT_UPDATABLE)}")  # fmt: skip
        cols = {("managed_files_json" if k == "managed_files" else k):
                (json.dumps(list(v)) if k == "managed_files" else _sql(v)) for k, v in values.items()}  # fmt: skip
        cols["updated_at"] = _ts(None)
        sets = ", ".join(f"{k} = ?" for k in cols)
        with self._lock:
            cur = self._write(f"UPDATE attempts SET {sets} WHERE run_id = ? AND task_id = ? AND "
                              "agent = ?", [*cols.values(), run_id, task_id, agent])  # fmt: skip
            record = self.attempt(run_id, task_id, agent) if cur.rowcount else None
        if record is None:
            raise KeyError(f"no attempt ({run_id!r}, {task_id!r}, {agent!r}) in {self.path}")
        return record

    def attempt(self, run_id: str, task_id: str, agent: str) -> AttemptRecord | None:
        """One attempt, or None."""
        with self._lock:
            row = self.db.execute(
                f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts WHERE run_id = ? AND task_id = ? "
                "AND agent = ?", (run_id, task_id, agent)).fetchone()  # fmt: skip
        return attempt_from_row(row) if row else None

    # -- events -----------------------------------------------------------------------------

    def add_event(self, run_id: str, task_id: str, agent: str, kind: str, state: str = "",
                  text: str = "") -> None:  # fmt: skip
        """Append one event (a state change, a note) to a run's log."""
        self._write("INSERT INTO events (run_id, task_id, agent, time, kind, state, text) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?)", (run_id, task_id, agent, _ts(None), kind, state,
                                              text[:4000]))  # fmt: skip

    def events(self, run_id: str, since: int = 0) -> list[dict[str, Any]]:
        """A run's events after id ``since``, oldest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT id, task_id, agent, time, kind, state, text FROM events WHERE run_id = ? "
                "AND id > ? ORDER BY id", (run_id, since)).fetchall()  # fmt: skip
        keys = ("id", "task_id", "agent", "time", "kind", "state", "text")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def delete_attempts(self, run_id: str, keys: Iterable[tuple[str, str]] | None = None) -> int:
        """Forget attempts of a run: all of them, or those whose (task_id, agent) is in ``keys``.
        Returns how many rows went."""
        with self._lock:
            if keys is None:
                return self._write("DELETE FROM attempts WHERE run_id = ?", (run_id,)).rowcount
            with self._transaction():
                cur = self.db.executemany(
                    "DELETE FROM attempts WHERE run_id = ? AND task_id = ? AND agent = ?",
                    [(run_id, t, a) for t, a in keys])  # fmt: skip
                return cur.rowcount


def _sql(value: Any) -> Any:
    """A Python value as SQLite stores it (datetimes as ISO text, bools as 0/1)."""
    if isinstance(value, datetime):
        return _ts(value)
    if isinstance(value, bool):
        return int(value)
    return value


def is_locked(err: BaseException) -> bool:
    """Whether ``err`` is SQLite saying another process holds the database (try again later)."""
    return isinstance(err, sqlite3.OperationalError) and ("locked" in str(err) or "busy" in str(err))


def disk_is_full(path: Path, err: BaseException) -> bool:
    """Whether ``err`` comes from a full disk: SQLite says so ("database or disk is full"), the OS
    says ENOSPC, or SQLite reports an I/O error where the disk has no space left (a WAL that
    cannot grow is an I/O error to SQLite)."""
    said = str(err)
    if "disk is full" in said or getattr(err, "errno", None) == errno.ENOSPC:
        return True
    if "disk I/O error" in said:
        with suppress(OSError):
            return shutil.disk_usage(path.parent).free < FULL_BELOW_BYTES
    return False


def store_error(path: Path, err: BaseException) -> StoreError:
    """One line a person can act on, for a store that cannot be read or written."""
    said = str(err) or type(err).__name__
    if disk_is_full(path, err):
        return StoreError(f"the run store {path} cannot be written: the disk is full ({said}) — "
                          "your branches, worktrees and commits are intact (git branch --list "
                          "'nborch/*'); free some space and resume the run", disk_full=True)  # fmt: skip
    if "not a database" in said or "malformed" in said:
        why = "it is damaged (not an SQLite database, or truncated)"
        fix = f"move it away (mv {path} {path}.bad) and nborch starts a new history"
    elif "readonly" in said or "read-only" in said or isinstance(err, PermissionError):
        why = "it cannot be written here (read-only file or folder)"
        fix = "give yourself write access to it and its folder"
    else:
        why = said
        fix = "check the file and its folder's permissions"
    return StoreError(f"the run store {path} cannot be used: {why} ({said}) — your branches, "
                      f"worktrees and commits are intact (git branch --list 'nborch/*'); {fix}")
