"""The coordinator, with real agent processes and real git.

Agents are small Python scripts written into ``tmp_path`` and registered as script agents (or the
bundled demo agents). They leave traces the tests read back: files in their worktree, start and
end times, their pids. Worktrees go under ``tmp_path``; every test checks that no process whose
command line mentions ``tmp_path`` is left alive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import psutil
import pytest

import nborch
from nborch import AgentError, AttemptState, Coordinator
from nborch.agents import AgentSpec
from nborch.execute.executor import LocalExecutor
from nborch.execute.results import SUMMARY_COLUMNS
from nborch.workspace.manager import WorktreeManager

S = AttemptState
FINAL = {S.COMPLETED, S.FAILED, S.TIMEOUT, S.CANCELLED, S.INTERRUPTED}

# Every agent script starts with this: its worktree, its task id, and its own folder for traces.
PRELUDE = """\
import os, pathlib, signal, subprocess, sys, time
wt, task = pathlib.Path(sys.argv[1]), sys.argv[2]
here = pathlib.Path(__file__).resolve().parent
"""

# Records the agent's start and end (wall clock) in ``times/<task>-<name>``, around a short nap.
TIMED = """
name = pathlib.Path(__file__).stem
(here / "times").mkdir(exist_ok=True)
start = time.time()
time.sleep({nap})
(wt / f"{{task}}.txt").write_text(f"task {{task}} by {{name}}\\n")
(here / "times" / f"{{task}}-{{name}}").write_text(f"{{start}} {{time.time()}}")
"""


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Fast demo agents, a clean registry, and no process left that mentions ``tmp_path``."""
    monkeypatch.setenv("NBORCH_DEMO_SPEED", "0")
    yield
    nborch.agents.reset()
    left = _leftovers(tmp_path)
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _leftovers(tmp_path)
    for proc in left:  # clean up for the next test, then fail this one
        proc.kill()
    assert not left, f"processes left behind: {[p.info['cmdline'] for p in left]}"


def _leftovers(tmp_path: Path) -> list[psutil.Process]:
    me = os.getpid()
    out = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(proc.info["cmdline"] or ())
        if proc.pid != me and str(tmp_path) in cmd and proc.info["status"] != psutil.STATUS_ZOMBIE:
            out.append(proc)
    return out


def agent(tmp_path: Path, name: str, body: str) -> str:
    """Write ``tmp_path/agents/<name>.py`` (after :data:`PRELUDE`) and register it as ``name``."""
    folder = tmp_path / "agents"
    folder.mkdir(exist_ok=True)
    script = folder / f"{name}.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    nborch.script_agent(name, f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} "
                              "{worktree} {task_id}")  # fmt: skip
    return name


def timed(tmp_path: Path, name: str, nap: float = 0.3) -> str:
    return agent(tmp_path, name, TIMED.format(nap=nap))


def times(tmp_path: Path) -> dict[str, tuple[float, float]]:
    """``{"<task>-<agent>": (start, end)}`` as the timed agents recorded them."""
    out = {}
    for path in (tmp_path / "agents" / "times").iterdir():
        start, end = path.read_text().split()
        out[path.name] = (float(start), float(end))
    return out


def plan(text: str) -> nborch.Plan:
    return nborch.parse_plan(textwrap.dedent(text))


def coordinator(repo: Path, tmp_path: Path, text: str, **kw) -> Coordinator:
    kw.setdefault("timeout", "30s")
    kw.setdefault("executor", LocalExecutor(grace=0.5))
    return Coordinator(repo, plan(text), root=tmp_path / "wt", **kw)


def git(cwd: Path | str, *args: str) -> str:
    res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return res.stdout.strip()


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def alive(pid: int, created: float | None = None) -> bool:
    try:
        proc = psutil.Process(pid)
        same = created is None or abs(proc.create_time() - created) < 0.5
        return same and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def worktree_of(run: Coordinator, task: str, agent_name: str) -> Path:
    path = wait_for(lambda: run.executions[(task, agent_name)].worktree, what="the worktree")
    return Path(str(path))


# -- processes -------------------------------------------------------------------------------


