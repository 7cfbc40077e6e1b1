"""The process runner and the agent environment, with real processes.

Each test writes a small Python script into ``tmp_path`` and runs it with ``sys.executable``.
Scripts that leave processes behind write their pids to a file so the test can check, with
psutil, that none is alive afterwards (and kill them itself if the runner failed to).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import ClassVar

import psutil
import pytest

from nborch.execute import ProcessResult, ProcessSpec, Redactor, build_env, run_process, secrets_of
from nborch.proc import runner as process_module
from nborch.proc import tree
from nborch.proc.lines import LineSplitter, Tail

MIB = 1024 * 1024
PATH = os.environ.get("PATH", os.defpath)

# Forks ``n`` children that ignore SIGTERM and sleep; each writes its pid to ``pids``.
STUBBORN_CHILD = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
{setsid}
with open({pids!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
time.sleep(60)
"""


def script(tmp_path: Path, body: str, name: str = "agent.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture(autouse=True)
def _runner_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the runner's own search for descendants, which is what works where
    no subreaper can (see tests/proc/test_reaper.py for the subreaper on Linux)."""
    monkeypatch.setenv("NBORCH_SUBREAPER", "0")


def spec(tmp_path: Path, *argv: str, **kw) -> ProcessSpec:
    kw.setdefault("env", {"PATH": PATH})
    kw.setdefault("log_path", tmp_path / "logs" / "agent.log")
    kw.setdefault("timeout", 20.0)
    kw.setdefault("grace", 0.5)
    return ProcessSpec(argv=argv, cwd=tmp_path, **kw)


def run(sp: ProcessSpec, **kw) -> ProcessResult:
    return asyncio.run(run_process(sp, **kw))


def py(tmp_path: Path, body: str, **kw) -> ProcessSpec:
    return spec(tmp_path, sys.executable, str(script(tmp_path, body)), **kw)


def wait_for_pids(path: Path, n: int, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            pids = [int(x) for x in path.read_text().split()]
            if len(pids) >= n:
                return pids
        time.sleep(0.02)
    raise AssertionError(f"the script did not write {n} pids to {path}")


def alive(pids: list[int]) -> list[int]:
    """The pids still running (zombies count as dead); kills them so no test leaks processes."""
    left = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
                os.kill(pid, signal.SIGKILL)
        except (psutil.Error, OSError):
            continue
    return left


def stubborn_children(tmp_path: Path, n: int, setsid: bool = False) -> str:
    """Script text: start ``n`` children that ignore SIGTERM, wait until they wrote their pids."""
    pids = str(tmp_path / "pids")
    child = STUBBORN_CHILD.format(pids=pids, setsid="os.setsid()" if setsid else "")
    script(tmp_path, child, "child.py")
    return f"""
    import subprocess, sys, time, os
    for _ in range({n}):
        subprocess.Popen([sys.executable, {str(tmp_path / "child.py")!r}])
    while not os.path.exists({pids!r}) or len(open({pids!r}).read().split()) < {n}:
        time.sleep(0.02)
    print("children started", flush=True)
    """


class TestNormalRuns:
    def test_output_return_code_and_log(self, tmp_path: Path) -> None:
        """Stdout and stderr lines reach the log, the tail and on_line; return code 0 is ok."""
        seen: list[tuple[str, str]] = []
        sp = py(tmp_path, """
            import sys, time  # pauses: the runner reads the two streams concurrently
            print("one", flush=True); time.sleep(0.1)
            print("oops", file=sys.stderr, flush=True); time.sleep(0.1)
            print("two")
        """)  # fmt: skip
        result = run(sp, on_line=lambda stream, line: seen.append((stream, line)))
        assert result.ok and result.state == "exited" and result.return_code == 0
        assert result.tail == ("one", "[stderr] oops", "two")
        assert sp.log_path.read_text() == "one\n[stderr] oops\ntwo\n"
        assert seen == [("stdout", "one"), ("stderr", "oops"), ("stdout", "two")]
        assert (result.stdout_bytes, result.stderr_bytes) == (8, 5)
        assert result.killed == () and result.error is None and result.pid
        assert result.duration_s > 0 and result.ended_at >= result.started_at
        assert repr(result).startswith("<ProcessResult exited rc=0 ")

    def test_non_zero_exit(self, tmp_path: Path) -> None:
        """A failing agent is a result with its return code, not an exception."""
        result = run(py(tmp_path, "import sys; print('bad input', file=sys.stderr); sys.exit(3)"))
        assert result.state == "exited" and result.return_code == 3 and not result.ok
        assert result.tail == ("[stderr] bad input",) and result.error is None

    def test_last_line_without_newline_and_crlf(self, tmp_path: Path) -> None:
        """A last line without a newline is kept; Windows line ends lose their \\r."""
        code = "import sys; sys.stdout.buffer.write(b'a\\r\\nb\\r\\n\\nend')"
        result = run(py(tmp_path, code))
        assert result.tail == ("a", "b", "", "end")

    def test_log_is_appended(self, tmp_path: Path) -> None:
        """A second run with the same log path appends instead of overwriting."""
        sp = py(tmp_path, "print('again')")
        run(sp)
        run(sp)
        assert sp.log_path.read_text() == "again\nagain\n"

    def test_env_is_exactly_what_the_spec_says(self, tmp_path: Path) -> None:
        """The child sees the spec's env plus the runner's token, and nothing inherited."""
        result = run(spec(tmp_path, "env", env={"PATH": PATH, "ONLY": "1"}))
        names = sorted(line.split("=")[0] for line in result.tail)
        assert names == ["NBORCH_PROCESS_TOKEN", "ONLY", "PATH"]

    def test_stdin_is_closed(self, tmp_path: Path) -> None:
        """Reading stdin gives EOF at once instead of hanging."""
        result = run(py(tmp_path, "import sys; print(repr(sys.stdin.read()))", timeout=5))
        assert result.tail == ("''",)


class TestBoundedMemory:
    def test_many_lines_tail_bounded_log_complete(self, tmp_path: Path) -> None:
        """200k lines: the tail holds the last tail_lines, the log every line."""
        sp = py(tmp_path, "import sys\nfor i in range(200_000): print(f'line {i}')", tail_lines=50)
        count = 0

        def on_line(stream: str, line: str) -> None:
            nonlocal count
            count += 1

        result = run(sp, on_line=on_line)
        assert result.ok and count == 200_000
        assert result.tail == tuple(f"line {i}" for i in range(199_950, 200_000))
        with sp.log_path.open() as log:
            assert sum(1 for _ in log) == 200_000

    @pytest.mark.parametrize("newlines", [False, True], ids=["one-line", "lines"])
    def test_one_gib_keeps_rss_small(self, tmp_path: Path, newlines: bool) -> None:
        """1 GiB on stdout, with or without newlines, grows this process's RSS by < 100 MB."""
        sp = py(tmp_path, f"""
            import sys
            block = (b"x" * 99 + b"\\n") * 10486 if {newlines} else b"y" * {MIB}
            for _ in range({1024 * MIB} // len(block)):
                sys.stdout.buffer.write(block)
        """, timeout=120)  # fmt: skip
        me = psutil.Process()
        before = peak = me.memory_info().rss
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.01):
                peak = max(peak, me.memory_info().rss)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result = run(sp)
            log_size = sp.log_path.stat().st_size
        finally:
            done.set()
            sampler.join()
            sp.log_path.unlink(missing_ok=True)  # up to 1 GiB: do not leave it in /tmp
        assert result.ok and result.stdout_bytes > 1000 * MIB
        assert peak - before < 100e6, f"RSS grew by {(peak - before) / 1e6:.0f} MB"
        if not newlines:  # the one line is cut in the log and the tail alike
            assert log_size < 70_000
            assert result.tail[0].endswith(f" …[nborch: line cut, {result.stdout_bytes} bytes]")

    def test_long_line_is_cut_everywhere(self, tmp_path: Path) -> None:
        """A line over max_line_bytes is cut with a marker in the log, the tail and on_line."""
        seen: list[str] = []
        sp = py(tmp_path, "print('a' * 5000); print('short')", max_line_bytes=100)
        result = run(sp, on_line=lambda s, line: seen.append(line))
        cut = "a" * 100 + " …[nborch: line cut, 5000 bytes]"
        assert seen == [cut, "short"] and result.tail == (cut, "short")
        assert sp.log_path.read_text() == f"{cut}\nshort\n"


