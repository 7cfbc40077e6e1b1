"""Named test ids: run by replacing the test command's paths, proven per test from JUnit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nborch import parse_plan
from nborch.plan.testids import named_results, parse_junit, pytest_ids_in, with_test_ids


class WithTestIdsTests:
    @pytest.mark.parametrize(("command", "expected"), [
        ("python -m pytest -q tests", "python -m pytest -q t.py::test_a"),
        ("pytest tests/unit tests/other -x", "pytest -x t.py::test_a"),
        ("pytest -q -k 'fast and not slow' tests", "pytest -q -k 'fast and not slow' t.py::test_a"),
        ("python -m pytest -p no:cacheprovider -q", ("python -m pytest -p no:cacheprovider -q "
                                                    "t.py::test_a")),
        ("python -m pytest --tb=short tests", "python -m pytest --tb=short t.py::test_a"),
        ("make test", "python -m pytest -q t.py::test_a"),
        ("pytest --reruns 2 tests", "pytest --reruns 2 t.py::test_a"),
        ("pytest --color no -q tests", "pytest --color no -q t.py::test_a"),
        ("cd sub && python -m pytest tests", "python -m pytest -q t.py::test_a"),
        ("npm test", "python -m pytest -q t.py::test_a"),
    ])  # fmt: skip
    def test_paths_are_replaced_options_kept(self, command: str, expected: str) -> None:
        assert with_test_ids(command, ["t.py::test_a"]) == expected

    def test_ids_inside_a_pytest_command(self) -> None:
        assert pytest_ids_in("pytest -q tests/a.py::test_x tests/b.py::C::test_y -k z") == (
            "tests/a.py::test_x", "tests/b.py::C::test_y")
        assert pytest_ids_in("make test") == ()

    def test_a_line_with_several_ids_and_any_verb_names_them_all(self) -> None:
        plan = parse_plan(textwrap.dedent("""\
            # P
            ## Task 1: T
            **Validation criteria**
            - `tests/a.py::test_x`, `tests/a.py::Foo::test_y` and `tests/b.py::test_z[1-2]` must pass
            - `tests/c.py::test_w` passes
            - `pytest tests/d.py::test_v` passes
            """))
        assert plan["1"].named_tests == ("tests/a.py::test_x", "tests/a.py::Foo::test_y",
                                         "tests/b.py::test_z[1-2]", "tests/c.py::test_w",
                                         "tests/d.py::test_v")  # fmt: skip


class NamedResultsTests:
    OUTCOMES = {"t.py::test_a": "passed", "t.py::test_p[1]": "passed", "t.py::test_p[2]": "failed",
                "t.py::FooTests::test_m": "skipped", "t.py::test_e": "error",
                "acc/test_h.py::test_h": "passed"}  # fmt: skip

    def judge(self, *ids: str) -> dict[str, tuple[str, str]]:
        return {t.id: (t.outcome, t.reason) for t in named_results(self.OUTCOMES, ids)}

    def test_each_kind(self) -> None:
        got = self.judge("t.py::test_a", "t.py::test_gone", "t.py::FooTests::test_m",
                         "t.py::test_e", "t.py::test_p", "t.py::FooTests", "acc")
        assert got["t.py::test_a"] == ("passed", "")
        assert got["t.py::test_gone"][0] == "missing" and "not collected" in got["t.py::test_gone"][1]
        assert got["t.py::FooTests::test_m"][0] == "skipped"
        assert got["t.py::test_e"][0] == "error"
        assert got["t.py::test_p"][0] == "failed" and "1 of 2 cases" in got["t.py::test_p"][1]
        assert got["t.py::FooTests"][0] == "skipped"  # a class stands for its tests
        assert got["acc"] == ("passed", "")  # a folder: the held-out tests in it


def test_real_pytest_skip_xfail_and_missing_ids_are_not_passed(tmp_path: Path) -> None:
    """Against pytest's real JUnit: exit code 0 and yet no named test is proven."""
    (tmp_path / "test_it.py").write_text(textwrap.dedent("""\
        import unittest

        import pytest


        class ThingTests(unittest.TestCase):
            @unittest.skip("later")
            def test_skipped(self):
                assert False

        @pytest.mark.xfail(reason="known")
        def test_xfail():
            assert False

        def test_ok():
            assert True
        """))
    xml = tmp_path / "out.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={xml}", str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout
    results = {t.id: t.outcome for t in named_results(
        parse_junit(xml.read_text(), tmp_path),
        ["test_it.py::ThingTests::test_skipped", "test_it.py::test_xfail", "test_it.py::test_gone",
         "test_it.py::test_ok"])}  # fmt: skip
    assert results == {"test_it.py::ThingTests::test_skipped": "skipped",
                       "test_it.py::test_xfail": "skipped", "test_it.py::test_gone": "missing",
                       "test_it.py::test_ok": "passed"}  # fmt: skip
