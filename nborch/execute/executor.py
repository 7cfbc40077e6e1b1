"""The executor seam: where an attempt's process actually runs.

The coordinator hands an :class:`~nborch.execute.jobs.AttemptJob` to an :class:`Executor` and gets
an :class:`ExecutionResult` back, with agent events streamed to a callback on the way. The
:class:`LocalExecutor` runs jobs as subprocesses on this machine; a cluster executor only has to
implement the same one method.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import psutil

from ..agents.parsers import LOG_ONLY, log_block, parser_for
from ..events import AgentEvent, Usage
from ..proc import tree
from ..proc.runner import run_process
from ..proc.spec import ProcessResult, ProcessSpec
from .jobs import AttemptJob, seed_home

OnEvent = Callable[[AgentEvent], None]
PID_FILE = "agent.pid"  # next to the log while the agent runs: "<pid> <create time>"


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What running a job gave: the process outcome and the totals of the agent's events."""

    process: ProcessResult
    usage: Usage
    fatal: tuple[str, ...] = ()  # errors the agent itself called fatal (aider exits 0 anyway)
    worker: str = ""  # where it ran, when not here (a Dask worker's address)


@runtime_checkable
class Executor(Protocol):
    """Runs one job to its end. Must stop the job's processes when ``cancel`` is set."""

    async def run(self, job: AttemptJob, on_event: OnEvent,
                  cancel: asyncio.Event) -> ExecutionResult: ...  # fmt: skip


class LocalExecutor:
    """Runs jobs as local subprocesses, each in its own process group (see ``run_process``).

    Memory per attempt stays bounded: only token reports, results, the first ``max_errors``
    errors and the latest message are kept for the totals; everything is in the log file.
    """

    def __init__(self, grace: float = 5.0, tail_lines: int = 200, max_errors: int = 100):
        self.grace = grace
        self.tail_lines = tail_lines
        self.max_errors = max_errors

    def __repr__(self) -> str:
        return f"<LocalExecutor grace={self.grace:g}s>"

    async def run(self, job: AttemptJob, on_event: OnEvent,
                  cancel: asyncio.Event) -> ExecutionResult:  # fmt: skip
        parse = parser_for(job.parser)
        # Only what the totals need stays in memory: token and cost reports, results, a bounded
        # number of errors, and the latest message (the final message when there is no result).
        kept: list[AgentEvent] = []
        last_message: list[AgentEvent] = []
        errors = 0
        plain = parse in LOG_ONLY

        def on_lines(stream: str, lines: list[str]) -> None:
            if plain or stream == "stderr":  # only log lines: one event for the batch
                event = log_block(lines, stream=stream)
                if event is not None:
                    on_event(event)
                return
            for line in lines:
                for event in parse(line):
                    keep(event)
                    on_event(event)

        def keep(event: AgentEvent) -> None:
            nonlocal errors
            if event.kind == "error":
                errors += 1
                if errors <= self.max_errors:
                    kept.append(event)
            elif event.kind in ("usage", "result") or event.cost_usd is not None:
                kept.append(event)
            elif event.kind == "message" and event.text:
                if last_message:
                    kept.remove(last_message.pop())
                last_message.append(event)
                kept.append(event)

        seed_home(job)
        spec = ProcessSpec(argv=job.argv, cwd=job.cwd, env=job.env, log_path=job.log_path,
                           timeout=job.timeout, grace=self.grace, tail_lines=self.tail_lines,
                           redact=job.redact)  # fmt: skip
        pid_file = job.log_path.with_name(PID_FILE)

        def on_start(pid: int) -> None:  # so a resumed run can stop it if this process dies
            pid_file.write_text(f"{pid} {psutil.Process(pid).create_time()!r}\n")

        try:
            result = await run_process(spec, on_lines=on_lines, cancel=cancel, on_start=on_start)
        finally:
            pid_file.unlink(missing_ok=True)
        fatal = tuple(dict.fromkeys(e.text for e in kept if e.kind == "error" and e.is_error))
        return ExecutionResult(result, Usage.of(kept), fatal)


def stop_leftover(attempt_dir: Path, grace: float = 2.0) -> list[int]:
    """Stop what is left of an attempt's agent after its coordinator died (``kill -9``, a
    kernel restart): the agent, its descendants and its process group, SIGTERM then SIGKILL.

    Agents run in their own session, so they outlive their coordinator; ``resume()`` calls this
    before it runs the attempt again in the same worktree. Returns the pids signalled.
    """
    pid_file = Path(attempt_dir) / PID_FILE
    try:
        pid_text, created_text = pid_file.read_text().split()
        pid, created = int(pid_text), float(created_text)
    except (OSError, ValueError):
        return []
    seen: list[tree.Key] = []
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        if abs(root.create_time() - created) < 1.0:
            seen = [(pid, root.create_time()), *tree.children_of(root)]
    # Only processes started since the agent count, so a reused pid or group is left alone.
    found = tree.find(seen, pid, "", created)
    if found:
        tree.signal_all(found, pid, signal.SIGTERM)
        left = tree.wait_gone(found, grace)
        if left:
            tree.signal_all(left, pid, signal.SIGKILL)
            tree.wait_gone(left, 2.0)
    pid_file.unlink(missing_ok=True)
    return [f.pid for f in found]