class TestProcesses:
    """What agents do to their processes never outlives the attempt or the coordinator's memory."""

    def test_forking_agent_ignoring_sigterm_leaves_nothing_after_timeout(self, git_repo, tmp_path):
        """An agent that forks children (one in its own session) and ignores SIGTERM is killed,
        children included, when it times out, and what it wrote is committed as WIP."""
        agent(tmp_path, "stubborn", """
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            child = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                     "time.sleep(120)")
            kids = [subprocess.Popen([sys.executable, "-c", child], start_new_session=s)
                    for s in (False, True)]
            pids = [os.getpid(), *[k.pid for k in kids]]
            (here / "pids").write_text(" ".join(map(str, pids)))
            (wt / "partial.txt").write_text("half done\\n")
            time.sleep(120)
        """)
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Hang
            Agents: stubborn
        """, timeout="2s")
        run.run_sync()
        ex = run.executions[("1", "stubborn")]
        assert ex.status == S.TIMEOUT
        assert "timed out after 2.0s" in ex.error
        pids = [int(p) for p in (tmp_path / "agents" / "pids").read_text().split()]
        assert len(pids) == 3
        assert not [p for p in pids if alive(p)]
        assert git(git_repo, "log", "-1", "--format=%s", ex.branch).startswith("WIP")
        assert git(git_repo, "show", f"{ex.branch}:partial.txt") == "half done"

    def test_gigabyte_of_output_keeps_memory_bounded(self, git_repo, tmp_path):
        """An agent that writes 1 GiB to stdout completes, the log keeps its first 100 MiB and
        its last 10 MiB with a line saying what was cut, and the coordinator's RSS grows by less
        than 100 MB."""
        agent(tmp_path, "loud", """
            line = b"x" * 16383 + b"\\n"
            chunk = line * 64  # 1 MiB
            for _ in range(1024):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            (wt / "loud.txt").write_text("done\\n")
        """)
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Shout
            Agents: loud
        """, timeout="120s")
        me = psutil.Process()
        base = peak = me.memory_info().rss
        run.start()
        while not run.done:
            peak = max(peak, me.memory_info().rss)
            time.sleep(0.05)
        run.wait()
        ex = run.executions[("1", "loud")]
        log = Path(ex.log_path)
        try:
            assert ex.status == S.COMPLETED, ex.error
            assert 110 * 2**20 <= log.stat().st_size <= 110 * 2**20 + 2**17
            with log.open("rb") as f:
                f.seek(100 * 2**20 - 2**14)
                assert b"[nborch] log cut: " in f.read(2**16)
            assert ex.files_changed == 1
            assert (peak - base) / 1e6 < 100
            assert len(ex.tail) <= 20
        finally:
            log.unlink()  # 1 GiB is too much to leave in the pytest temp folders

    def test_failed_login_gets_the_agents_credential_hint(self, git_repo, tmp_path):
        """An agent whose output reads like a rejected login is failed with its text plus what to
        set: its per-attempt config folder hides a login made in the tool itself."""
        import dataclasses

        name = agent(tmp_path, "locked", """
            print("Invalid API key · Please run /login", file=sys.stderr)
            sys.exit(1)
        """)
        spec = nborch.agents.get(name)
        nborch.agents.register(dataclasses.replace(spec, auth_hint="set LOCKED_API_KEY"),
                               replace=True)  # fmt: skip
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Log in
            Agents: locked
        """).run_sync()
        ex = run.executions[("1", "locked")]
        assert ex.status == S.FAILED
        assert "Invalid API key" in ex.error
        assert "config folder of its own" in ex.error and ex.error.endswith("set LOCKED_API_KEY")

    def test_crashing_agent_is_failed_with_its_error_text(self, git_repo, tmp_path):
        """An agent that raises is failed with its exit code and the exception's text, and its
        edit is kept in a WIP commit."""
        agent(tmp_path, "crashy", """
            (wt / "before-crash.txt").write_text("x\\n")
            raise RuntimeError("the disk is on fire")
        """)
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Crash
            Agents: crashy
        """).run_sync()
        ex = run.executions[("1", "crashy")]
        assert ex.status == S.FAILED
        assert ex.return_code == 1
        assert "exit code 1" in ex.error and "RuntimeError: the disk is on fire" in ex.error
        assert not ex.is_successful
        assert git(git_repo, "log", "-1", "--format=%s", ex.branch).startswith("WIP")

    def test_demo_broken_agent_fails_with_its_traceback(self, git_repo, tmp_path):
        """The bundled broken demo agent ends failed, with its exception in the error text."""
        team = nborch.assign(plan("# P\n## Task 1: Any\n"), agents=["demo-broken"])
        run = Coordinator(git_repo, team, root=tmp_path / "wt", timeout="30s")
        run.run_sync()
        ex = run.executions[("1", "demo-broken")]
        assert ex.status == S.FAILED
        assert "crashes on purpose" in ex.error
        assert ex.is_demo


# -- crash and resume ------------------------------------------------------------------------

CHILD = """
import sys
from pathlib import Path
import nborch
from nborch import Coordinator

repo, root, script, plan_file = sys.argv[1:5]
nborch.script_agent("sleeper", f"{sys.executable} {script} {{worktree}} {{task_id}}")
run = Coordinator(repo, nborch.load_plan(plan_file), max_concurrent=2, timeout="60s", root=root)
run.run_sync()
"""

# Before the test says "go" it writes half its work and then waits for ever, silently (an orphan
# must not die of a broken pipe); started after "go" it finishes the job.
SLEEPER = """
if not (here / "go").exists():
    (wt / f"progress-{task}.txt").write_text(f"first half of {task}\\n")
    (here / f"pid-{task}-{os.getpid()}").write_text(str(os.getpid()))
    while True:
        time.sleep(0.1)
(wt / f"done-{task}.txt").write_text(f"second half of {task}\\n")
print("finished", task)
"""


