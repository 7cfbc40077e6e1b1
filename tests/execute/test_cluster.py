"""The Dask executor on a real ``LocalCluster(processes=True, n_workers=2)``: worker processes,
git bundles both ways, events streamed back, cancel, timeout, a worker killed, limits."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import nborch
from nborch import AttemptState as S
from nborch.execute.cluster import DaskExecutor
from tests.execute.test_budget import spender

distributed = pytest.importorskip("distributed")

AGENT = """\
import os, pathlib, sys, time
wt, task, here = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
(here / f"{task}-{os.getpid()}.pid").write_text(str(os.getpid()))
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.Client]:
    import dask

    # allowed-failures=1: Dask reruns a task whose worker died once, which the executor refuses.
    with (dask.config.set({"distributed.scheduler.allowed-failures": 1}),
          distributed.LocalCluster(n_workers=2, threads_per_worker=3, processes=True,
                                   dashboard_address=":0", resources={"AGENTS": 1}) as lc,
          distributed.Client(lc) as client):  # fmt: skip
        yield client


def agent(tmp_path: Path, name: str, body: str) -> Path:
    """A script agent ``name``: its pid files go to ``tmp_path/pids``."""
    pids = tmp_path / "pids"
    pids.mkdir(exist_ok=True)
    script = tmp_path / f"{name}.py"
    script.write_text(AGENT + textwrap.dedent(body))
    nborch.script_agent(name, f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} "
                              f"{{worktree}} {{task_id}} {shlex.quote(str(pids))}")  # fmt: skip
    return pids


def one_task_run(repo: Path, tmp_path: Path, agent_name: str, executor: DaskExecutor,
                 **options: object) -> nborch.Run:
    """A run of one task by ``agent_name`` on ``executor`` (not started)."""
    return nborch.Run(repo, nborch.parse_plan(f"# P\n## Task 1: A\nAgents: {agent_name}\n"),
                      root=tmp_path / "wt", executor=executor, **options)  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def copy_repo(src: Path, dst: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(src), str(dst)], check=True)
    for key, value in (("user.name", "Test User"), ("user.email", "test@example.invalid")):
        git(dst, "config", key, value)
    return dst


def wait_for_start(pids: Path, within: float = 60) -> None:
    """Until an agent has written its pid file (it runs)."""
    deadline = time.monotonic() + within
    while not list(pids.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)


def spans_run(repo: Path, tmp_path: Path, agent_name: str, tasks: int, nap: float,
              executor: DaskExecutor) -> nborch.Run:
    """``tasks`` one-attempt tasks by an agent that naps ``nap`` s and records its span (read
    them with :func:`spans_of`), all allowed at once (not started)."""
    agent(tmp_path, agent_name, f"start = time.time(); time.sleep({nap})\n"
                                "(here / f'{task}.span').write_text(f'{start} {time.time()}')\n")  # fmt: skip
    text = "# P\n" + "".join(f"## Task {n}: T{n}\nAgents: {agent_name}\n" for n in range(1, tasks + 1))
    return nborch.Run(repo, nborch.parse_plan(text), root=tmp_path / "wt", timeout="2m",
                      max_concurrent=tasks, executor=executor)  # fmt: skip


def spans_of(tmp_path: Path) -> list[tuple[float, float]]:
    """The (start, end) each agent wrote of itself."""
    return [tuple(map(float, p.read_text().split())) for p in (tmp_path / "pids").glob("*.span")]


