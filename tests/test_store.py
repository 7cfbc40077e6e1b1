"""The SQLite run history in the git dir: schema, records, updates, reopen, concurrent writers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nborch.errors import WorktreeError
from nborch.store import SCHEMA_VERSION, AttemptRecord, RunRecord, Store

_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def run_record(run_id: str = "r1", **changes: object) -> RunRecord:
    values: dict[str, object] = dict(id=run_id, created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
                                     repo="/repo", base_ref="main", base_commit="a" * 40,
                                     root="/wt", plan_path="plan.md", plan_title="Plan")  # fmt: skip
    values.update(changes)
    return RunRecord(**values)  # type: ignore[arg-type]


def attempt(task: str = "1.1", agent: str = "claude", run_id: str = "r1", **changes: object) -> AttemptRecord:
    values: dict[str, object] = dict(run_id=run_id, task_id=task, task_slug=task, agent=agent,
                                     branch=f"nborch/{run_id}/{task}/{agent}",
                                     path=f"/wt/{run_id}/{task}--{agent}",
                                     attempt_dir=f"/git/nborch/runs/{run_id}/{task}--{agent}")  # fmt: skip
    values.update(changes)
    return AttemptRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(git_repo: Path):
    """The store of ``git_repo``, closed after the test."""
    with Store.open(git_repo) as s:
        yield s


class TestOpen:
    def test_lives_in_the_git_common_dir(self, store: Store, git_repo: Path) -> None:
        """The database is <git-common-dir>/nborch/nborch.sqlite, in WAL mode, at the latest schema."""
        assert store.path == git_repo / ".git" / "nborch" / "nborch.sqlite"
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.schema_version == SCHEMA_VERSION == 4

    def test_found_from_a_linked_worktree(self, git_repo: Path, tmp_path: Path) -> None:
        """Opening from a linked worktree or a subfolder finds the same database."""
        subprocess.run(["git", "worktree", "add", "-q", str(tmp_path / "linked")], cwd=git_repo,
                       env=_ENV, check=True)  # fmt: skip
        (git_repo / "sub").mkdir()
        with Store.open(tmp_path / "linked") as a, Store.open(git_repo / "sub") as b:
            assert a.path == b.path == (git_repo / ".git" / "nborch" / "nborch.sqlite").resolve()

    def test_not_a_repository(self, tmp_path: Path) -> None:
        """A folder outside any repository is refused with a clear message."""
        with pytest.raises(WorktreeError, match="not inside a git repository"):
            Store.open(tmp_path)

    def test_closed_store_refuses_work(self, git_repo: Path) -> None:
        """A closed store says it is closed instead of failing obscurely."""
        with Store.open(git_repo) as s:
            pass
        assert "closed" in repr(s)
        with pytest.raises(WorktreeError, match="closed"):
            s.runs()
        s.close()  # closing twice is fine

    def test_newer_schema_refused(self, git_repo: Path) -> None:
        """A database written by a newer nborch is refused, not damaged."""
        with Store.open(git_repo) as s:
            s.db.execute("UPDATE schema_version SET version = 99")
        with pytest.raises(WorktreeError, match="newer nborch"):
            Store.open(git_repo)

    def test_no_files_or_pandas_at_import(self, tmp_path: Path) -> None:
        """Importing the store and worktree modules writes nothing and does not import pandas."""
        code = ("import sys, nborch.store, nborch.workspace.manager, nborch.gitcmd; "
                "print('pandas' in sys.modules, 'git' in sys.modules)")  # fmt: skip
        out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        assert out.split() == ["False", "False"] and list(tmp_path.iterdir()) == []


class TestRuns:
    def test_roundtrip(self, store: Store) -> None:
        """A run comes back equal, with an aware UTC datetime, and is frozen."""
        record = store.add_run(run_record(settings_json='{"test_command": "pytest"}'))
        (back,) = store.runs()
        assert back == record and back.created_at.tzinfo is not None
        assert back.settings == {"test_command": "pytest"}
        assert store.get_run("r1") == record and store.get_run("nope") is None
        with pytest.raises(FrozenInstanceError):
            back.status = "x"  # type: ignore[misc]

    def test_duplicate_id(self, store: Store) -> None:
        """A second run with the same id is refused."""
        store.add_run(run_record())
        with pytest.raises(ValueError, match="already exists"):
            store.add_run(run_record())

    def test_order_and_update(self, store: Store) -> None:
        """Runs list oldest first; update_run changes the allowed fields only."""
        store.add_run(run_record("new", created_at=datetime(2025, 5, 1, tzinfo=UTC)))
        store.add_run(run_record("old", created_at=datetime(2024, 5, 1, tzinfo=UTC)))
        assert [r.id for r in store.runs()] == ["old", "new"]
        assert store.update_run("old", status="cleaned").status == "cleaned"
        with pytest.raises(TypeError, match="base_commit"):
            store.update_run("old", base_commit="b" * 40)
        with pytest.raises(KeyError):
            store.update_run("missing", status="x")


class TestAttempts:
    def test_roundtrip_and_defaults(self, store: Store) -> None:
        """Attempts come back in order with state 'prepared', timestamps and managed files."""
        store.add_run(run_record())
        added = store.add_attempts([attempt("1.1"), attempt("1.2", managed_files=("CLAUDE.md",))])
        back = store.attempts("r1")
        assert back == added and [a.state for a in back] == ["prepared", "prepared"]
        assert back[1].managed_files == ("CLAUDE.md",) and back[0].created_at is not None
        assert store.attempts() == back and store.attempts("other") == []
        assert store.attempt("r1", "1.2", "claude") == back[1]
        assert store.attempt("r1", "1.2", "codex") is None

    def test_all_or_nothing(self, store: Store) -> None:
        """A batch with a duplicate, or for a run that does not exist, adds nothing."""
        store.add_run(run_record())
        store.add_attempts([attempt("1.1")])
        with pytest.raises(ValueError):
            store.add_attempts([attempt("1.2"), attempt("1.1")])
        with pytest.raises(ValueError):
            store.add_attempts([attempt("1.3", run_id="nope")])
        assert [a.task_id for a in store.attempts()] == ["1.1"]

    def test_update(self, store: Store) -> None:
        """update_attempt changes fields and updated_at; unknown fields and attempts are refused."""
        store.add_run(run_record())
        (before,) = store.add_attempts([attempt()])
        after = store.update_attempt("r1", "1.1", "claude", state="removed", head="c" * 40,
                                     managed_files=["AGENTS.md"])  # fmt: skip
        assert (after.state, after.head, after.managed_files) == ("removed", "c" * 40, ("AGENTS.md",))
        assert after.updated_at >= before.updated_at and after.created_at == before.created_at
        with pytest.raises(TypeError, match="run_id"):
            store.update_attempt("r1", "1.1", "claude", run_id="x")
        with pytest.raises(KeyError):
            store.update_attempt("r1", "9.9", "claude", state="x")

    def test_delete(self, store: Store) -> None:
        """delete_attempts removes the named attempts, or all of a run's; delete_run cascades."""
        store.add_run(run_record())
        store.add_attempts([attempt("1"), attempt("2"), attempt("3")])
        assert store.delete_attempts("r1", [("2", "claude")]) == 1
        assert [a.task_id for a in store.attempts()] == ["1", "3"]
        assert store.delete_attempts("r1") == 2
        store.add_attempts([attempt("4")])
        store.delete_run("r1")
        assert store.attempts() == [] and store.runs() == []