class TestCrashAndResume:
    """A coordinator killed mid-run leaves an interrupted run that resume() finishes."""

    @pytest.mark.parametrize("watchdog", [True, False], ids=["watchdog", "no-watchdog"])
    def test_kill_9_then_load_shows_interrupted_and_resume_completes(self, git_repo, tmp_path,
                                                                      watchdog):  # fmt: skip
        """After SIGKILL of the coordinator its watchdog stops the agents (or, with
        NBORCH_WATCHDOG=0, resume() does); load() reports the attempts interrupted; resume()
        keeps what they wrote (a WIP commit) and completes them."""
        agent(tmp_path, "sleeper", SLEEPER)
        script = tmp_path / "agents" / "sleeper.py"
        plan_file = tmp_path / "plan.md"
        plan_file.write_text("# P\n## Task 1: One\nAgents: sleeper\n## Task 2: Two\n"
                             "Agents: sleeper\n## Task 3: Three\nDepends on: 1\n"
                             "Agents: sleeper\n")  # fmt: skip
        child = tmp_path / "child.py"
        child.write_text(CHILD)
        proc = subprocess.Popen([sys.executable, str(child), str(git_repo), str(tmp_path / "wt"),
                                 str(script), str(plan_file)], start_new_session=True,
                                env={**os.environ, "NBORCH_WATCHDOG": "1" if watchdog else "0"})  # fmt: skip
        try:
            manager = WorktreeManager(git_repo)

            def running() -> list:
                if not manager.store_path.exists():
                    return []
                with manager.store() as store:
                    recs = [a for a in store.attempts() if a.status == "running"]
                started = len(list((tmp_path / "agents").glob("pid-*")))
                return recs if len(recs) == 2 and started == 2 else []

            recs = wait_for(running, 30, "two running attempts")
            for rec in recs:
                wait_for(lambda rec=rec: (Path(rec.path) / f"progress-{rec.task_id}.txt").exists())
            live = Coordinator.load(git_repo, recs[0].run_id)
            assert {ex.status for ex in live.executions.values()} == {S.RUNNING, S.BLOCKED}
            with pytest.raises(nborch.NborchError, match="still being run by process"):
                live.resume()  # two coordinators on the same attempts would trample each other
            with pytest.raises(nborch.NborchError, match="still being run by process"):
                nborch.compare(git_repo, recs[0].run_id)  # running attempts are no evidence yet
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        orphans = [int(p.read_text()) for p in (tmp_path / "agents").glob("pid-*")]
        if watchdog:  # the pipe to the watchdog closed with the coordinator: it stops the agents
            wait_for(lambda: not any(alive(p) for p in orphans), 30, "the watchdog to stop them")
        else:
            assert all(alive(p) for p in orphans)  # the agents outlive their coordinator …
        run_id = recs[0].run_id

        run = Coordinator.load(git_repo, run_id)
        assert {k: ex.status for k, ex in run.executions.items()} == {
            ("1", "sleeper"): S.INTERRUPTED, ("2", "sleeper"): S.INTERRUPTED,
            ("3", "sleeper"): S.INTERRUPTED}  # fmt: skip
        assert "interrupted" in repr(run) or "not completed" in repr(run)
        history = nborch.history(git_repo)
        assert history.loc[0, "status"] == "interrupted" and history.loc[0, "interrupted"] == 3

        (tmp_path / "agents" / "go").write_text("")
        run.resume().wait(60)
        assert not [p for p in orphans if alive(p)]  # … until resume() stops them
        for task in ("1", "2", "3"):
            ex = run.executions[(task, "sleeper")]
            assert ex.status == S.COMPLETED, ex.error
            assert git(git_repo, "show", f"{ex.branch}:done-{task}.txt") == f"second half of {task}"
        for task in ("1", "2"):  # what the killed attempts wrote is kept, in a WIP commit
            ex = run.executions[(task, "sleeper")]
            kept = git(git_repo, "show", f"{ex.branch}:progress-{task}.txt")
            assert kept == f"first half of {task}"
            log = git(git_repo, "log", "--format=%s", ex.branch).splitlines()
            assert log[1].startswith("WIP") and "interrupted" in log[1]
        dep = run.executions[("3", "sleeper")]
        assert git(dep.worktree, "show", "HEAD:progress-1.txt") == "first half of 1"
        with WorktreeManager(git_repo).store() as store:
            assert store.get_run(run_id).status == "completed"

    def test_resume_in_the_same_process_retries_what_failed(self, git_repo, tmp_path):
        """After a run ends, resume(retry_failed=True) runs the failed attempt again in its
        worktree and leaves the completed one as it was."""
        agent(tmp_path, "second-time", FLAKY.replace("MESSAGE", "error: not today"))
        agent(tmp_path, "counted", "(here / f'ran-{task}-{time.time()}').write_text('')\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: second-time, counted\n")
        run.run_sync()
        assert run.executions[("1", "second-time")].status == S.FAILED
        kept = run.executions[("1", "counted")]
        run.resume(retry_failed=True).wait(30)
        ex = run.executions[("1", "second-time")]
        assert ex.status == S.COMPLETED and ex.tries == 2
        assert git(git_repo, "show", f"{ex.branch}:ok.txt") == "ok"
        assert run.executions[("1", "counted")] is kept and kept.status == S.COMPLETED
        assert len(list((tmp_path / "agents").glob("ran-1-*"))) == 1

    def test_resume_while_running_raises(self, git_repo, tmp_path):
        """resume() on a run that is still going says to wait for it first."""
        agent(tmp_path, "napper", "time.sleep(60)\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: napper\n").start()
        try:
            with pytest.raises(nborch.NborchError, match="still going"):
                run.resume()
        finally:
            run.cancel()
            run.wait(30)
        assert run.executions[("1", "napper")].status == S.CANCELLED


# -- cancel ----------------------------------------------------------------------------------


class TestCancel:
    """Cancelling stops running attempts, commits their work as WIP, and skips blocked ones."""

    def test_cancel_mid_run_commits_wip(self, git_repo, tmp_path):
        """run.cancel() stops a running agent: its branch gets a WIP commit with the partial file,
        and the task waiting on it is cancelled without starting."""
        agent(tmp_path, "worker", """
            (wt / "partial.txt").write_text("some of the work\\n")
            print("wrote partial.txt", flush=True)
            time.sleep(60)
        """)
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Long
            Agents: worker
            ## Task 2: After
            Depends on: 1
            Agents: worker
        """).start()
        wt = worktree_of(run, "1", "worker")
        wait_for(lambda: (wt / "partial.txt").exists() and run.executions[("1", "worker")].status
                 == S.RUNNING, what="the agent to write")  # fmt: skip
        assert run.cancel() == 2
        run.wait(30)
        ex, dep = run.executions[("1", "worker")], run.executions[("2", "worker")]
        assert ex.status == S.CANCELLED
        assert dep.status == S.CANCELLED and "dependencies" in dep.error
        assert dep.started_at is None
        assert git(git_repo, "log", "-1", "--format=%s", ex.branch).startswith("WIP")
        assert git(git_repo, "show", f"{ex.branch}:partial.txt") == "some of the work"
        assert ex.commit == git(git_repo, "rev-parse", ex.branch)

    def test_cancel_before_start_runs_nothing(self, git_repo, tmp_path):
        """Attempts cancelled before the run starts end cancelled without running their agent."""
        timed(tmp_path, "ok")
        run = coordinator(git_repo, tmp_path,
                          "# P\n## Task 1: A\nAgents: ok\n## Task 2: B\nAgents: ok\n")  # fmt: skip
        assert run.cancel(task="1") == 1
        run.run_sync()
        assert run.executions[("1", "ok")].status == S.CANCELLED
        assert run.executions[("1", "ok")].started_at is None
        assert run.executions[("2", "ok")].status == S.COMPLETED
        assert list(times(tmp_path)) == ["2-ok"]

    def test_cancel_one_task_leaves_the_others(self, git_repo, tmp_path):
        """cancel(task=...) stops only the attempts of that task."""
        agent(tmp_path, "napper", "time.sleep(0.5 if task == '2' else 60)\n")
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Long
            Agents: napper
            ## Task 2: Short
            Agents: napper
        """).start()
        wait_for(lambda: run.executions[("1", "napper")].status == S.RUNNING)
        assert run.cancel(task="1") == 1
        run.wait(30)
        assert run.executions[("1", "napper")].status == S.CANCELLED
        assert run.executions[("2", "napper")].status == S.COMPLETED


# -- scheduling ------------------------------------------------------------------------------


