"""The command line, run as a real subprocess: output, JSON contract, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nborch.demo import sample_plan_path

DATA = Path(__file__).parents[1] / "data"


def nborch(*args: str, cwd: Path | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "nborch", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)  # fmt: skip


def execute_argv(plan: Path, repo: Path, root: Path, agent: str, command: str,
                 timeout: str) -> list[str]:  # fmt: skip
    """``nborch execute PLAN`` with one script agent, for tests that start it as a process."""
    return [sys.executable, "-m", "nborch", "execute", str(plan), "-r", str(repo), "--script",
            f"{agent}={command}", "--agents", agent, "--root", str(root), "-t", timeout]


class TestParse:
    def test_table_lists_every_task(self) -> None:
        """`nborch parse` prints one row per task of the sample plan and exits 0."""
        result = nborch("parse", str(sample_plan_path()))
        assert result.returncode == 0, result.stderr
        for task_id in ("1.1", "1.4", "2.4"):
            assert f" {task_id} " in result.stdout

    def test_json_contract(self) -> None:
        """`--json` prints only JSON with the documented keys on stdout."""
        result = nborch("parse", str(sample_plan_path()), "--json")
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert {"title", "format", "tasks"} <= doc.keys()
        task = doc["tasks"][0]
        assert {"id", "title", "phase", "depends_on", "task_type", "complexity", "tech_stack",
                "done"} <= task.keys()  # fmt: skip
        assert doc["format"] == "markdown"
        assert task["phase"] == "Correctness and core features"
        assert isinstance(task["depends_on"], list) and isinstance(task["done"], bool)

    @pytest.mark.parametrize("name", ["cycle_four.md", "unknown_dependency.md", "empty.md"])
    def test_bad_plan_prints_the_one_line_error_and_exits_2(self, name: str) -> None:
        """A bad plan prints exactly the PlanError message (no traceback) and exits with code 2."""
        path = DATA / "bad" / name
        result = nborch("parse", str(path))
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"{path}:") and " — " in lines[0]
        assert "Traceback" not in result.stderr

    def test_missing_file_exits_2(self, tmp_path: Path) -> None:
        """A missing plan file is bad input: one line on stderr, exit code 2."""
        result = nborch("parse", str(tmp_path / "nope.md"))
        assert result.returncode == 2
        assert result.stderr.strip() == f"{tmp_path / 'nope.md'}: file not found — check the path"

    def test_unknown_option_exits_2(self) -> None:
        """A usage error is bad input too."""
        assert nborch("parse", "--bogus").returncode == 2


class TestAssign:
    def test_json_contract(self) -> None:
        """`assign --json` gives every documented key, per_task agents per task."""
        result = nborch("assign", str(sample_plan_path()), "--agents", "claude,codex,aider",
                        "--per-task", "2", "--json")  # fmt: skip
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        first = doc["assignments"][0]
        assert {"task", "primary_agent", "secondary_agents", "agents", "phase", "justification",
                "confidence", "task_type", "complexity", "tech_stack"} <= first.keys()  # fmt: skip
        assert all(len(a["agents"]) == 2 for a in doc["assignments"])
        assert all(set(a["agents"]) <= {"claude", "codex", "aider"} for a in doc["assignments"])

    def test_unknown_agent_exits_2_with_suggestion(self) -> None:
        """An unknown agent name is bad input with a 'did you mean' on stderr."""
        result = nborch("assign", str(sample_plan_path()), "--agents", "cluade")
        assert result.returncode == 2
        assert "did you mean 'claude'" in result.stderr
        assert "Traceback" not in result.stderr

    def test_script_agent_can_be_assigned(self) -> None:
        """`--script name='cmd {prompt_file}'` registers an agent usable in --agents."""
        result = nborch("assign", str(sample_plan_path()), "--script",
                        "mine=python fix.py {prompt_file}", "--agents", "mine", "--json")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert {a["primary_agent"] for a in json.loads(result.stdout)["assignments"]} == {"mine"}

    def test_bad_script_spec_exits_2(self) -> None:
        """A --script without NAME=COMMAND is a usage error."""
        result = nborch("assign", str(sample_plan_path()), "--script", "nocommand")
        assert result.returncode == 2
        assert "NAME=" in result.stderr

    def test_per_task_larger_than_pool_exits_2(self) -> None:
        """Asking for more agents per task than were named is bad input."""
        result = nborch("assign", str(sample_plan_path()), "--agents", "claude", "--per-task", "2")
        assert result.returncode == 2
        assert "per_task=2" in result.stderr


class TestDemo:
    def test_demo_runs_the_whole_pipeline(self) -> None:
        """`nborch demo` parses, assigns, prepares and executes the sample with demo agents (some
        attempts complete, one fails, one times out), compares them — the careful agent wins
        every task — merges the winners into an integration branch whose tests pass, and exits 0
        leaving nothing behind."""
        # a bound, not a target: the demo runs 16 attempts and ~40 test runs (2-3 min on a busy
        # 2-core machine)
        result = nborch("demo", "--timeout", "6s", timeout=900)
        assert result.returncode == 0, result.stderr
        assert "Parse and classify" in result.stdout
        assert "Summary" in result.stdout
        assert "demo-broken" in result.stdout and "failed" in result.stdout
        assert "demo-slow" in result.stdout and "timeout" in result.stdout
        assert "completed" in result.stdout
        assert "Demo agents only" in result.stderr
        takes = [line for line in result.stdout.splitlines() if ": take demo (" in line]
        assert len(takes) == 8, result.stdout  # the careful agent, for each of the 8 tasks
        assert "demo-hasty" in result.stdout and "no_broken_tests" in result.stdout
        assert "8 merged, tests passed" in result.stderr
        assert "were removed" in result.stderr


class TestVersion:
    def test_version(self) -> None:
        """`--version` prints the package version."""
        from nborch import __version__

        assert __version__ in nborch("--version").stdout


class BadInputTests:
    """A bad option value is one line on stderr and exit 2: no traceback, no usage block."""

    @pytest.mark.parametrize("value", ["5x", "abc", "-5s", "1h-2m"])
    def test_a_bad_duration_is_one_line(self, value: str, tmp_path: Path) -> None:
        for args in (["execute", str(DATA / "plans" / "canonical.md"), "-r", str(tmp_path), "-t", value],
                     ["resume", "some-run", "-r", str(tmp_path), "--timeout", value],
                     ["compare", "-r", str(tmp_path), "--test-timeout", value],
                     ["demo", "-t", value]):  # fmt: skip
            result = nborch(*args)
            assert result.returncode == 2, (args, result.stderr)
            assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
            assert f"{value!r}" in result.stderr and "--help" in result.stderr

    def test_an_unknown_command_is_one_line(self) -> None:
        result = nborch("exceute")
        assert result.returncode == 2 and result.stderr.count("\n") == 1


class StoreFaultTests:
    """A damaged store, an unknown run, a repository with no runs: one line, and reads never write."""

    def test_a_damaged_store_is_one_line_naming_the_file(self, git_repo: Path) -> None:
        store = git_repo / ".git" / "nborch" / "nborch.sqlite"
        store.parent.mkdir()
        for damage in (os.urandom(5000), b"SQLite format 3\x00" + b"\x00" * 50):  # junk, truncated
            store.write_bytes(damage)
            for command in ("status", "history"):
                result = nborch(command, "-r", str(git_repo))
                assert result.returncode == 2, result.stderr
                assert result.stderr.count("\n") == 1 and str(store) in result.stderr
                assert "branches" in result.stderr and "Traceback" not in result.stderr

    def test_status_of_an_unknown_run_is_bad_input(self, git_repo: Path) -> None:
        result = nborch("status", "-r", str(git_repo), "--run", "nosuchrun")
        assert result.returncode == 2 and "no run 'nosuchrun'" in result.stderr

    def test_read_only_commands_create_no_store(self, git_repo: Path) -> None:
        for args in (["status"], ["status", "--json"], ["history"], ["history", "--json"]):
            assert nborch(*args, "-r", str(git_repo)).returncode == 0
        assert not (git_repo / ".git" / "nborch").exists()


class ExecuteWarningsTests:
    def test_execute_says_what_prepare_would_warn_about(self, git_repo: Path, tmp_path: Path) -> None:
        """Uncommitted changes the attempts will not see are said before the run, as prepare says."""
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: A\n")
        (git_repo / "app.py").write_text("def answer():\n    return 41\n")
        result = nborch("execute", str(plan), "-r", str(git_repo), "--script", "fx=true",
                        "--agents", "fx", "--root", str(tmp_path / "wt"), "-t", "60s")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "warning: 1 uncommitted change(s)" in result.stderr and "app.py" in result.stderr
        assert result.stderr.index("warning:") < result.stderr.index("running")


SLOW_AGENT = """\
import os, pathlib, sys, time
pathlib.Path(sys.argv[1], "work.txt").write_text("written before the interrupt")
pathlib.Path(sys.argv[2], f"{os.getpid()}.pid").write_text("")
time.sleep(120)
"""


class InterruptTests:
    def test_three_ctrl_c_stop_everything_and_say_only_what_was_done(self, git_repo: Path,
                                                                     tmp_path: Path) -> None:  # fmt: skip
        """Three SIGINTs in a row once the agents run: every agent is gone when the command
        ends, each one's work is on its branch as WIP, and the message says exactly that."""
        import signal
        import time

        import psutil

        agent, pids = tmp_path / "slow.py", tmp_path / "pids"
        agent.write_text(SLOW_AGENT)
        pids.mkdir()
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: A\n## Task 2: B\n## Task 3: C\n")
        proc = subprocess.Popen(
            execute_argv(plan, git_repo, tmp_path / "wt", "slow",
                         f"{sys.executable} {agent} {{worktree}} {pids}", "5m"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(3):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        assert "interrupted: 3 attempt(s) stopped; the work of 3 committed as WIP" in err, err
        assert "Traceback" not in err and "never retrieved" not in err and "Aborted" not in err
        alive = [p.stem for p in pids.iterdir() if psutil.pid_exists(int(p.stem))
                 and psutil.Process(int(p.stem)).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
        assert alive == []
        branches = subprocess.run(["git", "branch", "--list", "nborch/*", "--format=%(refname)"],
                                  cwd=git_repo, capture_output=True, text=True).stdout.split()  # fmt: skip
        assert len(branches) == 3
        for branch in branches:
            shown = subprocess.run(["git", "show", f"{branch}:work.txt"], cwd=git_repo,
                                   capture_output=True, text=True)  # fmt: skip
            assert shown.stdout == "written before the interrupt"

    def test_ctrl_c_during_a_resume_stops_it_the_same_way(self, git_repo: Path, tmp_path: Path) -> None:
        """A run killed with SIGKILL is resumed; three SIGINTs then stop the resumed agents and
        commit their work, as for a first run."""
        import signal
        import time

        import psutil

        agent, pids = tmp_path / "slow.py", tmp_path / "pids"
        agent.write_text(SLOW_AGENT)
        pids.mkdir()
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: A\n## Task 2: B\n")
        first = subprocess.Popen(
            [*execute_argv(plan, git_repo, tmp_path / "wt", "slow",
                           f"{sys.executable} {agent} {{worktree}} {pids}", "5m"), "--json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

        def wait_for(n: int) -> None:
            deadline = time.monotonic() + 60
            while len(list(pids.iterdir())) < n and time.monotonic() < deadline:
                time.sleep(0.05)

        wait_for(2)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        for p in pids.iterdir():
            p.unlink()
        run_id = json.loads(nborch("history", "-r", str(git_repo), "--json").stdout)["runs"][0]["run"]
        resumed = subprocess.Popen(
            [sys.executable, "-m", "nborch", "resume", run_id, "-r", str(git_repo)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        wait_for(2)
        for _ in range(3):
            resumed.send_signal(signal.SIGINT)
            time.sleep(0.02)
        _, err = resumed.communicate(timeout=60)
        assert resumed.returncode == 1, err
        assert "interrupted: 2 attempt(s) stopped; the work of 2 committed as WIP" in err, err
        assert "Traceback" not in err
        alive = [p.stem for p in pids.iterdir() if psutil.pid_exists(int(p.stem))
                 and psutil.Process(int(p.stem)).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
        assert alive == []


TALKER = """\
import sys, time
for i in range(8):
    print(f"step {i}", flush=True)
    time.sleep(0.3)
print("\\x1b]0;retitled\\x07the end")
"""


class LogsTests:
    def test_logs_follow_a_running_attempt_from_another_process(self, git_repo: Path,
                                                                 tmp_path: Path) -> None:  # fmt: skip
        """`nborch logs RUN TASK AGENT -f` started while the attempt runs (in another process)
        prints its lines as they come and ends when the attempt does; escapes are shown, not
        acted on."""
        import time

        agent = tmp_path / "talker.py"
        agent.write_text(TALKER)
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: A\n")
        runner = subprocess.Popen(
            [*execute_argv(plan, git_repo, tmp_path / "wt", "talker", f"{sys.executable} {agent}",
                           "60s"), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        run_id = ""
        while not run_id and time.monotonic() < deadline:
            found = json.loads(nborch("history", "-r", str(git_repo), "--json").stdout or '{"runs": []}')
            run_id = found["runs"][0]["run"] if found["runs"] else ""
            time.sleep(0.1)
        follower = subprocess.Popen([sys.executable, "-m", "nborch", "logs", run_id, "1", "talker",
                                     "-r", str(git_repo), "-f", "-n", "0"],
                                    stdout=subprocess.PIPE, text=True)  # fmt: skip
        first = follower.stdout.readline()
        first_at = time.monotonic()
        rest, _ = follower.communicate(timeout=60)
        runner.communicate(timeout=60)
        assert follower.returncode == 0 and runner.returncode == 0
        lines = (first + rest).splitlines()
        assert first.startswith("step ")  # it came while the agent ran …
        assert time.monotonic() - first_at > 0.5  # … well before the attempt ended
        assert lines[-1] == "\\x1b]0;retitled\\x07the end"
        numbers = [int(x.split()[1]) for x in lines if x.startswith("step ")]
        assert numbers == list(range(numbers[0], 8))

    def test_logs_of_a_run_lead_each_line_with_its_attempt(self, git_repo: Path, tmp_path: Path) -> None:
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: A\n## Task 2: B\n")
        done = nborch("execute", str(plan), "-r", str(git_repo), "--json", "--root",
                      str(tmp_path / "wt"), "--script", "say=python3 -c \"print('a'); print('b')\"",
                      "--agents", "say")  # fmt: skip
        run_id = json.loads(done.stdout)["run_id"]
        shown = nborch("logs", run_id, "-r", str(git_repo), "-n", "1")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.splitlines() == ["1/say | b", "2/say | b"]
        one = nborch("logs", run_id, "2", "say", "-r", str(git_repo))
        assert one.stdout.splitlines() == ["a", "b"]
        for bad in (("nosuchrun",), (run_id, "9", "say")):
            wrong = nborch("logs", *bad, "-r", str(git_repo))
            assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr


class VerboseTests:
    def test_v_and_vv_log_what_nborch_decides_and_runs(self, git_repo: Path, tmp_path: Path) -> None:
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: A\n## Task 2: B\nDepends on: 1\n")

        def execute(*flags: str, env: dict[str, str] | None = None) -> str:
            root = tmp_path / f"wt{len(list(tmp_path.glob('wt*')))}"
            done = subprocess.run(
                [sys.executable, "-m", "nborch", *flags, "execute", str(plan), "-r", str(git_repo),
                 "--script", "fx=true", "--agents", "fx", "--root", str(root), "--json",
                 "--no-cache"],  # each run runs its agents (and says so)
                capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr
            return done.stderr

        quiet = execute()
        assert " INFO " not in quiet and " DEBUG " not in quiet
        info = execute("-v")
        assert "INFO  nborch: run " in info and ", task 1, fx: running" in info
        assert "task 2, fx: waits for task(s) 1" in info and "started pid " in info
        assert " DEBUG " not in info
        debug = execute("-vv")
        assert "DEBUG nborch: git cat-file" not in debug  # --no-cache: no commit looked up
        assert "DEBUG nborch: git worktree add" in debug and " ms" in debug
        assert "DEBUG nborch: git " in execute(env={"NBORCH_LOG": "debug"})


class RaceCliTests:
    def test_execute_race_json_and_the_note_before_the_run(self, git_repo: Path, tmp_path: Path) -> None:
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: Good\n\n**Validation criteria**\n\n- `test -f good.txt` "
                        "passes.\n\n## Task 2: Unchecked\n")  # fmt: skip
        quick = f"{sys.executable} -c \"import pathlib,sys; pathlib.Path(sys.argv[1],'good.txt').write_text('ok')\" {{worktree}}"
        slow = f"{sys.executable} -c \"import time; time.sleep(60)\""
        done = nborch("execute", str(plan), "-r", str(git_repo), "--json", "--race", "--root",
                      str(tmp_path / "wt"), "--script", f"quick={quick}", "--script", f"slow={slow}",
                      "--agents", "quick,slow", "--per-task", "2", "-t", "8s", "-c", "4")  # fmt: skip
        report = json.loads(done.stdout)
        by = {(a["task"], a["agent"]): a for a in report["attempts"]}
        assert by[("1", "slow")]["status"] == "cancelled"
        assert by[("1", "slow")]["reason"] == "race won by quick"
        assert by[("1", "quick")]["reason"] == "" and report["saved_usd"] == 0.0
        assert {"spent_usd", "saved_usd", "unrecorded"} <= report.keys()
        note = "race: task(s) 2 name no checks"
        assert note in done.stderr
        assert done.returncode == 1  # task 2's slow attempt timed out or ran: not all completed
        bad = nborch("execute", str(plan), "-r", str(git_repo), "--race", "--no-validate",
                     "--script", f"quick={quick}", "--agents", "quick")  # fmt: skip
        assert bad.returncode == 2 and "needs the tasks' checks" in bad.stderr
