"""Tests for reading plans other tools wrote: spec-kit, Kiro, Taskmaster and hand-written plans."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

import nborch
from nborch import PlanError, load_plan, parse_plan
from nborch.plan.formats import detect_format
from nborch.plan.load import FORMATS

DATA = Path(__file__).parents[1] / "data"
FORMATS_DIR = DATA / "formats"
SPECKIT = FORMATS_DIR / "speckit"
KIRO = FORMATS_DIR / "kiro"
KIRO_SPEC = KIRO / ".kiro" / "specs" / "bookmarks" / "tasks.md"
TASKMASTER = FORMATS_DIR / "taskmaster"
HAND = FORMATS_DIR / "handwritten"
BAD = FORMATS_DIR / "bad"
DEMO_PLAN = Path(nborch.__file__).parent / "demo" / "plan.md"


def _waves(plan: nborch.Plan) -> list[list[str]]:
    return [[t.id for t in wave] for wave in plan.waves()]


# Every fixture and the format it must be detected as.
FIXTURES = [
    (SPECKIT / "photo-albums.md", "speckit"),
    (SPECKIT / "classic-3x.md", "speckit"),
    (SPECKIT / "dotted-and-nested.md", "speckit"),
    (KIRO_SPEC, "kiro"),
    (KIRO / "flat" / "tasks.md", "kiro"),
    (KIRO / "classic" / "tasks.md", "kiro"),
    (TASKMASTER / "tagged.json", "taskmaster"),
    (TASKMASTER / "legacy.json", "taskmaster"),
    (HAND / "phased" / "IMPLEMENTATION_PLAN.md", "handwritten"),
    (HAND / "nested" / "PLAN.md", "handwritten"),
    (HAND / "todo" / "TODO.md", "handwritten"),
]
NATIVE = [*sorted((DATA / "plans").glob("*.md")), *sorted((DATA / "bad").glob("*.md")), DEMO_PLAN]


class TestDetect:
    @pytest.mark.parametrize(("path", "fmt"), FIXTURES, ids=lambda v: getattr(v, "name", v))
    def test_every_fixture_is_detected(self, path: Path, fmt: str) -> None:
        """Each fixture is detected as the format it is written in, and loads as that format."""
        assert detect_format(path.read_text(encoding="utf-8"), path) == fmt
        assert load_plan(path).format == fmt

    @pytest.mark.parametrize("path", NATIVE, ids=lambda p: f"{p.parent.name}/{p.name}")
    def test_nborch_markdown_stays_markdown(self, path: Path) -> None:
        """Golden plans, bad plans and the demo plan in nborch's own markdown are detected as markdown."""
        assert detect_format(path.read_text(encoding="utf-8", errors="replace"), path) == "markdown"

    @pytest.mark.parametrize(
        ("name", "fmt"),
        [("p.yaml", "yaml"), ("p.YML", "yaml"), ("p.toml", "toml"), ("tasks.json", "taskmaster")],
    )
    def test_suffix_decides_for_data_files(self, name: str, fmt: str) -> None:
        """YAML, TOML and JSON are told by suffix alone, whatever the content."""
        assert detect_format("- [ ] T001 Create the project\n", name) == fmt

    def test_json_text_without_a_source_is_taskmaster(self) -> None:
        """Text that starts with ``{`` and names no file is read as a Taskmaster tasks.json."""
        text = (TASKMASTER / "legacy.json").read_text(encoding="utf-8")
        assert parse_plan(text).format == "taskmaster"

    def test_content_decides_without_a_file_name(self) -> None:
        """Without a file name, spec-kit ids and Kiro marks are enough to tell the format."""
        assert parse_plan("- [ ] T001 Create the project\n").format == "speckit"
        kiro = "# Implementation Plan\n\n- [ ] 1. Set up\n  - _Requirements: 1.1_\n"
        assert parse_plan(kiro).format == "kiro"

    def test_kiro_folder_decides_for_numbered_checklists(self, tmp_path: Path) -> None:
        """A numbered checklist under ``.kiro/`` is Kiro even without any Kiro mark."""
        path = tmp_path / ".kiro" / "specs" / "x" / "tasks.md"
        path.parent.mkdir(parents=True)
        path.write_text("# Implementation Plan\n\n- [ ] 1. Set up\n- [ ] 2. Build\n", encoding="utf-8")
        assert load_plan(path).format == "kiro"

    def test_numbered_checklist_elsewhere_stays_markdown(self) -> None:
        """A numbered checklist with no Kiro mark, outside ``.kiro/``, is nborch markdown."""
        assert parse_plan("# P\n\n- [ ] 1. Set up\n- [ ] 2. Build\n", source="p.md").format == "markdown"

    @pytest.mark.parametrize("name", ["PLAN.md", "plan.md", "IMPLEMENTATION_PLAN.md", "TODO.md"])
    def test_hand_written_names(self, name: str) -> None:
        """A checklist in a file named like a hand-written plan is read as one."""
        assert parse_plan("# P\n\n- [ ] Set up\n", source=name).format == "handwritten"

    def test_hand_written_name_with_nborch_task_headings_is_markdown(self) -> None:
        """A PLAN.md with nborch task headings is nborch markdown whatever its name."""
        text = "# P\n\n## Task 1: Set up\n\n- [ ] write the README\n"
        assert parse_plan(text, source="PLAN.md").format == "markdown"

    @pytest.mark.parametrize(
        "text",
        [
            "# P\n## Phase 1: Setup (Week 1)\n- [ ] Set up\n",
            "# P\n## Phase 1: A\n- [ ] Set up\n## Phase 1: B\n- [ ] Build\n",
            "# P\n## Phase 1: A\n### Tasks\n- [ ] Set up\n### Exit criteria\n- [ ] CI green\n",
            "# P\n## Phase 1: A\n- [ ] Set up\n\n**Deliverables:**\n- [ ] a repo\n",
        ],
        ids=["parenthesised", "repeated-number", "section-headings", "bold-marker"],
    )
    def test_hand_written_signs_in_content(self, text: str) -> None:
        """Content with a hand-written sign is read as a hand-written plan under any name."""
        assert parse_plan(text, source="notes.md").format == "handwritten"

    def test_depends_on_lines_keep_a_checklist_native(self) -> None:
        """``Depends on:`` lines are nborch's own: such a checklist plan stays markdown."""
        text = "# P\n## Phase 1: Setup (Week 1)\n- [ ] Set up\n- [ ] Build\n  Depends on: 1.1\n"
        assert parse_plan(text, source="notes.md").format == "markdown"

    def test_task_headings_inside_phases_keep_markdown(self) -> None:
        """A phase with ``### Title`` task headings and a ``#### Deliverables`` is nborch's shape."""
        text = "# P\n## Phase 1: Core\n### Add store\n- [ ] write it\n#### Deliverables\n- a file\n"
        assert parse_plan(text, source="notes.md").format == "markdown"

    @pytest.mark.parametrize("fmt", ["speckit", "kiro", "handwritten", "markdown"])
    def test_format_argument_overrides_detection(self, fmt: str) -> None:
        """``format=`` skips detection."""
        text = "# P\n\n## Phase 1: Setup\n\n- [ ] T001 Create the project\n"
        assert parse_plan(text, format=fmt).format == fmt