class TestScheduling:
    """Dependencies, the concurrency limit and priorities decide when an attempt starts."""

    def test_dependent_task_starts_after_its_dependency_and_builds_on_it(self, git_repo, tmp_path):
        """Task 2 starts only once task 1 has ended, from a worktree holding task 1's commit."""
        timed(tmp_path, "first", nap=0.5)
        agent(tmp_path, "second", """
            seen = (wt / "1.txt").read_text() if (wt / "1.txt").exists() else "nothing"
            (wt / "2.txt").write_text(f"saw: {seen}")
        """)
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 2: Then
            Depends on: 1
            Agents: second
            ## Task 1: First
            Agents: first
        """)
        states: list[tuple[str, S]] = []
        run.subscribe(lambda ev: ev.kind == "state" and states.append((ev.task_id, ev.state)))
        run.run_sync()
        one, two = run.executions[("1", "first")], run.executions[("2", "second")]
        assert one.status == two.status == S.COMPLETED
        assert two.started_at >= one.ended_at
        assert (tmp_path / "agents" / "times" / "1-first").exists()
        assert states.index(("2", S.RUNNING)) > states.index(("1", S.COMPLETED))
        assert git(two.worktree, "show", "HEAD:2.txt") == "saw: task 1 by first"
        assert subprocess.run(["git", "merge-base", "--is-ancestor", one.commit, two.commit],
                              cwd=git_repo).returncode == 0  # fmt: skip

    def test_failed_dependency_skips_the_dependent(self, git_repo, tmp_path):
        """A task whose dependency has no successful attempt is cancelled, never run."""
        agent(tmp_path, "fails", "sys.exit(3)\n")
        timed(tmp_path, "fine")
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Breaks
            Agents: fails
            ## Task 2: Needs 1
            Depends on: 1
            Agents: fine
        """).run_sync()
        dep = run.executions[("2", "fine")]
        assert run.executions[("1", "fails")].status == S.FAILED
        assert dep.status == S.CANCELLED and "dependency '1'" in dep.error
        assert dep.started_at is None and dep.tries == 0

    def test_dependencies_that_conflict_fail_the_dependent(self, git_repo, tmp_path):
        """A task whose two dependencies changed the same line differently fails with a message
        naming the conflict, and its worktree is left clean."""
        agent(tmp_path, "edits", "(wt / 'app.py').write_text(f'def answer():\\n    return {task}')\n")
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: One
            Agents: edits
            ## Task 2: Two
            Agents: edits
            ## Task 3: Both
            Depends on: 1, 2
            Agents: edits
        """).run_sync()
        both = run.executions[("3", "edits")]
        one, two = run.executions[("1", "edits")], run.executions[("2", "edits")]
        assert one.status == two.status == S.COMPLETED
        assert both.status == S.FAILED and "do not merge cleanly" in both.error
        assert both.started_at is None
        assert git(both.worktree, "status", "--porcelain") == ""

    def test_concurrency_never_exceeds_the_limit(self, git_repo, tmp_path):
        """With max_concurrent=2, at most two of six agents run at any moment (by their own
        clocks, and by the gate), and two do run together."""
        timed(tmp_path, "busy", nap=0.4)
        text = "# P\n" + "".join(f"## Task {n}: T{n}\nAgents: busy\n" for n in range(1, 7))
        run = coordinator(git_repo, tmp_path, text, max_concurrent=2).run_sync()
        assert all(ex.status == S.COMPLETED for ex in run.executions.values())
        spans = list(times(tmp_path).values())
        assert len(spans) == 6
        most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
        assert most == 2
        assert run.gate.peak == 2 and run.gate.active == 0

    def test_committing_and_checking_count_as_running(self, git_repo, tmp_path):
        """An attempt holds its slot while its work is committed and its checks run, so the
        attempts shown `running` never outnumber max_concurrent (quick agents, slow checks)."""
        agent(tmp_path, "quick", "(wt / f'{task}.txt').write_text(task)\n")
        text = "# P\n" + "".join(f"## Task {n}: T{n}\nAgents: quick\n\n**Validation criteria**\n\n"
                                 "- `sh -c 'sleep 0.4'` passes.\n\n" for n in range(1, 6))  # fmt: skip
        run = coordinator(git_repo, tmp_path, text, max_concurrent=2)
        peak = []
        run.subscribe(lambda ev: peak.append(sum(ex.status == S.RUNNING
                                                 for ex in run.executions.values())))  # fmt: skip
        run.run_sync()
        assert {ex.validation for ex in run.executions.values()} == {"passed"}
        assert max(peak) == 2

    def test_priority_decides_which_ready_task_starts_first(self, git_repo, tmp_path):
        """With max_concurrent=1, ready tasks start by priority (critical, high, medium, low),
        then in plan order — even when the low-priority task comes first in the plan."""
        timed(tmp_path, "one", nap=0.05)
        coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Low
            Priority: low
            Agents: one
            ## Task 2: Medium
            Agents: one
            ## Task 3: High
            Priority: high
            Agents: one
            ## Task 4: Critical
            Priority: critical
            Agents: one
            ## Task 5: Also low
            Priority: low
            Agents: one
        """, max_concurrent=1).run_sync()
        spans = times(tmp_path)
        order = [k.split("-")[0] for k in sorted(spans, key=lambda k: spans[k][0])]
        assert order == ["4", "3", "2", "1", "5"]


# -- retries ---------------------------------------------------------------------------------

FLAKY = """
count = here / f"count-{task}"
n = int(count.read_text()) if count.exists() else 0
count.write_text(str(n + 1))
if n == 0:
    print("MESSAGE", file=sys.stderr)
    sys.exit(1)
(wt / "ok.txt").write_text("ok\\n")
"""


class TestRetries:
    """Only failures that look transient are tried again, with backoff."""

    def test_transient_failure_is_retried(self, git_repo, tmp_path):
        """An agent that hits '429 rate limit' once and then succeeds completes with tries=2."""
        agent(tmp_path, "flaky", FLAKY.replace("MESSAGE", "Error: 429 rate limit exceeded"))
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: Flaky\nAgents: flaky\n",
                          retries=1, backoff=0.01)  # fmt: skip
        notes: list[str] = []
        run.subscribe(lambda ev: notes.append(ev.text) if ev.kind == "log" else None)
        run.run_sync()
        ex = run.executions[("1", "flaky")]
        assert ex.status == S.COMPLETED, ex.error
        assert ex.tries == 2 and ex.return_code == 0 and ex.error == ""
        assert any("transient failure, retry 1" in n for n in notes)
        assert "429 rate limit" in run.logs("1", "flaky", tail=100)
        with WorktreeManager(git_repo).store() as store:
            assert store.attempt(run.id, "1", "flaky").tries == 2

    def test_non_transient_failure_is_not_retried(self, git_repo, tmp_path):
        """An agent failing for a reason that will not pass by waiting is tried once."""
        agent(tmp_path, "wrong", FLAKY.replace("MESSAGE", "error: invalid configuration"))
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: Wrong\nAgents: wrong\n",
                          retries=3, backoff=0.01).run_sync()  # fmt: skip
        ex = run.executions[("1", "wrong")]
        assert ex.status == S.FAILED and ex.tries == 1
        assert "invalid configuration" in ex.error

    def test_transient_failure_exhausts_its_retries(self, git_repo, tmp_path):
        """A transient failure that keeps happening fails after 1 + retries tries."""
        agent(tmp_path, "down", "print('503 Service Unavailable', file=sys.stderr); sys.exit(1)\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: Down\nAgents: down\n",
                          retries=2, backoff=0.01).run_sync()  # fmt: skip
        ex = run.executions[("1", "down")]
        assert ex.status == S.FAILED and ex.tries == 3