class TestProcessTree:
    def test_timeout_kills_children_that_ignore_sigterm(self, tmp_path: Path) -> None:
        """After a timeout, the agent and its SIGTERM-ignoring children are all gone."""
        body = stubborn_children(tmp_path, 3) + "time.sleep(60)\n"
        result = run(py(tmp_path, body, timeout=2))
        pids = wait_for_pids(tmp_path / "pids", 3)
        assert result.state == "timeout" and result.return_code == -signal.SIGTERM
        assert alive(pids) == []
        assert set(pids) | {result.pid} <= set(result.killed)
        assert result.error == "timed out after 2 s"
        assert any(line.startswith("[nborch] SIGKILL after 0.5 s grace") for line in result.tail)

    def test_child_escaping_with_setsid_is_killed(self, tmp_path: Path) -> None:
        """A child that left the process group with setsid() is killed on timeout too."""
        body = stubborn_children(tmp_path, 1, setsid=True) + "time.sleep(60)\n"
        result = run(py(tmp_path, body, timeout=2))
        pids = wait_for_pids(tmp_path / "pids", 1)
        assert result.state == "timeout" and alive(pids) == []
        assert pids[0] in result.killed

    def test_background_child_after_normal_exit_is_killed(self, tmp_path: Path) -> None:
        """A child still running when the agent exits normally is killed; the run stays ok."""
        result = run(py(tmp_path, stubborn_children(tmp_path, 1)))
        pids = wait_for_pids(tmp_path / "pids", 1)
        assert result.ok and alive(pids) == [] and result.killed == tuple(pids)
        assert any("still running after the agent exited" in line for line in result.tail)

    @pytest.mark.parametrize("clear_env", [False, True], ids=["token", "pipe"])
    def test_double_forked_daemon_is_killed(self, tmp_path: Path, clear_env: bool) -> None:
        """A daemon that double-forked out of the group and the tree is found and killed."""
        pids = tmp_path / "pids"
        daemon = script(tmp_path, STUBBORN_CHILD.format(pids=str(pids), setsid=""), "daemon.py")
        env = "{}" if clear_env else "os.environ"
        body = f"""
            import os, sys, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execve(sys.executable, [sys.executable, {str(daemon)!r}], {env})
                os._exit(0)
            while not os.path.exists({str(pids)!r}):
                time.sleep(0.02)
        """
        result = run(py(tmp_path, body))
        [pid] = wait_for_pids(pids, 1)
        assert result.ok and alive([pid]) == [] and pid in result.killed

    def test_cancel_event_stops_the_tree(self, tmp_path: Path) -> None:
        """Setting the cancel event ends the agent and its children; the state is cancelled."""
        body = stubborn_children(tmp_path, 2) + "time.sleep(60)\n"

        async def main() -> ProcessResult:
            cancel = asyncio.Event()

            def on_line(stream: str, line: str) -> None:
                if line == "children started":
                    cancel.set()

            return await run_process(py(tmp_path, body), on_line=on_line, cancel=cancel)

        result = asyncio.run(main())
        assert result.state == "cancelled" and result.error == "cancelled"
        assert alive(wait_for_pids(tmp_path / "pids", 2)) == []

    def test_cancelling_the_task_kills_hard(self, tmp_path: Path) -> None:
        """Cancelling the awaiting task SIGKILLs the tree and lets CancelledError through."""
        body = stubborn_children(tmp_path, 1) + "time.sleep(60)\n"

        async def main() -> None:
            started = asyncio.Event()

            def on_line(stream: str, line: str) -> None:
                started.set()

            task = asyncio.create_task(run_process(py(tmp_path, body), on_line=on_line))
            await started.wait()
            task.cancel()
            await task

        with pytest.raises(asyncio.CancelledError):
            asyncio.run(main())
        pids = wait_for_pids(tmp_path / "pids", 1)
        deadline = time.monotonic() + 2
        while any(psutil.pid_exists(p) for p in pids) and time.monotonic() < deadline:
            if all(psutil.Process(p).status() == psutil.STATUS_ZOMBIE for p in pids):
                break
            time.sleep(0.05)
        assert alive(pids) == []

    def test_unknown_pipe_holder_does_not_hang_the_run(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If a stray process holding the pipes cannot be found, the run ends and says so."""
        monkeypatch.setattr(process_module.tree, "find", lambda *a, **k: [])
        monkeypatch.setattr(process_module, "DRAIN_IDLE_S", 0.3)
        result = run(py(tmp_path, stubborn_children(tmp_path, 1)))
        pids = wait_for_pids(tmp_path / "pids", 1)
        alive(pids)  # the runner was blinded on purpose: clean up here
        assert result.state == "exited" and result.return_code == 0
        assert result.error == "an unknown process kept the output pipes open"


class TestTreeSearch:
    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe holders need /proc")
    def test_only_write_ends_of_the_pipes_count(self) -> None:
        """A process holding the pipe's write end is found; one holding the read end is not."""
        read_end, write_end = os.pipe()
        since = time.time()
        sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
        writer = subprocess.Popen(sleeper, pass_fds=[write_end], start_new_session=True)
        reader = subprocess.Popen(sleeper, pass_fds=[read_end], start_new_session=True)
        try:
            inode = os.fstat(read_end).st_ino
            found = tree.find((), os.getpgid(0), "no-such-token", since, {inode})
            assert [f.pid for f in found] == [writer.pid]
        finally:
            for proc in (writer, reader):
                proc.kill()
                proc.wait()
            os.close(read_end)
            os.close(write_end)


class TestStartFailures:
    def test_program_not_found(self, tmp_path: Path) -> None:
        """A missing executable is failed-to-start with a message naming it; nothing raises."""
        result = run(spec(tmp_path, "no-such-agent-cli", "-p", "hi"))
        assert result.state == "failed-to-start" and result.return_code is None
        assert result.error == f"program 'no-such-agent-cli' was not found on PATH ({PATH})"
        assert result.tail == (f"[nborch] {result.error}",)

    def test_missing_working_directory(self, tmp_path: Path) -> None:
        """A worktree that does not exist is failed-to-start, naming the directory."""
        sp = ProcessSpec((sys.executable, "-V"), tmp_path / "gone", {"PATH": PATH},
                         tmp_path / "agent.log")  # fmt: skip
        result = run(sp)
        assert result.state == "failed-to-start" and "gone' does not exist" in result.error

    def test_not_executable(self, tmp_path: Path) -> None:
        """A file without the execute bit is failed-to-start with a clear message."""
        path = script(tmp_path, "echo hi", "tool.sh")
        result = run(spec(tmp_path, str(path)))
        assert result.state == "failed-to-start"
        assert result.error == f"program {str(path)!r} is not executable"

    def test_cancelled_before_start(self, tmp_path: Path) -> None:
        """An event set before the call means the process is never started."""

        async def main() -> ProcessResult:
            cancel = asyncio.Event()
            cancel.set()
            return await run_process(py(tmp_path, "print(1)"), cancel=cancel)

        result = asyncio.run(main())
        assert result.state == "cancelled" and result.pid is None


class TestRedaction:
    def test_secrets_masked_in_log_tail_and_on_line(self, tmp_path: Path) -> None:
        """Secret values become *** in the log file, the tail and what on_line receives."""
        seen: list[str] = []
        body = (
            "import sys; print('key sk-live-123456 ok'); print('tok ghp_abcdef', file=sys.stderr)"
        )
        sp = py(tmp_path, body, redact=("sk-live-123456", "ghp_abcdef"))
        result = run(sp, on_line=lambda s, line: seen.append(line))
        assert sorted(seen) == ["key *** ok", "tok ***"]  # the two streams race
        assert set(result.tail) == {"key *** ok", "[stderr] tok ***"}
        text = sp.log_path.read_text()
        assert "sk-live" not in text and "ghp_" not in text

    def test_cut_inside_a_utf8_character(self, tmp_path: Path) -> None:
        """A cut never splits a multi-byte character: it moves back to the character's start."""
        sp = py(tmp_path, "print('a' * 99 + 'é' * 10)", max_line_bytes=100)
        assert run(sp).tail == ("a" * 99 + " …[nborch: line cut, 119 bytes]",)

    def test_secret_across_the_cut_of_a_long_line(self, tmp_path: Path) -> None:
        """A secret that straddles the cut of a long line is masked whole, not half shown."""
        secret = "SECRET-" + "z" * 30
        sp = py(tmp_path, f"print('a' * 90 + {secret!r} + 'b' * 500)", max_line_bytes=100,
                redact=(secret,))  # fmt: skip
        result = run(sp)
        assert result.tail == ("a" * 90 + "*** …[nborch: line cut, 627 bytes]",)
        assert "SECRET" not in sp.log_path.read_text()


class TestCallbacks:
    def test_on_line_raising_does_not_break_the_run(self, tmp_path: Path) -> None:
        """Exceptions from on_line are recorded (bounded) and every line is still logged."""

        def on_line(stream: str, line: str) -> None:
            raise ValueError(f"cannot parse {line}")

        sp = py(tmp_path, "for i in range(30): print(i)")
        result = run(sp, on_line=on_line)
        assert result.ok and len(sp.log_path.read_text().split()) == 30
        assert result.on_line_errors[0] == "on_line: ValueError: cannot parse 0"
        assert len(result.on_line_errors) == 21 and result.on_line_errors[-1] == "… and 10 more"

    def test_async_on_line_and_on_start(self, tmp_path: Path) -> None:
        """on_line may be a coroutine function; on_start gets the pid."""
        seen: list[str] = []
        pids: list[int] = []

        async def on_line(stream: str, line: str) -> None:
            await asyncio.sleep(0)
            seen.append(line)

        result = run(py(tmp_path, "print('a'); print('b')"), on_line=on_line,
                     on_start=pids.append)  # fmt: skip
        assert seen == ["a", "b"] and pids == [result.pid]


class TestSpec:
    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"argv": ()}, "argv must be a non-empty"),
            ({"argv": "claude -p hi"}, "split it"),
            ({"timeout": 0}, "timeout must be > 0"),
            ({"grace": -1}, "grace must be >= 0"),
            ({"tail_lines": -1}, "tail_lines"),
            ({"max_line_bytes": 10}, "max_line_bytes"),
            ({"env": {"A": 1}}, "must be a str"),
            ({"redact": "sk-123456"}, "sequence of secret strings"),
            ({"redact": (b"x",)}, "sequence of secret strings"),
            ({"timeout": "20m"}, "timeout must be > 0"),
        ],
    )
    def test_bad_spec_raises(self, tmp_path: Path, change: dict, message: str) -> None:
        """A spec that cannot be run raises at construction with a message saying why."""
        kw = {"argv": ("true",), "cwd": tmp_path, "env": {}, "log_path": tmp_path / "l"} | change
        with pytest.raises((ValueError, TypeError), match=message):
            ProcessSpec(**kw)

    def test_spec_is_normalised(self, tmp_path: Path) -> None:
        """Lists become tuples, strings become Paths, the env is a read-only copy."""
        env = {"PATH": PATH}
        sp = ProcessSpec(["a", "b"], str(tmp_path), env, str(tmp_path / "l"))  # type: ignore[arg-type]
        env["X"] = "1"
        assert sp.argv == ("a", "b") and sp.cwd == tmp_path and dict(sp.env) == {"PATH": PATH}
        with pytest.raises(TypeError):
            sp.env["Y"] = "2"  # type: ignore[index]


