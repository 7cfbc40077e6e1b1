"""Tests for nborch.compare.tests: running test commands, JUnit parsing, classification, cache."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import psutil
import pytest

from nborch.compare import tests as ct

PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q"

SAMPLE_XML = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="test_mod" name="test_ok" time="0.001"/>
<testcase classname="test_mod" name="test_bad" time="0.001"><failure message="x">boom</failure></testcase>
<testcase classname="pkg.test_deep.TestGroup" name="test_p[1-2]" time="0.001"><skipped message="s"/></testcase>
<testcase classname="pkg.test_deep.TestGroup" name="test_e" time="0.001"/>
<testcase classname="pkg.test_deep.TestGroup" name="test_e" time="0.001"><error message="teardown"/></testcase>
</testsuite></testsuites>
"""


def _project(root: Path, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _run(outcomes: dict[str, str]) -> ct.TestRun:
    return ct.TestRun(command="pytest", return_code=0, duration_s=0.1, timed_out=False,
                      outcomes=outcomes)  # type: ignore[arg-type]  # fmt: skip


class TestRunPytest:
    """Real pytest runs in a tiny project in tmp_path."""

    def test_outcomes_per_test_id(self, tmp_path: Path) -> None:
        """Passing, failing, parametrized and class-based tests get pytest's own node ids."""
        proj = _project(
            tmp_path / "proj",
            **{
                "tests__test_a.py": (
                    "import pytest\n"
                    "def test_pass():\n    assert True\n"
                    "def test_fail():\n    assert 1 == 2\n"
                    "@pytest.mark.parametrize('n', [1, 2])\n"
                    "def test_param(n):\n    assert n == 1\n"
                    "class TestThing:\n"
                    "    def test_method(self):\n        assert True\n"
                    "def test_skip():\n    pytest.skip('no')\n"
                ),
            },
        )
        run = ct.run_tests(proj, PYTEST, timeout=60)
        assert run.runner == "pytest" and not run.timed_out and run.return_code == 1
        assert dict(run.outcomes) == {
            "tests/test_a.py::test_pass": "passed",
            "tests/test_a.py::test_fail": "failed",
            "tests/test_a.py::test_param[1]": "passed",
            "tests/test_a.py::test_param[2]": "failed",
            "tests/test_a.py::TestThing::test_method": "passed",
            "tests/test_a.py::test_skip": "skipped",
        }
        assert "failed" in run.tail

    def test_log_path_receives_output(self, tmp_path: Path) -> None:
        """The command's output is written to ``log_path`` and no cache dir is left."""
        proj = _project(tmp_path / "proj", **{"test_x.py": "def test_ok():\n    pass\n"})
        log = tmp_path / "logs" / "run.log"
        run = ct.run_tests(proj, PYTEST, timeout=60, log_path=log)
        assert run.ok and run.outcomes == {"test_x.py::test_ok": "passed"}
        assert "1 passed" in log.read_text()
        assert not (proj / ".pytest_cache").exists()

    def test_hanging_test_is_killed_with_its_children(self, tmp_path: Path) -> None:
        """A hanging run times out and neither pytest nor a child it started is left running."""
        proj = _project(tmp_path / "proj", **{"test_hang.py": (
            "import subprocess, sys, time, pathlib\n"
            "def test_hang():\n"
            "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
            "    pathlib.Path('child.pid').write_text(str(child.pid))\n"
            "    time.sleep(120)\n"
        )})  # fmt: skip
        started = time.monotonic()
        run = ct.run_tests(proj, PYTEST, timeout=4)
        assert run.timed_out and run.return_code is None and not run.ok
        assert time.monotonic() - started < 30
        child = int((proj / "child.pid").read_text())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"child process {child} still running")


class TestRunOtherCommands:
    """Commands other than pytest are judged by exit code."""

    def test_exit_code_judges_the_run(self, tmp_path: Path) -> None:
        """``sh -c "exit 3"`` is a failed exit-code run with one synthetic outcome."""
        run = ct.run_tests(tmp_path, 'sh -c "exit 3"', timeout=30)
        assert run.runner == "exit-code" and run.return_code == 3 and not run.ok
        assert run.outcomes == {'exit-code::sh -c "exit 3"': "failed"}

    def test_exit_zero_passes(self, tmp_path: Path) -> None:
        """A command that exits 0 counts as passed."""
        run = ct.run_tests(tmp_path, "sh -c 'echo hi'", timeout=30)
        assert run.ok and list(run.outcomes.values()) == ["passed"] and run.tail == "hi"

    def test_is_pytest(self) -> None:
        """pytest is recognised however it is invoked; other runners are not."""
        assert ct.is_pytest("pytest -x") and ct.is_pytest("python -m pytest")
        assert ct.is_pytest("/venv/bin/py.test")
        assert not ct.is_pytest("make test") and not ct.is_pytest("npm test")


