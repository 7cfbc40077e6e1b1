"""Prompts, agent instruction files and project context: rendered from real files in tmp_path."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import pytest

import nborch
from nborch import agents
from nborch.agents import AgentSpec
from nborch.demo import sample_plan_path
from nborch.errors import NborchError
from nborch.workspace import prompts
from nborch.workspace.prompts import (
    BEGIN,
    END,
    NATIVE_TEMPLATES,
    TEMPLATE_DIR,
    ProjectContext,
    PromptRenderer,
    merge_section,
    readme_summary,
    remove_agent_files,
    render_agent_files,
    render_prompt,
    strip_section,
    write_agent_files,
    write_prompt,
)

RICH_PLAN = """\
---
test_command: python -m pytest -q
project: {language: python, name: shop, coding_standards: [No global state]}
---
# Shop

The shop sells things.

## Phase 1: Core

### Task 1.1: Add the cart

Depends on: none

**Objectives**

- A cart that holds items.

**Deliverables**

- `shop/cart.py` with `Cart`.

### Task 1.2: Add checkout

Depends on: 1.1

Checkout turns a cart into an order.

**Objectives**

- Orders have a total.

**Key activities**

- Write `Checkout.run()`.

**Deliverables**

- `shop/checkout.py`.

**Validation criteria**

- `pytest tests/test_checkout.py` passes.
- `tests/test_checkout.py::test_total` passes.
- Totals are rounded to cents.

**Technical implementation**

Use `decimal.Decimal` for money.

**Notes**