class TestSpeckit:
    @pytest.fixture
    def plan(self) -> nborch.Plan:
        return load_plan(SPECKIT / "photo-albums.md")

    def test_ids_titles_and_lines(self, plan: nborch.Plan) -> None:
        """Tasks keep their T ids, their text without tags, and their line."""
        task = plan["T012"]
        assert task.title == "Implement AlbumService in src/services/album_service.py (depends on T010, T011)"
        assert task.line == 64
        assert [t.id for t in plan] == [f"T{n:03d}" for n in range(1, 21)]

    def test_done_marks(self, plan: nborch.Plan) -> None:
        """``[x]`` and ``[X]`` are done; ``[ ]`` is not."""
        assert [t.id for t in plan if t.done] == ["T001", "T002"]

    def test_parallel_story_and_section_are_kept(self, plan: nborch.Plan) -> None:
        """``[P]``, ``[US1]`` and the ``###`` heading a task stands under become sections."""
        sections = plan["T008"].sections
        assert sections["User story"] == "US1"
        assert "[P]" in sections["Parallel"]
        assert sections["Section"] == "Tests for User Story 1"
        assert "Parallel" not in plan["T012"].sections

    def test_phases_including_final_phase(self, plan: nborch.Plan) -> None:
        """``## Phase N: Name`` and ``## Final Phase: Name`` are phases, in order."""
        assert [(p.number, p.title) for p in plan.phases] == [
            ("1", "Setup (Shared Infrastructure)"),
            ("2", "Foundational (Blocking Prerequisites)"),
            ("3", "User Story 1 - Create an album (Priority: P1) 🎯 MVP"),
            ("4", "User Story 2 - Share an album (Priority: P2)"),
            (None, "Polish & Cross-Cutting Concerns"),
        ]
        assert plan.phases[4].task_ids == ("T018", "T019", "T020")
        assert "**Purpose**: Improvements" in plan.phases[4].description

    def test_story_priority_becomes_task_priority(self, plan: nborch.Plan) -> None:
        """``(Priority: P1)`` in a phase heading gives its tasks priority high; P2 medium."""
        assert plan["T010"].priority == "high"
        assert plan["T016"].priority == "medium"

    def test_other_sections_hold_no_tasks(self, plan: nborch.Plan) -> None:
        """Format, Path Conventions, Dependencies, Parallel Example, Strategy and Notes are plan sections."""
        assert [name for name, _ in plan.sections] == [
            "Format: `[ID] [P?] [Story] Description`", "Path Conventions",
            "Dependencies & Execution Order", "Parallel Example: User Story 1",
            "Implementation Strategy", "Notes",
        ]  # fmt: skip
        assert 'Task: "Contract test for POST /albums' in dict(plan.sections)["Parallel Example: User Story 1"]

    def test_fenced_checkbox_is_not_a_task(self, plan: nborch.Plan) -> None:
        """A ``- [ ] T999`` line inside a code fence is not a task."""
        assert "T999" not in plan

    def test_front_matter_title_and_overview(self, plan: nborch.Plan) -> None:
        """Front matter becomes settings; the ``# Tasks:`` heading the title; the intro the overview."""
        assert plan.settings == {"description": "Task list for the photo albums feature",
                                 "test_command": "pytest -q"}  # fmt: skip
        assert plan.title == "Tasks: Photo albums"
        assert plan.overview.startswith("**Input**: Design documents")

    def test_unmarked_tasks_run_in_order_and_p_runs_together(self, plan: nborch.Plan) -> None:
        """Phases run in order; tasks without [P] in file order; a run of [P] tasks together."""
        assert _waves(plan) == [
            ["T001"], ["T002"], ["T003", "T004"], ["T005"], ["T006", "T007"], ["T008", "T009"],
            ["T010", "T011"], ["T012"], ["T013"], ["T014"], ["T015"], ["T016"], ["T017"],
            ["T018", "T019"], ["T020"],
        ]  # fmt: skip

    def test_dependencies_link_neighbouring_groups_only(self, plan: nborch.Plan) -> None:
        """Each group depends on the group before it, not on everything earlier."""
        assert plan["T005"].depends_on == ("T003", "T004")
        assert plan["T008"].depends_on == ("T006", "T007")

    def test_subsection_heading_ends_a_parallel_run(self, plan: nborch.Plan) -> None:
        """[P] tests under one ``###`` heading run before the [P] models under the next one."""
        assert plan["T010"].depends_on == ("T008", "T009")

    def test_prompt_source_names_file_and_line(self, plan: nborch.Plan) -> None:
        """Each task says which file and line it came from."""
        assert plan["T012"].sections["Source"] == "line 64, spec-kit task T012"

    def test_classic_phase_numbers_and_gates(self) -> None:
        """``## Phase 3.1`` headings are phases; checklist gates without T ids are not tasks."""
        plan = load_plan(SPECKIT / "classic-3x.md")
        assert [p.number for p in plan.phases] == ["3.1", "3.2", "3.3", "3.4"]
        assert len(plan) == 14
        assert "All contracts have corresponding tests" in dict(plan.sections)["Validation Checklist"]
        assert "T900" not in plan

    def test_dotted_id_before_its_base_is_a_task_where_it_stands(self) -> None:
        """``T003.1`` written before ``T003`` is a task of its own, ordered by its place."""
        plan = load_plan(SPECKIT / "dotted-and-nested.md")
        assert [t.id for t in plan][:5] == ["T001", "T002", "T003.1", "T003", "T004"]
        assert plan["T004"].depends_on == ("T003.1", "T003")

    def test_explicit_dependencies_in_task_lines(self) -> None:
        """``(after T003 and T004)`` and ``, depends on T005`` inside a line are dependencies."""
        plan = load_plan(SPECKIT / "dotted-and-nested.md")
        assert set(plan["T005"].depends_on) == {"T003", "T004"}
        assert "T005" in plan["T007"].depends_on
        assert plan["T007"].depends_line == plan["T007"].line

    def test_dependency_range_and_section_lines(self) -> None:
        """``T010 depends on T007–T009`` in a Dependencies section adds the ids of the range that exist."""
        text = ("# Tasks: X\n\n## Phase 1: A\n\n- [ ] T007 [P] a\n- [ ] T009 [P] b\n- [ ] T010 [P] c\n\n"
                "## Dependencies\n\n- T010 depends on T007–T009\n")  # fmt: skip
        plan = parse_plan(text)
        assert plan["T010"].depends_on == ("T007", "T009")
        assert plan["T010"].depends_line == 11
        assert _waves(plan) == [["T007", "T009"], ["T010"]]

    def test_nested_items_are_subtasks_and_details(self) -> None:
        """Indented checkboxes are sub-tasks (key activities); other indented lines are details."""
        task = load_plan(SPECKIT / "dotted-and-nested.md")["T004"]
        assert task.key_activities == (
            "T004.1 write the Lua script for atomic refill",
            "T004.2 benchmark the refill at 10k req/s (done)\n- must stay under 1 ms at p99",
        )
        assert task.technical_implementation == "- Buckets are keyed by API key and route"

    def test_other_bracket_tags_are_labels(self) -> None:
        """Bracket tags other than [P] and [USn] are kept as labels."""
        task = load_plan(SPECKIT / "dotted-and-nested.md")["T008"]
        assert (task.sections["User story"], task.sections["Labels"]) == ("US1", "Docs")

    def test_crlf_keeps_lines(self, tmp_path: Path) -> None:
        """A CRLF copy with a BOM gives the same tasks on the same lines."""
        source = SPECKIT / "photo-albums.md"
        path = tmp_path / "tasks.md"
        path.write_bytes(b"\xef\xbb\xbf" + source.read_bytes().replace(b"\n", b"\r\n"))
        lf, crlf = load_plan(source), load_plan(path)
        assert [(t.id, t.line, t.depends_on) for t in crlf] == [(t.id, t.line, t.depends_on) for t in lf]


