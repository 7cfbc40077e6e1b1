"""An agent's log file, bounded: its head on disk, its tail held in memory until the end.

Past ``cap`` bytes nothing more is written as it comes; the newest ``cap // 10`` are kept in
memory (older ones are counted and dropped), and :meth:`CappedLog.close` writes a line saying what
was cut, then that tail. A 1 GiB flood leaves a 110 MiB log that still ends where the agent did.

A full disk does not stop the agent: what cannot be written is counted (:attr:`CappedLog.lost`),
later writes try again, and the first one that succeeds says in the log what is missing.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from pathlib import Path

__all__ = ["NOTE_PREFIX", "CappedLog"]

NOTE_PREFIX = "[nborch] "  # the runner's own lines in a log start so


class CappedLog:
    """Append to the file at ``path`` up to ``cap`` bytes (None: no cap), then head + tail.

    Unbuffered: every :meth:`write` is on disk (or counted as lost) when it returns, so a reader
    following the log sees each block at once and a failed write leaves nothing behind to retry.
    """

    def __init__(self, path: str | Path, cap: int | None) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.cap = cap
        self.logged = 0  # bytes written (the head, when capped)
        self.held: deque[bytes] = deque()  # past the cap: the newest blocks, for the tail
        self.held_size = 0
        self.dropped = [0, 0]  # lines and bytes cut from the middle
        self.lost = 0  # bytes a full disk (or another write error) kept out of the file
        self.lost_since = 0  # … of which not yet said in the file
        self.error: OSError | None = None  # the first write error, for the attempt's result

    def write(self, text: str) -> None:
        data = text.encode("utf-8", "surrogateescape")
        if self.cap is None or self.logged + len(data) <= self.cap:
            self.logged += self._put(data)
            return
        self.held.append(data)
        self.held_size += len(data)
        while self.held_size > self.cap // 10 and len(self.held) > 1:
            gone = self.held.popleft()
            self.held_size -= len(gone)
            self.dropped[0] += gone.count(b"\n")
            self.dropped[1] += len(gone)

    def _put(self, data: bytes) -> int:
        """Write ``data`` (after the note of what earlier writes lost); how many bytes landed."""
        if self.lost_since:
            note = (f"{NOTE_PREFIX}{self.lost_since:,} bytes of this log were not written: "
                    f"{_why(self.error)}\n").encode()  # fmt: skip
            if self._raw(note) < len(note):
                self.lost += len(data)
                self.lost_since += len(data)
                return 0
            self.lost_since = 0
        done = self._raw(data)
        if done < len(data):
            self.lost += len(data) - done
            self.lost_since += len(data) - done
        return done

    def _raw(self, data: bytes) -> int:
        """``os.write`` until all of ``data`` is written or the disk refuses; bytes written."""
        view, done = memoryview(data), 0
        while done < len(data):
            try:
                done += os.write(self.fd, view[done:])
            except InterruptedError:
                continue
            except OSError as err:
                self.error = self.error or err
                break
        return done

    def close(self) -> None:
        """Say what was cut from the middle, then write the tail, and close the file."""
        if self.held:
            if self.dropped[0]:
                self._put(f"{NOTE_PREFIX}log cut: {self.dropped[0]:,} lines "
                          f"({self.dropped[1] / 2**20:.1f} MiB) between the first "
                          f"{self.logged / 2**20:.1f} MiB and the last "
                          f"{self.held_size / 2**20:.1f} MiB were not kept "
                          "(ProcessSpec.max_log_bytes)\n".encode())  # fmt: skip
            for block in self.held:
                self._put(block)
            self.held.clear()
        if self.lost_since:
            self._put(b"")  # one more try at saying what is missing
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def problem(self) -> str:
        """What the log misses because writes failed, or ""."""
        return f"log incomplete: {self.lost:,} bytes not written ({_why(self.error)})" if self.lost else ""


def _why(err: OSError | None) -> str:
    if err is not None and err.errno == errno.ENOSPC:
        return "the disk is full"
    return err.strerror or str(err) if err is not None else "write error"
