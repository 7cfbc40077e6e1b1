"""Runs from the store: history, runs whose coordinator died, and runs loaded back.

A dead coordinator is simulated by writing the pid of a process that has exited into the run's
row; the runs themselves are real (script agents, real git), with worktrees under ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

import nborch
from nborch import AttemptState, Coordinator
from nborch.execute.runs import (
    HISTORY_COLUMNS,
    history,
    live_coordinator,
    mark_interrupted,
)
from nborch.procs import coordinator_alive
from nborch.workspace.manager import WorktreeManager

S = AttemptState


@pytest.fixture(autouse=True)
def _registry():
    yield
    nborch.agents.reset()


def agent(tmp_path: Path, name: str, body: str) -> str:
    """Register ``tmp_path/agents/<name>.py`` (given the worktree and task id) as ``name``."""
    folder = tmp_path / "agents"
    folder.mkdir(exist_ok=True)
    script = folder / f"{name}.py"
    prelude = ("import os, pathlib, sys\nwt, task = pathlib.Path(sys.argv[1]), sys.argv[2]\n"
               "here = pathlib.Path(__file__).resolve().parent\n")  # fmt: skip
    script.write_text(prelude + textwrap.dedent(body))
    nborch.script_agent(name, f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} "
                              "{worktree} {task_id}")  # fmt: skip
    return name


def run_plan(repo: Path, tmp_path: Path, text: str, **kw) -> Coordinator:
    kw.setdefault("timeout", "30s")
    return Coordinator(repo, nborch.parse_plan(text), root=tmp_path / "wt", **kw).run_sync()


def dead_pid() -> tuple[int, float]:
    """The pid and start time of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, created


def crash(repo: Path, run_id: str, statuses: dict[str, str]) -> None:
    """Make the store look as if ``run_id``'s coordinator died with attempts in ``statuses``."""
    pid, created = dead_pid()
    with WorktreeManager(repo).store() as store:
        store.update_run(run_id, status="running", coordinator_pid=pid, coordinator_started=created)
        for rec in store.attempts(run_id):
            if rec.task_id in statuses:
                store.update_attempt(run_id, rec.task_id, rec.agent, status=statuses[rec.task_id])


@pytest.fixture
def finished(git_repo: Path, tmp_path: Path) -> Coordinator:
    """A finished run of three tasks: one completed, one failed, one completed after it."""
    agent(tmp_path, "ok", "(wt / f'{task}.txt').write_text(task)\n")
    agent(tmp_path, "no", "sys.exit(4)\n")
    return run_plan(git_repo, tmp_path, textwrap.dedent("""
        # P
        ## Task 1: A
        Agents: ok

        **Validation criteria**

        - `test -f 1.txt` passes.

        ## Task 2: B
        Agents: no
        ## Task 3: C
        Depends on: 1
        Agents: ok
    """))


class TestCoordinatorAlive:
    """A coordinator is alive only when its pid runs with the recorded start time."""

    def test_this_process_is_alive(self):
        """The current process, with its own start time, is alive."""
        assert coordinator_alive(os.getpid(), psutil.Process().create_time())

    def test_a_reused_pid_is_not_alive(self):
        """The right pid with another start time is a different process."""
        assert not coordinator_alive(os.getpid(), psutil.Process().create_time() - 3600)

    def test_missing_or_dead_pid_is_not_alive(self):
        """No pid, or the pid of a process that exited, is not alive."""
        assert not coordinator_alive(None, None)
        assert not coordinator_alive(*dead_pid())


