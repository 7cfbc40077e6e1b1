"""Scheduling helpers: a concurrency gate that serves higher priority first, and a loop thread.

The loop thread is how synchronous callers (``run.run_sync()``, ``run.start()`` outside a loop,
the CLI) run the async coordinator: one asyncio loop in a daemon thread, so it works the same in a
plain script and inside a notebook whose own loop is already running — no nest-asyncio needed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import threading
from collections.abc import Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class PriorityGate:
    """At most ``limit`` holders at once; waiters are served by (rank, arrival), lowest first."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {limit}")
        self.limit = limit
        self.active = 0
        self.peak = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @asynccontextmanager
    async def slot(self, rank: int = 0):  # -> AsyncIterator[None]
        await self.acquire(rank)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, rank: int = 0) -> None:
        """Wait for a slot; cancelling the wait gives up the place in the queue cleanly."""
        if self.active < self.limit and not self._waiters:
            self._take()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (rank, next(self._seq), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            else:
                self._waiters = [w for w in self._waiters if w[2] is not fut]
                heapq.heapify(self._waiters)
            raise

    def _take(self) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)

    def release(self) -> None:
        self.active -= 1
        while self._waiters and self.active < self.limit:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                self._take()
                fut.set_result(None)


class LoopThread:
    """An event loop running in a daemon thread; ``submit`` runs a coroutine there."""

    _shared: LoopThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="nborch-loop",
                                       daemon=True)  # fmt: skip
        self.thread.start()

    @classmethod
    def shared(cls) -> LoopThread:
        """The process-wide loop thread, started on first use."""
        with cls._lock:
            if cls._shared is None or not cls._shared.thread.is_alive():
                cls._shared = cls()
            return cls._shared

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread (thread-safe)."""
        self.loop.call_soon_threadsafe(fn, *args)