# -- manual agents ---------------------------------------------------------------------------

MANUAL_PLAN = "# P\n## Task 1: By hand\nAgents: windsurf\n"


class TestManual:
    """A manual agent's attempt waits until someone says it is done."""

    def test_mark_done_completes_a_manual_attempt(self, git_repo, tmp_path):
        """run.mark_done(task, agent) completes a windsurf attempt and commits the person's edit."""
        run = coordinator(git_repo, tmp_path, MANUAL_PLAN).start()
        wt = worktree_of(run, "1", "windsurf")
        wait_for(lambda: run.executions[("1", "windsurf")].status == S.RUNNING)
        (wt / "by-hand.txt").write_text("typed by a person\n")
        time.sleep(0.2)
        assert run.executions[("1", "windsurf")].status == S.RUNNING  # still waiting
        run.mark_done("1", "windsurf")
        run.wait(15)
        ex = run.executions[("1", "windsurf")]
        assert ex.status == S.COMPLETED
        assert git(git_repo, "show", f"{ex.branch}:by-hand.txt") == "typed by a person"
        assert ".windsurfrules" not in git(git_repo, "show", "--name-only", "--format=", ex.branch)

    def test_done_flag_in_the_store_completes_a_manual_attempt(self, git_repo, tmp_path):
        """The store's done_requested flag (what `nborch done` sets) completes the attempt too."""
        run = coordinator(git_repo, tmp_path, MANUAL_PLAN).start()
        wait_for(lambda: run.executions[("1", "windsurf")].status == S.RUNNING)
        with WorktreeManager(git_repo).store() as store:
            store.update_attempt(run.id, "1", "windsurf", done_requested=True)
        run.wait(15)
        assert run.executions[("1", "windsurf")].status == S.COMPLETED

    def test_manual_attempt_times_out(self, git_repo, tmp_path):
        """A manual attempt nobody marks done ends with a timeout."""
        run = coordinator(git_repo, tmp_path, MANUAL_PLAN, timeout="0.5s").run_sync()
        ex = run.executions[("1", "windsurf")]
        assert ex.status == S.TIMEOUT and "not marked done" in ex.error

    def test_mark_done_of_an_unknown_attempt_raises(self, git_repo, tmp_path):
        """mark_done names the attempt it does not know."""
        run = coordinator(git_repo, tmp_path, MANUAL_PLAN)
        with pytest.raises(KeyError, match="'claude'"):
            run.mark_done("1", "claude")


# -- refusing to start -----------------------------------------------------------------------


class TestMissingAgent:
    """An agent that is not installed stops the run before anything is made."""

    def test_missing_executable_is_reported_before_anything_starts(self, git_repo, tmp_path):
        """start() raises AgentError naming the agent and its install hint; no worktree, no
        branch, no run is created."""
        nborch.agents.register(AgentSpec(
            name="ghost", display_name="Ghost CLI", kind="cli", executable="nborch-no-such-ghost",
            argv=("nborch-no-such-ghost", "{prompt_file}"),
            install_hint="pip install ghost-agent"))  # fmt: skip
        timed(tmp_path, "real")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: T\nAgents: ghost, real\n")
        with pytest.raises(AgentError) as err:
            run.start()
        assert "'ghost'" in str(err.value) and "pip install ghost-agent" in str(err.value)
        assert "'real'" not in str(err.value)
        with pytest.raises(AgentError):
            run.run_sync()
        assert not (tmp_path / "wt").exists()
        assert git(git_repo, "branch", "--list", "nborch/*") == ""
        assert len(git(git_repo, "worktree", "list").splitlines()) == 1
        assert not run.done and run.id is None


# -- what a run shows ------------------------------------------------------------------------


