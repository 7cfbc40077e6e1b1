"""Tests for the plan model and the markdown reader: golden plans, the Plan object, big plans."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from nborch import Criterion, Plan, PlanError, Task, parse_plan
from nborch.plan.build import normalize_priority, split_ids, split_names

Golden = Callable[[str], Plan]
SAFE_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
FRAME_COLUMNS = ["id", "title", "phase", "wave", "depends_on", "priority", "agents", "done",
                 "validation", "commands", "line"]  # fmt: skip


def ids(plan: Plan) -> list[str]:
    return [t.id for t in plan]


def field(plan: Plan, name: str) -> list[object]:
    return [getattr(t, name) for t in plan]


def waves(plan: Plan) -> list[list[str]]:
    return [[t.id for t in wave] for wave in plan.waves()]


class TestCanonicalMarkdown:
    """``canonical.md``: front matter, phases, ``### Task N.M:`` headings and every section form."""

    @pytest.fixture
    def plan(self, golden: Golden) -> Plan:
        return golden("canonical.md")

    def test_title_and_overview(self, plan: Plan) -> None:
        """The level-1 heading is the title; prose before the first phase is the overview."""
        assert plan.title == "Todo service"
        assert plan.overview == "A small service that stores todos. This overview is plain prose."

    def test_front_matter_becomes_settings(self, plan: Plan) -> None:
        """Front matter keys are settings; test_command and base have properties."""
        assert plan.settings == {"test_command": "pytest -q", "base": "main",
                                 "project": {"name": "todo", "language": "python"}}  # fmt: skip
        assert (plan.test_command, plan.base) == ("pytest -q", "main")

    def test_validation_commands_and_tests(self, plan: Plan) -> None:
        """Backticked commands and test ids are pulled out of the criteria text."""
        first, second = plan["1.1"].validation, plan["1.2"].validation
        assert first[0] == Criterion("`pytest tests/test_store.py` passes",
                                     ("pytest tests/test_store.py",))  # fmt: skip
        assert first[1].tests == ("tests/test_store.py::test_roundtrip",)
        assert first[2] == Criterion("The store survives a restart")
        assert second[1].tests == ("tests/test_migrate.py::TestMigrate::test_up",)
        assert plan["1.2"].commands == ("make migrate-check",)

    def test_bold_line_sections(self, plan: Plan) -> None:
        """``**Objectives**``-style bold lines open sections whose bullets become items."""
        task = plan["1.1"]
        assert task.objectives == ("Persist todos in SQLite", "Keep the schema in one place")
        assert task.key_activities == ("Write the schema", "Write the store class")
        assert task.deliverables == ("`todo/store.py`",)

    def test_level_four_heading_sections(self, plan: Plan) -> None:
        """``#### Objectives``-style headings open sections just like bold lines."""
        assert plan["1.2"].objectives == ("Version the schema",)
        assert [c.text for c in plan["1.2"].validation] == [
            "`make migrate-check` succeeds", "`tests/test_migrate.py::TestMigrate::test_up` passes"
        ]  # fmt: skip

    def test_task_overview_is_the_prose_before_sections(self, plan: Plan) -> None:
        """Prose after the metadata lines and before the first section is the task overview."""
        assert plan["1.1"].overview == "A durable store for todos, behind a small class."

    def test_code_fence_kept_in_technical_implementation(self, plan: Plan) -> None:
        """A fenced code block stays, fences and all, in the technical implementation."""
        assert plan["1.1"].technical_implementation == (
            'Use the standard library only.\n\n```python\nimport sqlite3\n'
            'conn = sqlite3.connect("todo.db")\n```'
        )  # fmt: skip

    def test_unknown_sections_kept_verbatim(self, plan: Plan) -> None:
        """Sections with unknown names (bold line or heading) are kept under their own name."""
        assert field(plan, "extra_sections") == [
            (("Risks", "Locking under concurrent writers."),),
            (("Rollback plan", "Keep the previous schema file."),), (), (),
        ]  # fmt: skip
        assert plan["1.2"].sections == {"Rollback plan": "Keep the previous schema file."}

    def test_plan_level_sections_kept(self, plan: Plan) -> None:
        """A level-2 heading that is not a phase is kept as a plan section."""
        assert plan.sections == (("Notes", "Ship behind a feature flag."),)

    def test_format_is_markdown(self, plan: Plan) -> None:
        """The plan says which format it came from."""
        assert plan.format == "markdown"


