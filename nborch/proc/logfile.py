"""An agent's log file, bounded: its head on disk, its tail held in memory until the end.

Past ``cap`` characters nothing more is written as it comes; the newest ``cap // 10`` are kept in
memory (older ones are counted and dropped), and :meth:`CappedLog.close` writes a line saying what
was cut, then that tail. A 1 GiB flood leaves a 110 MiB log that still ends where the agent did.
"""

from __future__ import annotations

from collections import deque
from typing import IO

__all__ = ["NOTE_PREFIX", "CappedLog"]

NOTE_PREFIX = "[nborch] "  # the runner's own lines in a log start so


class CappedLog:
    """Write-through to ``file`` up to ``cap`` characters (None: no cap), then head + tail."""

    def __init__(self, file: IO[str], cap: int | None) -> None:
        self.file, self.cap = file, cap
        self.logged = 0  # characters written (the head, when capped)
        self.held: deque[str] = deque()  # past the cap: the newest blocks, for the tail
        self.held_size = 0
        self.dropped = [0, 0]  # lines and characters cut from the middle

    def write(self, text: str) -> None:
        if self.cap is None or self.logged + len(text) <= self.cap:
            self.file.write(text)
            self.file.flush()
            self.logged += len(text)
            return
        self.held.append(text)
        self.held_size += len(text)
        while self.held_size > self.cap // 10 and len(self.held) > 1:
            gone = self.held.popleft()
            self.held_size -= len(gone)
            self.dropped[0] += gone.count("\n")
            self.dropped[1] += len(gone)

    def close(self) -> None:
        """Say what was cut from the middle, then write the tail (the file stays open)."""
        if not self.held:
            return
        if self.dropped[0]:
            self.file.write(f"{NOTE_PREFIX}log cut: {self.dropped[0]:,} lines "
                            f"({self.dropped[1] / 2**20:.1f} MiB) between the first "
                            f"{self.logged / 2**20:.1f} MiB and the last "
                            f"{self.held_size / 2**20:.1f} MiB were not kept "
                            "(ProcessSpec.max_log_bytes)\n")  # fmt: skip
        self.file.writelines(self.held)
        self.file.flush()
        self.held.clear()
