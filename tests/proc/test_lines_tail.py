"""tail_of: the one reader of log tails (run.logs, the live view, the comparison's test runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nborch.proc.lines import tail_of


class TailOfTests:
    def test_last_lines_of_a_big_file_read_from_its_end(self, tmp_path: Path) -> None:
        log = tmp_path / "agent.log"
        log.write_text("".join(f"line {i}\n" for i in range(200_000)))
        assert tail_of(log, 3) == "line 199997\nline 199998\nline 199999"
        assert tail_of(log, 0) == ""

    def test_short_file_and_no_trailing_newline(self, tmp_path: Path) -> None:
        log = tmp_path / "agent.log"
        log.write_text("a\nb")
        assert tail_of(log, 50) == "a\nb"

    def test_max_bytes_drops_the_line_it_cuts(self, tmp_path: Path) -> None:
        log = tmp_path / "agent.log"
        log.write_text("x" * 1000 + "\nshort\nlast\n")
        assert tail_of(log, 10, max_bytes=20) == "short\nlast"

    def test_bytes_that_are_not_utf8_are_replaced(self, tmp_path: Path) -> None:
        log = tmp_path / "agent.log"
        log.write_bytes(b"ok\n\xff\xfe bad\n")
        assert tail_of(log, 2) == "ok\n\ufffd\ufffd bad"

    def test_a_missing_file_is_an_os_error(self, tmp_path: Path) -> None:
        with pytest.raises(OSError):
            tail_of(tmp_path / "none.log", 5)