class TestResults:
    """The summary frame, logs, events and representation of a finished run."""

    def test_summary_columns_and_dtypes(self, git_repo, tmp_path):
        """summary() has the documented columns in order, with proper dtypes."""
        agent(tmp_path, "plain", "(wt / 'a.txt').write_text('a\\nb\\n')\n")
        agent(tmp_path, "bad", "sys.exit(2)\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: T\nAgents: plain, bad, demo\n")
        run.run_sync()
        frame = run.summary()
        assert list(frame.columns) == list(SUMMARY_COLUMNS)
        assert len(frame) == 3
        assert isinstance(frame["status"].dtype, pd.CategoricalDtype)
        assert list(frame["status"].cat.categories) == [s.value for s in S]
        assert str(frame["started_at"].dtype).startswith("datetime64") and frame["started_at"].dt.tz
        assert str(frame["ended_at"].dtype).startswith("datetime64")
        assert frame["duration_s"].dtype == "float64"
        assert frame["return_code"].dtype == "Int64"
        for col in ("files_changed", "insertions", "deletions", "input_tokens", "output_tokens"):
            assert frame[col].dtype == "int64", col
        assert frame["cost_usd"].dtype == "float64"
        assert frame["is_demo"].dtype == bool
        rows = frame.set_index("agent")
        assert rows.loc["plain", "status"] == "completed" and rows.loc["bad", "status"] == "failed"
        assert rows.loc["plain", "files_changed"] == 1 and rows.loc["plain", "insertions"] == 2
        assert rows.loc["bad", "return_code"] == 2
        assert rows.loc["demo", "is_demo"] and rows.loc["demo", "input_tokens"] > 0
        assert (frame["duration_s"] >= 0).all()

    def test_logs_tail(self, git_repo, tmp_path):
        """run.logs(task, agent, tail=5) gives the last five lines of the attempt's log."""
        agent(tmp_path, "chatty", "for i in range(20):\n    print(f'line {i}')\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: T\nAgents: chatty\n").run_sync()
        assert run.logs("1", "chatty", tail=5) == "\n".join(f"line {i}" for i in range(15, 20))
        assert run.logs("1", "chatty", tail=100).splitlines()[0] == "line 0"
        assert run.executions[("1", "chatty")].tail[-1] == "line 19"

    def test_subscribers_see_every_state_in_order(self, git_repo, tmp_path):
        """Each attempt's state events go pending → (blocked →) running → one final state."""
        timed(tmp_path, "ok", nap=0.05)
        agent(tmp_path, "no", "sys.exit(1)\n")
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: A
            Agents: ok, no
            ## Task 2: B
            Depends on: 1
            Agents: ok
        """)
        seen: dict[tuple[str, str], list[S]] = {}
        runs: list[str] = []

        def on_event(ev: nborch.RunEvent) -> None:
            if ev.kind == "state":
                seen.setdefault((ev.task_id, ev.agent), []).append(ev.state)
            elif ev.kind == "run":
                runs.append(ev.text)

        run.subscribe(on_event)
        run.subscribe(lambda ev: 1 / 0)  # a broken subscriber is dropped, the run goes on
        run.run_sync()
        assert seen == {
            ("1", "ok"): [S.PENDING, S.RUNNING, S.COMPLETED],
            ("1", "no"): [S.PENDING, S.RUNNING, S.FAILED],
            ("2", "ok"): [S.PENDING, S.BLOCKED, S.RUNNING, S.COMPLETED],
        }
        assert runs == ["started", "finished"]

    def test_unsubscribe_stops_events(self, git_repo, tmp_path):
        """The function subscribe() returns removes the callback."""
        timed(tmp_path, "ok", nap=0.01)
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok\n")
        got: list[object] = []
        stop = run.subscribe(got.append)
        stop()
        run.run_sync()
        assert got == []

    def test_repr_and_html_tell_the_state(self, git_repo, tmp_path):
        """repr() counts finished and unfinished attempts; the HTML escapes what agents said."""
        agent(tmp_path, "ok", "pass\n")
        agent(tmp_path, "evil", "print('<script>x</script>', file=sys.stderr)\nsys.exit(9)\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok, evil\n")
        assert repr(run) == "<Run (not started): 0/2 done>"
        run.run_sync()
        assert repr(run) == f"<Run {run.id}: 2/2 done, 1 not completed>"
        html = run._repr_html_()
        assert "<script>x" not in html and "&lt;script&gt;" in html


# -- how it is driven ------------------------------------------------------------------------


class OutputBatchTests:
    def test_a_flood_of_plain_output_arrives_as_few_events_with_every_line(self, git_repo, tmp_path):
        """20,000 lines from a plain script agent reach subscribers as a few batched `log`
        events (one per read, not one per line) that still hold every line, in order, with
        blank lines left out; the stderr lines too; the last line is the attempt's last line."""
        agent(tmp_path, "flood", "for i in range(20000):\n    print(f'line {i}')\n    if i % 1000 == 0:\n"
                                 "        print()\nprint('on stderr', file=sys.stderr)\n")  # fmt: skip
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: flood\n")
        events = []
        run.subscribe(lambda ev: events.append(ev.agent_event) if ev.kind == "agent" else None)
        run.run_sync()
        logs = [e for e in events if e.kind == "log"]
        out = [e for e in logs if e.data["stream"] == "stdout"]
        assert "\n".join(e.text for e in out).split("\n") == [f"line {i}" for i in range(20000)]
        assert [e.text for e in logs if e.data["stream"] == "stderr"] == ["on stderr"]
        assert len(logs) < 200 and sum(e.data["lines"] for e in logs) == 20001
        ex = run.executions[("1", "flood")]
        assert ex.status == S.COMPLETED and ex.last_line in ("line 19999", "on stderr")
        assert Path(ex.log_path).read_text().count("\n") == 20000 + 20 + 1  # lines, blanks, stderr


RACE_PLAN = """\
# P
## Task 1: Make good.txt
Agents: fast, slow, slower

**Validation criteria**

- `test -f good.txt` passes.
"""


class RaceTests:
    def test_the_first_attempt_that_passes_stops_the_others(self, git_repo, tmp_path):
        """race=True: `fast` completes and passes; `slow` (running) is stopped with its work
        committed as WIP, `slower` (waiting for a slot) never starts; the run ends soon after
        the winner and leaves no process behind."""
        agent(tmp_path, "fast", "time.sleep(0.3)\n(wt / 'good.txt').write_text('ok')\n")
        agent(tmp_path, "slow", "(wt / 'partial.txt').write_text('half')\ntime.sleep(60)\n")
        agent(tmp_path, "slower", "time.sleep(60)\n")
        run = coordinator(git_repo, tmp_path, RACE_PLAN, race=True, max_concurrent=2, timeout="2m")
        started = time.monotonic()
        run.run_sync()
        assert time.monotonic() - started < 30
        fast, slow, slower = (run.executions[("1", a)] for a in ("fast", "slow", "slower"))
        assert fast.status == S.COMPLETED and fast.validation == "passed" and fast.reason == ""
        assert slow.status == slower.status == S.CANCELLED
        assert slow.reason == slower.reason == "race won by fast"
        assert slow.error.startswith("race won by fast")
        assert git(git_repo, "show", f"{slow.branch}:partial.txt") == "half"  # its WIP kept
        assert slower.started_at is None  # never started
        assert _leftovers(tmp_path) == []
        assert run.summary().set_index("agent").loc["slow", "reason"] == "race won by fast"
        assert nborch.Run.load(git_repo, run.id).executions[("1", "slow")].reason == "race won by fast"

    def test_without_a_passing_attempt_every_attempt_runs_to_its_end(self, git_repo, tmp_path):
        agent(tmp_path, "fast", "(wt / 'bad.txt').write_text('no')\n")
        agent(tmp_path, "slow", "time.sleep(0.5)\n(wt / 'bad.txt').write_text('no')\n")
        agent(tmp_path, "slower", "time.sleep(1)\n")
        run = coordinator(git_repo, tmp_path, RACE_PLAN, race=True).run_sync()
        assert {ex.status for ex in run.executions.values()} == {S.COMPLETED}
        assert {ex.validation for ex in run.executions.values()} == {"failed"}
        assert {ex.reason for ex in run.executions.values()} == {""}

    def test_a_task_without_checks_cannot_be_raced_and_that_is_said_first(self, git_repo, tmp_path):
        agent(tmp_path, "fast", "(wt / 'a.txt').write_text('a')\n")
        agent(tmp_path, "slow", "time.sleep(0.5)\n(wt / 'b.txt').write_text('b')\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: fast, slow\n", race=True)
        said = ("race: task(s) 1 name no checks (validation commands or test ids), so nothing can "
                "prove a winner: all their attempts run")  # fmt: skip
        assert run.race_notes() == [said]
        run.run_sync()
        assert {ex.status for ex in run.executions.values()} == {S.COMPLETED}
        assert run.prepared.warnings[-1] == run.race_notes()[0]

    def test_race_needs_the_checks(self, git_repo, tmp_path):
        with pytest.raises(nborch.NborchError, match="race=True needs the tasks' checks"):
            coordinator(git_repo, tmp_path, RACE_PLAN, race=True, validate=False)