class TestDurability:
    def test_survives_reopen(self, git_repo: Path) -> None:
        """What one connection wrote, a new one reads after close."""
        with Store.open(git_repo) as s:
            s.add_run(run_record())
            s.add_attempts([attempt()])
        with Store.open(git_repo) as s:
            assert [r.id for r in s.runs()] == ["r1"] and len(s.attempts()) == 1

    def test_concurrent_writers(self, git_repo: Path) -> None:
        """Threads with their own connections write at once without 'database is locked'."""
        errors: list[BaseException] = []

        def write(n: int) -> None:
            try:
                with Store.open(git_repo) as s:
                    s.add_run(run_record(f"run{n}"))
                    s.add_attempts([attempt(str(i), run_id=f"run{n}") for i in range(20)])
                    for i in range(20):
                        s.update_attempt(f"run{n}", str(i), "claude", state="done")
            except BaseException as err:  # reported below, in the test's thread
                errors.append(err)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with Store.open(git_repo) as s:
            assert len(s.runs()) == 4 and {a.state for a in s.attempts()} == {"done"}

    def test_plain_sqlite_can_read_it(self, store: Store) -> None:
        """The file is ordinary SQLite: other tools can read the history."""
        store.add_run(run_record())
        with sqlite3.connect(store.path) as other:
            assert other.execute("SELECT id FROM runs").fetchall() == [("r1",)]
        other.close()