# Every markdown golden plan, task by task: (id, title, phase, depends_on, priority, agents,
# validation kinds, names of extra sections, done, line).
GOLDEN_TASKS: dict[str, list[tuple[object, ...]]] = {
    "canonical.md": [
        ("1.1", "Add a SQLite store", "Storage", (), "high", ("claude", "codex"),
         ("command", "test", "prose"), ("Risks",), False, 16),
        ("1.2", "Add migrations", "Storage", ("1.1",), "low", (), ("command", "test"),
         ("Rollback plan",), False, 51),
        ("2.1", "Add the HTTP API", "API", ("1.1", "1.2"), "critical", ("aider",), ("prose",), (),
         False, 68),
        ("2.2", "Document the API", "API", ("2.1",), "medium", (), (), (), False, 80),
    ],
    "no_phases.md": [
        ("1", "Set up the repository", None, (), "high", (), (), (), False, 3),
        ("2", "Add CI", None, ("1",), "medium", ("codex",), ("command",), (), False, 7),
        ("3", "Write the docs", None, ("1", "2"), "medium", (), (), (), False, 15),
        ("4", "Tag the release", None, ("3",), "medium", (), (), (), False, 22),
    ],
    "plain_headings.md": [
        ("add-store", "Add store", "Core", (), "high", (), ("command",), (), False, 5),
        ("2.1", "Add API", "Core", ("add-store",), "medium", ("claude",), (), ("Open questions",),
         False, 14),
        ("write-the-changelog", "Write the changelog", "Delivery", ("2.1",), "medium", (),
         ("prose",), (), False, 24),
    ],
    "checklist_phases.md": [
        ("1.1", "Create the repository", "Setup", (), "medium", (), (), (), False, 7),
        ("1.2", "Choose a licence", "Setup", (), "medium", (), (), (), True, 10),
        ("1.3", "Add CI", "Setup", ("1.1",), "low", ("codex",), (), (), False, 11),
        ("2.1", "Build the store", "Build", ("1.3",), "medium", (), (), (), False, 18),
    ],
    "checklist_only.md": [
        ("1", "Fix the bike", None, (), "medium", (), (), (), False, 3),
        ("2", "Buy groceries", None, (), "medium", (), (), (), True, 4),
        ("3", "Call the plumber", None, (), "medium", (), (), (), False, 5),
    ],
    "unicode.md": [
        ("1.1", "Añadir café ☕", "Données", (), "medium", ("claude",), ("prose", "command"),
         ("Remarques — 注意",), False, 5),
        ("1.2", "添加 API 🚀", "Données", ("1.1",), "medium", (), (), (), False, 17),
        ("1.3", "Ελληνικά και русский", "Données", ("1.2",), "low", (), (), (), False, 21),
    ],
    "odd_ids.md": [
        ("../x", "Escape the folder", None, (), "medium", (), (), (), False, 3),
        ("a;b", "Shell separator", None, ("../x",), "medium", (), (), (), False, 5),
        ("a b", "Space inside", None, ("a;b", "../x"), "medium", (), (), (), False, 9),
        ("A B", "Upper case", None, (), "medium", (), (), (), False, 13),
        ("$(rm -rf ~)", "Command substitution", None, (), "medium", (), (), (), False, 15),
        ("..", "Only dots", None, (), "medium", (), (), (), False, 17),
        (".lock", "Git lock suffix", None, (), "medium", (), (), (), False, 19),
    ],
}  # fmt: skip

GOLDEN_WAVES = {
    "canonical.md": [["1.1"], ["1.2"], ["2.1"], ["2.2"]],
    "no_phases.md": [["1"], ["2"], ["3"], ["4"]],
    "plain_headings.md": [["add-store"], ["2.1"], ["write-the-changelog"]],
    "checklist_phases.md": [["1.1", "1.2"], ["1.3"], ["2.1"]],
    "checklist_only.md": [["1", "2", "3"]],
    "unicode.md": [["1.1"], ["1.2"], ["1.3"]],
    "odd_ids.md": [["../x", "A B", "$(rm -rf ~)", "..", ".lock"], ["a;b"], ["a b"]],
}