class TestHistory:
    """history(repo) has one row per run, newest first, with attempts counted by state."""

    def test_history_counts_attempts_by_state(self, git_repo, tmp_path, finished):
        """A finished run shows its status and how many attempts ended each way."""
        frame = history(git_repo)
        assert list(frame.columns) == list(HISTORY_COLUMNS)
        assert len(frame) == 1
        row = frame.iloc[0]
        assert row["run"] == finished.id and row["status"] == "finished"
        assert (row["attempts"], row["completed"], row["failed"], row["running"]) == (3, 2, 1, 0)
        assert isinstance(frame["created_at"].dtype, pd.DatetimeTZDtype)

    def test_newest_run_first(self, git_repo, tmp_path, finished):
        """A second run comes before the first one."""
        again = run_plan(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok\n")
        assert list(history(git_repo)["run"]) == [again.id, finished.id]
        assert history(git_repo).loc[0, "status"] == "completed"

    def test_history_of_a_repository_without_runs_is_empty(self, git_repo):
        """A repository nborch never ran in has an empty history with the same columns."""
        frame = history(git_repo)
        assert frame.empty and list(frame.columns) == list(HISTORY_COLUMNS)


class TestMarkInterrupted:
    """Attempts a dead coordinator left unfinished become interrupted."""

    def test_dead_coordinator_leaves_its_unfinished_attempts_interrupted(self, git_repo, finished):
        """Pending, blocked and running attempts of a run whose coordinator is gone are marked
        interrupted, with an event each; finished attempts stay as they were."""
        crash(git_repo, finished.id, {"1": "running", "3": "blocked"})
        manager = WorktreeManager(git_repo)
        assert mark_interrupted(manager) == 2
        with manager.store() as store:
            got = {a.task_id: (a.status, a.error) for a in store.attempts(finished.id)}
            events = [e for e in store.events(finished.id) if e["state"] == "interrupted"]
            assert store.get_run(finished.id).status == "interrupted"
        assert got["1"][0] == got["3"][0] == "interrupted" and "was running" in got["1"][1]
        assert got["2"][0] == "failed"
        assert len(events) == 2
        assert mark_interrupted(manager) == 0  # once is enough

    def test_live_coordinator_is_left_alone(self, git_repo, finished):
        """A run whose coordinator still runs keeps its running attempts."""
        with WorktreeManager(git_repo).store() as store:
            store.update_run(finished.id, status="running", coordinator_pid=os.getpid(),
                             coordinator_started=psutil.Process().create_time())  # fmt: skip
            store.update_attempt(finished.id, "1", "ok", status="running")
        assert mark_interrupted(WorktreeManager(git_repo)) == 0
        assert live_coordinator(WorktreeManager(git_repo), finished.id) is None  # it is this one


class TestLoadRun:
    """load_run gives back a recorded run as a coordinator with its results."""

    def test_unknown_run_names_the_known_ones(self, git_repo, finished):
        """Loading a run id that does not exist says which runs do."""
        with pytest.raises(nborch.NborchError, match=finished.id):
            Coordinator.load(git_repo, "no-such-run")

    def test_unreadable_or_newer_snapshot_says_what_to_do(self, git_repo, finished):
        """A record this nborch cannot read (damaged, or another format) is an error that says
        the work is intact — not a traceback from pickle; the old bare format still loads."""
        import pickle

        from nborch.execute.recorder import snapshot_path

        path = snapshot_path(WorktreeManager(git_repo), finished.id)
        saved = path.read_bytes()
        data = pickle.loads(saved)
        assert data["format"] == 1 and data["nborch"] == nborch.__version__
        try:
            path.write_bytes(pickle.dumps(data["prepared"]))  # format 0: the bare PreparedRun
            assert Coordinator.load(git_repo, finished.id).id == finished.id
            path.write_bytes(pickle.dumps({**data, "format": 99, "nborch": "9.0"}))
            with pytest.raises(nborch.NborchError, match="format 99 .*nborch 9.0.*intact"):
                Coordinator.load(git_repo, finished.id)
            path.write_bytes(saved[:40])
            with pytest.raises(nborch.NborchError, match="cannot be read by nborch"):
                Coordinator.load(git_repo, finished.id)
        finally:
            path.write_bytes(saved)

    def test_load_restores_the_results(self, git_repo, finished):
        """Every attempt comes back with its status, commit, validation and log."""
        run = Coordinator.load(git_repo, finished.id)
        assert run.id == finished.id and not run.done
        for key, ex in finished.executions.items():
            got = run.executions[key]
            for field in ("status", "commit", "branch", "worktree", "return_code", "error",
                          "validation", "validation_details", "log_path", "tries",
                          "files_changed", "started_at", "ended_at"):  # fmt: skip
                assert getattr(got, field) == getattr(ex, field), (key, field)
        assert run.executions[("1", "ok")].validation_details[0]["passed"]
        assert run.summary()["status"].tolist() == ["completed", "failed", "completed"]
        assert repr(run) == f"<Run {finished.id}: 3/3 done, 1 not completed>"

    def test_load_keeps_options_unless_overridden(self, git_repo, tmp_path):
        """The options a run was started with come back; keyword arguments override them."""
        agent(tmp_path, "ok", "pass\n")
        first = run_plan(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok\n", max_concurrent=3,
                         retries=2, timeout="45s")  # fmt: skip
        run = Coordinator.load(git_repo, first.id, timeout="5s")
        assert (run.gate.limit, run.options.retries, run.options.timeout) == (3, 2, 5.0)
        assert Coordinator.load(git_repo, first.id, timeout=None).options.timeout == 45.0  # None keeps
        assert Coordinator.load(git_repo, first.id, timeout="none").options.timeout is None

    def test_load_and_resume_without_the_script_agent_registered(self, git_repo, tmp_path):
        """A run of script agents loads and resumes in a process that never registered them
        (the specs are in the run's snapshot), completing only what had not finished."""
        agent(tmp_path, "ok", "(wt / f'{task}.txt').write_text(task)\n")
        text = "# P\n## Task 1: A\nAgents: ok\n## Task 2: B\nAgents: ok\n"
        first = run_plan(git_repo, tmp_path, text)
        crash(git_repo, first.id, {"2": "running"})
        nborch.agents.reset()
        run = Coordinator.load(git_repo, first.id)
        assert run.executions[("2", "ok")].status == S.INTERRUPTED
        done = run.executions[("1", "ok")]
        run.resume().wait(30)
        assert run.executions[("2", "ok")].status == S.COMPLETED
        assert run.executions[("1", "ok")] is done
        assert history(git_repo).loc[0, "status"] == "completed"

    def test_load_keeps_the_attempts_of_tasks_marked_done(self, git_repo, tmp_path):
        """A run started with include_done=True loads with every attempt it ran."""
        agent(tmp_path, "ok", "(wt / f'{task}.txt').write_text(task)\n")
        text = "# P\n\n- [x] 1. Done already\n  Agents: ok\n- [ ] 2. To do\n  Agents: ok\n"
        first = run_plan(git_repo, tmp_path, text, include_done=True)
        assert len(first.executions) == 2
        run = Coordinator.load(git_repo, first.id)
        assert {k: ex.status for k, ex in run.executions.items()} == {
            ("1", "ok"): S.COMPLETED, ("2", "ok"): S.COMPLETED}


class ClaimTests:
    """One process runs a run: a resume claims it atomically, a cleanup skips a run being prepared."""

    def test_two_resumes_at_once_run_the_agent_once(self, git_repo, tmp_path):
        """Two `nborch resume RUN` started together: one runs the interrupted attempt, the other
        says who does and exits 2; the agent ran once."""
        # The agent works until the test releases it, once one resume has given up: however
        # slow the second resume is to start on a busy machine, it meets the first one running.
        agent(tmp_path, "ok", "with open(here / 'ran.log', 'a') as f: f.write(task + '\\n')\n"
                              "import time; t0 = time.time()\n"
                              "while not (here / 'release').exists() and time.time() - t0 < 90:\n"
                              "    time.sleep(0.1)\n(wt / f'{task}.txt').write_text(task)\n")  # fmt: skip
        (tmp_path / "agents" / "release").touch()  # the first run goes straight through
        first = run_plan(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok\n")
        (tmp_path / "agents" / "ran.log").unlink()
        (tmp_path / "agents" / "release").unlink()
        crash(git_repo, first.id, {"1": "running"})
        procs = [subprocess.Popen([sys.executable, "-m", "nborch", "resume", first.id, "-r",
                                   str(git_repo), "--json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
        deadline = time.monotonic() + 120
        while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.1)
        (tmp_path / "agents" / "release").touch()
        results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
        codes = sorted(code for _, _, code in results)
        assert codes == [0, 2], results
        loser = next(err for _, err, code in results if code == 2)
        assert "still being run by process" in loser and loser.count("\n") == 1
        assert (tmp_path / "agents" / "ran.log").read_text() == "1\n"

    def test_a_cleanup_while_a_run_is_prepared_leaves_it_alone(self, git_repo, tmp_path, monkeypatch):
        """`nborch cleanup` in another process, while the coordinator prepares (worktrees made,
        prompts not yet written), removes nothing of it; the run then completes."""
        from nborch.workspace.manager import WorktreeManager as Manager

        agent(tmp_path, "ok", "(wt / f'{task}.txt').write_text(task)\n")
        create, seen = Manager.create, []

        def create_then_cleanup(self, run, attempts):
            made = create(self, run, attempts)
            seen.append(subprocess.run([sys.executable, "-m", "nborch", "cleanup", "-r",
                                        str(git_repo), "--json"], capture_output=True, text=True,
                                       timeout=120))  # fmt: skip
            return made

        monkeypatch.setattr(Manager, "create", create_then_cleanup)
        run = run_plan(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok\n## Task 2: B\nAgents: ok\n")
        (cleaned,) = seen
        assert cleaned.returncode == 0, cleaned.stderr
        assert json.loads(cleaned.stdout)["removed"] == []
        assert {str(ex.status) for ex in run.executions.values()} == {"completed"}


class LockedStoreTests:
    def test_a_store_locked_by_another_process_fails_no_finished_work(self, git_repo, tmp_path):
        """While another connection holds the store's write lock for 5 s (longer than a write
        waits), attempts still complete, their dependents run, and every result reaches the
        store once the lock is gone."""
        import sqlite3
        import threading
        import time

        agent(tmp_path, "ok", "import time; time.sleep(0.5)\n(wt / f'{task}.txt').write_text(task)\n")
        text = "# P\n## Task 1: A\nAgents: ok\n## Task 2: B\nDepends on: 1\nAgents: ok\n"
        run = Coordinator(git_repo, nborch.parse_plan(text), root=tmp_path / "wt", timeout="60s")
        held = threading.Event()

        def hold_lock() -> None:
            while str(run.executions[("1", "ok")].status) != "running":
                time.sleep(0.02)
            db = sqlite3.connect(WorktreeManager(git_repo).store_path, isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            held.set()
            time.sleep(5)
            db.execute("COMMIT")
            db.close()

        holder = threading.Thread(target=hold_lock)
        holder.start()
        run.run_sync()
        holder.join()
        assert held.is_set()
        assert {str(ex.status) for ex in run.executions.values()} == {"completed"}
        assert run.recorder.deferred > 0  # the lock was really met
        with WorktreeManager(git_repo).store() as store:
            assert {a.status for a in store.attempts(run.id)} == {"completed"}
            assert store.get_run(run.id).status == "completed"