class TestParseJunit:
    """Parsing pytest's JUnit XML into per-test outcomes."""

    def test_sample_with_tree(self, tmp_path: Path) -> None:
        """With the tree at hand the module path is told apart from the classes."""
        _project(tmp_path, **{"test_mod.py": "", "pkg__test_deep.py": ""})
        assert ct.parse_junit(SAMPLE_XML, tmp_path) == {
            "test_mod.py::test_ok": "passed",
            "test_mod.py::test_bad": "failed",
            "pkg/test_deep.py::TestGroup::test_p[1-2]": "skipped",
            "pkg/test_deep.py::TestGroup::test_e": "error",
        }

    def test_sample_without_tree(self) -> None:
        """Without a tree, trailing CamelCase parts of the classname are taken as classes."""
        out = ct.parse_junit(SAMPLE_XML)
        assert "pkg/test_deep.py::TestGroup::test_e" in out and "test_mod.py::test_ok" in out

    def test_xunit1_file_attribute(self) -> None:
        """When pytest writes a ``file`` attribute it is used for the path."""
        xml = ('<testsuite><testcase classname="tests.test_a.TestC" file="tests/test_a.py" '
               'name="test_m"/></testsuite>')  # fmt: skip
        assert ct.parse_junit(xml) == {"tests/test_a.py::TestC::test_m": "passed"}


class TestClassifyTests:
    """Comparing an attempt's run with the base run."""

    def test_buckets(self) -> None:
        """Every transition lands in its bucket, sorted."""
        base = _run({"a": "failed", "b": "passed", "c": "passed", "d": "passed", "e": "error",
                     "f": "skipped", "g": "passed"})  # fmt: skip
        attempt = _run({"a": "passed", "b": "passed", "c": "failed", "e": "passed", "f": "passed",
                        "g": "skipped", "h": "passed", "i": "error", "j": "failed"})  # fmt: skip
        delta = ct.classify_tests(base, attempt)
        assert delta.fail_to_pass == ("a", "e")
        assert delta.pass_to_pass == ("b",)
        assert delta.broken == ("c", "d", "g")
        assert delta.new_passing == ("f", "h")
        assert delta.new_failing == ("i", "j")

    def test_to_dict_and_repr(self) -> None:
        """``to_dict`` gives lists per bucket and the repr gives the counts."""
        delta = ct.classify_tests(_run({"a": "failed"}), _run({"a": "passed"}))
        assert delta.to_dict() == {"fail_to_pass": ["a"], "pass_to_pass": [], "broken": [],
                                   "new_passing": [], "new_failing": []}  # fmt: skip
        assert "1 fixed" in repr(delta)


class TestBaseCache:
    """Base-commit runs cached as JSON by commit and command."""

    def test_round_trip(self, tmp_path: Path) -> None:
        """A stored run comes back equal; another command or commit misses."""
        cache = ct.BaseCache(tmp_path / "cache")
        run = _run({"t::a": "passed"})
        assert cache.get("abc123", "pytest") is None
        cache.put("abc123", "pytest", run)
        assert cache.get("abc123", "pytest") == run
        assert cache.get("abc123", "pytest -x") is None
        assert cache.get("def456", "pytest") is None

    def test_corrupt_file_is_a_miss(self, tmp_path: Path) -> None:
        """An unreadable cache file is treated as absent."""
        cache = ct.BaseCache(tmp_path)
        cache.put("c1", "cmd", _run({})).write_text("{not json")
        assert cache.get("c1", "cmd") is None


class TestRepr:
    """Records show their state."""

    def test_run_repr(self) -> None:
        """The run's repr tells how it ended and the counts."""
        assert repr(_run({"a": "passed", "b": "failed"})) == (
            "<TestRun pytest: exit 0, 1 passed, 1 failed, 0.1s>")