class TestEnv:
    BASE: ClassVar[dict[str, str]] = {
        "PATH": "/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "TERM": "xterm", "TZ": "UTC",
        "TMPDIR": "/tmp", "HOME": "/home/me", "AWS_SECRET_ACCESS_KEY": "aws-secret-1",
        "GITHUB_TOKEN": "ghp_123456", "ANTHROPIC_API_KEY": "sk-ant-123456",
        "ANTHROPIC_BASE_URL": "https://example.test", "EDITOR": "vim",
    }  # fmt: skip

    def test_allow_list_drops_unlisted_and_keeps_globs(self) -> None:
        """Only the always-allowed names and the agent's globs pass; set_ adds and overrides."""
        env = build_env(["ANTHROPIC_*"], {"NO_COLOR": "1", "TERM": "dumb"}, None, None, self.BASE)
        assert sorted(env) == ["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "LANG", "LC_ALL",
                               "NO_COLOR", "PATH", "TERM", "TMPDIR", "TZ"]  # fmt: skip
        assert env["TERM"] == "dumb"

    def test_home_points_at_the_attempt_dir(self, tmp_path: Path) -> None:
        """Without home_env, HOME is the attempt's home; with it, that variable is."""
        env = build_env([], {}, tmp_path, None, self.BASE)
        assert env["HOME"] == str(tmp_path)
        env = build_env([], {}, tmp_path, "CLAUDE_CONFIG_DIR", self.BASE)
        assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path) and env["HOME"] == "/home/me"

    def test_bad_input_raises(self) -> None:
        """A bad variable name or a single string as allow-list is a clear error."""
        with pytest.raises(ValueError, match="not an environment variable name"):
            build_env([], {"A=B": "1"}, None, None, {})
        with pytest.raises(TypeError, match="list of names"):
            build_env("ANTHROPIC_*", {}, None, None, {})

    def test_secrets_of(self) -> None:
        """Credential-looking values of 6+ characters, optionally only the allowed names."""
        env = {**self.BASE, "MY_PASSWORD": "short", "db_credentials": "user:pw@host"}
        expected = ("sk-ant-123456", "aws-secret-1", "user:pw@host", "ghp_123456")
        assert secrets_of(env) == expected
        assert secrets_of(env, ["ANTHROPIC_*"]) == ("sk-ant-123456",)

    def test_secrets_inside_json_config(self) -> None:
        """A JSON config in a variable (opencode's OPENCODE_CONFIG_CONTENT) hides keys by name."""
        config = ('{"provider": {"local": {"options": {"apiKey": "sk-local-98765", "baseURL": '
                  '"http://127.0.0.1:1/v1"}, "models": [{"token": "tok-123456", "name": "m"}]}}}')
        env = {"OPENCODE_CONFIG_CONTENT": config, "OTHER": "{not json"}
        assert secrets_of(env) == ("sk-local-98765", "tok-123456")
        assert secrets_of(env, ["OTHER"]) == ()

    def test_redactor(self) -> None:
        """Longest secret first, multi-line secrets by line, a no-op without secrets."""
        redact = Redactor(["abcdef", "abcdefgh", "line-one\nline-two"])
        assert redact("x abcdefgh abcdef line-two") == "x *** *** ***"
        assert Redactor()("abcdef") == "abcdef" and not Redactor()
        assert redact.head("0123abcdefgh89", 6) == "0123***"


