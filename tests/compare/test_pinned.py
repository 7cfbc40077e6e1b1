"""Pinning: which files are put back to the start's content, on real git repositories."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import nborch
from nborch.compare.checkout import temporary_checkout
from nborch.compare.diffs import diff_stat
from nborch.compare.pinned import apply_pins, pin_plan, pinned_section, test_modules
from nborch.compare.weakening import collection_findings, weakening
from nborch.gitcmd import Git
from nborch.plan.holdout import holdout_folder
from tests.compare.test_cases import make_repo, write
from tests.compare.test_metrics import commit

PYPROJECT = textwrap.dedent("""\
    [project]
    name = "calc"
    dependencies = []

    [tool.pytest.ini_options]
    addopts = "-q"
    filterwarnings = ["error"]

    [tool.ruff]
    line-length = 100
    """)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {
        "calc.py": "def add(a, b):\n    return a - b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        "tests/data/expected.json": '{"sum": 5}\n',
        "checks/check_extra.py": "def check_more():\n    assert True\n",
        "plugins/strict.py": "def pytest_configure(config):\n    pass\n",
        "conftest.py": "pytest_plugins = ['plugins.strict']\n",
        "pyproject.toml": PYPROJECT,
        ".gitignore": "__pycache__/\n",
    })  # fmt: skip


class PinPlanTests:
    def test_source_changes_need_no_pinned_run(self, repo: Path) -> None:
        start = Git(repo).out("rev-parse", "HEAD")
        head = commit(repo, {"calc.py": "def add(a, b):\n    return a + b\n"}, "attempt")
        assert pin_plan(Git(repo), diff_stat(repo, start, head)).empty

    def test_every_kind_of_test_file_is_pinned(self, repo: Path) -> None:
        start = Git(repo).out("rev-parse", "HEAD")
        head = commit(repo, {
            "tests/test_calc.py": "def test_add():\n    assert True\n",  # changed
            "tests/data/expected.json": '{"sum": -1}\n',  # test data
            "checks/check_extra.py": None,  # collected by the start's run (python_files)
            "plugins/strict.py": "def pytest_configure(config):\n    config.x = 1\n",
            "tests/conftest.py": "import pytest\n",  # added
            "pytest.ini": "[pytest]\naddopts = -k 'not add'\n",  # added
            "tests/test_new.py": "def test_new():\n    assert True\n",  # added
            "calc.py": "def add(a, b):\n    return a + b\n",  # source: stays
        }, "attempt")  # fmt: skip
        plan = pin_plan(Git(repo), diff_stat(repo, start, head),
                        collected={"checks/check_extra.py"})  # fmt: skip
        assert sorted(plan.restore) == ["checks/check_extra.py", "plugins/strict.py",
                                        "tests/data/expected.json", "tests/test_calc.py"]
        assert sorted(plan.remove) == ["pytest.ini", "tests/conftest.py", "tests/test_new.py"]
        assert "checks/check_extra.py deleted" in plan.described
        assert "pytest.ini added" in plan.described

    def test_a_rename_into_a_pinned_path_removes_it(self, repo: Path) -> None:
        start = commit(repo, {"helpers.py": "X = 1\n"}, "helpers")
        git = Git(repo)
        git.run("mv", "helpers.py", "tests/helpers.py")
        git.run("commit", "--quiet", "--no-verify", "-m", "move")
        head = git.out("rev-parse", "HEAD")
        plan = pin_plan(git, diff_stat(repo, start, head))
        assert plan.restore == () and plan.remove == ("tests/helpers.py",)
        assert plan.described == ("tests/helpers.py added (renamed from helpers.py)",)
        with temporary_checkout(repo, head) as where:
            apply_pins(where, git, start, plan)  # no "pathspec did not match"
            assert not (where / "tests/helpers.py").exists()

    def test_a_renamed_setup_cfg_comes_back(self, repo: Path) -> None:
        start = commit(repo, {"setup.cfg": "[tool:pytest]\nfilterwarnings =\n    error\n"}, "cfg")
        git = Git(repo)
        git.run("mv", "setup.cfg", "setup.cfg.orig")
        git.run("commit", "--quiet", "--no-verify", "-m", "move")
        plan = pin_plan(git, diff_stat(repo, start, git.out("rev-parse", "HEAD")))
        assert plan.restore == ("setup.cfg",)

    def test_shadowing_modules_and_doctest_ids(self, repo: Path) -> None:
        start = Git(repo).out("rev-parse", "HEAD")
        head = commit(repo, {"pytest.py": "import sys\n", "calc.py": "def add(a, b):\n"
                             "    return a + b\n"}, "shadow")  # fmt: skip
        plan = pin_plan(Git(repo), diff_stat(repo, start, head),
                        test_modules(["calc.py::calc.add", "tests/test_calc.py::test_add"]))
        assert plan.remove == ("pytest.py",) and plan.restore == ()  # calc.py is the code

    def test_pyproject_keeps_the_attempts_dependencies(self, repo: Path) -> None:
        start = Git(repo).out("rev-parse", "HEAD")
        changed = (PYPROJECT.replace("dependencies = []", 'dependencies = ["attrs"]')
                   .replace('addopts = "-q"', 'addopts = "-q --deselect tests/test_calc.py::test_add"'))
        head = commit(repo, {"pyproject.toml": changed}, "attempt")
        plan = pin_plan(Git(repo), diff_stat(repo, start, head))
        assert plan.restore == () and [p for p, _ in plan.sections] == ["pyproject.toml"]
        assert plan.described == ("pyproject.toml [tool.pytest…] changed",)
        with temporary_checkout(repo, head) as where:
            apply_pins(where, Git(repo), start, plan)
            text = (where / "pyproject.toml").read_text()
        assert 'dependencies = ["attrs"]' in text and "--deselect" not in text
        assert 'filterwarnings = ["error"]' in text and "line-length = 100" in text

    def test_a_dependency_change_alone_is_not_pinned(self, repo: Path) -> None:
        start = Git(repo).out("rev-parse", "HEAD")
        head = commit(repo, {"pyproject.toml": PYPROJECT.replace("[]", '["attrs"]')}, "deps")
        assert pin_plan(Git(repo), diff_stat(repo, start, head)).empty


class PinnedSectionTests:
    def test_setup_cfg_section(self) -> None:
        start = "[metadata]\nname = x\n\n[tool:pytest]\naddopts = -q\n"
        attempt = "[metadata]\nname = x\nversion = 2\n\n[tool:pytest]\naddopts = -q -k 'not a'\n"
        assert pinned_section("setup.cfg", start, attempt) == (
            "[metadata]\nname = x\nversion = 2\n\n[tool:pytest]\naddopts = -q\n")

    def test_a_layout_it_cannot_split_is_refused(self) -> None:
        # dotted keys under [tool] hold pytest settings outside a [tool.pytest…] header
        attempt = '[tool]\npytest.ini_options.addopts = "-k x"\n'
        assert pinned_section("pyproject.toml", "", attempt) is None


class WeakeningKindsTests:
    def test_pytest_raises_target_changed(self) -> None:
        before = ("import pytest\n\n\ndef test_x():\n    with pytest.raises(KeyError):\n"
                  "        f()\n")  # fmt: skip
        after = before.replace("KeyError", "Exception")
        found = weakening([("tests/test_x.py", before, after)])
        assert [(f.kind, f.detail) for f in found] == [
            ("assertions-changed", "test_x: `pytest.raises(KeyError)` → `pytest.raises(Exception)`")]

    def test_new_assertion_kept_old_ones_is_not_weakening(self) -> None:
        before = "def test_x():\n    assert f() == 1\n"
        after = "def test_x():\n    assert f() == 1\n    assert g() == 2\n"
        assert weakening([("tests/test_x.py", before, after)]) == []

    def test_ini_keys_keep_their_case(self) -> None:
        before = "[tool:pytest]\nfilterwarnings =\n    error\n"
        found = weakening([("setup.cfg", before, before.replace("filterwarnings", "FILTERWARNINGS"))])
        assert [f.detail for f in found] == ["filterwarnings lost: error"]

    def test_parametrized_ids_built_from_values_are_not_removed_tests(self) -> None:
        before = {"t.py::test_c[RED]": "passed", "t.py::test_c[BLUE]": "passed"}
        after = {"t.py::test_c[Colour.RED]": "passed", "t.py::test_c[Colour.BLUE]": "passed"}
        assert collection_findings(before, after) == []
        assert [f.kind for f in collection_findings(before, {})] == []  # no results: no verdict
        gone = collection_findings({**before, "t.py::test_d": "passed"}, after)
        assert [(f.kind, f.detail) for f in gone] == [
            ("test-removed", "test_d no longer collected by pytest")]

    def test_plugins_and_collection_settings(self) -> None:
        after = PYPROJECT.replace('addopts = "-q"', 'addopts = "-q -p mine"\npython_files = "*.py"')
        after += '\n[project.entry-points.pytest11]\nmine = "mine"\n'
        kinds = sorted({f.kind for f in weakening([("pyproject.toml", PYPROJECT, after)])})
        assert kinds == ["config-loosened", "pytest-plugin"]


class HoldoutTests:
    def test_a_tracked_holdout_is_refused_before_any_worktree(self, repo: Path) -> None:
        plan = nborch.parse_plan("---\nholdout: tests\n---\n# P\n## Task 1: T\n")
        with pytest.raises(nborch.PlanError, match="tracked by the repository"):
            nborch.prepare(repo, plan, agents=["demo"])
        assert not Git(repo).out("worktree", "list").count("\n")  # only the main worktree

    def test_a_missing_holdout_names_the_folder(self, repo: Path, tmp_path: Path) -> None:
        with pytest.raises(nborch.PlanError, match="does not exist"):
            holdout_folder(repo, None, str(tmp_path / "nowhere"))

    def test_an_ignored_folder_inside_the_repository_is_accepted(self, repo: Path) -> None:
        write(repo, {".gitignore": "__pycache__/\nacceptance/\n",
                     "acceptance/test_more.py": "def test_more():\n    assert True\n"})
        assert holdout_folder(repo, None, "acceptance") == (repo / "acceptance").resolve()


class PlanFieldsTests:
    def test_markdown_yaml_and_toml_carry_changes_tests_and_holdout(self, tmp_path: Path) -> None:
        md = nborch.parse_plan("# P\n## Task 1: T\nChanges tests: yes\nHoldout: `../acc`\n")
        assert (md["1"].changes_tests, md["1"].holdout) == (True, "../acc")
        (tmp_path / "plan.yaml").write_text("title: P\nholdout: ../acceptance\ntasks:\n"
                                            "  - id: '1'\n    title: T\n    changes_tests: true\n")
        yaml_plan = nborch.load_plan(tmp_path / "plan.yaml")
        assert yaml_plan["1"].changes_tests and yaml_plan.settings["holdout"] == "../acceptance"
        (tmp_path / "plan.toml").write_text('title = "P"\n[[tasks]]\nid = "1"\ntitle = "T"\n'
                                            'holdout = "acc"\n')
        assert nborch.load_plan(tmp_path / "plan.toml")["1"].holdout == "acc"

    def test_a_bad_value_says_what_to_write(self) -> None:
        with pytest.raises(nborch.PlanError, match="is not yes or no"):
            nborch.parse_plan("# P\n## Task 1: T\nChanges tests: maybe\n")