class TestKiro:
    @pytest.fixture
    def plan(self) -> nborch.Plan:
        return load_plan(KIRO_SPEC)

    def test_top_level_tasks_keep_titles_with_phase_words(self, plan: nborch.Plan) -> None:
        """``- [ ] 1. Phase 1: Storage`` is task 1 titled ``Phase 1: Storage and models``; no phases."""
        assert [(t.id, t.title) for t in plan] == [
            ("1", "Phase 1: Storage and models"), ("2", "Phase 2: Sync engine"),
            ("3", "Checkpoint - Ensure all tests pass"), ("4", "Wire the sync engine to the HTTP API"),
        ]  # fmt: skip
        assert plan.phases == ()

    def test_subtasks_become_key_activities(self, plan: nborch.Plan) -> None:
        """Indented ``- [ ] 1.1`` items are key activities with their ids, done state and details."""
        assert plan["1"].key_activities[0] == (
            "1.1 Create the Bookmark model in `src/models/bookmark.ts` (done)\n"
            "- Fields: id, url, title, tags, createdAt\n- Normalise URLs before saving"
        )
        assert len(plan["2"].key_activities) == 3

    def test_requirements_are_validation_not_dependencies(self, plan: nborch.Plan) -> None:
        """``_Requirements: 1.1_`` and ``**Validates: …**`` lines are criteria and make no dependency."""
        texts = [v.text for v in plan["1"].validation]
        assert "Meets requirements 1.1, 1.2 (see requirements.md)" in texts
        assert "Validates: Requirements 1.2" in texts
        assert "Property 1: Normalisation is idempotent" in texts
        assert all(not t.depends_on for t in plan)
        assert plan["4"].sections["Requirements"] == "3.1"

    def test_status_marks(self, plan: nborch.Plan) -> None:
        """``[x]`` is done and ``[-]`` in progress (kept as a Status section, not done)."""
        assert plan["1"].done and not plan["2"].done
        assert plan["2"].sections["Status"] == "in progress"

    def test_details_keep_fenced_code(self, plan: nborch.Plan) -> None:
        """Detail bullets become the technical implementation; a fenced ``- [ ] 9.`` is code."""
        assert "router.post" in plan["4"].technical_implementation
        assert "9" not in plan

    def test_title_overview_and_sections(self, plan: nborch.Plan) -> None:
        """The heading is the title; Overview and Notes are plan sections."""
        assert plan.title == "Implementation Plan: Bookmark sync"
        assert [name for name, _ in plan.sections] == ["Overview", "Notes"]

    def test_optional_task_when_split(self) -> None:
        """``- [ ]*`` marks an optional task: an Optional section and priority low."""
        plan = load_plan(KIRO_SPEC, split_subtasks=True)
        assert plan["1.2"].sections["Optional"].startswith("yes")
        assert plan["1.2"].priority == "low"

    def test_parent_comes_from_the_id_not_the_indent(self) -> None:
        """Unindented ``- [ ] 1.1`` items belong to task 1; a sub-task after another task still finds its parent."""
        plan = load_plan(KIRO / "flat" / "tasks.md")
        assert [t.id for t in plan] == ["1", "2", "3.1"]
        assert [a.split("\n")[0] for a in plan["2"].key_activities] == ["2.1 Add keyboard support for editing"]

    def test_dotted_id_without_parent_is_its_own_task(self) -> None:
        """``3.1`` with no ``3.`` in the file stays a task with id ``3.1``."""
        assert load_plan(KIRO / "flat" / "tasks.md")["3.1"].title.startswith("Replace the old roast")

    def test_unnumbered_item_takes_the_next_free_number(self) -> None:
        """A top-level checklist item without an id gets the first number no task wrote."""
        text = "# Implementation Plan\n\n- [ ] 1. Set up\n  - _Requirements: 1.1_\n- [ ] Write docs\n"
        plan = parse_plan(text)
        assert [(t.id, t.title) for t in plan] == [("1", "Set up"), ("2", "Write docs")]

    def test_mixed_indentation(self) -> None:
        """Sub-tasks indented or not, and their details, attach to the parent named by their id."""
        plan = load_plan(KIRO / "classic" / "tasks.md")
        assert [a.split("\n")[0] for a in plan["2"].key_activities] == [
            "2.1 Create core data model interfaces and types",
            "2.2 Implement the User model with validation",
        ]
        assert plan["1"].technical_implementation.startswith("- Create directories")


