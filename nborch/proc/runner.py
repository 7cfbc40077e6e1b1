"""Run one agent process: own process group, streamed and redacted logs, no orphans.

:func:`run_process` starts ``spec.argv`` with stdin closed in a new session (its own process
group), reads stdout and stderr concurrently in fixed-size chunks, and for every line: masks
the secrets, appends it to the log file, keeps it in a bounded tail and hands it to
``on_line``. On timeout or cancel it sends SIGTERM to the group (and to every descendant it
knows of), waits ``grace`` seconds, then SIGKILLs; after *any* ending, a normal exit included,
it looks for descendants still alive (see :mod:`nborch.proc.tree`) and ends them too.

The log file is line-oriented and is what the tail shows:

* stdout lines are written as they are; stderr lines start with ``[stderr] ``; lines of one
  stream keep their order, lines of the two streams are interleaved as they were read;
* the runner's own notes (timeout, kills, start failure) start with ``[nborch] ``;
* a line longer than ``max_line_bytes`` is cut to that many bytes and ends with
  `` …[nborch: line cut, N bytes]`` — in the log, the tail and ``on_line`` alike, so the log
  keeps one record per line. Raise ``max_line_bytes`` for agents whose JSON events can be
  larger: a cut event no longer parses.

Memory per run is bounded whatever the agent prints: per stream one read chunk (64 KiB), what
asyncio buffers before it pauses the pipe (128 KiB) and one unfinished line (at most
``max_line_bytes``); the tail holds at most ``tail_lines`` lines and about 1 M characters.

Agent failures are results (``state``, ``return_code``, ``error``), never exceptions; a bad
:class:`ProcessSpec` raises ``ValueError``/``TypeError``, and a log file that cannot be
opened raises ``OSError`` (one that cannot be written, a full disk, is said in ``error``). Cancelling the task that awaits :func:`run_process` is a hard stop:
the process tree is SIGKILLed at once and ``CancelledError`` propagates; use ``cancel`` for a
graceful stop that returns a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil

from ..agents.spec import find_program
from ..log import logger
from . import tree
from .env import Redactor
from .lines import LineSplitter, Tail
from .logfile import NOTE_PREFIX, CappedLog
from .reaper import under_reaper, use_reaper
from .spec import ProcessResult, ProcessSpec, ProcessState

OnLine = Callable[[str, str], object | Awaitable[object]]
OnLines = Callable[[str, list[str]], object | Awaitable[object]]

STDERR_PREFIX = "[stderr] "
CHUNK = 64 * 1024  # bytes per read; the pipe's own buffer is 64 KiB on Linux
POLL_S = 0.5  # how often the process tree is walked for new descendants
DRAIN_IDLE_S = 2.0  # after every writer is gone, stop reading pipes that stay silent this long
MAX_CALLBACK_ERRORS = 20
TAIL_MAX_CHARS = 1_000_000  # the tail keeps fewer lines rather than more memory
_CR_EOL = re.compile(r"\r+(?=\n)|\r+\Z")


async def run_process(
    spec: ProcessSpec,
    on_line: OnLine | None = None,
    cancel: asyncio.Event | None = None,
    *,
    on_start: Callable[[int], object] | None = None,
    on_lines: OnLines | None = None,
) -> ProcessResult:
    """Run ``spec`` to its end and return what happened; see the module docstring.

    Parameters
    ----------
    on_line:
        Called as ``on_line(stream, line)`` for every line (``stream`` is ``"stdout"`` or
        ``"stderr"``, the line redacted, without newline); may be a coroutine function.
        Exceptions it raises are recorded in ``on_line_errors`` and the run goes on.
    cancel:
        Setting this event stops the process tree gracefully; the state is ``cancelled``.
    on_start:
        Called with the pid once the process runs (e.g. to store it for crash recovery);
        its exceptions are recorded like ``on_line``'s.
    on_lines:
        Called as ``on_lines(stream, lines)`` with every batch of lines read together (a list,
        in order): the same lines as ``on_line`` gets, for callers whose work per line is worth
        batching (a flood of output is then a few hundred calls, not millions).
    """
    if os.name != "posix":
        raise NotImplementedError("run_process needs POSIX process groups (Linux or macOS)")
    if not isinstance(spec, ProcessSpec):
        raise TypeError(f"spec must be a ProcessSpec, got {type(spec).__name__}")
    return await _Run(spec, on_line, cancel, on_start, on_lines).run()


class _Run:
    """The state of one run; a fresh one per call."""

    def __init__(self, spec: ProcessSpec, on_line, cancel, on_start, on_lines=None) -> None:
        self.spec = spec
        self.on_line = on_line
        self.on_lines = on_lines
        self.cancel = cancel
        self.on_start = on_start
        self.redactor = Redactor(spec.redact)
        self.tail = Tail(spec.tail_lines, TAIL_MAX_CHARS)
        self.nbytes = {"stdout": 0, "stderr": 0}
        self.callback_errors: list[str] = []
        self.callback_error_count = 0
        self.seen: set[tree.Key] = set()
        self.token = secrets.token_hex(16)
        self.killed: dict[int, None] = {}  # ordered set
        self.problems: list[str] = []
        self.pipes: frozenset[int] = frozenset()
        self.log: CappedLog
        self.since = time.time()
        self.started_at = datetime.now(UTC)
        self.t0 = time.monotonic()

    async def run(self) -> ProcessResult:
        spec = self.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(CappedLog(spec.log_path, spec.max_log_bytes)) as self.log:
            if self.cancel is not None and self.cancel.is_set():
                self.note("cancelled before the process started")
                return self.finish("cancelled", None, "cancelled before the process started")
            try:
                proc = await self.start()
            except _StartError as exc:
                return self.finish("failed-to-start", None, str(exc))
            logger.info("started pid %d: %s (in %s; log %s)", proc.pid, spec.argv[0], spec.cwd,
                        spec.log_path)  # fmt: skip
            self.pipes = _pipe_inodes(proc)
            from .watchdog import Watchdog  # here: `python -m nborch.proc.watchdog` stays clean

            guard = Watchdog.shared()
            if guard is not None:
                guard.watch(proc.pid, self.token)
            readers = [
                asyncio.create_task(self.read(proc.stdout, "stdout")),
                asyncio.create_task(self.read(proc.stderr, "stderr")),
            ]
            poller = asyncio.create_task(self.poll(proc.pid))
            try:
                started = self.callback(self.on_start, proc.pid)
                if inspect.isawaitable(started):
                    await self.finish_callback(self.on_start, started)
                state = await self.wait(proc)
                poller.cancel()
                if state != "exited":
                    self.seen.update(await asyncio.to_thread(tree.descendants_now, proc.pid))
                await self.end_tree(proc.pid, state)
                await self.drain(proc, readers)
            except BaseException:  # our caller was cancelled: stop hard, then let it propagate
                poller.cancel()
                await self.abort(proc, readers)
                raise
            finally:
                if guard is not None:
                    guard.done(proc.pid)
            code = await _exit_code(proc)
            return self.finish(state, code, "; ".join(self.problems) or None, proc.pid)

    async def start(self) -> asyncio.subprocess.Process:
        spec = self.spec
        if not spec.cwd.is_dir():
            raise self.start_error(f"working directory {str(spec.cwd)!r} does not exist")
        env = {**spec.env, tree.TOKEN_ENV: self.token}
        path = spec.env.get("PATH", os.defpath)
        name = spec.argv[0]
        # A bare name is looked up in the agent folders ($NBORCH_AGENT_PATH, `make agents`)
        # before the PATH the process gets, as AgentSpec.available() does; a path is left to
        # the exec, relative to the process's own working directory.
        found = None if os.sep in name else find_program(name, path)
        program = found or name
        argv = [program, *spec.argv[1:]]
        if use_reaper():
            # Checked here, as the exec would have: the reaper can only report them as an exit.
            if found is None and os.sep not in name:
                raise self.start_error(f"program {name!r} was not found on PATH ({path})")
            target = spec.cwd / name if found is None else Path(found)
            if found is None and not target.exists():
                raise self.start_error(f"program {name!r} was not found")
            if not os.access(target, os.X_OK) or target.is_dir():
                raise self.start_error(f"program {spec.argv[0]!r} is not executable")
            argv, env = under_reaper(argv, env)
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                cwd=spec.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            if found or (os.sep in name and (spec.cwd / name).exists()):
                why = f"program {name!r} exists but its interpreter (#! line) was not found"
            elif os.sep in name:
                why = f"program {name!r} was not found"
            else:
                why = f"program {name!r} was not found on PATH ({path})"
            raise self.start_error(why) from None
        except PermissionError:
            raise self.start_error(f"program {spec.argv[0]!r} is not executable") from None
        except OSError as exc:
            raise self.start_error(
                f"cannot start {spec.argv[0]!r}: {exc.strerror or exc}"
            ) from None

    def start_error(self, message: str) -> _StartError:
        self.note(message)
        return _StartError(message)

    async def wait(self, proc: asyncio.subprocess.Process) -> ProcessState:
        """Wait for the exit, the timeout or the cancel event, whichever comes first."""
        waiter = asyncio.ensure_future(_exit_code(proc))
        watched: set[asyncio.Future] = {waiter}
        if self.cancel is not None:
            watched.add(asyncio.ensure_future(self.cancel.wait()))
        try:
            await asyncio.wait(
                watched, timeout=self.spec.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for fut in watched:
                fut.cancel()
        if waiter.done() and not waiter.cancelled():
            return "exited"
        if self.cancel is not None and self.cancel.is_set():
            self.problems.append("cancelled")
            return "cancelled"
        self.problems.append(f"timed out after {self.spec.timeout:g} s")
        return "timeout"

    async def poll(self, pid: int) -> None:
        """Remember every descendant seen while the agent runs (forgetting the dead)."""
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            while True:
                self.seen = await asyncio.to_thread(tree.refresh, root, frozenset(self.seen))
                await asyncio.sleep(POLL_S)

    async def end_tree(self, pgid: int, state: ProcessState) -> None:
        """SIGTERM, grace, SIGKILL whatever is left of the tree, then check nothing is."""
        found = await self.find(pgid)
        if not found:
            return
        why = "still running after the agent exited" if state == "exited" else state
        self.note(f"{why}: SIGTERM to process group {pgid} and {tree.describe(found)}")
        self.killed.update(dict.fromkeys(tree.signal_all(found, pgid, signal.SIGTERM)))
        deadline = time.monotonic() + self.spec.grace
        while time.monotonic() < deadline and any(map(tree.is_alive, found)):
            await asyncio.sleep(0.05)
        # Look again: a SIGTERM handler may have started new processes.
        found = await self.find(pgid)
        if found:
            self.note(f"SIGKILL after {self.spec.grace:g} s grace: {tree.describe(found)}")
            self.killed.update(dict.fromkeys(tree.signal_all(found, pgid, signal.SIGKILL)))
            await asyncio.to_thread(tree.wait_gone, found, 2.0)
            left = await self.find(pgid)
            if left:
                self.problems.append(f"could not kill {tree.describe(left)}")
                self.note(self.problems[-1])

    async def find(self, pgid: int) -> list[tree.Found]:
        args = (frozenset(self.seen), pgid, self.token, self.since, self.pipes)
        return await asyncio.to_thread(tree.find, *args)

    async def drain(self, proc: asyncio.subprocess.Process, readers: list[asyncio.Task]) -> None:
        """Read what is left in the pipes; give up if an unknown process holds them open."""
        while True:
            before = sum(self.nbytes.values())
            _, pending = await asyncio.wait(readers, timeout=DRAIN_IDLE_S)
            if not pending:
                break
            if sum(self.nbytes.values()) == before:
                self.problems.append("an unknown process kept the output pipes open")
                self.note(self.problems[-1] + "; stopped reading")
                _close_transport(proc)
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
                break
        for task in readers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # a bug in the runner, not the agent's fault

    async def abort(self, proc: asyncio.subprocess.Process, readers: list[asyncio.Task]) -> None:
        """Hard stop: SIGKILL the group and every known descendant, no grace, no search.

        It waits (briefly) only for the agent to be reaped, so no zombie and no open
        transport is left behind when the caller's loop closes right after.
        """
        found = [tree.Found(pid, ct, "?") for pid, ct in self.seen]
        tree.signal_all(found, proc.pid, signal.SIGKILL)  # the agent itself: via its group
        _close_transport(proc)
        for task in readers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(_exit_code(proc), 2.0)
            await asyncio.wait(readers)

    async def read(self, reader: asyncio.StreamReader, stream: str) -> None:
        # Slack past the cut: room for a secret crossing it, and for the character crossing it.
        splitter = LineSplitter(self.spec.max_line_bytes, self.redactor.longest + 4)
        while chunk := await reader.read(CHUNK):
            self.nbytes[stream] += len(chunk)
            lines, cut = splitter.feed(chunk)
            if lines:
                await self.emit(stream, lines, cut)
        lines, cut = splitter.close()
        if lines:
            await self.emit(stream, lines, cut)

    async def emit(self, stream: str, lines: list[bytes], cut: dict[int, int]) -> None:
        """Decode, mask, log, keep and hand on a batch of lines (one write for the batch)."""
        if cut:
            texts = [self.text(data, cut.get(i)) for i, data in enumerate(lines)]
            block = "\n".join(texts)
        else:  # the fast path: one decode, one regex pass, one split for the whole batch
            block = b"\n".join(lines).decode("utf-8", "replace")
            if "\r" in block:
                block = _CR_EOL.sub("", block)
            block = self.redactor(block)
            texts = block.split("\n")
        if stream == "stderr":
            block = STDERR_PREFIX + block.replace("\n", "\n" + STDERR_PREFIX)
            self.tail.extend([STDERR_PREFIX + t for t in texts[-self.spec.tail_lines :]])
        else:
            self.tail.extend(texts)
        self.write(block + "\n")
        if self.on_lines is not None:
            outcome = self.callback(self.on_lines, stream, texts)
            if inspect.isawaitable(outcome):
                await self.finish_callback(self.on_lines, outcome)
        if self.on_line is not None:
            for text in texts:
                outcome = self.callback(self.on_line, stream, text)
                if inspect.isawaitable(outcome):
                    await self.finish_callback(self.on_line, outcome)

    def text(self, data: bytes, length: int | None) -> str:
        """One line as text: decoded, masked, and cut with a marker when it was too long."""
        if length is None:
            return self.redactor(data.decode("utf-8", "replace").rstrip("\r"))
        cut = self.spec.max_line_bytes
        while 0 < cut < len(data) and data[cut] & 0xC0 == 0x80:  # not inside a UTF-8 character
            cut -= 1
        head = len(data[:cut].decode("utf-8", "replace"))
        text = self.redactor.head(data.decode("utf-8", "replace"), head)
        return f"{text} …[nborch: line cut, {length} bytes]"

    def callback(self, fn: Callable | None, *args: object) -> object:
        if fn is None:
            return None
        try:
            return fn(*args)
        except Exception as exc:
            self.callback_failed(fn, exc)
            return None

    async def finish_callback(self, fn: Callable, outcome: Awaitable[object]) -> None:
        try:
            await outcome
        except Exception as exc:
            self.callback_failed(fn, exc)

    def callback_failed(self, fn: Callable, exc: Exception) -> None:
        self.callback_error_count += 1
        if len(self.callback_errors) < MAX_CALLBACK_ERRORS:
            name = getattr(fn, "__name__", type(fn).__name__)
            self.callback_errors.append(self.redactor(f"{name}: {type(exc).__name__}: {exc}"))

    def note(self, text: str) -> None:
        logger.info("%s (%s)", self.redactor(text), self.spec.log_path)
        line = NOTE_PREFIX + self.redactor(text)
        self.write(line + "\n")
        self.tail.append(line)

    def write(self, text: str) -> None:
        self.log.write(text)

    def finish(
        self, state: ProcessState, code: int | None, error: str | None, pid: int | None = None
    ) -> ProcessResult:
        logger.info("pid %s ended: %s, exit %s, %.1f s (%s)", pid, state, code,
                    time.monotonic() - self.t0, self.spec.log_path)  # fmt: skip
        self.log.close()
        if self.log.problem:
            error = f"{error}; {self.log.problem}" if error else self.log.problem
        errors = list(self.callback_errors)
        if self.callback_error_count > len(errors):
            errors.append(f"… and {self.callback_error_count - len(errors)} more")
        return ProcessResult(
            state=state,
            return_code=code,
            started_at=self.started_at,
            ended_at=datetime.now(UTC),
            duration_s=time.monotonic() - self.t0,
            tail=self.tail.lines(),
            log_path=self.spec.log_path,
            stdout_bytes=self.nbytes["stdout"],
            stderr_bytes=self.nbytes["stderr"],
            killed=tuple(self.killed),
            error=self.redactor(error) if error else None,
            on_line_errors=tuple(errors),
            pid=pid,
        )


class _StartError(Exception):
    """Internal: the process could not be started (reported as ``failed-to-start``)."""


async def _exit_code(proc: asyncio.subprocess.Process) -> int:
    """The return code as soon as the process has exited.

    ``Process.wait()`` returns only once the pipes are closed too (Python 3.11), which never
    happens while a stray child holds them, so this watches ``returncode`` instead.
    """
    waiter = asyncio.ensure_future(proc.wait())  # returns at once in the usual case
    try:
        while proc.returncode is None:
            await asyncio.wait({waiter}, timeout=0.05)
    finally:
        waiter.cancel()
    return proc.returncode


def _pipe_inodes(proc: asyncio.subprocess.Process) -> frozenset[int]:
    """The inode numbers of the agent's stdout and stderr pipes (to find who holds them)."""
    transport = getattr(proc, "_transport", None)
    inodes = set()
    for fd in (1, 2):
        pipe = transport.get_pipe_transport(fd) if transport is not None else None
        handle = pipe.get_extra_info("pipe") if pipe is not None else None
        with contextlib.suppress(OSError, ValueError, AttributeError):
            inodes.add(os.fstat(handle.fileno()).st_ino)
    return frozenset(inodes)


def _close_transport(proc: asyncio.subprocess.Process) -> None:
    # asyncio has no public way to close a subprocess's pipes early; without it the transport
    # stays open (and warns) while a stray process holds the write ends.
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()