class TestExecutionSchema:
    def test_version_1_database_is_upgraded_keeping_its_rows(self, git_repo: Path) -> None:
        """A database written at schema 1 opens at the latest schema with its runs and attempts
        intact, the new columns at their defaults."""
        import sqlite3

        from nborch.store.schema import MIGRATIONS

        path = Store.path_for(git_repo / ".git")
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[0][1]:
            db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute("INSERT INTO runs (id, created_at, repo, base_ref, base_commit, root) VALUES "
                   "('r1', '2026-01-01T00:00:00+00:00', 'repo', 'main', 'abc', 'root')")
        db.execute("INSERT INTO attempts (run_id, task_id, task_slug, agent, branch, path, "
                   "attempt_dir, created_at, updated_at) VALUES ('r1', '1', '1', 'demo', 'b', "
                   "'p', 'd', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')")
        db.commit()
        db.close()
        with Store(path) as store:
            assert store.schema_version == 4
            (attempt,) = store.attempts("r1")
            assert attempt.status == "pending" and attempt.input_tokens == 0
            assert attempt.problem == "" and attempt.cache_key == attempt.cached_from == ""
            assert store.get_run("r1").coordinator_pid is None

    def test_execution_fields_and_events_round_trip(self, store: Store) -> None:
        """Execution results on an attempt and events of a run are stored and read back."""
        from datetime import UTC, datetime

        from nborch.store import AttemptRecord, RunRecord

        now = datetime.now(UTC)
        store.add_run(RunRecord("r2", now, "repo", "main", "abc", "root"))
        store.add_attempts([AttemptRecord("r2", "1", "1", "demo", "b", "p", "d")])
        rec = store.update_attempt("r2", "1", "demo", status="completed", started_at=now,
                                   input_tokens=12, cost_usd=0.5, done_requested=True)
        assert (rec.status, rec.started_at, rec.input_tokens, rec.cost_usd, rec.done_requested) == (
            "completed", now, 12, 0.5, True)
        store.add_event("r2", "1", "demo", "state", "running", "")
        store.add_event("r2", "1", "demo", "state", "completed", "ok")
        events = store.events("r2")
        assert [e["state"] for e in events] == ["running", "completed"]
        assert store.events("r2", since=events[0]["id"])[0]["text"] == "ok"
        assert store.attempt("r2", "1", "nobody") is None


