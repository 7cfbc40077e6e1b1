"""The subreaper (Linux): agents run under nborch/proc/reaper.py, which adopts what their tree
orphans and ends it — even a daemon that left the group and the tree, cleared its environment
and closed its output, which no search can find. Real processes, the real runner."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from nborch.proc.reaper import use_reaper
from nborch.proc.runner import run_process
from nborch.proc.spec import ProcessSpec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")

# Forks twice, setsid()s, clears its environment, points its stdio at /dev/null: invisible to the
# process group, the token and the pipes. It writes its pid, then sleeps for ten minutes.
DAEMON = """\
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        for name in list(os.environ):
            del os.environ[name]
        with open({pid_file!r}, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(600)
        os._exit(0)
    os._exit(0)
os.wait()
while not os.path.exists({pid_file!r}):
    time.sleep(0.01)
print("agent done", flush=True)
sys.exit({code})
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _spec(tmp_path: Path, code: str, **kw: object) -> ProcessSpec:
    script = tmp_path / "agent.py"
    script.write_text(code)
    return ProcessSpec(argv=(sys.executable, str(script)), cwd=tmp_path,
                       env={"PATH": os.environ["PATH"], "ONLY": "1"}, log_path=tmp_path / "log",
                       **kw)  # type: ignore[arg-type]  # fmt: skip


class ReaperTests:
    def test_it_is_on_by_default_here(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("NBORCH_SUBREAPER", raising=False)
        assert use_reaper()
        monkeypatch.setenv("NBORCH_SUBREAPER", "0")
        assert not use_reaper()

    def test_an_invisible_daemon_is_ended_when_the_agent_exits(self, tmp_path: Path) -> None:
        pid_file = tmp_path / "daemon.pid"
        result = asyncio.run(run_process(_spec(tmp_path, DAEMON.format(pid_file=str(pid_file),
                                                                       code=3), timeout=60)))  # fmt: skip
        daemon = int(pid_file.read_text())
        deadline = time.monotonic() + 10
        while _alive(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(daemon)
        assert result.return_code == 3  # the agent's own exit status comes through
        log = (tmp_path / "log").read_text()
        assert "agent done" in log and "[nborch] the agent left 1 process(es) running" in log

    def test_a_timeout_ends_the_agent_and_its_daemon(self, tmp_path: Path) -> None:
        pid_file = tmp_path / "daemon.pid"
        code = DAEMON.format(pid_file=str(pid_file), code=0).replace(
            'print("agent done", flush=True)', "time.sleep(600)")
        result = asyncio.run(run_process(_spec(tmp_path, code, timeout=2.0, grace=3.0)))
        assert result.state == "timeout"
        daemon = int(pid_file.read_text())
        deadline = time.monotonic() + 10
        while _alive(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(daemon)

    def test_the_agent_sees_exactly_its_environment(self, tmp_path: Path) -> None:
        """Nothing of the reaper's own start-up (Python's LC_CTYPE, its marker) reaches `env`."""
        spec = ProcessSpec(argv=("env",), cwd=tmp_path, env={"PATH": os.environ["PATH"], "ONLY": "1"},
                           log_path=tmp_path / "log", timeout=60)  # fmt: skip
        result = asyncio.run(run_process(spec))
        assert result.ok
        assert sorted(line.split("=")[0] for line in result.tail) == ["NBORCH_PROCESS_TOKEN", "ONLY", "PATH"]

    def test_a_signal_that_killed_the_agent_comes_through(self, tmp_path: Path) -> None:
        code = "import os, signal\nos.kill(os.getpid(), signal.SIGABRT)\n"
        result = asyncio.run(run_process(_spec(tmp_path, code, timeout=60)))
        assert result.return_code == -6


HIDER = """\
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()
    os.execve(sys.executable, [sys.executable, "-c",
              "import os, time; open({pid_file!r}, 'w').write(str(os.getpid())); time.sleep(600)"], {{}})
time.sleep(600)
"""


class CoordinatorKilledTests:
    def test_kill_9_of_the_coordinator_leaves_no_hidden_descendant(self, tmp_path: Path) -> None:
        """The agent's child called setsid and execve with an empty environment while holding
        the agent's stdout; the coordinator (`nborch execute`) is then killed with SIGKILL. The
        watchdog stops the agent's reaper, which ends the hidden child too."""
        import signal
        import subprocess

        repo = tmp_path / "repo"
        repo.mkdir()
        for args in (["init", "-q", "-b", "main"], ["-c", "user.name=t", "-c", "user.email=t@t",
                     "commit", "-q", "--allow-empty", "-m", "x"]):  # fmt: skip
            subprocess.run(["git", *args], cwd=repo, check=True)
        pid_file = tmp_path / "hidden.pid"
        agent = tmp_path / "agent.py"
        agent.write_text(HIDER.format(pid_file=str(pid_file)))
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: A\n")
        cli = subprocess.Popen([sys.executable, "-m", "nborch", "execute", str(plan), "-r",
                                str(repo), "--script", f"hide={sys.executable} {agent}",
                                "--root", str(tmp_path / "wt"), "-t", "5m"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        hidden = int(pid_file.read_text())
        cli.send_signal(signal.SIGKILL)
        cli.wait(10)
        deadline = time.monotonic() + 20
        while _alive(hidden) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(hidden)
