"""Tests for YAML and TOML plans: the same content as markdown, and the data-specific details."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from nborch import Plan, PlanError, parse_plan

Golden = Callable[[str], Plan]


def yaml_plan(text: str) -> Plan:
    return parse_plan(text, format="yaml")


def toml_plan(text: str) -> Plan:
    return parse_plan(text, format="toml")


class TestSameContentAsMarkdown:
    """``canonical.yaml`` and ``canonical.toml`` carry what ``canonical.md`` carries."""

    @pytest.fixture(params=["canonical.yaml", "canonical.toml"])
    def pair(self, request: pytest.FixtureRequest, golden: Golden) -> tuple[Plan, Plan]:
        return golden("canonical.md"), golden(request.param)

    def test_task_fields_equal_except_line(self, pair: tuple[Plan, Plan]) -> None:
        """Every task field but ``line`` is equal to the markdown plan's."""
        md, data = pair
        assert [replace(t, line=0) for t in data] == [replace(t, line=0) for t in md]

    def test_settings_equal(self, pair: tuple[Plan, Plan]) -> None:
        """Top-level keys are the same settings as markdown front matter."""
        md, data = pair
        assert data.settings == md.settings

    def test_title_and_overview_equal(self, pair: tuple[Plan, Plan]) -> None:
        """The plan title and overview match."""
        md, data = pair
        assert (data.title, data.overview) == (md.title, md.overview)

    def test_phases_equal_except_line(self, pair: tuple[Plan, Plan]) -> None:
        """Phases have the same index, title, number, description and tasks."""
        md, data = pair
        assert [replace(p, line=0) for p in data.phases] == [replace(p, line=0) for p in md.phases]

    def test_waves_equal(self, pair: tuple[Plan, Plan]) -> None:
        """The dependency waves are the same."""
        md, data = pair
        assert [[t.id for t in w] for w in data.waves()] == [[t.id for t in w] for w in md.waves()]

    def test_frames_equal_except_line(self, pair: tuple[Plan, Plan]) -> None:
        """The DataFrames agree on every column but ``line``."""
        md, data = pair
        assert data.to_frame().drop(columns="line").equals(md.to_frame().drop(columns="line"))


class TestYamlGolden:
    """``canonical.yaml`` keeps its own source lines and format."""

    def test_task_lines(self, golden: Golden) -> None:
        """A task's line is that of its first key."""
        assert [t.line for t in golden("canonical.yaml")] == [13, 39, 51, 58]

    def test_phase_lines(self, golden: Golden) -> None:
        """A phase's line is that of its first key."""
        assert [p.line for p in golden("canonical.yaml").phases] == [9, 48]

    def test_format(self, golden: Golden) -> None:
        """The plan says it came from YAML."""
        assert golden("canonical.yaml").format == "yaml"


class TestTomlGolden:
    """``canonical.toml`` takes lines from its table headers."""

    def test_task_lines(self, golden: Golden) -> None:
        """A task's line is that of its ``[[phases.tasks]]`` header."""
        assert [t.line for t in golden("canonical.toml")] == [15, 40, 56, 65]

    def test_phase_lines(self, golden: Golden) -> None:
        """A phase's line is that of its ``[[phases]]`` header."""
        assert [p.line for p in golden("canonical.toml").phases] == [10, 52]

    def test_format(self, golden: Golden) -> None:
        """The plan says it came from TOML."""
        assert golden("canonical.toml").format == "toml"