class TestLineSplitter:
    def test_lines_across_chunks_and_cuts(self) -> None:
        """Lines are joined across chunks; a long one keeps its head and its full length."""
        s = LineSplitter(limit=4)
        assert s.feed(b"ab") == ([], {})
        assert s.feed(b"c\nlong-line\nx") == ([b"abc", b"long"], {1: 9})
        assert s.feed(b"yz") == ([], {})
        assert s.close() == ([b"xyz"], {})
        assert s.close() == ([], {})

    def test_tail_is_bounded_by_lines_and_characters(self) -> None:
        """The tail keeps the newest lines within both budgets, and always the newest one."""
        tail = Tail(3, max_chars=10)
        tail.extend(["a", "b", "c", "d"])
        assert tail.lines() == ("b", "c", "d")
        tail.extend(["x" * 9])
        assert tail.lines() == ("d", "x" * 9)
        tail.append("y" * 50)
        assert tail.lines() == ("y" * 50,)
        assert Tail(0).lines() == ()


STUBBORN = """\
import os, pathlib, signal, time
here = pathlib.Path(__file__).parent / "procs"
def running(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
def term(*_):
    others = [int(f.stem) for f in here.glob("*.ready") if int(f.stem) != os.getpid()]
    (here / f"{os.getpid()}.term").write_text(str(sum(map(running, others))))
signal.signal(signal.SIGTERM, term)
(here / f"{os.getpid()}.ready").write_text("")
while True:
    time.sleep(0.05)
"""