# (title, number, line, description, task ids) for every phase.
GOLDEN_PHASES = {
    "canonical.md": [("Storage", "1", 12, "The storage layer comes first.", ("1.1", "1.2")),
                     ("API", "2", 66, "", ("2.1", "2.2"))],
    "no_phases.md": [],
    "plain_headings.md": [("Core", "1", 3, "", ("add-store", "2.1")),
                          ("Delivery", None, 22, "", ("write-the-changelog",))],
    "checklist_phases.md": [("Setup", "1", 3, "Get the basics in place.", ("1.1", "1.2", "1.3")),
                            ("Build", "2", 16, "", ("2.1",))],
    "checklist_only.md": [],
    "unicode.md": [("Données", "1", 3, "", ("1.1", "1.2", "1.3"))],
    "odd_ids.md": [],
}  # fmt: skip


def row(task: Task) -> tuple[object, ...]:
    return (task.id, task.title, task.phase, task.depends_on, task.priority, task.agents,
            tuple(c.kind for c in task.validation), tuple(n for n, _ in task.extra_sections),
            task.done, task.line)  # fmt: skip


class TestGoldenPlans:
    """Every markdown golden plan reads exactly as the tables above say."""

    @pytest.mark.parametrize("name", list(GOLDEN_TASKS))
    def test_tasks(self, name: str, golden: Golden) -> None:
        """Ids, titles, phases, dependencies, priorities, agents, criteria, sections, lines."""
        assert [row(t) for t in golden(name)] == GOLDEN_TASKS[name]

    @pytest.mark.parametrize("name", list(GOLDEN_WAVES))
    def test_waves(self, name: str, golden: Golden) -> None:
        """Tasks fall into the expected dependency waves."""
        assert waves(golden(name)) == GOLDEN_WAVES[name]

    @pytest.mark.parametrize("name", list(GOLDEN_PHASES))
    def test_phases(self, name: str, golden: Golden) -> None:
        """Phases have the expected title, number, line, description and tasks."""
        got = [(p.title, p.number, p.line, p.description, p.task_ids) for p in golden(name).phases]
        assert got == GOLDEN_PHASES[name]

    def test_every_markdown_golden_plan_is_in_the_tables(self) -> None:
        """No golden markdown file is left out of the tables."""
        names = {p.name for p in (Path(__file__).parents[1] / "data" / "plans").glob("*.md")}
        assert names == set(GOLDEN_TASKS) == set(GOLDEN_WAVES) == set(GOLDEN_PHASES)


class TestNoPhases:
    """``no_phases.md``: ``## Task N: Title`` headings with no phase above them."""

    def test_level_four_heading_opens_a_section(self, golden: Golden) -> None:
        """Under a level-2 task, a ``####`` heading opens a section."""
        assert golden("no_phases.md")["3"].deliverables == ("`README.md`",)


class TestPlainHeadings:
    """``plain_headings.md``: level-3 headings without the word Task under phase-like headings."""

    def test_prose_is_the_overview(self, golden: Golden) -> None:
        """Prose under a heading task is its overview."""
        assert golden("plain_headings.md")["add-store"].overview == "Store todos on disk."

    def test_unknown_heading_section_kept(self, golden: Golden) -> None:
        """An unknown ``####`` section under a plain-heading task keeps its text."""
        assert golden("plain_headings.md")["2.1"].sections == {
            "Open questions": "Pagination or not?"}

    def test_repeated_titles_get_distinct_ids(self) -> None:
        """Two headings with the same title get ``add-store`` and ``add-store-2``."""
        plan = parse_plan("# P\n## Phase 1: A\n### Add store\n### Add store\n")
        assert ids(plan) == ["add-store", "add-store-2"]