class TestYamlDetails:
    """YAML-specific reading: scalars stay text, aliases, extra keys, loose tasks."""

    def test_ids_that_look_like_numbers_stay_text(self) -> None:
        """``id: 1.10`` is the id "1.10", not the number 1.1; ``id: 3`` is "3"."""
        plan = yaml_plan("title: T\ntasks:\n  - id: 1.10\n    title: a\n  - id: 3\n    title: b\n")
        assert [t.id for t in plan] == ["1.10", "3"]

    def test_depends_on_as_one_string(self) -> None:
        """A ``depends_on`` string is split like a markdown ``Depends on:`` line."""
        plan = yaml_plan("title: T\ntasks:\n  - {id: a, title: x}\n  - {id: b, title: y}\n"
                         "  - {id: c, title: z, depends_on: 'a, b'}\n")  # fmt: skip
        assert plan["c"].depends_on == ("a", "b")

    def test_field_aliases(self) -> None:
        """``name``, ``description``, ``steps``, ``acceptance_criteria``, ``agent`` and
        ``dependencies`` mean title, overview, key_activities, validation, agents, depends_on."""
        plan = yaml_plan(
            "title: T\ntasks:\n  - id: a\n    name: First\n  - id: b\n    name: Second\n"
            "    description: Why\n    steps: [one]\n    acceptance_criteria: ['`make x` passes']\n"
            "    agent: Claude\n    dependencies: [a]\n"
        )  # fmt: skip
        b = plan["b"]
        assert (b.title, b.overview, b.key_activities, b.commands, b.agents, b.depends_on) == (
            "Second", "Why", ("one",), ("make x",), ("claude",), ("a",))

    def test_unknown_keys_kept_verbatim(self) -> None:
        """Unknown keys are extra sections: text as is, structures as JSON."""
        plan = yaml_plan("title: T\ntasks:\n  - id: a\n    title: x\n    notes: keep me\n"
                         "    owner: {name: ann, team: [x, y]}\n")  # fmt: skip
        assert plan["a"].sections == {"notes": "keep me",
                                      "owner": '{"name": "ann", "team": ["x", "y"]}'}  # fmt: skip

    def test_overview_list_becomes_bullets(self) -> None:
        """A list of strings where text is expected becomes markdown bullets."""
        plan = yaml_plan("title: T\ntasks:\n  - id: a\n    title: x\n    overview: [one, two]\n")
        assert plan["a"].overview == "- one\n- two"

    @pytest.mark.parametrize(("value", "done"), [("true", True), ("yes", True), ("'no'", False),
                                                 ("false", False)])  # fmt: skip
    def test_done_words(self, value: str, done: bool) -> None:
        """``done`` accepts true/false and yes/no."""
        plan = yaml_plan(f"title: T\ntasks:\n  - id: a\n    title: x\n    done: {value}\n")
        assert plan["a"].done is done

    def test_agents_as_one_string(self) -> None:
        """An ``agents`` string splits on commas and spaces."""
        plan = yaml_plan("title: T\ntasks:\n  - id: a\n    title: x\n    agents: Claude, codex\n")
        assert plan["a"].agents == ("claude", "codex")

    def test_priority_alias(self) -> None:
        """``P0`` means critical in YAML as in markdown."""
        plan = yaml_plan("title: T\ntasks:\n  - id: a\n    title: x\n    priority: P0\n")
        assert plan["a"].priority == "critical"

    def test_loose_tasks_follow_phase_tasks(self) -> None:
        """Top-level ``tasks`` come after phase tasks and have no phase."""
        plan = yaml_plan("title: T\ntasks:\n  - {id: loose, title: x}\n"
                         "phases:\n  - tasks:\n      - {id: p, title: y}\n")  # fmt: skip
        assert [(t.id, t.phase) for t in plan] == [("p", "Phase 1"), ("loose", None)]

    def test_phase_without_title_is_numbered(self) -> None:
        """A phase with no title is called 'Phase N'."""
        plan = yaml_plan("title: T\nphases:\n  - tasks: [{id: a, title: x}]\n")
        assert [(p.title, p.number) for p in plan.phases] == [("Phase 1", None)]

    def test_title_from_source_stem(self) -> None:
        """A plan with no ``title`` is named after its file."""
        plan = parse_plan("tasks:\n  - {id: a, title: x}\n", source="sprint.yaml")
        assert plan.title == "sprint"

    def test_dependency_error_names_the_depends_on_line(self) -> None:
        """An unknown dependency is reported on the ``depends_on`` key's line."""
        with pytest.raises(PlanError, match=r"^<plan>:6: task 'b' depends on 'z'"):
            yaml_plan("title: T\ntasks:\n  - id: a\n    title: x\n  - id: b\n    depends_on: [z]\n"
                      "    title: y\n")  # fmt: skip

    def test_deep_chain(self) -> None:
        """A 3,000-task chain in YAML gives 3,000 waves."""
        body = "".join(f"  - id: '{i}'\n    title: t{i}\n" + (f"    depends_on: ['{i - 1}']\n" if i else "")
                       for i in range(3000))  # fmt: skip
        assert len(yaml_plan("title: Y\ntasks:\n" + body).waves()) == 3000

    def test_phase_key_on_a_loose_task_is_kept(self) -> None:
        """``phase:`` on a top-level task sets the task's phase rather than vanishing."""
        plan = yaml_plan("title: T\ntasks:\n  - id: a\n    title: x\n    phase: Storage\n")
        assert plan["a"].phase == "Storage"


class TestTomlDetails:
    """TOML-specific reading: typed values and table-header lines."""

    def test_integer_ids_and_dependencies_become_text(self) -> None:
        """``id = 1`` and ``depends_on = [1]`` are the id "1"."""
        plan = toml_plan('title = "T"\n[[tasks]]\nid = 1\ntitle = "one"\n'
                         '[[tasks]]\nid = 2\ntitle = "two"\ndepends_on = [1]\n')  # fmt: skip
        assert [(t.id, t.depends_on) for t in plan] == [("1", ()), ("2", ("1",))]

    def test_loose_task_lines_are_their_headers(self) -> None:
        """Top-level ``[[tasks]]`` lines are the header lines."""
        plan = toml_plan('title = "T"\n\n[[tasks]]\nid = "a"\ntitle = "x"\n\n'
                         '[[tasks]]\nid = "b"\ntitle = "y"\n')  # fmt: skip
        assert [t.line for t in plan] == [3, 7]

    def test_boolean_done(self) -> None:
        """A TOML boolean sets ``done``."""
        plan = toml_plan('title = "T"\n[[tasks]]\nid = "a"\ntitle = "x"\ndone = true\n')
        assert plan["a"].done is True

    def test_inline_table_kept_as_json(self) -> None:
        """An unknown inline table is kept as JSON text."""
        plan = toml_plan('title = "T"\n[[tasks]]\nid = "a"\ntitle = "x"\nowner = {name = "ann"}\n')
        assert plan["a"].sections == {"owner": '{"name": "ann"}'}

    def test_float_id_is_refused(self) -> None:
        """``id = 1.10`` cannot keep its trailing zero, so it is refused with a hint to quote it."""
        with pytest.raises(PlanError, match=r"has the number 1.1 as its id — quote it"):
            toml_plan('title = "T"\n[[tasks]]\nid = 1.10\ntitle = "x"\n')