class WatchdogStopTests:
    def test_every_tree_gets_sigterm_before_any_gets_sigkill(self, tmp_path: Path) -> None:
        """stop_all signals all watched trees first and waits one grace for all of them: each
        process, when its SIGTERM comes, still sees the three others running (one by one, the
        later ones would find the earlier ones already killed)."""
        import psutil

        from nborch.proc.tree import TOKEN_ENV
        from nborch.proc.watchdog import stop_all

        script, procs_dir = tmp_path / "stubborn.py", tmp_path / "procs"
        script.write_text(STUBBORN)
        procs_dir.mkdir()
        procs = [subprocess.Popen([sys.executable, str(script)], start_new_session=True,
                                  env={**os.environ, TOKEN_ENV: f"token{i}"}) for i in range(4)]  # fmt: skip
        deadline = time.monotonic() + 30
        while len(list(procs_dir.glob("*.ready"))) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        watched = {p.pid: (psutil.Process(p.pid).create_time(), f"token{i}")
                   for i, p in enumerate(procs)}  # fmt: skip
        stop_all(watched, grace=1.0)
        for p in procs:
            p.wait(10)
        seen = [int(f.read_text()) for f in procs_dir.glob("*.term")]
        assert seen == [3, 3, 3, 3]
        assert all(p.returncode == -9 for p in procs)  # SIGTERM was ignored, so SIGKILL ended them