class TestChecklists:
    """``checklist_phases.md`` and ``checklist_only.md``: ``- [ ]`` items are tasks."""

    def test_nested_boxes_are_key_activities(self, golden: Golden) -> None:
        """Nested checklist items, ticked or not, are the parent task's key activities."""
        assert golden("checklist_phases.md")["1.1"].key_activities == ("Run git init",
                                                                       "Write a README")

    def test_nested_box_in_a_checklist_only_plan(self, golden: Golden) -> None:
        """A nested box is a step of its parent in a plan with no phases too."""
        assert golden("checklist_only.md")["3"].key_activities == ("Find the number",)

    def test_bare_checklist_without_title(self) -> None:
        """A checklist with no heading at all is still a plan."""
        plan = parse_plan("- [ ] only\n- [ ] list\n")
        assert [(t.id, t.title, t.line) for t in plan] == [("1", "only", 1), ("2", "list", 2)]


class TestUnicode:
    """``unicode.md``: non-ASCII titles, phases, sections and commands."""

    def test_plan_title(self, golden: Golden) -> None:
        """A non-ASCII plan title is kept exactly."""
        assert golden("unicode.md").title == "Ünïcode plan ✓"

    def test_unicode_section_and_command(self, golden: Golden) -> None:
        """Unicode section names, bodies and command paths are kept exactly."""
        task = golden("unicode.md")["1.1"]
        assert task.sections == {"Remarques — 注意": "Rien à signaler."}
        assert task.commands == ("pytest tests/test_café.py",)

    def test_renders_as_text_and_html(self, golden: Golden) -> None:
        """Unicode titles appear in both renderings."""
        plan = golden("unicode.md")
        assert "添加 API 🚀" in str(plan)
        assert "添加 API 🚀" in plan._repr_html_()


class TestOddIds:
    """``odd_ids.md``: ids that look like paths or shell stay data; their slugs are safe."""

    @pytest.fixture
    def plan(self, golden: Golden) -> Plan:
        return golden("odd_ids.md")

    def test_slugs_are_safe(self, plan: Plan) -> None:
        """Every slug is lowercase ASCII, starts with a letter or digit and has no ``..``."""
        for task in plan:
            assert SAFE_SLUG.match(task.slug), task.slug
            assert ".." not in task.slug and "/" not in task.slug

    def test_slugs_are_unique(self, plan: Plan) -> None:
        """Ids that slug alike (``a;b``, ``a b``, ``A B``) still get different slugs."""
        slugs = field(plan, "slug")
        assert len(set(slugs)) == len(slugs)

    def test_plain_ids_keep_their_slug(self, golden: Golden) -> None:
        """An id that is already safe is its own slug."""
        assert field(golden("canonical.md"), "slug") == ["1.1", "1.2", "2.1", "2.2"]

    def test_slugs_unique_against_an_id_shaped_like_a_hashed_slug(self) -> None:
        """An id spelled like the hashed slug of two clashing ids does not share its slug."""
        plan = parse_plan("# S\n## Task a b: one\n## Task a;b: two\n## Task a-b-7dbde9: three\n")
        slugs = field(plan, "slug")
        assert len(set(slugs)) == len(slugs), slugs


