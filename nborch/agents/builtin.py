"""The agents nborch knows out of the box, each checked against its CLI's documented flags.

Sources: /work/shared/AGENT_CLIS.md (each CLI driven headless against a local model server) and
the tools' own docs. Flags change often: re-check with ``--help`` before relying on one.
Capability profiles are defaults, not measurements; override them with ``register(...,
replace=True)``. Every agent runs with stdin closed, cwd = its worktree and its own home dir.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys

from .spec import TASK_TYPES, AgentSpec, Capability

_PY_TS = {"python": 0.9, "typescript": 0.9, "javascript": 0.9}


def _cmd(command: str) -> tuple[str, ...]:
    """A command line written as in the tool's docs, split like a shell would (never run by one)."""
    return tuple(shlex.split(command))


def _scores(*values: float) -> dict[str, float]:
    """Strengths given in ``TASK_TYPES`` order, so each profile reads as one row of a table."""
    if len(values) != len(TASK_TYPES):
        raise ValueError(f"give one strength per task type: {', '.join(TASK_TYPES)}")
    return dict(zip(TASK_TYPES, values, strict=True))


# Each profile reads _scores(feature, bugfix, refactor, test, docs, infra, data, ui, research).

# claude: strongest on refactor/feature in large codebases (long agentic runs, 200k context),
# careful with tests; priced per token at the top end.
CLAUDE = AgentSpec(
    name="claude",
    display_name="Claude Code",
    kind="cli", executable="claude",
    argv=_cmd(
        "claude -p {prompt} --output-format stream-json --verbose --permission-mode acceptEdits"
        " --allowedTools 'Read Edit Write Bash'"
    ),
    prompt_via="arg",
    model_args=("--model", "{model}"),
    env_allow=("ANTHROPIC_*", "CLAUDE_CODE_*", "API_TIMEOUT_MS"),
    env_set=(("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),),
    home_env="CLAUDE_CONFIG_DIR",
    config_files=("CLAUDE.md",),
    output="stream-json", parser="claude",
    install_hint="npm install -g @anthropic-ai/claude-code",
    auth_hint="set ANTHROPIC_API_KEY, or CLAUDE_CODE_OAUTH_TOKEN (made by `claude setup-token`)",
    docs="JSON lines; the last 'result' event has usage, total_cost_usd, is_error; exit 1 on API "
    "errors.",
    capability=Capability(
        strengths=_scores(0.90, 0.85, 0.92, 0.85, 0.80, 0.75, 0.75, 0.75, 0.80),
        stacks={**_PY_TS, "rust": 0.85, "go": 0.85, "java": 0.8, "shell": 0.8},
        cost_tier=3, context_tokens=200_000,
        notes="Strong multi-file refactors and long agentic sessions; expensive.",
    ),
)

# codex: strong at bugfix/test loops (runs the tests, reads failures) in a sandbox; mid-price.
CODEX = AgentSpec(
    name="codex",
    display_name="OpenAI Codex CLI",
    kind="cli", executable="codex",
    argv=_cmd(
        "codex exec --json --skip-git-repo-check --sandbox workspace-write -C {worktree} {prompt}"
    ),
    prompt_via="arg",
    model_args=("-m", "{model}"),
    env_allow=("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_ORG_ID",
               "OPENAI_PROJECT_ID", "CODEX_API_KEY"),
    # Codex ignores OPENAI_BASE_URL and OPENAI_MODEL: with the first set, a provider of its own
    # reads that server over the Responses API (plain HTTPS, no websocket) with the key in
    # OPENAI_API_KEY; the second picks the model (its default model offers a server no tools).
    env_args=(("OPENAI_BASE_URL", (
        "-c", "model_providers.nborch.name=nborch",
        "-c", 'model_providers.nborch.base_url="{OPENAI_BASE_URL}"',
        "-c", "model_providers.nborch.wire_api=responses",
        "-c", "model_providers.nborch.env_key=OPENAI_API_KEY",
        "-c", "model_provider=nborch",
    )), ("OPENAI_MODEL", ("-c", 'model="{OPENAI_MODEL}"'))),
    home_env="CODEX_HOME",
    config_files=("AGENTS.md",),
    output="stream-json", parser="codex",
    install_hint="npm install -g @openai/codex",
    auth_hint="set OPENAI_API_KEY",
    docs="JSON lines; judge by turn.completed / turn.failed and the exit code, never by the first "
    "'error' event (it prints some on runs that succeed). No cost reported. Speaks only the "
    "Responses API; with OPENAI_BASE_URL set nborch adds a provider for it (-c model_providers.*).",
    capability=Capability(
        strengths=_scores(0.85, 0.90, 0.80, 0.88, 0.70, 0.75, 0.80, 0.65, 0.70),
        stacks={**_PY_TS, "rust": 0.85, "go": 0.8, "java": 0.75},
        cost_tier=2, context_tokens=272_000,
        notes="Test-driven bugfix loops in a workspace-write sandbox.",
    ),
)

# gemini: the largest context window (1M), good at reading a whole repo: research and docs.
GEMINI = AgentSpec(
    name="gemini",
    display_name="Gemini CLI",
    kind="cli", executable="gemini",
    argv=_cmd("gemini -p {prompt} --approval-mode yolo --output-format stream-json"),
    prompt_via="arg",
    model_args=("-m", "{model}"),
    env_allow=(
        "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_APPLICATION_CREDENTIALS",
    ),
    env_set=(("GEMINI_CLI_TRUST_WORKSPACE", "true"),),
    home_env="GEMINI_CLI_HOME",
    config_files=("GEMINI.md",),
    output="stream-json", parser="gemini",
    install_hint="npm install -g @google/gemini-cli",
    auth_hint="set GEMINI_API_KEY (or GOOGLE_API_KEY)",
    docs="JSON lines ending in a 'result' event with stats. Untrusted folders silently downgrade "
    "yolo, hence GEMINI_CLI_TRUST_WORKSPACE. With an API key, the per-attempt home needs "
    '.gemini/settings.json = {"security":{"auth":{"selectedType":"gemini-api-key"}}}.',
    capability=Capability(
        strengths=_scores(0.78, 0.72, 0.75, 0.72, 0.85, 0.70, 0.80, 0.75, 0.90),
        stacks={**_PY_TS, "go": 0.8, "java": 0.8, "kotlin": 0.75},
        cost_tier=2, context_tokens=1_000_000,
        notes="1M-token context: whole-repo reading, documentation, research.",
    ),
)

# aider: cheap, focused edits with whatever model you bring; no tools, no web: bugfix/refactor.
AIDER = AgentSpec(
    name="aider",
    display_name="Aider",
    kind="cli", executable="aider",
    argv=_cmd(
        "aider --message-file {prompt_file} --read CONVENTIONS.md --yes-always --no-auto-commits"
        " --no-gitignore --no-check-update --analytics-disable --no-pretty --no-show-model-warnings"
    ),
    prompt_via="file",
    model_args=("--model", "{model}"),
    env_allow=(
        "AIDER_*", "OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL", "GEMINI_API_KEY",
        "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY",
    ),
    env_set=(("LITELLM_LOCAL_MODEL_COST_MAP", "True"),),
    config_files=("CONVENTIONS.md",),
    output="text", parser="aider",
    exit_zero_on_failure=True,
    install_hint="pipx install aider-chat",
    docs="Own venv (its pins clash with ours). Plain text only; exits 0 even when the model call "
    "failed: judge by the diff and error lines. Non-native models use the 'whole' edit format.",
    capability=Capability(
        strengths=_scores(0.70, 0.80, 0.78, 0.70, 0.65, 0.50, 0.60, 0.55, 0.35),
        stacks={"python": 0.85, "javascript": 0.75, "typescript": 0.75, "go": 0.7, "rust": 0.7},
        cost_tier=1, context_tokens=128_000,
        notes="Git-native pair programmer; small targeted diffs; quality follows the model.",
    ),
)

# copilot: GitHub-centred (Actions, PR conventions), broad stack coverage; subscription-priced.
COPILOT = AgentSpec(
    name="copilot",
    display_name="GitHub Copilot CLI",
    kind="cli", executable="copilot",
    argv=_cmd("copilot -p {prompt} --allow-all-tools --no-ask-user --output-format json"),
    prompt_via="arg",
    model_args=("--model", "{model}"),
    env_allow=("COPILOT_*", "GH_TOKEN", "GITHUB_TOKEN"),
    home_env="COPILOT_HOME",
    config_files=(".github/copilot-instructions.md", "AGENTS.md"),
    output="stream-json", parser="copilot",
    install_hint="npm install -g @github/copilot",
    auth_hint="set GH_TOKEN or GITHUB_TOKEN",
    docs="JSON events, one per line (the answer is in 'assistant.message'). A local model via "
    "COPILOT_PROVIDER_BASE_URL, COPILOT_PROVIDER_API_KEY, COPILOT_MODEL, COPILOT_OFFLINE=1.",
    capability=Capability(
        strengths=_scores(0.78, 0.75, 0.70, 0.75, 0.70, 0.78, 0.60, 0.75, 0.60),
        stacks={**_PY_TS, "csharp": 0.85, "java": 0.8, "go": 0.75, "yaml": 0.8},
        cost_tier=2, context_tokens=128_000,
        notes="Good with GitHub Actions and repository conventions.",
    ),
)

# cursor: front-end/UI work in TypeScript projects is its home ground; subscription-priced.
CURSOR = AgentSpec(
    name="cursor",
    display_name="Cursor Agent",
    kind="cli", executable="cursor-agent",
    argv=_cmd("cursor-agent -p {prompt} --output-format stream-json --force"),
    prompt_via="arg",
    model_args=("--model", "{model}"),
    env_allow=("CURSOR_API_KEY",),
    config_files=(".cursor/rules/nborch.mdc", "AGENTS.md"),
    output="stream-json", parser="cursor",
    install_hint="curl https://cursor.com/install -fsS | bash",
    auth_hint="set CURSOR_API_KEY",
    docs="JSON lines ending in a 'result' event; no token usage reported. Not in a public "
    "registry and has no base-URL override: test with a stand-in executable of the same name.",
    capability=Capability(
        strengths=_scores(0.82, 0.75, 0.78, 0.70, 0.65, 0.60, 0.60, 0.88, 0.60),
        stacks={"typescript": 0.92, "javascript": 0.9, "css": 0.85, "python": 0.8, "react": 0.9},
        cost_tier=2, context_tokens=200_000,
        notes="Front-end and UI features in TypeScript codebases.",
    ),
)

# cline: bring-your-own-model agent with a plan/act loop; long loops cost tokens.
CLINE = AgentSpec(
    name="cline",
    display_name="Cline CLI",
    kind="cli", executable="cline",
    argv=_cmd("cline -y --json -c {worktree} {prompt}"),
    prompt_via="arg",
    model_args=("-m", "{model}"),
    env_allow=("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY", "GEMINI_API_KEY"),
    home_env="CLINE_DIR",
    config_files=(".clinerules",),
    output="stream-json", parser="cline",
    install_hint="npm install -g cline",
    docs="JSON lines of ask/say messages. Needs 'cline auth ...' once per attempt home. The model "
    "must call its completion tool or Cline loops until the timeout.",
    capability=Capability(
        strengths=_scores(0.78, 0.72, 0.70, 0.70, 0.70, 0.72, 0.60, 0.78, 0.65),
        stacks={"typescript": 0.85, "javascript": 0.85, "python": 0.8},
        cost_tier=2, context_tokens=200_000,
        notes="Plan-then-act loop; quality follows the model it is given.",
    ),
)

# opencode: provider-agnostic and cheap with open models; a steady generalist.
OPENCODE = AgentSpec(
    name="opencode",
    display_name="opencode",
    kind="cli", executable="opencode",
    argv=_cmd("opencode run --format json --dir {worktree} {prompt}"),
    prompt_via="arg",
    model_args=("-m", "{model}"),
    env_allow=("OPENCODE_CONFIG_CONTENT", "ANTHROPIC_API_KEY", "OPENAI_API_KEY",
               "OPENROUTER_API_KEY", "GEMINI_API_KEY"),
    config_files=("AGENTS.md",),
    output="stream-json", parser="opencode",
    install_hint="npm install -g opencode-ai",
    docs="JSON lines (step_start, text, tool_use, step_finish with tokens, error); no closing "
    "event, the run ends with the process. A provider is defined in OPENCODE_CONFIG_CONTENT.",
    capability=Capability(
        strengths=_scores(0.72, 0.72, 0.70, 0.70, 0.68, 0.65, 0.62, 0.68, 0.60),
        stacks={"typescript": 0.85, "javascript": 0.82, "python": 0.8, "go": 0.78},
        cost_tier=1, context_tokens=200_000,
        notes="Model-agnostic generalist; cheap with open models.",
    ),
)

# qwen: Qwen3-Coder via an OpenAI-compatible API: cheap, solid on feature/test in Python/TS.
QWEN = AgentSpec(
    name="qwen",
    display_name="Qwen Code",
    kind="cli", executable="qwen",
    argv=_cmd("qwen -p {prompt} --yolo --auth-type openai --output-format stream-json"),
    prompt_via="arg",
    model_args=("-m", "{model}"),
    env_allow=("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "DASHSCOPE_API_KEY"),
    config_files=("QWEN.md",),
    output="stream-json", parser="qwen",
    install_hint="npm install -g @qwen-code/qwen-code",
    auth_hint="set OPENAI_API_KEY (or DASHSCOPE_API_KEY)",
    docs="JSON lines (a Gemini CLI fork). Auth by OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL.",
    capability=Capability(
        strengths=_scores(0.75, 0.72, 0.68, 0.72, 0.65, 0.60, 0.68, 0.62, 0.55),
        stacks={"python": 0.85, "typescript": 0.8, "javascript": 0.8, "java": 0.75},
        cost_tier=1, context_tokens=256_000,
        notes="Low-cost open-weights coder.",
    ),
)

# windsurf: an IDE with a person at the keyboard: good at UI/feature work, slow in wall time.
WINDSURF = AgentSpec(
    name="windsurf",
    display_name="Windsurf (manual)",
    kind="manual",
    prompt_via="file",
    config_files=(".windsurfrules",),
    output="text", parser="manual",
    install_hint="install the Windsurf editor from https://windsurf.com/download, then open the "
    "prepared worktree in it",
    docs="IDE only, no CLI: nborch prepares the worktree, prompt and .windsurfrules, then waits "
    "for the person to mark the attempt done.",
    capability=Capability(
        strengths=_scores(0.80, 0.75, 0.75, 0.70, 0.70, 0.60, 0.60, 0.82, 0.60),
        stacks={"typescript": 0.85, "javascript": 0.85, "python": 0.8},
        cost_tier=2, context_tokens=200_000,
        notes="Human in the loop: use it where judgement matters more than speed.",
    ),
)

# demo: no model at all; a bundled script that edits the worktree so the pipeline runs anywhere.
DEMO = AgentSpec(
    name="demo",
    display_name="Demo agent (no AI)",
    kind="demo", executable=sys.executable,
    argv=(sys.executable, *_cmd("-m nborch.demo.agent --prompt-file {prompt_file} "
                                "--worktree {worktree} --task-id {task_id}")),
    prompt_via="file",
    model_args=("--model", "{model}"),
    env_allow=("NBORCH_DEMO_*",),  # NBORCH_DEMO_SPEED=0 makes tests and tutorials fast
    config_files=("AGENTS.md",),
    output="stream-json", parser="demo",
    install_hint="ships with nborch (pip install nborch)",
    docs="A scripted stand-in for a real agent, used by 'nborch demo', the tutorials and the "
    "tests. '--model' picks one of its behaviours. Always labelled as a demo agent.",
    capability=Capability(
        strengths=dict.fromkeys(("feature", "bugfix", "test", "docs"), 0.5),
        stacks={"python": 0.5},
        cost_tier=1, context_tokens=0,
        notes="Not a model: scripted edits of differing quality.",
    ),
    is_demo=True,
)


def _demo_variant(behaviour: str, display_name: str, docs: str, notes: str) -> AgentSpec:
    """The demo agent with one fixed behaviour (``--behaviour``), under its own name."""
    return dataclasses.replace(
        DEMO,
        name=f"demo-{behaviour}",
        display_name=display_name,
        argv=(*DEMO.argv, "--behaviour", behaviour),
        docs=f"{docs} Always labelled as a demo agent; see nborch.demo.agent.",
        capability=dataclasses.replace(DEMO.capability, notes=notes),
    )


# The demo agents of differing quality that `nborch demo` and the tutorials pit against `demo`
# (which is careful): one subtly wrong, one that only a timeout stops, one that crashes.
DEMO_HASTY = _demo_variant(
    "hasty", "Demo agent, hasty (no AI; subtle mistakes on purpose)",
    "Applies the hasty solution of a sample-plan task: plausible code whose own tests pass but "
    "that breaks a validation test or an existing test, or fails the careful tests.",
    "Not a model: quick scripted edits with a deliberate, subtle flaw.",
)
DEMO_SLOW = _demo_variant(
    "slow", "Demo agent, slow (no AI; runs ~10 min so a timeout stops it)",
    "Makes one edit, then streams a progress message every second for 600 s (--duration) before "
    "finishing; exits at once on SIGTERM (add --ignore-sigterm to make only SIGKILL work).",
    "Not a model: scripted edits, slow on purpose.",
)
DEMO_BROKEN = _demo_variant(
    "broken", "Demo agent, broken (no AI; crashes on purpose)",
    "Makes one edit, then raises an exception: a traceback on stderr and exit status 1.",
    "Not a model: crashes on purpose after one edit.",
)
DEMO_VARIANTS: tuple[AgentSpec, ...] = (DEMO_HASTY, DEMO_SLOW, DEMO_BROKEN)
"""Demo agents with a fixed behaviour, for ``nborch demo``, the tutorials and the tests."""

BUILTIN_SPECS: tuple[AgentSpec, ...] = (
    CLAUDE, CODEX, GEMINI, AIDER, COPILOT, CURSOR, CLINE, OPENCODE, QWEN, WINDSURF, DEMO,
    *DEMO_VARIANTS,
)
