"""run_command: the synchronous runner of the comparison's test runs and lint — real processes."""

from __future__ import annotations

import sys
import time
import unittest
from pathlib import Path

import psutil
import pytest

from nborch.proc.command import run_command

SLEEPER = "import os, time; os.setsid(); open({path!r}, 'w').write(str(os.getpid())); time.sleep(300)"


def _alive(pid_file: Path) -> bool:
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        if time.monotonic() > deadline:
            raise AssertionError("the sleeper never started")
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class RunCommandTests(unittest.TestCase):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp = tmp_path

    def test_captures_output_and_exit_code(self) -> None:
        code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
        result = run_command([sys.executable, "-c", code], timeout=60)
        self.assertEqual((result.stdout, result.stderr, result.return_code), ("out\n", "err\n", 3))
        self.assertFalse(result.ok or result.timed_out)

    def test_a_descendant_that_left_the_group_is_killed_when_the_command_ends(self) -> None:
        pid_file = self.tmp / "pid"
        code = (f"import os, subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                f"{SLEEPER.format(path=str(pid_file))!r}])\n"
                f"while not os.path.getsize({str(pid_file)!r}) if os.path.exists({str(pid_file)!r}) "
                "else True: time.sleep(0.05)\nprint('done')")  # fmt: skip
        result = run_command([sys.executable, "-c", code], timeout=60)
        self.assertEqual(result.return_code, 0)
        self.assertEqual(result.strays, 1)
        self.assertFalse(_alive(pid_file))

    def test_timeout_kills_the_tree_and_output_goes_to_the_file(self) -> None:
        pid_file, log = self.tmp / "pid", self.tmp / "out.log"
        code = (f"import subprocess, sys, time; print('started', flush=True); "
                f"subprocess.Popen([sys.executable, '-c', {SLEEPER.format(path=str(pid_file))!r}]); "
                "time.sleep(300)")  # fmt: skip
        # the sleeper writes its pid before the 5 s limit; _alive waits for it either way
        start = time.monotonic()
        result = run_command([sys.executable, "-c", code], timeout=5, output=log)
        self.assertTrue(result.timed_out)
        self.assertIsNone(result.return_code)
        self.assertLess(time.monotonic() - start, 60)
        self.assertFalse(_alive(pid_file))
        self.assertIn("started", log.read_text())
        self.assertEqual(result.stdout, "")

    def test_a_missing_program_is_an_os_error(self) -> None:
        with self.assertRaises(OSError):
            run_command([str(self.tmp / "no-such-program")], timeout=5)