Keep it small.
"""

SECTIONS = ("## Overview", "## Objectives", "## Key activities", "## Deliverables",
            "## Validation criteria", "## Technical implementation", "## Notes", "## Builds on",
            "## Worktree", "## Project context", "## About the plan", "## Rules",
            "## When you are done")  # fmt: skip


@pytest.fixture(autouse=True)
def clean_registry():
    """Every test starts and ends with only the built-in agents registered."""
    agents.reset()
    yield
    agents.reset()


@pytest.fixture
def rich_plan(tmp_path_factory: pytest.TempPathFactory) -> nborch.Plan:
    """A plan whose task 1.2 has every section, a dependency and all three kinds of criteria."""
    path = tmp_path_factory.mktemp("plan") / "plan.md"
    path.write_text(RICH_PLAN)
    return nborch.load_plan(path)


@pytest.fixture
def demo_plan() -> nborch.Plan:
    """The plan bundled with nborch for the demo."""
    return nborch.load_plan(sample_plan_path())


def empty_headings(text: str) -> list[str]:
    """Markdown headings with nothing under them before the next heading or the end."""
    lines = [line for line in text.splitlines() if line.strip()]
    return [line for line, after in zip(lines, [*lines[1:], "# end"], strict=True)
            if line.startswith("#") and after.startswith("#") and not line.startswith("# ")]  # fmt: skip


def prompt(task: nborch.Task, agent: str = "claude", **kwargs) -> str:
    """A prompt rendered with the package templates and an empty context unless given."""
    kwargs.setdefault("worktree", "/work/wt")
    kwargs.setdefault("context", ProjectContext())
    kwargs.setdefault("templates", PromptRenderer())
    return render_prompt(task, agent, **kwargs)


class TestTaskPrompt:
    def test_rich_task_has_every_section_and_its_checks(self, rich_plan):
        """A task with every section renders all of them, and the commands that will be run."""
        text = prompt(rich_plan["1.2"], plan=rich_plan,
                      context=ProjectContext.detect("/nonexistent", rich_plan))  # fmt: skip
        for heading in SECTIONS:
            assert f"\n{heading}\n" in text, heading
        assert "```sh\npytest tests/test_checkout.py\n" in text
        assert "python -m pytest -q tests/test_checkout.py::test_total\n" in text
        guidance = text.split("Also expected")[1].split("##")[0]
        assert "Totals are rounded to cents." in guidance
        assert "`/work/wt`" in text

    def test_sections_keep_the_plan_order(self, rich_plan):
        """Sections appear in the order of the original orchestrator's prompt."""
        text = prompt(rich_plan["1.2"], plan=rich_plan,
                      context=ProjectContext.detect("/nonexistent", rich_plan))  # fmt: skip
        positions = [text.index(f"\n{h}\n") for h in SECTIONS]
        assert positions == sorted(positions)

    def test_sparse_task_has_no_empty_headings(self, rich_plan):
        """A task with only a title renders without a heading that has nothing under it."""
        plan = nborch.parse_plan("# P\n## Task 1: Only a title\n")
        text = prompt(plan.tasks[0], plan=plan)
        assert empty_headings(text) == []
        for missing in ("## Objectives", "## Validation criteria", "## Builds on",
                        "## Project context", "## Overview"):  # fmt: skip
            assert missing not in text
        assert "\n\n\n" not in text

    def test_source_names_the_plan_file_and_line(self, rich_plan):
        """The prompt says where the task came from: the plan file and its line."""
        text = prompt(rich_plan["1.2"], plan=rich_plan)
        assert f"(from plan.md line {rich_plan['1.2'].line})" in text

    def test_dependencies_are_named_with_their_titles_and_deliverables(self, rich_plan):
        """A task that depends on another names it, its title and what it delivers."""
        text = prompt(rich_plan["1.2"], plan=rich_plan)
        builds_on = text.split("## Builds on")[1].split("\n## ")[0]
        assert "- Task 1.1: Add the cart\n  - `shop/cart.py` with `Cart`." in builds_on

    def test_project_context_shows_its_sources(self, rich_plan):
        """Language, test command and standards appear with where each came from."""
        ctx = ProjectContext.detect("/nonexistent", rich_plan)
        text = prompt(rich_plan["1.2"], plan=rich_plan, context=ctx)
        assert "- Language: python (plan.md setting project.language)" in text
        assert "- Tests: `python -m pytest -q` (plan.md setting test_command)" in text
        assert "- No global state (plan.md setting project.coding_standards)" in text

    def test_prompt_never_starts_with_a_dash(self, tmp_path, rich_plan):
        """Even a user template that starts with '-' gives a prompt no CLI reads as a flag."""
        override = tmp_path / ".nborch" / "templates"
        override.mkdir(parents=True)
        (override / "task.md.j2").write_text("--help me with {{ task.title }}\n")
        text = prompt(rich_plan["1.1"], templates=PromptRenderer(tmp_path))
        assert not text.startswith("-")
        assert "--help me with Add the cart" in text

    def test_plan_text_is_rendered_literally(self):
        """Ids and titles with HTML or jinja syntax are printed as written, never evaluated."""
        plan = nborch.parse_plan(
            "# P {{ 7 * 7 }}\n## Task {{x}}: <script>alert(1)</script> {% raw %} {{ 7*7 }}\n"
            "Depends on: none\n\n**Objectives**\n\n- {% for a in b %}x{% endfor %}\n"
        )
        task = plan.tasks[0]
        text = prompt(task, plan=plan)
        assert f"# Task {task.id}: <script>alert(1)</script> {{% raw %}} {{{{ 7*7 }}}}" in text
        assert "- {% for a in b %}x{% endfor %}" in text
        assert '"P {{ 7 * 7 }}"' in text
        assert "49" not in text

    def test_write_prompt_writes_the_rendered_text(self, tmp_path, rich_plan):
        """write_prompt puts exactly the rendered prompt in a UTF-8 file, creating folders."""
        target = tmp_path / "run" / "prompts" / "1.2-claude.md"
        kwargs = dict(plan=rich_plan, worktree=tmp_path, context=ProjectContext())
        assert write_prompt(target, rich_plan["1.2"], "claude", **kwargs) == target
        assert target.read_text("utf-8") == render_prompt(rich_plan["1.2"], "claude", **kwargs)

    def test_context_is_detected_from_the_worktree_by_default(self, tmp_path, rich_plan):
        """Without a context, the prompt reads the worktree's files and applies the plan."""
        (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 99\n")
        text = render_prompt(rich_plan["1.2"], "codex", plan=rich_plan, worktree=tmp_path)
        assert "- line length 99 (pyproject.toml [tool.ruff])" in text


class TestAgentInstructions:
    @pytest.mark.parametrize("name", agents.BUILTIN)
    def test_every_builtin_agent_has_its_own_instructions(self, name, rich_plan):
        """Each built-in agent gets instructions from its own template (demo variants share the
        demo one), naming its files."""
        spec = agents.get(name)
        text = prompt(rich_plan["1.2"], name, plan=rich_plan)
        own = text.split(f"## For {spec.display_name}\n")[1].split("\n## ")[0].strip()
        own_template = TEMPLATE_DIR / "agents" / f"{name}.md.j2"
        template = own_template.name if own_template.exists() else f"{spec.kind}.md.j2"
        expected = PromptRenderer().render(f"agents/{template}", PromptRenderer().variables(
            rich_plan["1.2"], spec, plan=rich_plan, worktree="/work/wt")).strip()  # fmt: skip
        assert own == expected and len(own) > 100
        for path in spec.config_files:
            assert f"`{path}`" in text
        assert empty_headings(text) == []

    def test_instructions_say_what_each_tool_does_headless(self, rich_plan):
        """The instructions carry the facts of each tool's headless mode."""
        facts = {
            "claude": "acceptEdits", "codex": "workspace-write", "gemini": "yolo",
            "aider": "only edit files that are in the chat", "copilot": "--allow-all-tools",
            "cursor": "--force", "cline": "attempt_completion", "opencode": "opencode run",
            "qwen": "--yolo", "windsurf": "Open the folder", "demo": "not an AI model",
        }  # fmt: skip
        for name, fact in facts.items():
            assert fact in prompt(rich_plan["1.2"], name), name

    def test_manual_agent_addresses_a_person(self, rich_plan):
        """Windsurf's prompt speaks to the person doing the work, not to a model."""
        text = prompt(rich_plan["1.2"], "windsurf")
        assert "for a person working in Windsurf" in text
        assert "mark the attempt done in nborch" in text
        assert "working headless" not in text

    def test_nobody_is_asked_to_commit(self, rich_plan):
        """Every agent is told that nborch commits and to stay inside its worktree."""
        for name in agents.BUILTIN:
            text = prompt(rich_plan["1.2"], name, worktree="/w/t")
            assert "Do not commit" in text and "nborch commits" in text
            assert "Stay inside `/w/t`" in text

    def test_script_agent_gets_script_instructions(self, rich_plan):
        """A command line registered as an agent is told about its command and exit status."""
        agents.script_agent("mine", "python fix.py {prompt_file}")
        text = prompt(rich_plan["1.2"], "mine")
        assert "`python fix.py {prompt_file}`" in text
        assert "non-zero status" in text

    def test_unknown_cli_agent_gets_generic_instructions(self, rich_plan):
        """A registered CLI agent without its own template gets the generic CLI instructions."""
        spec = AgentSpec(name="newtool", display_name="New Tool", kind="cli",
                         executable="newtool", argv=("newtool", "{prompt}"),
                         config_files=("NEWTOOL.md",))  # fmt: skip
        text = prompt(rich_plan["1.2"], spec)
        assert "You run as New Tool, headless" in text
        assert "`NEWTOOL.md` in the worktree holds nborch's rules" in text

    def test_demo_plan_renders_for_every_agent(self, demo_plan):
        """Every task of the demo plan renders cleanly for every built-in agent."""
        for task in demo_plan:
            for name in agents.BUILTIN:
                text = prompt(task, name, plan=demo_plan)
                assert empty_headings(text) == [], (task.id, name)
                assert "\n\n\n" not in text and text.endswith("\n")
                assert not text.startswith("-")


class TestAgentFiles:
    @pytest.mark.parametrize("name", agents.BUILTIN)
    def test_every_builtin_agent_gets_its_config_files(self, name, tmp_path, rich_plan):
        """Each agent's config files are written inside the worktree, each with one section."""
        spec = agents.get(name)
        written = write_agent_files(tmp_path, name, rich_plan["1.2"], rich_plan)
        assert written == list(spec.config_files) and written
        for rel in written:
            text = (tmp_path / rel).read_text("utf-8")
            assert text.count(BEGIN) == 1 and text.count(END) == 1
            assert "Add checkout" in text and "pytest tests/test_checkout.py" in text

    def test_every_known_file_has_its_own_template(self):
        """Every config file a built-in agent uses has a template of its own."""
        used = {path for spec in agents.all_specs() for path in spec.config_files}
        assert used <= set(NATIVE_TEMPLATES)

    def test_cursor_rule_has_mdc_front_matter(self, tmp_path, rich_plan):
        """The Cursor rule starts with the front matter Cursor reads, always applied."""
        write_agent_files(tmp_path, "cursor", rich_plan["1.2"], rich_plan)
        text = (tmp_path / ".cursor/rules/nborch.mdc").read_text()
        front = text.split("---\n")[1]
        assert text.startswith("---\ndescription: \"nborch rules")
        assert "\nglobs:\n" in f"\n{front}" and "alwaysApply: true\n" in front

    def test_existing_user_file_keeps_its_text_and_gets_one_section(self, tmp_path, rich_plan):
        """A CLAUDE.md the repository has keeps its text; writing twice leaves one section."""
        mine = "# Our rules\n\nAlways use tabs.\n"
        (tmp_path / "CLAUDE.md").write_text(mine)
        for task_id in ("1.1", "1.2"):
            assert write_agent_files(tmp_path, "claude", rich_plan[task_id], rich_plan) == [
                "CLAUDE.md"
            ]
        text = (tmp_path / "CLAUDE.md").read_text()
        assert text.startswith(mine)
        assert text.count(BEGIN) == 1 and text.count(END) == 1
        assert "Add checkout" in text and "Add the cart" not in text
        assert strip_section(text) == mine

    def test_writing_twice_changes_nothing(self, tmp_path, rich_plan):
        """Rendering the same attempt again leaves every file byte for byte the same."""
        write_agent_files(tmp_path, "copilot", rich_plan["1.2"], rich_plan)
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        write_agent_files(tmp_path, "copilot", rich_plan["1.2"], rich_plan)
        assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before

    def test_section_in_the_middle_is_replaced_in_place(self):
        """A section the user moved between their own text is replaced where it stands."""
        old = f"top\n\n{BEGIN} -->\nold\n{END}\n\nbottom\n"
        new = merge_section(old, f"{BEGIN} -->\nnew\n{END}\n")
        assert new == f"top\n\n{BEGIN} -->\nnew\n{END}\n\nbottom\n"

    def test_windows_line_endings_are_kept(self):
        """A CRLF file stays CRLF after nborch adds its section."""
        merged = merge_section("# Mine\r\n", "rules")
        assert merged.count("\r\n") == merged.count("\n")
        assert strip_section(merged) == "# Mine\r\n"

    def test_remove_agent_files_restores_the_worktree(self, tmp_path, rich_plan):
        """Removing nborch's files deletes the ones it created and restores the user's text."""
        (tmp_path / "AGENTS.md").write_text("# Team notes\n")
        written = write_agent_files(tmp_path, "cursor", rich_plan["1.2"], rich_plan)
        assert sorted(remove_agent_files(tmp_path, written)) == sorted(written)
        assert not (tmp_path / ".cursor/rules/nborch.mdc").exists()
        assert (tmp_path / "AGENTS.md").read_text() == "# Team notes\n"

    def test_rules_folder_gets_a_file_inside(self, tmp_path, rich_plan):
        """When .clinerules is a folder of rules, nborch adds its own file to it."""
        (tmp_path / ".clinerules").mkdir()
        written = write_agent_files(tmp_path, "cline", rich_plan["1.2"], rich_plan)
        assert written == [".clinerules/nborch.md"]

    @pytest.mark.parametrize("bad", ["../outside.md", "/etc/agent.md", "a/../../x.md"])
    def test_config_path_outside_the_worktree_is_refused(self, bad, tmp_path, rich_plan):
        """A spec whose config file would land outside the worktree is refused."""
        spec = AgentSpec(name="bad", display_name="Bad", kind="script", argv=("bad",),
                         config_files=(bad,))  # fmt: skip
        worktree = tmp_path / "wt"
        worktree.mkdir()
        with pytest.raises(NborchError, match="inside the worktree"):
            write_agent_files(worktree, spec, rich_plan["1.2"], rich_plan)
        assert list(tmp_path.rglob("*.md")) == []

    def test_link_out_of_the_worktree_is_not_followed(self, tmp_path, rich_plan):
        """A CLAUDE.md that links outside the worktree is not written through."""
        outside = tmp_path / "outside.md"
        outside.write_text("keep\n")
        worktree = tmp_path / "wt"
        worktree.mkdir()
        (worktree / "CLAUDE.md").symlink_to(outside)
        with pytest.raises(NborchError, match="outside the worktree"):
            write_agent_files(worktree, "claude", rich_plan["1.2"], rich_plan)
        assert outside.read_text() == "keep\n"

    def test_missing_worktree_is_an_error(self, tmp_path, rich_plan):
        """Writing into a worktree that does not exist says so."""
        with pytest.raises(NborchError, match="does not exist"):
            write_agent_files(tmp_path / "nope", "claude", rich_plan["1.2"], rich_plan)

    def test_script_agent_has_no_files(self, tmp_path, rich_plan):
        """An agent without config files gets none and nothing is written."""
        agents.script_agent("mine", "python fix.py {prompt_file}")
        assert write_agent_files(tmp_path, "mine", rich_plan["1.2"], rich_plan) == []
        assert list(tmp_path.iterdir()) == []

    def test_render_agent_files_is_pure(self, tmp_path, rich_plan):
        """Rendering the files returns their text and writes nothing."""
        files = render_agent_files(tmp_path, "copilot", rich_plan["1.2"], rich_plan)
        assert list(files) == [".github/copilot-instructions.md", "AGENTS.md"]
        assert list(tmp_path.iterdir()) == []


class TestProjectContext:
    def test_python_project_with_ruff_and_pytest(self, tmp_path):
        """pyproject's name, Python version, ruff and pytest settings are read, with sources."""
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "shop"\nrequires-python = ">=3.11"\n'
            "[tool.ruff]\nline-length = 100\n[tool.ruff.lint]\nselect = ['E', 'F']\n"
            "[tool.pytest.ini_options]\ntestpaths = ['tests']\naddopts = '-ra --strict-markers'\n"
            "filterwarnings = ['error']\n[tool.mypy]\nstrict = true\n"
        )
        ctx = ProjectContext.detect(tmp_path)
        assert (ctx.name, ctx.language) == ("shop", "python")
        assert ctx.test_command == "python -m pytest"
        assert ctx.source("test_command") == "pyproject.toml [tool.pytest.ini_options]"
        assert ctx.lint_command == "ruff check ."
        assert "line length 100 (pyproject.toml [tool.ruff])" in ctx.coding_standards
        assert "ruff rules E, F must pass (pyproject.toml [tool.ruff.lint])" in ctx.coding_standards
        assert "type-checked with mypy, strict (pyproject.toml [tool.mypy])" in ctx.coding_standards
        assert any(r.startswith("warnings are errors") for r in ctx.test_requirements)
        assert any("tests live in tests" in r for r in ctx.test_requirements)

    def test_setup_cfg_and_tox_ini(self, tmp_path):
        """setup.cfg and tox.ini give the name, flake8 and pytest settings."""
        (tmp_path / "setup.cfg").write_text(
            "[metadata]\nname = legacy\n[flake8]\nmax-line-length = 120\n"
            "[tool:pytest]\ntestpaths = t\n"
        )
        (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py311, lint\n")
        ctx = ProjectContext.detect(tmp_path)
        assert (ctx.name, ctx.language, ctx.lint_command) == ("legacy", "python", "flake8")
        assert "line length 120 (setup.cfg [flake8])" in ctx.coding_standards
        assert "tox environments: py311, lint (tox.ini [tox])" in ctx.extra

    def test_package_json_project(self, tmp_path):
        """A TypeScript package: its test and lint scripts, ESLint, Prettier, strict mode."""
        (tmp_path / "package.json").write_text(json.dumps({
            "name": "web", "scripts": {"test": "vitest run", "lint": "eslint ."},
            "devDependencies": {"typescript": "^5", "eslint": "^9", "prettier": "^3",
                                "vitest": "^2"},
        }))  # fmt: skip
        (tmp_path / "pnpm-lock.yaml").write_text("")
        (tmp_path / "tsconfig.json").write_text('{\n  // comment\n  "compilerOptions": {"strict": true}}')
        ctx = ProjectContext.detect(tmp_path)
        assert (ctx.name, ctx.language) == ("web", "typescript")
        assert (ctx.test_command, ctx.lint_command) == ("pnpm test", "pnpm run lint")
        assert ctx.source("test_command") == "package.json scripts.test"
        assert {"code passes ESLint (package.json / eslint config)",
                "formatted with Prettier (package.json / prettier config)",
                "TypeScript strict mode (tsconfig.json)"} <= set(ctx.coding_standards)  # fmt: skip
        assert "tests are written for Vitest (package.json devDependencies)" in ctx.test_requirements

    def test_npm_placeholder_test_script_is_ignored(self, tmp_path):
        """npm init's 'no test specified' script is not taken as the test command."""
        (tmp_path / "package.json").write_text(
            json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'}})
        )
        ctx = ProjectContext.detect(tmp_path)
        assert (ctx.language, ctx.test_command) == ("javascript", "")

    def test_cargo_project(self, tmp_path):
        """A Rust crate: name, edition, cargo test and clippy."""
        (tmp_path / "Cargo.toml").write_text(
            '[package]\nname = "fastq"\nedition = "2021"\nrust-version = "1.75"\n'
        )
        ctx = ProjectContext.detect(tmp_path)
        assert (ctx.name, ctx.language) == ("fastq", "rust")
        assert (ctx.test_command, ctx.lint_command) == ("cargo test", "cargo clippy")
        assert "Rust edition 2021 (Cargo.toml [package])" in ctx.coding_standards

    def test_go_module(self, tmp_path):
        """A Go module: module path, Go version, go test."""
        (tmp_path / "go.mod").write_text("module example.com/tool\n\ngo 1.22\n")
        ctx = ProjectContext.detect(tmp_path)
        assert (ctx.name, ctx.language, ctx.test_command) == ("example.com/tool", "go",
                                                              "go test ./...")  # fmt: skip
        assert "Go 1.22 (go.mod)" in ctx.coding_standards

    def test_bare_repository_with_only_a_readme(self, tmp_path):
        """A README alone gives a summary and nothing invented beyond it."""
        (tmp_path / "README.md").write_text(
            "# Tool\n\n[![CI](https://x/badge.svg)](https://x)\n\nTool turns plans into work.\n"
            "It runs anywhere.\n\n```sh\nmake\n```\n\n## Install\n\npip install tool\n"
        )
        ctx = ProjectContext.detect(tmp_path)
        assert ctx.readme_summary.startswith("Tool turns plans into work. It runs anywhere.")
        assert "badge" not in ctx.readme_summary and "make" not in ctx.readme_summary
        assert ctx.source("readme_summary") == "README.md"
        assert (ctx.name, ctx.language, ctx.test_command, ctx.coding_standards) == ("", "", "", ())

    def test_readme_summary_is_bounded(self):
        """A long README is cut at a word within the limit."""
        summary = readme_summary("# T\n\n" + "word " * 500, limit=100)
        assert len(summary) <= 100 and summary.endswith("…")

    def test_makefile_only_fills_gaps(self, tmp_path):
        """Make targets give the commands only when the project's own tools name none."""
        (tmp_path / "Makefile").write_text("test:\n\tcargo test\nlint:\n\tcargo clippy\n")
        assert ProjectContext.detect(tmp_path).test_command == "make test"
        (tmp_path / "Cargo.toml").write_text('[package]\nname = "x"\n')
        ctx = ProjectContext.detect(tmp_path)
        assert ctx.test_command == "cargo test"
        assert "make targets: `make test`, `make lint` (Makefile)" in ctx.extra

    def test_broken_config_is_reported_not_raised(self, tmp_path):
        """A pyproject.toml that is not TOML is noted in the context; detection goes on."""
        (tmp_path / "pyproject.toml").write_text("[project\nname = 1\n")
        (tmp_path / "go.mod").write_text("module m\n")
        ctx = ProjectContext.detect(tmp_path)
        assert ctx.language == "go"
        assert any(e.startswith("pyproject.toml could not be read as TOML") for e in ctx.extra)

    def test_plan_settings_win_over_detection(self, tmp_path, rich_plan):
        """The plan's test command, language, name and standards beat what the files say."""
        (tmp_path / "package.json").write_text(json.dumps({"name": "web",
                                                           "scripts": {"test": "jest"}}))  # fmt: skip
        ctx = ProjectContext.detect(tmp_path, rich_plan)
        assert (ctx.name, ctx.language, ctx.test_command) == ("shop", "python",
                                                              "python -m pytest -q")  # fmt: skip
        assert ctx.source("language") == "plan.md setting project.language"
        assert ctx.coding_standards[0] == "No global state (plan.md setting project.coding_standards)"

    def test_overrides_win_over_everything(self, tmp_path, rich_plan):
        """User overrides beat the plan and the files; their list items come first."""
        (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 88\n")
        ctx = ProjectContext.detect(tmp_path, rich_plan, overrides={
            "test_command": "tox -e py", "coding_standards": ["Tabs, never spaces"]})  # fmt: skip
        assert ctx.test_command == "tox -e py" and ctx.source("test_command") == "set by the user"
        assert ctx.coding_standards == (
            "Tabs, never spaces (set by the user)",
            "No global state (plan.md setting project.coding_standards)",
            "line length 88 (pyproject.toml [tool.ruff])",
        )

    def test_unknown_override_is_an_error(self, tmp_path):
        """An override for a field that does not exist is refused with the known fields."""
        with pytest.raises(NborchError, match=r"'test_cmd'.*test_command"):
            ProjectContext.detect(tmp_path, overrides={"test_cmd": "pytest"})

    def test_files_outside_the_repository_are_not_read(self, tmp_path):
        """A README that links outside the repository is not read."""
        (tmp_path / "secret.txt").write_text("A secret paragraph.\n")
        repo = tmp_path / "repo"
        repo.mkdir()
        (repo / "README.md").symlink_to(tmp_path / "secret.txt")
        assert ProjectContext.detect(repo).readme_summary == ""

    def test_repr_tells_the_state(self, tmp_path):
        """The repr names the project, language and test command."""
        (tmp_path / "Cargo.toml").write_text('[package]\nname = "x"\n')
        assert repr(ProjectContext.detect(tmp_path)) == (
            "<ProjectContext x: rust, test `cargo test`, 0 standards>"
        )


class TestTemplates:
    def test_user_override_template_is_used(self, tmp_path, rich_plan):
        """A template in <repo>/.nborch/templates/ replaces the package's of the same name."""
        override = tmp_path / ".nborch" / "templates" / "agents"
        override.mkdir(parents=True)
        (override / "claude.md.j2").write_text("Use our house style, {{ agent.display_name }}.\n")
        text = render_prompt(rich_plan["1.2"], "claude", plan=rich_plan, worktree=tmp_path)
        assert "## For Claude Code\n\nUse our house style, Claude Code.\n" in text
        other = render_prompt(rich_plan["1.2"], "codex", plan=rich_plan, worktree=tmp_path)
        assert "workspace-write" in other

    def test_override_of_a_config_file_template(self, tmp_path, rich_plan):
        """A user template for CLAUDE.md is used, and wrapped in markers if it has none."""
        override = tmp_path / ".nborch" / "templates" / "files"
        override.mkdir(parents=True)
        (override / "CLAUDE.md.j2").write_text("Task {{ task.id }} only.\n")
        write_agent_files(tmp_path, "claude", rich_plan["1.2"], rich_plan)
        text = (tmp_path / "CLAUDE.md").read_text()
        assert text.startswith(BEGIN) and "\nTask 1.2 only.\n" in text

    def test_missing_variable_is_an_error_naming_template_and_variable(self, tmp_path, rich_plan):
        """A template using a variable nobody passes fails with its name, line and the name."""
        override = tmp_path / ".nborch" / "templates"
        override.mkdir(parents=True)
        (override / "task.md.j2").write_text("# {{ task.title }}\n\n{{ deadline }}\n")
        with pytest.raises(NborchError) as err:
            render_prompt(rich_plan["1.2"], "claude", plan=rich_plan, worktree=tmp_path)
        message = str(err.value)
        assert "template 'task.md.j2' line 3" in message and "'deadline' is undefined" in message
        assert "worktree" in message  # the variables that do exist are listed

    def test_missing_attribute_is_an_error_too(self, tmp_path, rich_plan):
        """A misspelt attribute of a passed object is an error, not an empty string."""
        override = tmp_path / ".nborch" / "templates"
        override.mkdir(parents=True)
        (override / "task.md.j2").write_text("{{ task.titel }}\n")
        with pytest.raises(NborchError, match="titel"):
            render_prompt(rich_plan["1.2"], "claude", plan=rich_plan, worktree=tmp_path)

    def test_syntax_error_names_the_template(self, tmp_path, rich_plan):
        """A template with broken jinja2 syntax fails with its name and line."""
        override = tmp_path / ".nborch" / "templates"
        override.mkdir(parents=True)
        (override / "task.md.j2").write_text("ok\n{% if %}\n")
        with pytest.raises(NborchError, match=r"template 'task.md.j2' line 2"):
            render_prompt(rich_plan["1.2"], "claude", plan=rich_plan, worktree=tmp_path)

    def test_templates_cannot_reach_python_internals(self, tmp_path, rich_plan):
        """An override template runs sandboxed: no way from a value to Python's internals."""
        override = tmp_path / ".nborch" / "templates"
        override.mkdir(parents=True)
        (override / "task.md.j2").write_text("{{ task.__class__.__mro__ }}\n")
        with pytest.raises(NborchError, match=r"unsafe|undefined"):
            render_prompt(rich_plan["1.2"], "claude", plan=rich_plan, worktree=tmp_path)

    def test_every_package_template_renders(self, rich_plan):
        """Every template that ships renders strictly with the documented variables."""
        renderer = PromptRenderer()
        values = renderer.variables(rich_plan["1.2"], "claude", plan=rich_plan, worktree="/w",
                                    context=ProjectContext.detect("/nonexistent", rich_plan))
        values.update(agent_instructions="x", path="NOTES.md", intro="x")  # fmt: skip
        names = renderer.env.list_templates(filter_func=lambda n: n.endswith(".j2"))
        assert len(names) > 20
        for name in names:
            assert renderer.render(name, values).strip(), name


class TestPackage:
    def test_everything_in_all_is_exported(self):
        """__all__ is sorted (constants first) and every name in it exists."""
        assert prompts.__all__ == sorted(prompts.__all__, key=lambda n: (not n.isupper(), n))
        for name in prompts.__all__:
            assert hasattr(prompts, name), name

    def test_docstring_examples_run(self):
        """The examples in the module docstrings are true."""
        from nborch.workspace.prompts import context, detect, files, render

        for module in (prompts, context, detect, files, render):
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
            assert result.failed == 0, module.__name__

    def test_importing_prompts_does_not_import_jinja2(self):
        """jinja2 is imported when the first renderer is made, so importing nborch stays fast."""
        code = "import sys, nborch.workspace.prompts; print('jinja2' in sys.modules)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)  # fmt: skip
        assert done.stdout.strip() == "False"
