"""Bytes in, complete lines out, in bounded memory however long a line gets.

A line longer than ``limit`` bytes keeps its head: the first ``limit`` bytes plus ``slack``
bytes (so that a secret crossing the cut can still be recognised and masked whole); the rest is
counted and dropped. Memory per stream is therefore at most ``limit + slack`` bytes plus one
read chunk, even for a gigabyte without a newline.

>>> s = LineSplitter(limit=4)
>>> s.feed(b"ab\\nabcdefgh"), s.feed(b"ij\\ncd"), s.close()
(([b'ab'], {}), ([b'abcd'], {0: 10}), ([b'cd'], {}))
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path


class LineSplitter:
    """Splits a byte stream into lines without their ``\\n``.

    ``feed`` and ``close`` return ``(lines, cut)``: the complete lines, and for each line that
    was cut, its index in ``lines`` → the line's full length in bytes (usually an empty dict).
    """

    __slots__ = ("_dropped", "_pending", "keep", "limit")

    def __init__(self, limit: int, slack: int = 0):
        self.limit = limit
        self.keep = limit + slack
        self._pending = bytearray()
        self._dropped = 0

    def feed(self, chunk: bytes) -> tuple[list[bytes], dict[int, int]]:
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            self._hold(chunk)
            return [], {}
        self._hold(parts[0])
        cut: dict[int, int] = {}
        first = self._take(cut, 0)
        lines = parts[1:-1]
        limit, keep = self.limit, self.keep
        if lines and max(map(len, lines)) > limit:  # rare: find and shorten the long ones
            for i, part in enumerate(lines):
                if len(part) > limit:
                    cut[i + 1] = len(part)
                    lines[i] = part[:keep]
        lines.insert(0, first)
        self._hold(parts[-1])
        return lines, cut

    def close(self) -> tuple[list[bytes], dict[int, int]]:
        """The last line when the stream did not end with a newline."""
        if not self._pending and not self._dropped:
            return [], {}
        cut: dict[int, int] = {}
        return [self._take(cut, 0)], cut

    def _hold(self, data: bytes) -> None:
        room = self.keep - len(self._pending)
        if len(data) <= room:
            self._pending += data
        else:
            self._pending += data[:room]
            self._dropped += len(data) - room

    def _take(self, cut: dict[int, int], index: int) -> bytes:
        data = bytes(self._pending)
        length = len(data) + self._dropped
        if length > self.limit:
            cut[index] = length
        self._pending.clear()
        self._dropped = 0
        return data


class Tail:
    """The last lines of a log, bounded by count and by total characters (newest kept).

    The character budget keeps memory bounded when lines are long: 200 lines of 4 MiB would
    otherwise be 800 MiB.

    >>> t = Tail(3, max_chars=9)
    >>> t.extend(["aaaa", "bbbb", "cccc", "dd"]); t.lines()
    ('cccc', 'dd')
    """

    __slots__ = ("_chars", "_lines", "max_chars", "max_lines")

    def __init__(self, max_lines: int, max_chars: int = 1_000_000):
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._lines: deque[str] = deque()
        self._chars = 0

    def extend(self, lines: list[str]) -> None:
        if not self.max_lines:
            return
        if len(lines) >= self.max_lines:  # the batch replaces the whole tail
            self._lines = deque(lines[-self.max_lines :])
            self._chars = sum(map(len, self._lines))
        else:
            self._lines.extend(lines)
            self._chars += sum(map(len, lines))
            while len(self._lines) > self.max_lines:
                self._chars -= len(self._lines.popleft())
        while self._chars > self.max_chars and len(self._lines) > 1:
            self._chars -= len(self._lines.popleft())

    def append(self, line: str) -> None:
        self.extend([line])

    def lines(self) -> tuple[str, ...]:
        return tuple(self._lines)


def tail_of(path: str | Path, lines: int, max_bytes: int | None = None, block: int = 64 * 1024) -> str:
    """The last ``lines`` lines of a file, read backwards from its end (logs can be huge), and
    never more than ``max_bytes`` of it when given (a line cut there is dropped).

    The one reader of log tails: the run's ``logs()``, the live view and the comparison's test
    runs. Raises ``OSError`` when the file cannot be read.
    """
    if lines <= 0:
        return ""
    with open(path, "rb") as fh:
        end = pos = fh.seek(0, os.SEEK_END)
        floor = 0 if max_bytes is None else max(0, end - max_bytes)
        data = b""
        while pos > floor and data.count(b"\n") <= lines:
            pos = max(floor, pos - block)
            fh.seek(pos)
            data = fh.read(end - pos)
    text = data.decode("utf-8", errors="replace").rstrip("\n").split("\n")
    if pos > 0 and len(text) > 1:
        text = text[1:]  # the first line was cut by where the reading started
    return "\n".join(text[-lines:])