class FollowTests:
    def test_follow_yields_an_attempts_lines_as_they_come_until_it_ends(self, git_repo, tmp_path):
        agent(tmp_path, "ticker", "for i in range(5):\n    print('tick', i, flush=True)\n    time.sleep(0.2)\n")
        agent(tmp_path, "quiet", "print('hush')\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ticker, quiet\n")
        run.start()
        got = [(time.monotonic(), line) for line in run.follow("1", "ticker", poll=0.05)]
        assert [line for _, line in got] == [f"tick {i}" for i in range(5)]
        assert got[-1][0] - got[0][0] > 0.4  # followed, not read at the end
        assert run.executions[("1", "ticker")].status == S.COMPLETED
        both = list(run.follow("1", lines=1))
        assert sorted(both) == ["1/quiet | hush", "1/ticker | tick 4"]
        with pytest.raises(KeyError, match="no attempt"):
            next(run.follow("9"))

    def test_follow_refuses_to_block_the_loop_that_runs_the_agents(self, git_repo, tmp_path):
        """In a notebook, run.start() runs the agents on the notebook's own loop: following
        there would wait forever, so it says what to do instead."""
        agent(tmp_path, "slowpoke", "time.sleep(1)\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: slowpoke\n")

        async def in_a_cell() -> str:
            run.start()
            try:
                next(run.follow("1", "slowpoke"))
            except nborch.NborchError as err:
                return str(err)
            finally:
                await run
            return ""

        said = asyncio.run(in_a_cell())
        assert "would wait on the loop that runs the agents" in said and "nborch logs" in said


class WorktreeProblemTests:
    """An agent that leaves its branch or deletes its .git is flagged when its work is sealed;
    status then shows what the coordinator stored, and looks again only with --check."""

    def test_the_coordinator_records_what_the_agent_did_to_its_worktree(self, git_repo, tmp_path):
        import json

        agent(tmp_path, "switcher", "subprocess.run(['git', 'switch', '-q', '-c', 'other'], cwd=wt, "
                                    "check=True)\n(wt / 'a.txt').write_text('a')\n")  # fmt: skip
        agent(tmp_path, "deleter", "(wt / '.git').unlink()\n")
        agent(tmp_path, "fine", "(wt / 'b.txt').write_text('b')\n")
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: T\nAgents: switcher, deleter, fine\n")
        run.run_sync()
        by_agent = {ex.agent: ex for ex in run.executions.values()}
        assert by_agent["switcher"].problem.startswith("HEAD left the attempt's branch: now on other")
        assert by_agent["deleter"].problem.startswith(".git is missing")
        assert by_agent["fine"].problem == ""
        assert "HEAD left the attempt's branch" in run.summary().set_index("agent").loc["switcher", "problem"]

        def status(*extra: str) -> dict[str, str]:
            out = subprocess.run([sys.executable, "-m", "nborch", "status", "-r", str(git_repo),
                                  "--json", *extra], capture_output=True, text=True, check=True)  # fmt: skip
            return {w["agent"]: w["problem"] for w in json.loads(out.stdout)["worktrees"]}

        stored = status()
        assert stored["switcher"].startswith("HEAD left") and stored["deleter"].startswith(".git is")
        assert stored["fine"] == ""
        fine = Path(by_agent["fine"].worktree)
        git(fine, "switch", "-q", "-c", "by-hand")  # after the run: only --check looks again
        assert status()["fine"] == ""
        assert status("--check")["fine"].startswith("HEAD left the attempt's branch: now on by-hand")
        assert nborch.Run.load(git_repo, run.id).executions[("1", "switcher")].problem == by_agent[
            "switcher"].problem


class TestDriving:
    """The same run works awaited in a loop, started in the background, or run synchronously."""

    def test_start_in_a_running_loop_returns_at_once_and_await_finishes(self, git_repo, tmp_path):
        """In a running loop start() returns before the run ends, and `await run` finishes it."""
        timed(tmp_path, "ok", nap=0.3)
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok\n")

        async def notebook() -> float:
            t0 = time.monotonic()
            assert run.start() is run
            took = time.monotonic() - t0
            assert not run.done
            with pytest.raises(nborch.NborchError, match="await run"):
                run.wait()
            assert await run is run
            return took

        took = asyncio.run(notebook())
        assert took < 0.5
        assert run.done and run.executions[("1", "ok")].status == S.COMPLETED

    def test_run_sync_inside_a_running_loop(self, git_repo, tmp_path):
        """run_sync() called from code running on an event loop (a notebook cell) works."""
        timed(tmp_path, "ok", nap=0.05)
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok\n")

        async def cell() -> Coordinator:
            return run.run_sync()

        assert asyncio.run(cell()) is run
        assert run.executions[("1", "ok")].status == S.COMPLETED

    def test_start_without_a_loop_then_wait(self, git_repo, tmp_path):
        """start() in plain code runs in the background; wait(timeout) raises TimeoutError until
        the run ends."""
        timed(tmp_path, "ok", nap=1.0)
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: ok\n")
        with pytest.raises(nborch.NborchError, match="not started"):
            run.wait()
        run.start()
        with pytest.raises(TimeoutError):
            run.wait(0.05)
        assert run.wait(30) is run and run.done
        assert run.executions[("1", "ok")].status == S.COMPLETED


# -- secrets ---------------------------------------------------------------------------------