class TestTaskmaster:
    @pytest.fixture
    def plan(self) -> nborch.Plan:
        return load_plan(TASKMASTER / "tagged.json")

    def test_tags_are_phases_and_other_tags_prefix_ids(self, plan: nborch.Plan) -> None:
        """``master`` keeps its ids; another tag's tasks are ``tag:id``; each tag is a phase."""
        assert [t.id for t in plan] == ["1", "2", "3", "4", "feature-export:1", "feature-export:2"]
        assert [(p.title, p.task_ids) for p in plan.phases] == [
            ("master", ("1", "2", "3", "4")),
            ("feature-export", ("feature-export:1", "feature-export:2")),
        ]
        assert plan["feature-export:2"].depends_on == ("feature-export:1",)

    def test_fields_map_to_task_fields(self, plan: nborch.Plan) -> None:
        """description → overview, details → technical implementation, testStrategy → validation."""
        task = plan["1"]
        assert task.overview.startswith("Create the repository layout")
        assert task.technical_implementation.startswith("Use Python 3.11 with FastAPI.\n")
        assert [v.text for v in task.validation] == ["`pytest -q` passes on a fresh clone",
                                                     "CI runs on every push"]  # fmt: skip
        assert task.commands == ("pytest -q",)
        assert task.priority == "high"

    def test_status(self, plan: nborch.Plan) -> None:
        """``done`` is done; other statuses but pending are kept in a Status section."""
        assert [t.id for t in plan if t.done] == ["1"]
        assert plan["2"].sections["Status"] == "in-progress"
        assert plan["4"].sections["Status"] == "deferred"
        assert "Status" not in plan["3"].sections

    def test_unknown_fields_are_kept(self, plan: nborch.Plan) -> None:
        """Fields nborch does not know (``complexity``) are kept as sections."""
        assert plan["3"].sections["complexity"] == "6"

    def test_subtasks_are_activities_with_full_ids(self, plan: nborch.Plan) -> None:
        """Sub-tasks become key activities ``2.1 …``, their sibling order noted."""
        assert plan["2"].key_activities[1].startswith("2.2 Add Alembic migrations (after 2.1)")
        assert "`alembic upgrade head` works on an empty database" in [v.text for v in plan["2"].validation]

    def test_dependency_on_a_subtask_becomes_one_on_its_task(self, plan: nborch.Plan) -> None:
        """``"3.1"`` in task 4's dependencies means task 3 when sub-tasks stay inside their task."""
        assert plan["4"].depends_on == ("2", "3")

    def test_lines_point_at_objects_and_keys(self, plan: nborch.Plan) -> None:
        """A task's line is its ``{``; its dependency line that of its ``dependencies`` key."""
        assert (plan["2"].line, plan["2"].depends_line) == (15, 22)

    def test_split_subtasks(self) -> None:
        """Split sub-tasks depend on their parent's predecessors and siblings; the parent on them."""
        plan = load_plan(TASKMASTER / "tagged.json", split_subtasks=True)
        assert plan["2.1"].depends_on == ("1",)
        assert plan["2.2"].depends_on == ("1", "2.1")
        assert plan["2"].depends_on == ("1", "2.1", "2.2")
        assert plan["3.1"].depends_on == ("2", "2.2")
        assert plan["2.1"].done and plan["2.1"].line == 25
        assert plan.phases[0].task_ids == ("1", "2", "2.1", "2.2", "3", "3.1", "3.2", "4")

    def test_legacy_shape(self) -> None:
        """``{"tasks": [...], "meta": {...}}`` reads the same, with no phases, titled by projectName."""
        plan = load_plan(TASKMASTER / "legacy.json")
        assert (plan.title, plan.phases, len(plan)) == ("Weather CLI", (), 3)
        assert _waves(plan) == [["1"], ["2"], ["3"]]
        assert dict(plan.sections)["Metadata"].startswith("{")

    def test_int_subtask_dependency_names_a_sibling(self) -> None:
        """An int in a sub-task's dependencies is a sibling: ``[1, 2]`` in task 2 is ``2.1, 2.2``."""
        plan = load_plan(TASKMASTER / "legacy.json", split_subtasks=True)
        assert plan["2.3"].depends_on == ("1", "2.1", "2.2")

    def test_subtask_ids_written_in_full_and_int_dependency_on_a_task(self) -> None:
        """A sub-task id ``"2.2"`` is read as sub-task 2; an int naming no sibling names a task."""
        data = {"tasks": [{"id": 1, "title": "A"}, {"id": 2, "title": "B", "subtasks": [
            {"id": "2.2", "title": "B2", "dependencies": [1]}]}]}  # fmt: skip
        plan = parse_plan(json.dumps(data), source="tasks.json", split_subtasks=True)
        assert [t.id for t in plan] == ["1", "2", "2.2"]
        assert plan["2.2"].depends_on == ("1",)

    def test_title_from_the_project_folder(self, tmp_path: Path) -> None:
        """Without a projectName, ``proj/.taskmaster/tasks/tasks.json`` is titled ``proj``."""
        path = tmp_path / "proj" / ".taskmaster" / "tasks" / "tasks.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"master": {"tasks": [{"id": 1, "title": "Go"}]}}), encoding="utf-8")
        assert load_plan(path).title == "proj"