class LogCapTests:
    def test_a_flood_keeps_the_head_and_the_tail_and_says_what_was_cut(self, tmp_path: Path) -> None:
        """3 MiB of output with a 1 MiB cap: the log holds the first MiB, a note, the last
        ~100 KiB, and the run's tail still ends with the last line."""
        code = "for i in range(60000):\n    print(f'line {i:06d} ' + 'x' * 40)\nprint('the end')\n"
        sp = py(tmp_path, code, max_log_bytes=2**20)
        result = run(sp)
        log = sp.log_path.read_text()
        assert result.ok and len(log) < 1.2 * 2**20
        assert log.startswith("line 000000 ") and log.rstrip().endswith("the end")
        assert "[nborch] log cut: " in log and "were not kept" in log
        assert result.tail[-1] == "the end"
        lines = log.splitlines()
        cut_at = next(i for i, line in enumerate(lines) if line.startswith("[nborch] log cut"))
        assert lines[cut_at + 1] > lines[cut_at - 1]  # the tail comes after the head, in order

    def test_a_log_on_a_full_disk_loses_lines_not_the_agent(self, tmp_path: Path) -> None:
        """Every write to /dev/full fails with ENOSPC: the agent still runs to its end, its tail
        is complete, and the result says how much of the log is missing and why."""
        sp = py(tmp_path, "for i in range(1000):\n    print(f'line {i}')\n", log_path=Path("/dev/full"))
        result = run(sp)
        assert result.state == "exited" and result.return_code == 0
        assert result.tail[-1] == "line 999"
        assert result.error is not None and "log incomplete: " in result.error
        assert "bytes not written (the disk is full)" in result.error


class CappedLogTests:
    def test_writes_after_a_failure_first_say_what_is_missing(self, tmp_path: Path) -> None:
        """A write that fails is counted; the next one that succeeds is preceded by a note."""
        from nborch.proc.logfile import CappedLog

        path = tmp_path / "agent.log"
        log = CappedLog(path, None)
        log.write("first\n")
        real, fd = log.fd, os.open("/dev/full", os.O_WRONLY)
        log.fd = fd  # the same file descriptor slot, on a device that is always full
        log.write("lost line\n")
        log.fd = real
        os.close(fd)
        log.write("after\n")
        log.close()
        assert path.read_text().splitlines() == [
            "first", "[nborch] 10 bytes of this log were not written: the disk is full", "after"]
        assert log.problem == "log incomplete: 10 bytes not written (the disk is full)"