class TestMarkdownDetails:
    """Smaller markdown behaviours not covered by a golden plan."""

    def test_code_fence_hides_headings_and_metadata(self) -> None:
        """A ``### Task`` heading or ``Depends on:`` inside a code fence is content, not structure."""
        plan = parse_plan("# P\n## Phase 1: A\n### Task 1.1: x\n\n**Technical implementation**\n\n"
                          "```text\nDepends on: 9\n### Task 9.9: fake\n```\n")  # fmt: skip
        assert ids(plan) == ["1.1"]
        assert plan["1.1"].depends_on == ()
        assert "### Task 9.9: fake" in plan["1.1"].technical_implementation

    def test_front_matter_title_wins(self) -> None:
        """A ``title`` in front matter overrides the level-1 heading."""
        plan = parse_plan("---\ntitle: From settings\n---\n# From heading\n## Task 1: x\n")
        assert plan.title == "From settings"

    def test_empty_front_matter_is_no_settings(self) -> None:
        """``---`` followed at once by ``---`` gives no settings and keeps line numbers."""
        plan = parse_plan("---\n---\n# P\n## Task 1: x\n")
        assert (plan.settings, plan.tasks[0].line) == ({}, 4)

    def test_bold_metadata_lines(self) -> None:
        """``**Depends on:** 1`` and ``- Priority: P0`` are metadata too."""
        plan = parse_plan("# P\n## Task 1: a\n## Task 2: b\n**Depends on:** 1\n- Priority: P0\n")
        assert (plan["2"].depends_on, plan["2"].priority) == (("1",), "critical")

    def test_checklist_inside_a_task_is_key_activities(self) -> None:
        """Checkbox bullets directly under a task heading are its steps."""
        plan = parse_plan("# P\n## Task 1: x\n\n- [ ] step one\n- [x] step two\n")
        assert plan["1"].key_activities == ("step one", "step two")

    def test_unknown_section_with_a_list_kept_verbatim(self) -> None:
        """An unknown section holding a list keeps the list exactly as written."""
        plan = parse_plan("# P\n## Task 1: x\n\n**Risks**\n- Locking\n- Disk full\n")
        assert plan["1"].sections == {"Risks": "- Locking\n- Disk full"}

    def test_bullet_starting_with_agents_in_a_section_is_content(self) -> None:
        """A key-activity bullet that begins 'Agents:' is an activity, not the agents line."""
        plan = parse_plan("# P\n## Task 1: x\n\n**Key activities**\n"
                          "- Agents: write the agent registry\n- Add tests\n")  # fmt: skip
        assert plan["1"].key_activities == ("Agents: write the agent registry", "Add tests")
        assert plan["1"].agents == ()


class TestPlanObject:
    """The Plan's container behaviour, DataFrame, repr, text and HTML."""

    @pytest.fixture
    def plan(self, golden: Golden) -> Plan:
        return golden("canonical.md")

    def test_len_iter_contains(self, plan: Plan) -> None:
        """A plan is a sized, iterable container of tasks keyed by id."""
        assert len(plan) == 4
        assert [t.id for t in plan] == ["1.1", "1.2", "2.1", "2.2"]
        assert "2.1" in plan and "9.9" not in plan

    def test_getitem_by_id(self, plan: Plan) -> None:
        """``plan[id]`` returns the task."""
        assert plan["2.1"].title == "Add the HTTP API"

    def test_getitem_unknown_suggests(self, plan: Plan) -> None:
        """An unknown id raises KeyError naming the closest id."""
        with pytest.raises(KeyError, match=r"no task '2\.3' in plan 'Todo service'; did you mean"):
            plan["2.3"]

    def test_wave_of(self, plan: Plan) -> None:
        """``wave_of`` gives the 1-based wave of a task."""
        assert [plan.wave_of(i) for i in ids(plan)] == [1, 2, 3, 4]

    def test_wave_of_unknown(self, plan: Plan) -> None:
        """``wave_of`` an unknown id raises KeyError."""
        with pytest.raises(KeyError):
            plan.wave_of("nope")

    def test_frame_columns(self, plan: Plan) -> None:
        """``to_frame`` has the documented columns in order."""
        assert list(plan.to_frame().columns) == FRAME_COLUMNS

    def test_frame_rows(self, plan: Plan) -> None:
        """One row per task with lists for depends_on/agents and counts for criteria."""
        rows = plan.to_frame().to_dict("records")
        assert rows[0] == {"id": "1.1", "title": "Add a SQLite store", "phase": "Storage", "wave": 1,
                           "depends_on": [], "priority": "high", "agents": ["claude", "codex"],
                           "done": False, "validation": 3, "commands": 1, "line": 16}  # fmt: skip
        assert [r["depends_on"] for r in rows] == [[], ["1.1"], ["1.1", "1.2"], ["2.1"]]

    def test_frame_priority_is_ordered_categorical(self, plan: Plan) -> None:
        """Priority sorts low < medium < high < critical."""
        priority = plan.to_frame()["priority"]
        assert list(priority.cat.categories) == ["low", "medium", "high", "critical"]
        assert priority.cat.ordered

    def test_repr(self, plan: Plan) -> None:
        """The repr states counts and the file name."""
        assert repr(plan) == "<Plan Todo service: 4 tasks in 2 phases, 4 waves from canonical.md>"

    def test_repr_without_path(self) -> None:
        """A plan parsed from text has no ``from`` part."""
        plan = parse_plan("# P\n## Phase 1: A\n### Task 1: a\n### Task 2: b\n")
        assert repr(plan) == "<Plan P: 2 tasks in 1 phase, 1 wave>"

    def test_repr_singular_task(self) -> None:
        """A one-task plan says '1 task'."""
        assert repr(parse_plan("# P\n## Task 1: a\n")) == "<Plan P: 1 task in 0 phases, 1 wave>"

    def test_str_is_a_text_table(self, plan: Plan) -> None:
        """``str`` is the summary and a fixed-width table of the first seven columns."""
        lines = str(plan).splitlines()
        assert lines[0] == "Todo service: 4 tasks in 2 phases, 4 waves"
        assert lines[1].split() == FRAME_COLUMNS[:7]
        assert lines[3].split() == ["1.1", "Add", "a", "SQLite", "store", "Storage", "1", "high",
                                    "claude,", "codex"]  # fmt: skip
        assert len(lines) == 2 + 1 + 4

    def test_html_is_a_table_with_caption(self, plan: Plan) -> None:
        """The HTML is a table captioned with the summary, one row per task."""
        html = plan._repr_html_()
        assert html.startswith("<table") and html.endswith("</table>")
        assert "Todo service: 4 tasks in 2 phases, 4 waves</caption>" in html
        assert html.count("<tr>") == 1 + 4
        assert "var(--jp-" in html

    def test_html_escapes_titles(self) -> None:
        """A ``<script>`` in a task or plan title is escaped, never emitted raw."""
        plan = parse_plan("# <b>Plan</b>\n## Task 1: <script>alert(1)</script> & more\n")
        html = plan._repr_html_()
        assert "<script>" not in html and "<b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
        assert "&lt;b&gt;Plan&lt;/b&gt;" in html

    def test_task_text_joins_everything(self, plan: Plan) -> None:
        """``Task.text`` holds title, sections and extra sections for classifiers."""
        text = plan["1.1"].text
        for part in ("Add a SQLite store", "Persist todos", "`todo/store.py`", "import sqlite3",
                     "Locking under concurrent writers."):  # fmt: skip
            assert part in text

    def test_plan_is_frozen(self, plan: Plan) -> None:
        """Plans and tasks cannot be changed after checking."""
        with pytest.raises(AttributeError):
            plan.title = "x"  # type: ignore[misc]
        with pytest.raises(AttributeError):
            plan.tasks[0].id = "x"  # type: ignore[misc]


