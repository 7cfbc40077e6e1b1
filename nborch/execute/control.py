"""Driving a run from outside: start, wait, cancel, subscribe, look at the results.

:class:`RunControl` is the public face of :class:`~nborch.execute.coordinator.Coordinator`,
kept apart from the scheduling so each stays small. Everything here is safe to call from any
thread: work that touches the run's loop is handed to it with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import NborchError
from ..events import AttemptState, RunEvent
from ..proc.follow import follow as follow_files
from ..proc.lines import tail_of
from .loop import LoopThread
from .results import AgentExecution, counts, spending, summary_frame

S = AttemptState
Subscriber = Callable[[RunEvent], object]


class RunControl:
    """Start/wait/cancel/subscribe for a run whose ``_main()`` coroutine does the work."""

    executions: dict[tuple[str, str], AgentExecution]
    prepared: Any
    recorder: Any
    budget: Any  # a Budget: the run's prices and budgets
    _subscribers: list[Subscriber]
    _cancel: dict[tuple[str, str], asyncio.Event]
    _manual_done: dict[tuple[str, str], asyncio.Event]
    _future: Any
    _loop: asyncio.AbstractEventLoop | None

    async def _main(self) -> None:  # pragma: no cover - the coordinator provides it
        raise NotImplementedError

    def check_agents(self) -> None:  # pragma: no cover - the coordinator provides it
        raise NotImplementedError

    @property
    def id(self) -> str | None:
        return self.prepared.id if self.prepared else None

    def start(self) -> RunControl:
        """Start in the background and return at once (on the running loop if there is one)."""
        if self._future is None:
            self.check_agents()
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._loop, self._future = loop, loop.create_task(self._main())
            else:
                thread = LoopThread.shared()
                self._loop, self._future = thread.loop, thread.submit(self._main())
        return self

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._wait_async().__await__()

    async def _wait_async(self) -> RunControl:
        self.start()
        fut = self._future
        await (fut if isinstance(fut, asyncio.Future) else asyncio.wrap_future(fut))
        return self

    def run_sync(self) -> RunControl:
        """Run to the end and return; works in scripts and inside notebooks alike.

        The run goes on a loop in a helper thread, so a notebook's own running loop is never
        re-entered. Ctrl-C (a kernel interrupt) cancels the run gracefully: WIP is committed.
        """
        if self._future is None:
            self.check_agents()
            thread = LoopThread.shared()
            self._loop, self._future = thread.loop, thread.submit(self._main())
        return self.wait_or_stop()

    def wait_or_stop(self) -> RunControl:
        """Block until the run ends; Ctrl-C stops it gracefully (WIP committed), then raises."""
        try:
            return self.wait()
        except KeyboardInterrupt:
            self.cancel()
            # Stopping is bounded (each agent gets a short grace, then SIGKILL) and commits
            # what the agents wrote: more Ctrl-C cannot make it faster, only lose that work.
            while True:
                try:
                    self.wait()
                    break
                except KeyboardInterrupt:
                    self.cancel()
            raise

    def wait(self, timeout: float | None = None) -> RunControl:
        """Block until the run ends (``TimeoutError`` after ``timeout`` seconds)."""
        if self._future is None:
            raise NborchError("the run has not started — call run.start() or run.run_sync()")
        if isinstance(self._future, asyncio.Future):
            raise NborchError("this run is on the notebook's own loop: use 'await run' to wait")
        self._future.result(timeout)
        return self

    @property
    def done(self) -> bool:
        return self._future is not None and self._future.done()

    @property
    def running(self) -> bool:
        """Started in this process and not ended yet."""
        return self._future is not None and not self._future.done()

    def cancel(self, task: str | None = None, agent: str | None = None) -> int:
        """Cancel matching attempts (all by default); running ones commit their WIP. Returns
        how many were asked to stop."""
        keys = [k for k in self.executions if (task is None or k[0] == task)
                and (agent is None or k[1] == agent) and not self.executions[k].status.is_final]
        for key in keys:
            if self._loop is None:  # not started: these attempts will not run
                self._cancel_event(key).set()
            else:
                self._loop.call_soon_threadsafe(self._cancel_event(key).set)
        return len(keys)

    def mark_done(self, task: str, agent: str) -> None:
        """Tell a manual attempt (a person, Windsurf) that its work is finished."""
        key = (task, agent)
        if key not in self.executions:
            raise KeyError(f"no attempt ({task!r}, {agent!r}) in this run")
        if self._loop is None:
            raise NborchError("the run has not started")
        self._loop.call_soon_threadsafe(self._manual_event(key).set)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every :class:`RunEvent`; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def spending(self) -> dict[str, Any]:
        """What the run spent, against its budget, and what the cache and race mode saved
        (see :func:`~nborch.execute.results.spending`)."""
        return spending(self.executions.values(), self.budget.prices, self.budget.run_usd)

    def summary(self):  # -> pandas.DataFrame
        """One row per attempt (columns in the README: status, duration, tokens, cost, diffstat…)."""
        return summary_frame(self.executions.values())

    def logs(self, task: str, agent: str, tail: int = 50) -> str:
        """The last ``tail`` lines of an attempt's log (from the file, so nothing is missed)."""
        ex = self.executions[(task, agent)]
        path = Path(ex.log_path) if ex.log_path else None
        if path is None or not path.exists():
            return "\n".join(ex.tail[-tail:])
        return tail_of(path, tail)

    def follow(self, task: str | None = None, agent: str | None = None, lines: int = 50,
               poll: float = 0.25) -> Iterator[str]:  # fmt: skip
        """An attempt's log as it is written: its last ``lines`` lines, then each new line,
        until the attempt ends. Without ``task``/``agent``: every attempt (of that task, of that
        agent), each line led by ``task/agent | ``.

        >>> for line in run.follow("1", "claude"):  # doctest: +SKIP
        ...     print(line)
        """
        keys = [k for k in self.executions if task in (None, k[0]) and agent in (None, k[1])]
        if not keys:
            raise KeyError(f"no attempt of task {task!r} by {agent!r} in this run")
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is not None and here is self._loop and self.running:
            raise NborchError("run.follow() would wait on the loop that runs the agents (this "
                              "notebook's, after run.start()): read run.logs(task, agent) or "
                              "the live view here, or follow from a terminal with `nborch logs "
                              f"{self.id} -f`")  # fmt: skip
        while getattr(self, "prepared", None) is None and self.running:  # its folders come first
            time.sleep(poll)
        paths = {k: self._log_path(k) for k in keys}
        one = len(keys) == 1 and task is not None and agent is not None
        for (t, a), line in follow_files(paths, lambda: all(self.executions[k].status.is_final
                                                            for k in keys), lines=lines, poll=poll):  # fmt: skip
            yield line if one else f"{t}/{a} | {line}"

    def _log_path(self, key: tuple[str, str]) -> Path:
        """Where an attempt's log is (or will be, before it starts)."""
        ex = self.executions[key]
        if ex.log_path:
            return Path(ex.log_path)
        prepared = getattr(self, "prepared", None)
        for pa in getattr(prepared, "attempts", ()):
            if pa.key == key:
                return pa.attempt.attempt_dir / "agent.log"
        return Path(os.devnull)

    @property
    def unrecorded(self) -> str:
        """Why some results of the ended run are not in the store (a full disk, a lock held too
        long), or "" when all are; the work itself is on the attempts' branches either way."""
        recorder = getattr(self, "recorder", None)
        return recorder.problem if recorder is not None else ""

    def __repr__(self) -> str:
        c = counts(list(self.executions.values()))
        finished = sum(n for s, n in c.items() if S(s).is_final)
        failed = sum(c.get(s, 0) for s in ("failed", "timeout", "cancelled", "interrupted"))
        what = f"{finished}/{len(self.executions)} done" + (f", {failed} not completed" if failed else "")
        money = self.spending()
        if money["budget_usd"] is not None:
            what += f", ${money['spent_usd']:.2f} of ${money['budget_usd']:.2f} budget spent"
        if money["cached"]:
            what += f", {money['cached']} reused from the cache"
        if self.unrecorded:
            what += ", results not all recorded (see .unrecorded)"
        return f"<Run {self.id or '(not started)'}: {what}>"

    def _repr_html_(self) -> str:
        from .table import run_html

        return run_html(self)

    def _cancel_event(self, key: tuple[str, str]) -> asyncio.Event:
        return self._cancel.setdefault(key, asyncio.Event())

    def _manual_event(self, key: tuple[str, str]) -> asyncio.Event:
        return self._manual_done.setdefault(key, asyncio.Event())

    def emit(self, event: RunEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception as exc:  # a broken subscriber must not break the run
                self._subscribers.remove(callback)
                self.executions_note(f"subscriber {callback!r} removed: {exc!r}")

    def executions_note(self, text: str) -> None:
        if self.recorder is not None:
            self.recorder.note(text)
