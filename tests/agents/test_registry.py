"""The agent registry: specs, built-ins, availability, script agents, argv rendering."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nborch import agents
from nborch.agents import AgentSpec, Capability
from nborch.agents import spec as spec_module
from nborch.agents.spec import PLACEHOLDERS, TASK_TYPES, Scores, placeholders
from nborch.errors import AgentError, NborchError

PROBE = f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n"


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch):
    """Every test starts and ends with only the built-in agents registered, and no agent
    folder is searched (a caller's NBORCH_AGENT_PATH must not leak into these tests)."""
    monkeypatch.setenv(spec_module.AGENT_PATH_ENV, "")
    agents.reset()
    yield
    agents.reset()


def make_executable(directory: Path, name: str, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    """A real executable file in ``directory``."""
    path = directory / name
    path.write_text(text)
    path.chmod(0o755)
    return path


def run(argv: list[str]) -> list[str]:
    """Run ``argv`` without a shell and return the arguments the probe program received."""
    done = subprocess.run(
        argv, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    )
    return json.loads(done.stdout)


class TestCapability:
    def test_scores_are_immutable_hashable_mappings(self):
        """A capability's strengths read like a dict but cannot change and can be hashed."""
        cap = Capability(strengths={"bugfix": 0.8}, stacks={"Python": 0.9})
        assert cap.strengths["bugfix"] == 0.8
        assert dict(cap.stacks) == {"python": 0.9}
        assert hash(cap) == hash(Capability(strengths={"bugfix": 0.8}, stacks={"python": 0.9}))
        with pytest.raises(TypeError):
            cap.strengths["bugfix"] = 0.1  # type: ignore[index]

    def test_missing_task_type_counts_as_zero(self):
        """A task type the profile does not mention has strength 0."""
        assert Capability(strengths={"docs": 0.7}).strength("ui") == 0.0

    def test_best_at_gives_the_two_strongest(self):
        """best_at lists the strongest task types first."""
        cap = Capability(strengths={"docs": 0.9, "ui": 0.5, "test": 0.7})
        assert cap.best_at() == ["docs", "test"]

    def test_score_out_of_range_is_refused(self):
        """A strength outside 0..1 is an AgentError naming the key."""
        with pytest.raises(AgentError, match="'ui'"):
            Capability(strengths={"ui": 1.5})

    def test_unknown_task_type_is_refused(self):
        """A strength for a task type nborch does not classify is an error listing the types."""
        with pytest.raises(AgentError, match=r"cooking.*feature"):
            Capability(strengths={"cooking": 0.5})

    def test_cost_tier_must_be_one_to_three(self):
        """cost_tier outside 1..3 is refused."""
        with pytest.raises(AgentError, match="cost_tier"):
            Capability(cost_tier=4)

    def test_scores_repr_shows_the_values(self):
        """Scores show their contents."""
        assert repr(Scores({"go": 0.5})) == "Scores({'go': 0.5})"


class TestAgentSpec:
    def test_bad_name_is_refused(self):
        """A spec name that is not a safe identifier is an AgentError."""
        with pytest.raises(AgentError, match="bad agent name"):
            AgentSpec(name="Bad Name", display_name="x", kind="manual")

    def test_unknown_placeholder_in_argv_is_refused(self):
        """An argv template with an unknown placeholder names it and lists the known ones."""
        with pytest.raises(AgentError, match=r"\{branch\}.*\{prompt_file\}"):
            AgentSpec(name="x", display_name="x", kind="cli", executable="x",
                      argv=("x", "{branch}"))  # fmt: skip

    def test_format_spec_in_placeholder_is_refused(self):
        """Placeholders are plain names: no conversions or format specs."""
        with pytest.raises(AgentError, match="format spec"):
            AgentSpec(name="x", display_name="x", kind="cli", executable="x",
                      argv=("x", "{task_id!r}"))  # fmt: skip

    def test_prompt_by_arg_needs_prompt_placeholder(self):
        """prompt_via='arg' without {prompt} in argv would lose the prompt, so it is refused."""
        with pytest.raises(AgentError, match=r"\{prompt\}"):
            AgentSpec(name="x", display_name="x", kind="cli", executable="x",
                      argv=("x", "{prompt_file}"), prompt_via="arg")  # fmt: skip

    def test_manual_agent_has_no_command_line(self):
        """A manual agent with argv is refused."""
        with pytest.raises(AgentError, match="manual"):
            AgentSpec(name="x", display_name="x", kind="manual", argv=("x",))

    def test_unknown_kind_is_refused(self):
        """kind must be one of the four kinds."""
        with pytest.raises(AgentError, match="kind"):
            AgentSpec(name="x", display_name="x", kind="robot")  # type: ignore[arg-type]

    def test_env_set_mapping_becomes_pairs(self):
        """env_set given as a dict is stored as a tuple of pairs, so the spec stays hashable."""
        pairs: dict = {"A": "1"}
        spec = AgentSpec(name="x", display_name="x", kind="manual", env_set=pairs)
        assert spec.env_set == (("A", "1"),)
        assert hash(spec) == hash(AgentSpec(name="x", display_name="x", kind="manual",
                                            env_set=(("A", "1"),)))  # fmt: skip

    def test_bad_env_set_name_is_refused(self):
        """An env_set key that is not a variable name is refused."""
        with pytest.raises(AgentError, match="environment variable"):
            AgentSpec(name="x", display_name="x", kind="manual", env_set=(("A=B", "1"),))

    def test_repr_is_short(self):
        """repr names the agent, its kind and its program."""
        assert repr(agents.get("codex")) == "<AgentSpec codex: cli codex>"
        assert repr(agents.get("windsurf")) == "<AgentSpec windsurf: manual by hand>"
        assert repr(agents.get("demo")).endswith(", demo>")

    def test_errors_are_nborch_and_lookup_errors(self):
        """AgentError can be caught as NborchError or LookupError."""
        with pytest.raises(NborchError):
            agents.get("nope")
        with pytest.raises(LookupError):
            agents.get("nope")


class TestRenderArgv:
    def test_values_fill_placeholders(self):
        """Each placeholder is replaced inside its own argument."""
        argv = agents.get("codex").render_argv(prompt="do it", worktree="/w/t")
        assert argv[-3:] == ["-C", "/w/t", "do it"]

    def test_shell_characters_stay_in_one_argument(self, tmp_path):
        """A ';' in a value stays one argv element and no shell runs it."""
        probe = make_executable(tmp_path, "probe", PROBE)
        spec = agents.script_agent("probe", f"{probe} {{prompt_file}}")
        canary = tmp_path / "pwned"
        value = f"p.md; touch {canary} && echo $HOME `id`"
        argv = spec.render_argv(prompt_file=value)
        assert argv == [str(probe), value]
        assert run(argv) == [value]
        assert not canary.exists()

    def test_missing_placeholder_is_named(self):
        """A placeholder without a value is an AgentError naming it."""
        with pytest.raises(AgentError, match=r"\{worktree\}"):
            agents.get("codex").render_argv(prompt="x")

    def test_none_counts_as_missing(self):
        """Passing None for a needed value is the same as not passing it."""
        with pytest.raises(AgentError, match=r"\{prompt\}"):
            agents.get("claude").render_argv(prompt=None)

    def test_model_args_only_when_a_model_is_asked_for(self):
        """model_args are appended when model is given and left out otherwise."""
        claude = agents.get("claude")
        assert "--model" not in claude.render_argv(prompt="x")
        assert claude.render_argv(prompt="x", model="opus")[-2:] == ["--model", "opus"]

    def test_paths_and_numbers_are_accepted(self, tmp_path):
        """Path-like and non-string values are turned into text."""
        spec = agents.script_agent("s", "run {worktree} {task_id}")
        assert spec.render_argv(worktree=tmp_path, task_id=7) == ["run", str(tmp_path), "7"]

    def test_doubled_braces_are_literal(self):
        """{{ and }} render as single braces and are not placeholders."""
        spec = agents.script_agent("awk", "awk '{{print $1}}' {prompt_file}")
        assert spec.render_argv(prompt_file="f") == ["awk", "{print $1}", "f"]

    def test_nul_byte_is_refused(self):
        """A NUL byte cannot be passed in an argument, so it is an AgentError, not an OSError."""
        with pytest.raises(AgentError, match="NUL"):
            agents.get("claude").render_argv(prompt="a\x00b")

    def test_render_does_not_change_the_spec(self):
        """Rendering returns a new list; the spec's templates are untouched."""
        spec = agents.get("claude")
        spec.render_argv(prompt="x").append("extra")
        assert spec.argv[2] == "{prompt}"


class TestAvailability:
    def test_found_on_path_means_available(self, tmp_path, monkeypatch):
        """A CLI agent is available when an executable of its name is on PATH."""
        make_executable(tmp_path, "claude")
        monkeypatch.setenv("PATH", str(tmp_path))
        assert agents.get("claude").available()
        assert agents.get("claude").unavailable_reason() is None

    def test_not_on_path_means_unavailable(self, tmp_path, monkeypatch):
        """Without the program on PATH the agent is unavailable."""
        monkeypatch.setenv("PATH", str(tmp_path))
        assert not agents.get("claude").available()

    def test_file_that_is_not_executable_does_not_count(self, tmp_path, monkeypatch):
        """A file with the right name but no execute bit is not an installed agent."""
        (tmp_path / "codex").write_text("#!/bin/sh\n")
        monkeypatch.setenv("PATH", str(tmp_path))
        assert not agents.get("codex").available()

    def test_reason_names_the_agent_and_the_install_command(self, tmp_path, monkeypatch):
        """The reason says which agent, which program, and the exact install command."""
        monkeypatch.setenv("PATH", str(tmp_path))
        reason = agents.get("gemini").unavailable_reason()
        assert "'gemini'" in reason
        assert "Gemini CLI" in reason
        assert "npm install -g @google/gemini-cli" in reason

    def test_cursor_is_looked_up_as_cursor_agent(self, tmp_path, monkeypatch):
        """The cursor agent's program is cursor-agent, not cursor."""
        make_executable(tmp_path, "cursor")
        monkeypatch.setenv("PATH", str(tmp_path))
        assert not agents.get("cursor").available()
        make_executable(tmp_path, "cursor-agent")
        assert agents.get("cursor").available()

    def test_manual_and_demo_agents_are_always_available(self, tmp_path, monkeypatch):
        """Windsurf needs a person, not a program; the demo ships with nborch."""
        monkeypatch.setenv("PATH", str(tmp_path))
        assert agents.get("windsurf").available()
        assert agents.get("demo").available()

    def test_available_agents_lists_what_is_installed(self, tmp_path, monkeypatch):
        """available_agents names exactly the agents whose program is found."""
        for program in ("aider", "qwen"):
            make_executable(tmp_path, program)
        monkeypatch.setenv("PATH", str(tmp_path))
        assert agents.available_agents() == ["aider", "qwen", "windsurf", "demo", "demo-hasty",
                                             "demo-slow", "demo-broken"]  # fmt: skip

    def test_script_agent_checks_its_program(self, tmp_path, monkeypatch):
        """A script agent is available when argv[0] is found, by name on PATH or by path."""
        monkeypatch.setenv("PATH", str(tmp_path))
        spec = agents.script_agent("fixer", "fix-it {prompt_file}")
        assert not spec.available()
        assert "'fix-it'" in spec.unavailable_reason()
        assert "To fix: put 'fix-it' on PATH" in spec.unavailable_reason()
        make_executable(tmp_path, "fix-it")
        assert spec.available()
        (tmp_path / "opt").mkdir()
        elsewhere = make_executable(tmp_path / "opt", "other-fixer")
        assert agents.script_agent("by-path", f"{elsewhere} x").available()


class TestRegistry:
    def test_get_returns_the_builtin(self):
        """get finds a built-in by name, ignoring case and spaces."""
        assert agents.get(" Claude ").name == "claude"

    def test_unknown_name_suggests_and_lists(self):
        """An unknown name gets a did-you-mean and the list of known agents."""
        with pytest.raises(AgentError) as err:
            agents.get("cluade")
        message = str(err.value)
        assert "did you mean 'claude'?" in message
        assert all(name in message for name in agents.BUILTIN)
        assert "script_agent" in message

    def test_unknown_name_without_close_match_still_lists(self):
        """Without a close match there is no suggestion, but the list is there."""
        with pytest.raises(AgentError) as info:
            agents.get("zzzzzz")
        message = str(info.value)
        assert "did you mean" not in message
        assert "windsurf" in message

    def test_register_and_unregister(self):
        """A registered spec can be fetched, listed and removed."""
        spec = AgentSpec(name="helper", display_name="Helper", kind="manual")
        assert agents.register(spec) is spec
        assert agents.get("helper") is spec
        assert agents.names()[-1] == "helper"
        assert agents.all_specs()[-1] is spec
        assert agents.unregister("helper") is spec
        assert "helper" not in agents.names()

    def test_register_twice_needs_replace(self):
        """Registering a taken name is refused unless replace=True."""
        again = AgentSpec(name="claude", display_name="Mine", kind="manual")
        with pytest.raises(AgentError, match="replace=True"):
            agents.register(again)
        agents.register(again, replace=True)
        assert agents.get("claude").display_name == "Mine"

    def test_register_refuses_other_objects(self):
        """Only AgentSpec instances can be registered."""
        with pytest.raises(AgentError, match="AgentSpec"):
            agents.register({"name": "x"})  # type: ignore[arg-type]

    def test_unregister_unknown_is_an_error(self):
        """Removing a name that is not there raises the same helpful error as get."""
        with pytest.raises(AgentError, match="unknown agent"):
            agents.unregister("ghost")

    def test_reset_restores_builtins(self):
        """reset brings back removed built-ins and drops user agents."""
        agents.unregister("claude")
        agents.script_agent("mine", "true")
        agents.reset()
        assert agents.names() == list(agents.BUILTIN)

    def test_builtin_names(self):
        """BUILTIN names every shipped agent in a fixed order."""
        assert agents.BUILTIN == (
            "claude", "codex", "gemini", "aider", "copilot", "cursor", "cline", "opencode",
            "qwen", "windsurf", "demo", "demo-hasty", "demo-slow", "demo-broken",
        )  # fmt: skip

    def test_everything_in_all_is_exported(self):
        """__all__ is sorted (constants first) and each name in it exists."""
        assert agents.__all__ == sorted(agents.__all__, key=lambda n: (not n.isupper(), n))
        for name in agents.__all__:
            assert hasattr(agents, name), name

    def test_docstring_examples_run(self):
        """The examples in the module docstrings are true."""
        for module in (agents, spec_module):
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
            assert result.failed == 0, module.__name__


class TestScriptAgent:
    def test_quotes_and_spaces_are_split_like_a_shell(self):
        """Quoted arguments with spaces stay whole; quotes are removed."""
        spec = agents.script_agent(
            "mine", """python "my fix.py" --msg 'two words' --path="{worktree}/a b" {prompt_file}"""
        )
        assert spec.argv == (
            "python", "my fix.py", "--msg", "two words", "--path={worktree}/a b", "{prompt_file}",
        )  # fmt: skip
        assert spec.kind == "script"
        assert spec.executable is None
        assert spec.program == "python"
        assert agents.get("mine") is spec

    def test_rendered_script_runs_with_exact_arguments(self, tmp_path):
        """The rendered command reaches the program argument for argument."""
        probe = make_executable(tmp_path, "probe", PROBE)
        spec = agents.script_agent(
            "probe", f"'{probe}' --task={{task_id}} 'a;b' \"{{worktree}}/x y\""
        )
        argv = spec.render_argv(task_id="1.2", worktree="/r w")
        assert run(argv) == ["--task=1.2", "a;b", "/r w/x y"]

    @pytest.mark.parametrize("name", ["", "Mine", "-x", "_x", "a b", "../x", "x;y", "x/y", "ü"])
    def test_bad_names_are_refused(self, name):
        """A script agent name must match [a-z0-9][a-z0-9_-]*."""
        with pytest.raises(AgentError, match="bad agent name"):
            agents.script_agent(name, "true")

    @pytest.mark.parametrize("placeholder", ["{prompt}", "{model}", "{branch}", "{}", "{0}"])
    def test_placeholders_other_than_the_three_are_refused(self, placeholder):
        """Only {prompt_file}, {worktree} and {task_id} may appear in a script command."""
        with pytest.raises(AgentError, match="unknown placeholder"):
            agents.script_agent("mine", f"run {placeholder}")

    def test_single_brace_is_explained(self):
        """An unmatched brace is an AgentError that says how to write a literal brace."""
        with pytest.raises(AgentError, match=r"\{\{"):
            agents.script_agent("mine", "awk '{print $1'")

    def test_unbalanced_quote_is_an_agent_error(self):
        """A command shlex cannot split is reported as an AgentError, not a ValueError."""
        with pytest.raises(AgentError, match="cannot split"):
            agents.script_agent("mine", "python 'fix.py")

    def test_empty_command_is_refused(self):
        """A command with nothing in it is refused."""
        with pytest.raises(AgentError, match="empty"):
            agents.script_agent("mine", "   ")

    def test_program_may_not_be_a_placeholder(self):
        """argv[0] must be a fixed program so availability can be checked before running."""
        with pytest.raises(AgentError, match=r"sh \{worktree\}/fix\.sh"):
            agents.script_agent("mine", "{worktree}/fix.sh")

    def test_redefining_a_script_agent_replaces_it(self):
        """Running the same cell twice in a notebook redefines the script agent."""
        agents.script_agent("mine", "one")
        assert agents.script_agent("mine", "two").argv == ("two",)

    def test_shadowing_a_builtin_needs_replace(self):
        """A script agent cannot silently take a built-in's name."""
        with pytest.raises(AgentError, match="replace=True"):
            agents.script_agent("claude", "true")
        assert agents.script_agent("claude", "true", replace=True).kind == "script"

    def test_custom_capability_is_kept(self):
        """A caller can give a script agent its own capability profile."""
        cap = Capability(strengths={"docs": 1.0}, cost_tier=1)
        assert agents.script_agent("doc-bot", "make docs", capability=cap).capability is cap


class TestBuiltins:
    @pytest.mark.parametrize("spec", agents.all_specs(), ids=lambda s: s.name)
    def test_install_hint_and_docs(self, spec):
        """Every built-in says how to install it and how its output reads."""
        assert spec.install_hint
        assert spec.docs

    @pytest.mark.parametrize("spec", agents.all_specs(), ids=lambda s: s.name)
    def test_config_files_are_relative_paths(self, spec):
        """Every built-in names at least one native instruction file, relative to the worktree."""
        assert spec.config_files
        for name in spec.config_files:
            assert not os.path.isabs(name) and ".." not in Path(name).parts

    @pytest.mark.parametrize("spec", agents.all_specs(), ids=lambda s: s.name)
    def test_every_placeholder_is_known(self, spec):
        """Every placeholder in a built-in's argv and model_args is one the launcher fills."""
        for template in spec.argv + spec.model_args:
            assert set(placeholders(template)) <= PLACEHOLDERS

    @pytest.mark.parametrize("spec", agents.all_specs(), ids=lambda s: s.name)
    def test_renders_with_the_launcher_values(self, spec):
        """Every built-in renders with prompt, prompt_file, worktree and task_id (no model)."""
        argv = spec.render_argv(prompt="P", prompt_file="F", worktree="W", task_id="T")
        assert all("{" not in a for a in argv)
        if spec.kind == "cli":
            assert argv[0] == spec.executable

    @pytest.mark.parametrize("spec", agents.all_specs(), ids=lambda s: s.name)
    def test_profile_covers_every_task_type(self, spec):
        """Real agents rate every task type; stacks use lowercase names."""
        if not spec.is_demo:
            assert set(spec.capability.strengths) == set(TASK_TYPES)
        assert all(k == k.lower() for k in spec.capability.stacks)

    def test_claude_matches_its_documented_headless_command(self):
        """claude runs in print mode with stream-json, verbose and acceptEdits."""
        spec = agents.get("claude")
        assert spec.argv[:3] == ("claude", "-p", "{prompt}")
        assert "stream-json" in spec.argv and "--verbose" in spec.argv
        assert ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1") in spec.env_set
        assert "ANTHROPIC_*" in spec.env_allow

    def test_codex_has_its_own_home(self):
        """codex is isolated through CODEX_HOME and works in the worktree given by -C."""
        spec = agents.get("codex")
        assert spec.home_env == "CODEX_HOME"
        assert spec.argv[spec.argv.index("-C") + 1] == "{worktree}"

    def test_gemini_trusts_the_workspace(self):
        """gemini gets GEMINI_CLI_TRUST_WORKSPACE so yolo is not silently downgraded."""
        assert ("GEMINI_CLI_TRUST_WORKSPACE", "true") in agents.get("gemini").env_set

    def test_aider_reads_a_prompt_file_and_lies_about_failure(self):
        """aider gets its prompt from a file and exits 0 even when the model failed."""
        spec = agents.get("aider")
        assert spec.prompt_via == "file" and "{prompt_file}" in spec.argv
        assert spec.exit_zero_on_failure and spec.output == "text"
        assert "--no-auto-commits" in spec.argv and "CONVENTIONS.md" in spec.config_files

    def test_only_aider_exits_zero_on_failure(self):
        """No other built-in is marked as exiting 0 on failure."""
        assert [s.name for s in agents.all_specs() if s.exit_zero_on_failure] == ["aider"]

    def test_windsurf_is_manual(self):
        """windsurf has no CLI: it is a manual agent with .windsurfrules."""
        spec = agents.get("windsurf")
        assert spec.kind == "manual" and spec.argv == () and spec.program is None
        assert spec.config_files == (".windsurfrules",)

    def test_demo_runs_the_bundled_module_with_this_python(self):
        """The demo agent is labelled, uses this interpreter and the nborch.demo.agent module."""
        spec = agents.get("demo")
        assert spec.is_demo and spec.kind == "demo"
        assert spec.render_argv(prompt_file="F", worktree="W", task_id="T")[:3] == [
            sys.executable, "-m", "nborch.demo.agent",
        ]  # fmt: skip
        assert [s.name for s in agents.all_specs() if s.is_demo] == [
            "demo", "demo-hasty", "demo-slow", "demo-broken"]  # fmt: skip
        assert all("demo" in s.display_name.lower() for s in agents.all_specs() if s.is_demo)


class TestRegistryFrame:
    def test_columns_rows_and_types(self, tmp_path, monkeypatch):
        """One row per agent with fixed columns and proper dtypes."""
        make_executable(tmp_path, "codex")
        monkeypatch.setenv("PATH", str(tmp_path))
        frame = agents.registry_frame()
        assert list(frame.columns) == [
            "name", "kind", "available", "executable", "cost_tier", "context_tokens", "best_at",
            "install_hint",
        ]  # fmt: skip
        assert list(frame["name"]) == agents.names()
        assert frame["kind"].dtype == "category"
        assert frame["available"].dtype == bool
        row = frame.set_index("name").loc["codex"]
        assert row["available"] and row["executable"] == "codex"
        assert row["best_at"] == ", ".join(agents.get("codex").capability.best_at(2))
        assert not frame.set_index("name").loc["claude", "available"]

    def test_includes_script_agents(self):
        """A registered script agent appears as its own row."""
        agents.script_agent("mine", "my-tool {prompt_file}")
        row = agents.registry_frame().iloc[-1]
        assert (row["name"], row["kind"], row["executable"]) == ("mine", "script", "my-tool")


class TestAgentFolders:
    """Agents are found in the folders of $NBORCH_AGENT_PATH before PATH."""

    def test_agent_folder_is_searched_before_path(self, tmp_path, monkeypatch):
        """A program in an agent folder wins over one of the same name on PATH."""
        (tmp_path / "pinned").mkdir()
        (tmp_path / "global").mkdir()
        pinned = make_executable(tmp_path / "pinned", "claude")
        make_executable(tmp_path / "global", "claude")
        monkeypatch.setenv("PATH", str(tmp_path / "global"))
        monkeypatch.setenv("NBORCH_AGENT_PATH", f"{tmp_path / 'nowhere'}{os.pathsep}"
                                                f"{tmp_path / 'pinned'}")  # fmt: skip
        assert spec_module.find_program("claude") == str(pinned)
        assert agents.get("claude").available()

    def test_agent_folder_alone_makes_an_agent_available(self, tmp_path, monkeypatch):
        """An agent missing from PATH but present in NBORCH_AGENT_PATH is available."""
        make_executable(tmp_path, "gemini")
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        assert not agents.get("gemini").available()
        monkeypatch.setenv("NBORCH_AGENT_PATH", str(tmp_path))
        assert agents.get("gemini").available()
        assert "NBORCH_AGENT_PATH" in agents.get("codex").unavailable_reason()

    def test_unset_means_the_project_folder_and_empty_means_none(self, tmp_path, monkeypatch):
        """Unset, the checkout's .agents/bin (where `make agents` installs) is searched when it
        exists; set but empty, no folder is; empty entries are skipped, order is kept."""
        monkeypatch.delenv("NBORCH_AGENT_PATH")
        monkeypatch.setattr(spec_module, "PROJECT_AGENT_DIR", tmp_path / ".agents" / "bin")
        assert spec_module.agent_dirs() == []  # not installed
        (tmp_path / ".agents" / "bin").mkdir(parents=True)
        assert spec_module.agent_dirs() == [tmp_path / ".agents" / "bin"]
        assert spec_module.agent_dirs({"NBORCH_AGENT_PATH": ""}) == []
        value = os.pathsep.join(["/b", "", "/a"])
        assert spec_module.agent_dirs({"NBORCH_AGENT_PATH": value}) == [Path("/b"), Path("/a")]

    def test_a_path_is_checked_as_given(self, tmp_path):
        """A program given with a folder is not looked up; it must exist and be executable."""
        program = make_executable(tmp_path, "tool")
        assert spec_module.find_program(str(program)) == str(program)
        assert spec_module.find_program(str(tmp_path / "missing")) is None

    def test_the_process_runner_finds_agents_there_too(self, tmp_path, monkeypatch):
        """run_process starts a program found only in an agent folder, not on its PATH."""
        import asyncio

        from nborch.proc.runner import run_process
        from nborch.proc.spec import ProcessSpec

        make_executable(tmp_path, "pinned-agent", "#!/bin/sh\necho pinned \"$@\"\n")
        monkeypatch.setenv("NBORCH_AGENT_PATH", str(tmp_path))
        spec = ProcessSpec(("pinned-agent", "a b"), tmp_path, {"PATH": "/usr/bin:/bin"},
                           tmp_path / "log")  # fmt: skip
        result = asyncio.run(run_process(spec))
        assert result.ok and result.tail == ("pinned a b",)


class TestEnvArgs:
    """Arguments added when the agent's environment sets a variable (Codex's base URL)."""

    def test_codex_follows_openai_base_url(self):
        """With OPENAI_BASE_URL set, codex gets a provider reading that server."""
        env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
        argv = agents.get("codex").render_argv(prompt="p", worktree="/w", env=env)
        assert 'model_providers.nborch.base_url="http://127.0.0.1:9/v1"' in argv
        assert argv[-2:] == ["-c", "model_provider=nborch"]
        assert argv.index("-C") < argv.index("model_provider=nborch")

    def test_without_the_variable_nothing_is_added(self):
        """An unset or empty variable adds no argument."""
        codex = agents.get("codex")
        for env in ({}, {"OPENAI_BASE_URL": ""}):
            assert codex.render_argv(prompt="p", worktree="/w", env=env)[-1] == "p"

    def test_env_set_wins_over_the_callers_value(self):
        """A value nborch sets is the one the agent sees, so it is the one used."""
        spec = AgentSpec(name="x", display_name="x", kind="script", argv=("x",),
                         env_set={"URL": "mine"}, env_args={"URL": ("--url", "{URL}")})  # fmt: skip
        assert spec.render_argv(env={"URL": "theirs"}) == ["x", "--url", "mine"]

    def test_a_variable_the_agent_never_sees_is_refused(self):
        """env_args may only read a variable that env_allow or env_set gives the agent."""
        with pytest.raises(AgentError, match="add it to env_allow"):
            AgentSpec(name="x", display_name="x", kind="script", argv=("x",),
                      env_args={"SECRET_URL": ("--url", "{SECRET_URL}")})  # fmt: skip

    def test_unknown_placeholder_in_env_args_is_refused(self):
        """Only the launcher's placeholders and the variable itself may appear."""
        with pytest.raises(AgentError, match="unknown placeholder"):
            AgentSpec(name="x", display_name="x", kind="script", argv=("x",),
                      env_allow=("URL",), env_args={"URL": ("{OTHER}",)})  # fmt: skip


class TestServerVariablesGetThrough:
    """The variables that point each CLI at a model server pass its allow-list; keys are masked."""

    NEEDED = {
        "claude": ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"),
        "codex": ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"),
        "gemini": ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY"),
        "aider": ("OPENAI_API_BASE", "OPENAI_API_KEY", "AIDER_MODEL"),
        "qwen": ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"),
        "copilot": ("COPILOT_PROVIDER_BASE_URL", "COPILOT_PROVIDER_API_KEY", "COPILOT_MODEL"),
        "opencode": ("OPENCODE_CONFIG_CONTENT",),
    }

    @pytest.mark.parametrize("name", sorted(NEEDED))
    def test_needed_variables_pass_and_keys_are_secret(self, name):
        """build_env keeps what the CLI needs, drops the rest, and secrets_of lists the key."""
        from nborch.cli.rehearse import KEY, server_env
        from nborch.proc.env import build_env, secrets_of

        spec = agents.get(name)
        base = {**server_env("http://127.0.0.1:9"), "AWS_SECRET_ACCESS_KEY": "x" * 40}
        env = build_env(spec.env_allow, dict(spec.env_set), Path("/h"), spec.home_env, base=base)
        assert set(self.NEEDED[name]) <= set(env)
        assert "AWS_SECRET_ACCESS_KEY" not in env
        if name != "opencode":  # its key sits inside a JSON document, not a *KEY* variable
            assert KEY in secrets_of(env)


class ProviderTests:
    """A per-provider limit must hold for every agent that may call the provider."""

    def test_providers_come_from_the_credentials_an_agent_is_given(self) -> None:
        from nborch.agents.providers import providers_of

        assert providers_of(agents.get("claude")) == {"anthropic"}
        assert providers_of(agents.get("codex")) == {"openai"}
        assert providers_of(agents.get("gemini")) == {"google"}
        assert providers_of(agents.get("copilot")) == {"github"}
        assert providers_of(agents.get("aider")) >= {"anthropic", "openai", "google"}
        assert providers_of(agents.get("demo")) == frozenset()

    def test_the_dask_executor_counts_an_attempt_against_each(self) -> None:
        from nborch.execute.cluster import DaskExecutor
        from nborch.execute.jobs import AttemptJob

        executor = DaskExecutor("tcp://127.0.0.1:1", limits={"anthropic": 4, "openai": 2, "aider": 1})
        job = AttemptJob("r", "1", "aider", (), Path("."), {}, Path("log"), "aider")
        assert executor.limits_for(job) == [("aider", 1), ("anthropic", 4), ("openai", 2)]
        claude = AttemptJob("r", "1", "claude", (), Path("."), {}, Path("log"), "claude")
        assert executor.limits_for(claude) == [("anthropic", 4)]
