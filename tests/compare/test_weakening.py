"""Tests for nborch.compare.weakening: spotting weakened tests and loosened checks."""

from __future__ import annotations

import textwrap

from nborch.compare.weakening import Finding, is_test_file, weakening

BEFORE = textwrap.dedent("""\
    import pytest

    def helper():
        return 1

    def test_one():
        assert helper() == 1
        assert helper() != 2

    def test_two():
        with pytest.raises(ValueError):
            int("x")

    class TestGroup:
        def test_method(self):
            self.assertEqual(1, 1)
            assert True
""")


def _kinds(findings: list[Finding]) -> list[str]:
    return [f.kind for f in findings]


def _edit(old: str, new: str, path: str = "tests/test_mod.py") -> list[Finding]:
    assert old in BEFORE
    return weakening([(path, BEFORE, BEFORE.replace(old, new))])


class TestTestFiles:
    """Which files count as test files."""

    def test_names_and_folders(self) -> None:
        """``test_*.py``, ``*_test.py`` and ``.py`` under ``tests/`` count; others do not."""
        assert is_test_file("test_a.py") and is_test_file("pkg/a_test.py")
        assert is_test_file("tests/helpers.py") and is_test_file("a/tests/sub/x.py")
        assert not is_test_file("src/app.py") and not is_test_file("tests/data.json")
        assert not is_test_file("contest.py")


class TestClean:
    """Changes that weaken nothing."""

    def test_clean_change_has_no_findings(self) -> None:
        """Adding a test and an assertion, and touching non-test files, yields nothing."""
        after = BEFORE.replace("assert helper() != 2", "assert helper() != 2\n    assert 1") + (
            "\ndef test_three():\n    assert 3\n")
        changes = [("tests/test_mod.py", BEFORE, after), ("src/app.py", "x = 1\n", None),
                   ("tests/test_new.py", None, "def test_n():\n    assert 1\n")]  # fmt: skip
        assert weakening(changes) == []

    def test_rename_with_same_body_is_informational(self) -> None:
        """A pure rename is reported as ``test-renamed``, which does not weaken."""
        found = _edit("def test_two():", "def test_two_raises():")
        assert _kinds(found) == ["test-renamed"]
        assert "test_two → test_two_raises" in found[0].detail and not found[0].weakens

    def test_moved_to_another_file_is_a_rename(self) -> None:
        """A test moved unchanged into a new file is a rename, not a deleted file."""
        moved = "def test_x():\n    assert 1 == 1\n"
        found = weakening([("tests/test_old.py", moved, None), ("tests/test_new.py", None, moved)])
        assert _kinds(found) == ["test-renamed"]
        assert found[0].detail.startswith("test_x → tests/test_new.py::test_x")


class TestWeakenedTests:
    """Each way of weakening the tests is flagged."""

    def test_removed_function(self) -> None:
        """A test function that disappears is ``test-removed``."""
        found = _edit("def test_one():", "def check_one():")
        assert _kinds(found) == ["test-removed"] and found[0].weakens
        assert found[0].detail == "test_one removed"

    def test_renamed_and_changed_is_removed_plus_added(self) -> None:
        """A rename that also edits the body is reported as removed, naming the added test."""
        found = _edit("def test_one():\n    assert helper() == 1\n",
                      "def test_first():\n    assert helper() >= 1\n")  # fmt: skip
        assert _kinds(found) == ["test-removed"]
        assert found[0].detail == "test_one removed (tests added in this file: test_first)"

    def test_removed_method(self) -> None:
        """A removed method is reported with its class."""
        found = _edit("    def test_method(self):", "    def method(self):")
        assert [(f.kind, f.detail) for f in found] == [("test-removed", "TestGroup::test_method removed")]

    def test_skip_decorator(self) -> None:
        """``@pytest.mark.skip``, ``skipif`` and ``xfail`` added to a test are flagged."""
        for mark in ("@pytest.mark.skip(reason='later')", "@pytest.mark.skipif(True, reason='x')",
                     "@pytest.mark.xfail"):  # fmt: skip
            found = _edit("def test_two():", f"{mark}\ndef test_two():")
            assert _kinds(found) == ["test-skipped"] and "test_two" in found[0].detail

    def test_skip_call_and_unittest(self) -> None:
        """A ``pytest.skip(`` call and a ``unittest.skip`` class decorator are flagged."""
        found = _edit("    assert helper() == 1", "    pytest.skip('flaky')\n    assert helper() == 1")
        assert _kinds(found) == ["test-skipped"] and "pytest.skip()" in found[0].detail
        found = _edit("class TestGroup:", "@unittest.skip('no')\nclass TestGroup:")
        assert [(f.kind, f.detail) for f in found] == [
            ("test-skipped", "TestGroup::test_method: unittest.skip added")]

    def test_module_pytestmark(self) -> None:
        """A module-level ``pytestmark = pytest.mark.skip`` skips every test."""
        found = _edit("def helper():", "pytestmark = pytest.mark.skip\n\ndef helper():")
        assert _kinds(found) == ["test-skipped"] * 3

    def test_assertions_removed(self) -> None:
        """Fewer asserts, ``self.assert*`` or ``pytest.raises`` in a test are flagged."""
        found = _edit("    assert helper() != 2\n", "")
        assert [(f.kind, f.detail) for f in found] == [("assertions-removed", "test_one: 2 → 1 assertions")]
        found = _edit("        self.assertEqual(1, 1)\n", "")
        assert _kinds(found) == ["assertions-removed"]
        found = _edit("    with pytest.raises(ValueError):\n        int(\"x\")",
                      "    try:\n        int('x')\n    except ValueError:\n        pass")  # fmt: skip
        assert _kinds(found) == ["assertions-removed"]

    def test_file_deleted(self) -> None:
        """A deleted test file is one ``test-file-deleted`` finding, not one per test."""
        found = weakening([("tests/test_mod.py", BEFORE, None)])
        assert [(f.kind, f.detail) for f in found] == [
            ("test-file-deleted", "deleted with 3 test(s) not found elsewhere")]

    def test_cannot_parse(self) -> None:
        """Unparseable Python is a ``cannot-parse`` finding, not an exception."""
        found = weakening([("tests/test_mod.py", BEFORE, "def test_x(:\n")])
        assert _kinds(found) == ["cannot-parse"] and found[0].detail.startswith("after: SyntaxError")


