"""Follow log files as they grow, like ``tail -f``, until what writes them is done.

:func:`follow` yields the last ``lines`` lines of each file, then every line appended to any of
them, tagged with the file's key, until ``done()`` says the writers ended and nothing more came.
A file that does not exist yet (an attempt waiting for its turn) is picked up when it appears;
a line still being written is held until its newline (or the end). Nothing between the last
lines shown and the lines followed is lost: both are read from one open file, from one offset.

>>> import tempfile, pathlib
>>> log = pathlib.Path(tempfile.mkdtemp()) / "agent.log"
>>> _ = log.write_text("one\\ntwo\\nthree\\n")
>>> [line for _, line in follow({"a": log}, lambda: True, lines=2)]
['two', 'three']
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path

__all__ = ["HEAD_BYTES", "follow"]

HEAD_BYTES = 1 << 20  # the last lines shown first come from at most this much of the file's end


def follow(paths: Mapping[Hashable, str | Path], done: Callable[[], bool], *, lines: int = 50,
           poll: float = 0.25, follow: bool = True) -> Iterator[tuple[Hashable, str]]:  # fmt: skip
    """``(key, line)`` for the last ``lines`` of each file, then (with ``follow``) each new line.

    ``done`` is asked once per round after reading; when it says True, one more round reads what
    came meanwhile, and the iteration ends.
    """
    files = {key: _File(Path(path)) for key, path in paths.items()}
    for key, f in files.items():
        for line in f.last(lines):
            yield key, line
    if not follow:
        return
    finishing = False
    while True:
        got = False
        for key, f in files.items():
            for line in f.new_lines(final=finishing):
                got = True
                yield key, line
        if finishing:
            return
        if done():
            finishing = True  # one more round: what was written before it ended
        elif not got:
            time.sleep(poll)


class _File:
    """One followed file: where reading got to, and the start of a line not yet ended."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def last(self, lines: int) -> list[str]:
        """The file's last ``lines`` lines; following starts where they end."""
        try:
            with self.path.open("rb") as fh:
                end = fh.seek(0, os.SEEK_END)
                start = max(0, end - HEAD_BYTES)
                fh.seek(start)
                data = fh.read(end - start)
        except FileNotFoundError:
            return []
        self.offset = start + len(data)
        text = data.split(b"\n")
        self.partial = text.pop()  # after the last newline: "" or a line still being written
        if start > 0 and text:
            text = text[1:]  # cut by where the reading started
        return [_text(t) for t in text[-lines:]] if lines > 0 else []

    def new_lines(self, final: bool = False) -> list[str]:
        """Lines appended since the last read (and, when ``final``, an unended last line)."""
        try:
            with self.path.open("rb") as fh:
                if fh.seek(0, os.SEEK_END) < self.offset:  # replaced or truncated: start over
                    self.offset, self.partial = 0, b""
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        parts = (self.partial + data).split(b"\n")
        self.partial = parts.pop()
        if final and self.partial:
            parts.append(self.partial)
            self.partial = b""
        return [_text(p) for p in parts]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").rstrip("\r")