def peak(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one moment."""
    return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)


def worker_pid(client: distributed.Client, agent_name: str) -> int:
    """The pid of the worker process running ``agent_name``'s job, as the scheduler says."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for address, keys in client.processing().items():
            if any(f"-{agent_name}-" in str(k) for k in keys):
                return client.run(os.getpid, workers=[address])[address]
        time.sleep(0.1)
    raise AssertionError(f"no worker is running {agent_name}")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


PLAN = """\
# P
## Task 1: Write
Agents: {a}
## Task 2: Build on it
Depends on: 1
Agents: {a}
## Task 3: Commit on its own
Agents: {a}
"""

WORK = """\
if task == "1":
    (wt / "one.txt").write_text("one\\n")
    (wt / "app.py").unlink()
elif task == "2":
    (wt / "two.txt").write_text(sorted(p.name for p in wt.iterdir()).__repr__())
else:
    import subprocess
    (wt / "three.txt").write_text("three\\n")
    subprocess.run(["git", "add", "three.txt"], cwd=wt, check=True)
    subprocess.run(["git", "mv", "app.py", "main.py"], cwd=wt, check=True)  # committed below
    subprocess.run(["git", "-c", "user.name=A", "-c", "user.email=a@b.c", "commit", "-q", "-m",
                    "the agent's own commit"], cwd=wt, check=True)
    (wt / "left.txt").write_text("uncommitted\\n")
print("done", task)
"""


class DaskExecutorTests:
    def test_a_run_lands_the_same_branches_commits_and_summary_as_locally(self, cluster, git_repo, tmp_path):
        """Three attempts (one builds on another, one commits by itself) on two worker
        processes give the same statuses, trees, commit messages and diffstats as locally;
        the summary names the worker, and the log came back."""
        agent(tmp_path, "worker", WORK)
        other = copy_repo(git_repo, tmp_path / "other")
        plan = nborch.parse_plan(PLAN.format(a="worker"))
        here = nborch.Run(git_repo, plan, root=tmp_path / "wt-local", timeout="60s").run_sync()
        there = nborch.Run(other, plan, root=tmp_path / "wt-dask", timeout="60s",
                           executor=DaskExecutor(cluster)).run_sync()  # fmt: skip
        workers = set(cluster.scheduler_info()["workers"])
        for key, mine in here.executions.items():
            theirs = there.executions[key]
            assert mine.status == theirs.status == S.COMPLETED, (theirs.error, theirs.tail)
            assert (mine.files_changed, mine.insertions, mine.deletions) == (
                theirs.files_changed, theirs.insertions, theirs.deletions)
            assert git(git_repo, "rev-parse", f"{mine.branch}^{{tree}}") == git(
                other, "rev-parse", f"{theirs.branch}^{{tree}}")
            # (as sets: commits made within one second have no order git log must keep)
            assert sorted(git(git_repo, "log", "--format=%s", mine.branch).splitlines()) == sorted(
                git(other, "log", "--format=%s", theirs.branch).splitlines())
            assert theirs.worker in workers and mine.worker == ""
            assert f"done {key[0]}" in Path(theirs.log_path).read_text()
        assert git(other, "status", "--porcelain", "--untracked-files=no") == ""
        three = there.executions[("3", "worker")]
        assert "the agent's own commit" in git(other, "log", "--format=%s", three.branch)
        assert git(other, "for-each-ref", "refs/nborch-transfer") == ""  # nothing left behind
        frame = there.summary()
        assert "worker" in frame.columns and set(frame["worker"]) <= workers

    def test_events_stream_back_while_the_attempt_runs(self, cluster, git_repo, tmp_path):
        agent(tmp_path, "talker", "for i in range(3):\n    print('step', i, flush=True)\n    time.sleep(0.6)\n")
        run = one_task_run(git_repo, tmp_path, "talker", DaskExecutor(cluster), timeout="60s")
        seen: list[tuple[float, str]] = []
        run.subscribe(lambda ev: seen.append((time.monotonic(), ev.agent_event.text))
                      if ev.kind == "agent" else None)  # fmt: skip
        run.run_sync()
        ended = run.executions[("1", "talker")]
        assert ended.status == S.COMPLETED
        steps = [t for t, text in seen if text.startswith("step")]
        assert len(steps) >= 2 and steps[-1] - steps[0] > 0.5  # they came as printed, not at the end

    def test_a_budget_stops_an_attempt_on_a_worker_as_it_spends(self, cluster, git_repo, tmp_path):
        """The usage an agent reports on its worker reaches the budget while it runs."""
        spender(tmp_path, "pricey")
        run = one_task_run(git_repo, tmp_path, "pricey", DaskExecutor(cluster), timeout="60s",
                           budget_usd=0.35).run_sync()
        ex = run.executions[("1", "pricey")]
        assert ex.status == S.CANCELLED and ex.reason == "budget", (ex.error, ex.tail)
        assert 0.35 <= run.spending()["spent_usd"] < 2.0  # not the 40 steps' $4.00
        assert git(git_repo, "show", f"{ex.branch}:work1.txt") == "started"  # WIP came back

    def test_cancel_stops_the_agent_on_its_worker(self, cluster, git_repo, tmp_path):
        pids = agent(tmp_path, "sleeper", "(wt / 'w.txt').write_text('before')\ntime.sleep(120)\n")
        run = one_task_run(git_repo, tmp_path, "sleeper", DaskExecutor(cluster, grace=1),
                           timeout="5m")
        run.start()
        wait_for_start(pids)
        started = time.monotonic()
        run.cancel()
        run.wait(60)
        ex = run.executions[("1", "sleeper")]
        assert ex.status == S.CANCELLED and time.monotonic() - started < 20
        pid = int(next(pids.iterdir()).read_text())
        assert not alive(pid)
        assert git(git_repo, "show", f"{ex.branch}:w.txt") == "before"  # the WIP came back

    def test_a_timeout_on_the_worker(self, cluster, git_repo, tmp_path):
        pids = agent(tmp_path, "slow", "time.sleep(120)\n")
        run = one_task_run(git_repo, tmp_path, "slow", DaskExecutor(cluster, grace=1), timeout="2s")
        run.run_sync()
        ex = run.executions[("1", "slow")]
        assert ex.status == S.TIMEOUT, ex.error
        assert not alive(int(next(pids.iterdir()).read_text()))

    def test_a_worker_killed_mid_attempt_leaves_it_interrupted_never_run_twice(
            self, cluster, git_repo, tmp_path):  # fmt: skip
        pids = agent(tmp_path, "victim", "time.sleep(120)\n")
        run = one_task_run(git_repo, tmp_path, "victim", DaskExecutor(cluster), timeout="5m")
        run.start()
        wait_for_start(pids)
        agent_pid = int(next(pids.iterdir()).read_text())
        os.kill(worker_pid(cluster, "victim"), signal.SIGKILL)
        run.wait(120)
        ex = run.executions[("1", "victim")]
        assert ex.status == S.INTERRUPTED, ex.error
        assert "lost" in ex.error
        assert len(list(pids.iterdir())) == 1  # Dask's rerun on the other worker did not start it
        deadline = time.monotonic() + 30  # the dead worker's watchdog ends its agents
        while alive(agent_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(agent_pid)
        cluster.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests

    def test_a_lost_attempt_is_retried_elsewhere_when_retries_allow(self, cluster, git_repo, tmp_path):
        """retries=1: the first try's worker is killed; the attempt runs again (a new job, on
        a live worker) and completes there with the second try's work."""
        pids = agent(tmp_path, "phoenix", "marker = here / 'tried'\n"
                                          "if not marker.exists():\n    marker.write_text('1')\n"
                                          "    time.sleep(120)\n"
                                          "(wt / 'done.txt').write_text('second try')\n")  # fmt: skip
        run = one_task_run(git_repo, tmp_path, "phoenix", DaskExecutor(cluster), timeout="5m",
                           retries=1, backoff=0.1)
        run.start()
        wait_for_start(pids)
        os.kill(worker_pid(cluster, "phoenix"), signal.SIGKILL)
        run.wait(120)
        ex = run.executions[("1", "phoenix")]
        assert ex.status == S.COMPLETED and ex.tries == 2, ex.error
        assert git(git_repo, "show", f"{ex.branch}:done.txt") == "second try"
        cluster.wait_for_workers(2, timeout=60)

    def test_a_provider_limit_holds_across_the_cluster(self, cluster, git_repo, tmp_path):
        """20 attempts, six worker threads, a limit of 2 for the agent: never more than two
        run at once (by their own clocks)."""
        run = spans_run(git_repo, tmp_path, "tick", 20, 0.3, DaskExecutor(cluster, limits={"tick": 2}))
        run.run_sync()
        assert {ex.status for ex in run.executions.values()} == {S.COMPLETED}
        spans = spans_of(tmp_path)
        assert len(spans) == 20 and peak(spans) == 2

    def test_worker_resources_cap_agents_per_machine(self, cluster, git_repo, tmp_path):
        """Workers started with AGENTS=1 and attempts asking for one AGENTS each: at most one
        agent per worker at a time, though each worker has three threads."""
        run = spans_run(git_repo, tmp_path, "one", 6, 0.4,
                        DaskExecutor(cluster, resources={"AGENTS": 1}))
        run.run_sync()
        assert {ex.status for ex in run.executions.values()} == {S.COMPLETED}
        assert peak(spans_of(tmp_path)) <= 2 and len({ex.worker for ex in run.executions.values()}) == 2

    def test_an_agent_that_commits_everything_its_instruction_file_too(self, cluster, git_repo, tmp_path):
        """The agent commits all it sees, the AGENTS.md nborch wrote for it included: its commit
        still lands on the branch (a fast-forward would refuse to overwrite the file here)."""
        import dataclasses

        agent(tmp_path, "committer", "import subprocess\n(wt / 'work.txt').write_text('w')\n"
                                     "subprocess.run('git add -A && git -c user.name=A -c "
                                     "user.email=a@b.c commit -qm all', shell=True, cwd=wt, check=True)\n")  # fmt: skip
        spec = dataclasses.replace(nborch.agents.get("committer"), config_files=("AGENTS.md",))
        nborch.agents.register(spec, replace=True)
        run = one_task_run(git_repo, tmp_path, "committer", DaskExecutor(cluster), timeout="60s")
        run.run_sync()
        ex = run.executions[("1", "committer")]
        assert ex.status == S.COMPLETED, ex.error
        assert "all" in git(git_repo, "log", "--format=%s", ex.branch)
        assert git(git_repo, "show", f"{ex.branch}:work.txt") == "w"
        assert git(git_repo, "for-each-ref", "refs/nborch/recover") == ""

    def test_a_json_event_with_a_lone_surrogate_does_not_break_the_worker(self, cluster, git_repo, tmp_path):
        import dataclasses

        agent(tmp_path, "odd", "print('{\"type\": \"message\", \"text\": \"half \\\\ud83d emoji\"}', flush=True)\n"
                               "time.sleep(0.5)\nprint('{\"type\": \"result\", \"text\": \"done\"}')\n")  # fmt: skip
        nborch.agents.register(dataclasses.replace(nborch.agents.get("odd"), parser="demo"), replace=True)
        run = one_task_run(git_repo, tmp_path, "odd", DaskExecutor(cluster), timeout="60s")
        texts: list[str] = []
        run.subscribe(lambda ev: texts.append(ev.agent_event.text) if ev.kind == "agent" else None)
        run.run_sync()
        assert run.executions[("1", "odd")].status == S.COMPLETED
        assert any(t.startswith("half ") for t in texts) and "done" in texts

    def test_a_retry_continues_from_the_first_tries_files(self, cluster, git_repo, tmp_path):
        """A transient failure, then a retry: the second try's edit of a file the first try
        made is what lands (not the first try's copy, sent along as a starting point)."""
        agent(tmp_path, "flaky", "first = not (wt / 'a.txt').exists()\n"
                                 "(wt / 'a.txt').write_text('first' if first else 'second')\n"
                                 "if first:\n    (wt / 'junk.txt').write_text('j')\n"
                                 "    print('Error: 429 rate limit'); sys.exit(1)\n"
                                 "(wt / 'junk.txt').unlink()\n")  # fmt: skip
        run = one_task_run(git_repo, tmp_path, "flaky", DaskExecutor(cluster), timeout="60s",
                           retries=1, backoff=0.1)
        run.run_sync()
        ex = run.executions[("1", "flaky")]
        assert ex.status == S.COMPLETED and ex.tries == 2, ex.error
        assert git(git_repo, "show", f"{ex.branch}:a.txt") == "second"
        files = git(git_repo, "ls-tree", "--name-only", ex.branch).split()
        assert "junk.txt" not in files and not (Path(ex.worktree) / "junk.txt").exists()

    def test_a_cancel_reaches_a_job_still_waiting_for_a_worker(self, cluster, git_repo, tmp_path):
        """No worker has a GPU: the job waits in the scheduler; a cancel ends it at once."""
        pids = agent(tmp_path, "never", "time.sleep(120)\n")
        run = one_task_run(git_repo, tmp_path, "never", DaskExecutor(cluster, resources={"GPU": 1}),
                           timeout="5m")
        run.start()
        deadline = time.monotonic() + 30
        while str(run.executions[("1", "never")].status) != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        started = time.monotonic()
        run.cancel()
        run.wait(30)
        ex = run.executions[("1", "never")]
        assert ex.status == S.CANCELLED and time.monotonic() - started < 10, ex.error
        assert list(pids.iterdir()) == []