class TestLoosenedConfig:
    """Loosened pytest, lint and coverage configuration is flagged."""

    PYPROJECT = textwrap.dedent("""\
        [tool.pytest.ini_options]
        addopts = "-ra"
        filterwarnings = ["error"]

        [tool.ruff.lint]
        select = ["E", "F", "B"]
        ignore = ["E501"]

        [tool.coverage.report]
        fail_under = 90
    """)

    def _edit(self, old: str, new: str) -> list[Finding]:
        assert old in self.PYPROJECT
        return weakening([("pyproject.toml", self.PYPROJECT, self.PYPROJECT.replace(old, new))])

    def test_addopts(self) -> None:
        """``--deselect``, ``-k`` and ``--ignore`` added to addopts are flagged."""
        found = self._edit('"-ra"', '"-ra --deselect tests/test_a.py::test_x -k \'not slow\' --ignore=tests/b"')
        assert [(f.kind, f.detail) for f in found] == [("config-loosened", (
            "pytest addopts gained: --deselect tests/test_a.py::test_x, --ignore tests/b, "
            "-k not slow"))]

    def test_filterwarnings_error_removed(self) -> None:
        """Dropping ``error`` from filterwarnings is flagged."""
        found = self._edit('["error"]', '["ignore::DeprecationWarning"]')
        assert [f.detail for f in found] == ["filterwarnings lost: error"]

    def test_ruff_ignore_grows_and_select_shrinks(self) -> None:
        """A longer ruff ignore and a shorter select are each flagged."""
        assert [f.detail for f in self._edit('["E501"]', '["E501", "F401"]')] == [
            "lint ignore gained: F401"]
        assert [f.detail for f in self._edit('["E", "F", "B"]', '["E", "F"]')] == [
            "lint select lost: B"]

    def test_ruff_toml(self) -> None:
        """A top-level ``ignore`` growing in ruff.toml is flagged."""
        found = weakening([("ruff.toml", 'ignore = ["E501"]\n', 'ignore = ["E501", "B"]\n')])
        assert [f.detail for f in found] == ["lint ignore gained: B"]

    def test_fail_under_lowered(self) -> None:
        """A lower coverage ``fail_under`` is flagged, in pyproject and in setup.cfg."""
        assert [f.detail for f in self._edit("fail_under = 90", "fail_under = 50")] == [
            "coverage fail_under 90 → 50.0"]
        cfg = "[coverage:report]\nfail_under = 80\n[tool:pytest]\naddopts = -q\n"
        found = weakening([("setup.cfg", cfg, cfg.replace("80", "70").replace("-q", "-q -k fast"))])
        assert sorted(f.detail for f in found) == ["coverage fail_under 80 → 70.0",
                                                   "pytest addopts gained: -k fast"]  # fmt: skip

    def test_tightened_config_is_clean(self) -> None:
        """Stricter settings produce no findings."""
        assert self._edit('["E501"]', "[]") == []
        assert self._edit("fail_under = 90", "fail_under = 95") == []

    def test_bad_toml_after(self) -> None:
        """A config that no longer parses is ``cannot-parse``."""
        found = weakening([("pyproject.toml", self.PYPROJECT, "[tool.ruff\n")])
        assert _kinds(found) == ["cannot-parse"]
