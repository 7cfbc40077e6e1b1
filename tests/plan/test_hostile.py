"""Hostile plans: every one is a PlanError (one line on the command line, exit 2), quickly and in
bounded memory — never a traceback, a hang or a MemoryError."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nborch import PlanError, load_plan, parse_plan

LAUGHS = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
          + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
                    f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
                    f"*{chr(97 + i)}]\n" for i in range(8))
          + "title: *i\ntasks: []\n")  # fmt: skip


class HostilePlanTests:
    def test_yaml_alias_explosion(self) -> None:
        """'Billion laughs' (a few hundred bytes) in a YAML plan."""
        assert len(LAUGHS) < 800
        with pytest.raises(PlanError, match="alias"):
            parse_plan(LAUGHS, format="yaml")

    def test_yaml_alias_explosion_in_front_matter(self) -> None:
        text = "---\n" + LAUGHS.replace("tasks: []\n", "") + "---\n# P\n## Task 1: A\n"
        with pytest.raises(PlanError, match="alias"):
            parse_plan(text)

    def test_a_few_aliases_are_fine(self) -> None:
        text = ("title: P\ncommon: &c ['`pytest -q` passes']\ntasks:\n"
                "  - {id: '1', title: A, validation: *c}\n  - {id: '2', title: B, validation: *c}\n")  # fmt: skip
        plan = parse_plan(text, format="yaml")
        assert [t.id for t in plan] == ["1", "2"]

    @pytest.mark.parametrize("fmt,text", [
        ("yaml", "title: P\ntasks: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("toml", 'title = "P"\nx = ' + "[" * 5000 + "]" * 5000 + "\n"),
        ("taskmaster", '{"tasks": ' + "[" * 100000 + "]" * 100000 + "}"),
    ])  # fmt: skip
    def test_deep_nesting(self, fmt: str, text: str) -> None:
        with pytest.raises(PlanError, match="nested"):
            parse_plan(text, format=fmt)

    @pytest.mark.parametrize("fmt,text", [
        ("toml", "title = \"P\"\n[[tasks]]\nid = " + "9" * 5000 + '\ntitle = "A"\n'),
        ("taskmaster", '{"tasks": [{"id": ' + "9" * 5000 + ', "title": "A"}]}'),
    ])  # fmt: skip
    def test_an_id_of_5000_digits(self, fmt: str, text: str) -> None:
        with pytest.raises(PlanError, match="digits"):
            parse_plan(text, format=fmt)

    def test_a_fifo_is_refused_at_once(self, tmp_path: Path) -> None:
        fifo = tmp_path / "plan.md"
        os.mkfifo(fifo)
        result: list[BaseException] = []
        reader = threading.Thread(target=lambda: result.append(_error(fifo)), daemon=True)
        reader.start()
        reader.join(10)
        if reader.is_alive():  # unblock the reader so the test run can end
            with open(fifo, "w"):
                pass
            pytest.fail("reading a FIFO plan blocked")
        assert isinstance(result[0], PlanError) and "not a regular file" in str(result[0])

    def test_a_symlink_to_dev_zero_is_refused(self, tmp_path: Path) -> None:
        link = tmp_path / "plan.md"
        link.symlink_to("/dev/zero")
        with pytest.raises(PlanError, match="not a regular file"):
            load_plan(link)

    def test_a_huge_plan_is_refused_without_reading_it_all(self, tmp_path: Path) -> None:
        big = tmp_path / "plan.md"
        with big.open("wb") as f:
            f.truncate(200 * 1024 * 1024)  # sparse: no disk used
        with pytest.raises(PlanError, match="MB"):
            load_plan(big)

    def test_the_command_line_says_one_line(self, tmp_path: Path) -> None:
        plan = tmp_path / "plan.yaml"
        plan.write_text(LAUGHS)
        out = subprocess.run([sys.executable, "-m", "nborch", "parse", str(plan)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert "Traceback" not in out.stderr


def _error(path: Path) -> BaseException:
    try:
        load_plan(path)
    except BaseException as exc:
        return exc
    return AssertionError("no error")


class ControlCharacterTests:
    def test_ids_of_spaces_or_control_characters_are_refused_with_their_line(self) -> None:
        with pytest.raises(PlanError, match=r"plan.yaml:3: task id '   ' is empty"):
            parse_plan("title: P\ntasks:\n  - id: '   '\n    title: A\n", source="plan.yaml")
        with pytest.raises(PlanError, match="control characters"):
            parse_plan("# P\n## Task 1\x1b[8m: A\n")

    def test_titles_reach_the_terminal_escaped(self, tmp_path: Path) -> None:
        plan = tmp_path / "plan.md"
        plan.write_text("# P\n## Task 1: \x1b]0;pwned\x07Title \x1b[8mhidden\n")
        out = subprocess.run([sys.executable, "-m", "nborch", "parse", str(plan)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0 and "\x1b]" not in out.stdout and "\x07" not in out.stdout
        assert "\\x1b]0;pwned\\x07Title" in out.stdout