class TestCriterion:
    """``Criterion.parse`` tells commands, test ids and prose apart."""

    @pytest.mark.parametrize(
        ("text", "kind"),
        [
            ("`pytest -q` passes", "command"),
            ("`ruff check .` is clean", "command"),
            ("`./scripts/check.sh` exits 0", "command"),
            ("`tests/a.py::test_b` passes", "test"),
            ("`tests/a.py::TestB::test_c` passes", "test"),
            ("`tests/a.py::test_b[param-1]` passes", "test"),
            ("`store.get()` returns None", "prose"),
            ("Works offline", "prose"),
        ],
    )
    def test_kind(self, text: str, kind: str) -> None:
        """Each criterion text gets the expected kind."""
        assert Criterion.parse(text).kind == kind

    def test_command_and_test_in_one_line(self) -> None:
        """A line with both keeps both; a command makes it a command."""
        c = Criterion.parse("`make test` and `tests/x.py::test_y` pass")
        assert (c.commands, c.tests, c.kind) == (("make test",), ("tests/x.py::test_y",), "command")

    def test_text_is_stripped(self) -> None:
        """Surrounding whitespace is dropped from the text."""
        assert Criterion.parse("  prose  ").text == "prose"


class TestFieldHelpers:
    """The helpers every format uses for priorities, dependency lists and agent lists."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("High", "high"), (" low ", "low"), ("P0", "critical"), ("p2", "medium"),
         ("urgent", "critical"), ("normal", "medium"), ("blocker", "critical")],
    )  # fmt: skip
    def test_priority_aliases(self, value: str, expected: str) -> None:
        """Common spellings map to the four priorities."""
        assert normalize_priority(value) == expected

    def test_bad_priority(self) -> None:
        """An unknown priority is a ValueError listing the choices."""
        with pytest.raises(ValueError, match=r"not one of low, medium, high, critical"):
            normalize_priority("soonish")

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("none", ()), ("None.", ()), ("-", ()), ("1.2, 2.1", ("1.2", "2.1")),
         ("Task 1.2 and 3", ("1.2", "3")), ("`1`, **2**", ("1", "2")), ("1, 1", ("1",)),
         ("a b, c;d", ("a b", "c;d")), ("#4 & #5", ("4", "5"))],
    )  # fmt: skip
    def test_split_ids(self, value: str, expected: tuple[str, ...]) -> None:
        """Depends-on values split on commas, 'and' and '&', dropping Task/# prefixes."""
        assert split_ids(value) == expected

    def test_split_names(self) -> None:
        """Agent lists split on commas or spaces, lowercased and de-duplicated."""
        assert split_names("Claude, codex  `aider` claude") == ("claude", "codex", "aider")