class EffectiveStatusTests:
    """The one rule for *interrupted*: unfinished work of a coordinator that is gone."""

    def test_unfinished_work_of_a_dead_coordinator_is_interrupted(self) -> None:
        from datetime import UTC, datetime

        from nborch.procs import process_identity
        from nborch.store import effective_status, run_alive

        run = RunRecord(id="r", created_at=datetime.now(UTC), repo="/r", base_ref="main",
                        base_commit="0" * 40, root="/w", status="running",
                        coordinator_pid=2**22 + 7, coordinator_started=1.0)  # fmt: skip
        assert not run_alive(run)
        assert effective_status(run, run_alive(run)) == "interrupted"
        attempt = AttemptRecord(run_id="r", task_id="1", task_slug="1", agent="a", branch="b",
                                path="/p", attempt_dir="/d", status="running")  # fmt: skip
        assert effective_status(attempt, False) == "interrupted"
        assert effective_status(attempt, True) == "running"
        done = AttemptRecord(run_id="r", task_id="1", task_slug="1", agent="a", branch="b",
                             path="/p", attempt_dir="/d", status="completed")  # fmt: skip
        assert effective_status(done, False) == "completed"
        pid, started = process_identity()
        mine = RunRecord(id="r", created_at=datetime.now(UTC), repo="/r", base_ref="main",
                         base_commit="0" * 40, root="/w", status="running",
                         coordinator_pid=pid, coordinator_started=started)  # fmt: skip
        assert run_alive(mine) and effective_status(mine, run_alive(mine)) == "running"
        prepared = RunRecord(id="r", created_at=datetime.now(UTC), repo="/r", base_ref="main",
                             base_commit="0" * 40, root="/w", status="prepared")  # fmt: skip
        assert run_alive(prepared)  # never started: its pending attempts are just pending


def _claim(path: str, run_id: str, start_at: float, out: str) -> None:
    import os
    import time

    import psutil

    from nborch.store import Store

    store = Store(path)
    time.sleep(max(0.0, start_at - time.time()))
    won = store.claim_run(run_id, os.getpid(), psutil.Process().create_time()) is None
    with open(out, "a") as f:
        f.write(f"{os.getpid()} {won}\n")
    time.sleep(1.0)  # stay alive while the others try: a winner that exited would be dead


class ClaimRunTests:
    def test_one_of_many_processes_claiming_at_once_wins(self, tmp_path) -> None:
        """claim_run is atomic across processes (BEGIN IMMEDIATE): of six claiming the same run
        at the same instant, exactly one becomes its coordinator."""
        import multiprocessing
        import time
        from datetime import UTC, datetime

        path = tmp_path / "nborch.sqlite"
        with Store(path) as store:
            store.add_run(RunRecord(id="r", created_at=datetime.now(UTC), repo="/r", base_ref="main",
                                    base_commit="0" * 40, root="/w", status="interrupted"))  # fmt: skip
        out = tmp_path / "claims.txt"
        start_at = time.time() + 1.5
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_claim, args=(str(path), "r", start_at, str(out)))
                 for _ in range(6)]  # fmt: skip
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        results = [line.split() for line in out.read_text().splitlines()]
        assert len(results) == 6
        winners = [pid for pid, won in results if won == "True"]
        assert len(winners) == 1
        with Store(path) as store:
            assert store.get_run("r").coordinator_pid == int(winners[0])

    def test_interrupting_a_dead_run_leaves_a_fresh_claim_alone(self, tmp_path) -> None:
        """A resume that read the run as dead, then finds it claimed by another resume, must not
        write *interrupted* over that claim (two resumes then both ran the agents)."""
        from datetime import UTC, datetime

        import psutil

        with Store(tmp_path / "nborch.sqlite") as store:
            store.add_run(RunRecord(id="r", created_at=datetime.now(UTC), repo="/r", base_ref="main",
                                    base_commit="0" * 40, root="/w", status="running",
                                    coordinator_pid=2**22 + 7, coordinator_started=1.0))  # fmt: skip
            store.add_attempts([AttemptRecord("r", "1", "1", "a", "b", "/p", "/d", status="running")])
            assert store.claim_run("r", os.getpid(), psutil.Process().create_time()) is None
            assert store.interrupt_run("r") == 0  # alive now: nothing changes
            assert store.get_run("r").status == "running"
            assert store.attempt("r", "1", "a").status == "running"
            store.update_run("r", coordinator_pid=2**22 + 7, coordinator_started=1.0)  # it died
            assert store.interrupt_run("r") == 1
            assert store.get_run("r").status == "interrupted"
            rec = store.attempt("r", "1", "a")
            assert rec.status == "interrupted" and "was running" in rec.error