class TestSecrets:
    """Credentials the agent is allowed to see never reach the stored log."""

    def test_allowed_credentials_are_redacted(self, git_repo, tmp_path, monkeypatch):
        """A token passed to the agent through env_allow is masked in the log file, the tail, the
        events and the error text; variables not allowed do not reach the agent."""
        secret = "tok-9f8e7d6c5b4a39281706"
        monkeypatch.setenv("MY_TOKEN", secret)
        monkeypatch.setenv("OTHER_SECRET", "never-seen-by-the-agent")
        agent(tmp_path, "tokened", """
            print("token:", os.environ.get("MY_TOKEN"))
            print("other:", os.environ.get("OTHER_SECRET"), flush=True)
            time.sleep(0.2)  # so the stderr line is read last
            print("stderr token", os.environ["MY_TOKEN"], file=sys.stderr)
            sys.exit(1)
        """)
        like_builtin = dataclasses.replace(nborch.agents.get("tokened"), kind="cli",
                                           executable=sys.executable, env_allow=("MY_TOKEN",))
        nborch.agents.register(like_builtin, replace=True)
        run = coordinator(git_repo, tmp_path, "# P\n## Task 1: A\nAgents: tokened\n")
        texts: list[str] = []
        run.subscribe(lambda ev: texts.append(ev.text + (ev.agent_event or ev).text))
        run.run_sync()
        ex = run.executions[("1", "tokened")]
        log = Path(ex.log_path).read_text()
        assert "token: ***" in log and "[stderr] stderr token ***" in log
        assert "other: None" in log
        assert secret not in log
        assert secret not in run.logs("1", "tokened") and secret not in "\n".join(ex.tail)
        assert secret not in ex.error and "***" in ex.error
        assert texts and not [t for t in texts if secret in t]
        with WorktreeManager(git_repo).store() as store:
            assert secret not in store.attempt(run.id, "1", "tokened").error
            assert not [e for e in store.events(run.id) if secret in e["text"]]


# -- two coordinators ------------------------------------------------------------------------


class TestTwoCoordinators:
    """Two runs on one repository at the same time keep to their own worktrees and records."""

    def test_two_coordinators_in_two_processes(self, git_repo, tmp_path):
        """Two coordinator processes started together on one repository both complete."""
        timed(tmp_path, "quick", nap=0.2)
        script = tmp_path / "agents" / "quick.py"
        child = tmp_path / "child.py"
        child.write_text(CHILD)
        plans = []
        for n in (1, 2):
            plans.append(tmp_path / f"plan{n}.md")
            plans[-1].write_text("# P\n" + "".join(f"## Task {n}{t}: T\nAgents: sleeper\n"
                                                   for t in range(1, 4)))  # fmt: skip
        procs = [subprocess.Popen([sys.executable, str(child), str(git_repo), str(tmp_path / "wt"),
                                   str(script), str(plan)]) for plan in plans]  # fmt: skip
        assert [p.wait(60) for p in procs] == [0, 0]
        with WorktreeManager(git_repo).store() as store:
            runs = store.runs()
            assert [r.status for r in runs] == ["completed", "completed"]
            assert [a.status for a in store.attempts()] == ["completed"] * 6
        assert len(times(tmp_path)) == 6
        assert len(git(git_repo, "worktree", "list").splitlines()) == 7

    def test_two_coordinators_in_two_threads(self, git_repo, tmp_path):
        """Two coordinators, each on its own event loop in its own thread, both complete every
        attempt, and the store and git hold both runs intact."""
        timed(tmp_path, "ok", nap=0.2)
        text = "# P\n" + "".join(f"## Task {n}: T{n}\nAgents: ok\n" for n in range(1, 4))
        runs = [coordinator(git_repo, tmp_path, text, max_concurrent=3) for _ in range(2)]
        errors: list[BaseException] = []

        def drive(run: Coordinator) -> None:
            async def go() -> None:
                await run

            try:
                asyncio.run(go())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=drive, args=(r,)) for r in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert runs[0].id != runs[1].id
        with WorktreeManager(git_repo).store() as store:
            for run in runs:
                assert store.get_run(run.id).status == "completed"
                assert [a.status for a in store.attempts(run.id)] == ["completed"] * 3
        for run in runs:
            for ex in run.executions.values():
                assert ex.status == S.COMPLETED, ex.error
                wrote = git(git_repo, "show", f"{ex.branch}:{ex.task}.txt")
                assert wrote == f"task {ex.task} by ok"
        assert len(git(git_repo, "worktree", "list").splitlines()) == 7
        assert "error" not in git(git_repo, "fsck", "--no-progress").lower()


# -- validation ------------------------------------------------------------------------------


class TestValidation:
    """Validation commands decide which attempt a dependent task builds on."""

    def test_dependent_builds_on_the_attempt_that_passed_validation(self, git_repo, tmp_path):
        """Of two completed attempts, the one whose validation command fails is marked failed
        (though it finished first) and the dependent task builds on the one that passed."""
        agent(tmp_path, "sloppy", "(wt / 'sloppy.txt').write_text('x\\n')\n")
        agent(tmp_path, "careful", "time.sleep(0.5); (wt / 'good.txt').write_text('x\\n')\n")
        agent(tmp_path, "next", "(wt / 'next.txt').write_text(' '.join(sorted(os.listdir(wt))))\n")
        run = coordinator(git_repo, tmp_path, """
            # P
            ## Task 1: Make good.txt
            Agents: sloppy, careful

            **Validation criteria**

            - `test -f good.txt` passes.

            ## Task 2: Build on it
            Depends on: 1
            Agents: next
        """).run_sync()
        sloppy, careful = run.executions[("1", "sloppy")], run.executions[("1", "careful")]
        nxt = run.executions[("2", "next")]
        assert sloppy.status == careful.status == S.COMPLETED
        assert sloppy.ended_at < careful.ended_at
        assert sloppy.validation == "failed" and not sloppy.is_successful
        assert sloppy.validation_details[0]["command"] == "test -f good.txt"
        assert not sloppy.validation_details[0]["passed"]
        assert careful.validation == "passed" and careful.is_successful
        assert nxt.status == S.COMPLETED and nxt.validation == "none"
        listing = git(git_repo, "show", f"{nxt.branch}:next.txt").split()
        assert "good.txt" in listing and "sloppy.txt" not in listing
        assert subprocess.run(["git", "merge-base", "--is-ancestor", careful.commit, nxt.commit],
                              cwd=git_repo).returncode == 0  # fmt: skip
        with WorktreeManager(git_repo).store() as store:
            assert store.attempt(run.id, "1", "sloppy").validation == "failed"