class TestHandwritten:
    @pytest.fixture
    def plan(self) -> nborch.Plan:
        return load_plan(HAND / "phased" / "IMPLEMENTATION_PLAN.md")

    def test_positional_and_written_ids(self, plan: nborch.Plan) -> None:
        """Items take the id they write or their position; a repeated phase number counts on."""
        assert [t.id for t in plan] == ["1.1", "1.2", "1.5", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2"]
        assert plan["3.1"].title == "Migrate the 2024 invoices"

    def test_phases_with_repeated_numbers_and_parentheses(self, plan: nborch.Plan) -> None:
        """``## Phase 2: … (Week 4)`` after another Phase 2 is a phase of its own."""
        assert [(p.number, p.title) for p in plan.phases] == [
            ("1", "Foundations (Week 1)"), ("2", "Core invoicing (Weeks 2–3)"),
            ("2", "Core invoicing, continued (Week 4)"), ("3", "Launch"),
        ]  # fmt: skip

    def test_deliverables_and_exit_criteria_are_not_tasks(self, plan: nborch.Plan) -> None:
        """Checklists under Deliverables and Exit Criteria stay in the phase description."""
        assert "A green CI run on main" not in {t.title for t in plan}
        assert "`make ci` passes on a fresh clone" in plan.phases[0].description
        assert "Invoices can be created" in plan.phases[1].description

    def test_nested_checkboxes_and_bullets(self, plan: nborch.Plan) -> None:
        """Nested ``- [ ]`` are sub-tasks; plain bullets are the technical implementation."""
        task = plan["1.1"]
        assert task.key_activities == ("1.1.1 add a licence (done)", "1.1.2 add a README with setup steps (done)")
        assert task.technical_implementation == "- use `uv` for the environment"
        assert task.done

    def test_phases_run_in_order(self, plan: nborch.Plan) -> None:
        """Every task of a phase waits for every task of the phase before it."""
        assert _waves(plan) == [["1.1", "1.2", "1.5"], ["2.1", "2.2"], ["2.3", "2.4"], ["3.1", "3.2"]]

    def test_plan_sections_and_fenced_examples(self, plan: nborch.Plan) -> None:
        """Overview and Risks are plan sections; a fenced checkbox is not a task."""
        assert [name for name, _ in plan.sections] == ["Overview", "Risks"]
        assert len(plan) == 9

    def test_in_progress_mark(self, plan: nborch.Plan) -> None:
        """``[-]`` keeps the task not done, with a Status section."""
        assert plan["2.4"].sections["Status"] == "in progress"

    def test_level3_phases_and_bold_markers(self) -> None:
        """Phases under a ``##`` heading, ``####`` exit criteria and bold acceptance criteria."""
        plan = load_plan(HAND / "nested" / "PLAN.md")
        assert [t.id for t in plan] == ["1.1", "1.2", "2.1", "2.2"]
        assert [p.title for p in plan.phases] == ["Index (2 days)", "Query API"]
        assert plan["2.1"].title == "Add the `/search` endpoint"
        assert "p95 latency" in plan.phases[1].description
        assert dict(plan.sections) == {"Open questions": "- Do we need typo tolerance?"}

    def test_todo_without_phases(self) -> None:
        """A TODO list without phases numbers its items 1, 2, …; nothing depends on anything."""
        plan = load_plan(HAND / "todo" / "TODO.md")
        assert [(t.id, t.title) for t in plan][-1] == ("4", "3 small README fixes")
        assert _waves(plan) == [["1", "2", "3", "4"]]
        assert plan["1"].key_activities == ("1.1 reproduce with `pytest -x --count 50`", "1.2 find the race")


    def test_depends_on_lines_under_a_task(self) -> None:
        """A ``Depends on:`` line under a task adds dependencies, noted at its line."""
        text = "# P\n\n- [ ] Set up\n- [ ] Build\n  Depends on: 1\n- [ ] Ship\n"
        plan = parse_plan(text, source="TODO.md")
        assert (plan["2"].depends_on, plan["2"].depends_line) == (("1",), 5)
        assert plan["2"].technical_implementation == ""


class TestSplitSubtasks:
    def test_split_makes_subtasks_tasks_before_their_parent(self) -> None:
        """With ``split_subtasks`` each sub-task is a task; the parent waits for them."""
        plan = load_plan(HAND / "phased" / "IMPLEMENTATION_PLAN.md", split_subtasks=True)
        assert plan["2.1.1"].depends_on == ("1.1", "1.2", "1.5")
        assert plan["2.1"].depends_on == ("1.1", "1.2", "1.5", "2.1.1", "2.1.2")
        assert plan["2.1"].key_activities == ()
        assert "run as tasks of their own" in plan["2.1"].overview

    def test_split_subtask_names_its_parent_in_its_source(self) -> None:
        """A split sub-task says which line it came from and which task it belonged to."""
        plan = load_plan(KIRO_SPEC, split_subtasks=True)
        assert plan["2.2"].sections["Source"] == "line 27, Kiro task 2.2, a sub-task of 2"

    def test_split_is_ignored_by_nborch_formats(self) -> None:
        """nborch's own markdown reads the same with or without ``split_subtasks``."""
        path = DATA / "plans" / "checklist_phases.md"
        assert load_plan(path, split_subtasks=True).tasks == load_plan(path).tasks

    def test_successors_wait_for_split_subtasks(self) -> None:
        """A task that depended on a parent waits, through it, for the parent's sub-tasks."""
        plan = load_plan(SPECKIT / "dotted-and-nested.md", split_subtasks=True)
        waves = _waves(plan)
        at = {tid: n for n, wave in enumerate(waves) for tid in wave}
        assert at["T004.1"] < at["T004"] < at["T005"]


def _case(name: str, line: int, *words: str) -> object:
    return pytest.param(name, line, words, id=name)


# One row per bad plan: file, the line the error must name, words the message must hold.
BAD_PLANS = [
    _case("speckit_forward_dependency.md", 6, "'T002' depends on 'T003', which runs after it",
          "move T002 below T003"),
    _case("speckit_unknown_dependency.md", 7, "'T0002', which is not a task", "did you mean 'T002'?"),
    _case("speckit_no_description.md", 6, "spec-kit task 'T002' has no description"),
    _case("speckit_duplicate_id.md", 10, "duplicate task id 'T002'", "first used on line 6"),
    _case("speckit_unknown_subject.md", 10, "no task 'T020'", "did you mean 'T002'?"),
    _case("kiro_duplicate_id.md", 9, "duplicate task id '2'", "first used on line 6"),
    _case("kiro_no_title.md", 6, "Kiro task '2' has no title", "'- [ ] 2. Add the store'"),
    _case("taskmaster_invalid.json", 4, "invalid JSON", "fix the JSON syntax"),
    _case("taskmaster_missing_title.json", 5, "a task has no title", "'title'"),
    _case("taskmaster_unknown_dependency.json", 8, "task '2' depends on '7'", "not a task"),
    _case("taskmaster_bad_priority.json", 6, "priority 'whenever'", "high, medium or low"),
    _case("taskmaster_not_tasks.json", 1, "not a Taskmaster tasks.json", '{"tasks": [...]}'),
    _case("taskmaster_dependencies_not_list.json", 6, "'dependencies' of task '1'", "[1, 2]"),
    _case("taskmaster_cycle.json", 3, "dependency cycle: 1 → 2 → 1"),
    _case("taskmaster_no_tasks.json", 6, "no tasks found", "'tasks' list"),
    _case("handwritten_unknown_dependency.md", 6, "task '1.2' depends on '9.9'"),
    _case("handwritten_no_tasks.md", 11, "no tasks found", "'- [ ] Title'"),
    _case("handwritten_no_title.md", 6, "checklist task has no title"),
    _case("handwritten_later_phase.md", 6, "'1.2' depends on '2.1', which is in a later phase",
          "phases run in order"),
]


class TestBadPlans:
    @pytest.mark.parametrize(("name", "line", "words"), BAD_PLANS)
    def test_bad_plan_is_refused_naming_file_line_problem_and_fix(
        self, name: str, line: int, words: tuple[str, ...]
    ) -> None:
        """Every bad plan raises PlanError as 'path:line: problem — fix' with the expected words."""
        path = BAD / name
        with pytest.raises(PlanError) as info:
            load_plan(path)
        message = str(info.value)
        assert re.fullmatch(rf"{re.escape(str(path))}:\d+: .+ — .+", message), message
        assert not [w for w in words if w not in message], message
        assert info.value.line == line, message

    def test_table_covers_every_bad_plan_file(self) -> None:
        """Every file in tests/data/formats/bad has a row in the table, and every row a file."""
        assert {p.name for p in BAD.iterdir()} == {p.values[0] for p in BAD_PLANS}

    def test_forced_format_with_no_tasks(self) -> None:
        """Forcing spec-kit on a plan without T ids says how a spec-kit task looks."""
        with pytest.raises(PlanError, match=r"^<plan>:3: no tasks found — add spec-kit tasks such as "):
            parse_plan("# Tasks\n\n- [ ] a gate, not a task\n", format="speckit")

    def test_empty_json_file(self, tmp_path: Path) -> None:
        """An empty tasks.json is an empty plan, with a Taskmaster example as the fix."""
        path = tmp_path / "tasks.json"
        path.write_text("\n", encoding="utf-8")
        with pytest.raises(PlanError, match=r"the plan is empty — write Taskmaster's"):
            load_plan(path)


class TestLoader:
    def test_formats_are_listed(self) -> None:
        """FORMATS names nborch's formats first, then the four read from other tools."""
        assert FORMATS == ("markdown", "yaml", "toml", "speckit", "kiro", "taskmaster", "handwritten")

    def test_unknown_format_names_all_formats(self) -> None:
        """An unknown ``format=`` lists every format there is."""
        with pytest.raises(PlanError, match="use one of markdown, yaml, toml, speckit, kiro, taskmaster, handwritten"):
            parse_plan("# P\n", format="json")

    def test_parse_plan_splits_too(self) -> None:
        """``parse_plan`` takes ``split_subtasks`` like ``load_plan``."""
        text = (TASKMASTER / "legacy.json").read_text(encoding="utf-8")
        assert len(parse_plan(text, source="tasks.json", split_subtasks=True)) == 6

    def test_cli_parse_json_has_format_and_done(self) -> None:
        """``nborch parse tasks.json --json`` reports the format and every task's done state."""
        from click.testing import CliRunner

        from nborch.cli.main import main

        result = CliRunner().invoke(main, ["parse", str(TASKMASTER / "legacy.json"), "--json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["format"] == "taskmaster"
        assert [t["done"] for t in doc["tasks"]] == [True, False, False]


def _long_speckit(n: int = 2000, per_phase: int = 50) -> str:
    lines = ["# Tasks: Long", ""]
    k = 0
    for p in range(1, n // per_phase + 1):
        lines += [f"## Phase {p}: Part {p}", "", "### Tests", ""]
        for j in range(per_phase):
            k += 1
            if j == per_phase // 2:
                lines += ["", "### Implementation", ""]
            par = "[P] " if k % 5 else ""
            lines.append(f"- [{'x' if k % 7 == 0 else ' '}] T{k:04d} {par}[US{p}] Build part {k} in src/m{k}.py")
        lines.append("")
    return "\n".join(lines)


class TestLongPlans:
    def test_two_thousand_speckit_tasks_parse_fast(self) -> None:
        """A 2,000-task spec-kit file parses in well under 2 s."""
        text = _long_speckit()
        start = time.perf_counter()
        plan = parse_plan(text, source="tasks.md")
        elapsed = time.perf_counter() - start
        assert len(plan) == 2000
        assert elapsed < 1.0, f"{elapsed:.2f}s"

    def test_waves_respect_phase_order(self) -> None:
        """Every task of phase N runs in a later wave than every task of phase N-1."""
        plan = parse_plan(_long_speckit(400, 40), source="tasks.md")
        at = {t.id: n for n, wave in enumerate(plan.waves()) for t in wave}
        for before, after in zip(plan.phases, plan.phases[1:], strict=False):
            assert max(at[i] for i in before.task_ids) < min(at[i] for i in after.task_ids)
        assert sum(len(t.depends_on) for t in plan) < 3 * len(plan)


class TestDocs:
    def test_doctests_pass(self) -> None:
        """The examples in the docstrings of the format modules and the loader run."""
        import doctest
        import importlib

        for name in ("nborch.plan.load", "nborch.plan.formats.detect"):
            module = importlib.import_module(name)
            assert doctest.testmod(module).failed == 0, name

    def test_every_format_module_documents_what_it_reads(self) -> None:
        """Each format module's docstring says what is read, so the README can point at it."""
        from nborch.plan.formats import handwritten, kiro, speckit, taskmaster

        for module in (speckit, kiro, taskmaster, handwritten):
            assert "What is read:" in (module.__doc__ or ""), module.__name__