def generate(n_tasks: int, chain: int) -> str:
    """``n_tasks`` tasks in phases of 100; the first ``chain`` tasks each depend on the last."""
    out = ["# Big plan", ""]
    for i in range(n_tasks):
        phase, k = divmod(i, 100)
        if k == 0:
            out += [f"## Phase {phase + 1}: Part {phase + 1}", ""]
        out += [f"### Task {phase + 1}.{k + 1}: Do thing {i}", ""]
        if 0 < i < chain:
            prev_phase, prev_k = divmod(i - 1, 100)
            out += [f"Depends on: {prev_phase + 1}.{prev_k + 1}", ""]
        out += ["**Validation criteria**", f"- `pytest tests/test_{i}.py` passes", ""]
    return "\n".join(out)


@pytest.fixture(scope="module")
def big() -> tuple[str, Plan]:
    """A 5,000-task plan whose first 1,000 tasks form a chain, with its text."""
    text = generate(5000, 1000)
    return text, parse_plan(text)


class TestLargePlans:
    """Thousands of tasks parse quickly and without recursion."""

    def test_five_thousand_tasks(self, big: tuple[str, Plan]) -> None:
        """5,000 tasks with a 1,000-long chain give 5,000 tasks, 50 phases and 1,000 waves."""
        plan = big[1]
        assert (len(plan), len(plan.phases), len(plan.waves())) == (5000, 50, 1000)
        assert len(plan.waves()[0]) == 1 + 4000

    def test_five_thousand_tasks_lines(self, big: tuple[str, Plan]) -> None:
        """Line numbers stay exact at the end of a 5,000-task plan."""
        text, plan = big
        assert text.split("\n")[plan.tasks[-1].line - 1] == "### Task 50.100: Do thing 4999"

    def test_five_thousand_tasks_frame(self, big: tuple[str, Plan]) -> None:
        """The frame of a 5,000-task plan has a row per task and the chain's waves."""
        frame = big[1].to_frame()
        assert len(frame) == 5000
        assert frame["wave"].max() == 1000

    def test_big_html_is_capped(self, big: tuple[str, Plan]) -> None:
        """The HTML of a huge plan draws a bounded number of rows and says how many are left."""
        html = big[1]._repr_html_()
        assert html.count("<tr>") == 1 + 200 + 1
        assert "4800 more rows" in html

    def test_deep_chain_has_no_recursion_limit(self) -> None:
        """A 3,000-task dependency chain is 3,000 waves, well past Python's recursion limit."""
        plan = parse_plan(generate(3000, 3000))
        assert len(plan.waves()) == 3000
        assert plan.wave_of("30.100") == 3000

    def test_long_cycle_is_reported(self) -> None:
        """A cycle through 3,000 tasks is a PlanError, not a RecursionError."""
        text = "# C\n" + "".join(f"## Task {i}: t\nDepends on: {(i + 1) % 3000}\n" for i in range(3000))
        with pytest.raises(PlanError, match=r"^<plan>:3: dependency cycle of 3000 tasks: 0 → 1 → 2 → .* → 2999 → 0 — "):
            parse_plan(text)
