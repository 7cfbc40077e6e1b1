"""Turn a prepared attempt into an :class:`AttemptJob`: the exact command, environment and files.

A job is plain, picklable data, so an executor can run it here or ship it to another machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..agents import AgentSpec
from ..errors import AgentError
from ..proc.env import build_env, secrets_of_all

# The per-attempt home/config folder some tools need seeded before they run headless.
HOME_FILES: Mapping[str, Mapping[str, str]] = {
    # Gemini CLI refuses to run headless until an auth type is chosen (see AGENT_CLIS.md).
    "gemini": {".gemini/settings.json": json.dumps(
        {"security": {"auth": {"selectedType": "gemini-api-key"}}})},
}  # fmt: skip
MAX_ARG_PROMPT = 100_000  # bytes; Linux refuses a single argument over 128 KiB


@dataclass(frozen=True, slots=True)
class AttemptJob:
    """Everything needed to run one attempt, without reference to nborch's objects."""

    run_id: str
    task_id: str
    agent: str
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    log_path: Path
    parser: str
    timeout: float | None = None
    grace: float = 5.0
    redact: tuple[str, ...] = ()
    manual: bool = False
    home: Path | None = None
    home_files: Mapping[str, str] = field(default_factory=dict)
    # How ``env`` was made, so another machine can make it from its own environment.
    env_allow: tuple[str, ...] = ()
    env_set: Mapping[str, str] = field(default_factory=dict)
    home_env: str | None = None
    managed_files: tuple[str, ...] = ()  # nborch's files in the worktree, never the agent's work

    def display_argv(self, limit: int = 60) -> str:
        """The command line for people: long arguments (the prompt) shortened."""
        import shlex

        shown = [a if len(a) <= limit else a[: limit - 1] + "…" for a in self.argv]
        return shlex.join(shown)


def build_job(
    spec: AgentSpec,
    *,
    run_id: str,
    task_id: str,
    worktree: Path,
    attempt_dir: Path,
    prompt_path: Path,
    timeout: float | None,
    model: str | None = None,
    base_env: Mapping[str, str] | None = None,
    log_name: str = "agent.log",
    prompt_text: str | None = None,
    managed_files: tuple[str, ...] = (),
) -> AttemptJob:
    """The job for ``spec`` working on one prepared attempt.

    The prompt goes as an argument or as a file, as the spec says; a prompt too large for one
    argument is an :class:`~nborch.AgentError` that says to use a file-based agent or shorten
    the task. ``prompt_text`` stands in for the prompt file's text (a dry run has no file).
    """
    home = attempt_dir / "home"
    log_path = attempt_dir / log_name
    if spec.kind == "manual":
        return AttemptJob(run_id, task_id, spec.name, (), worktree, {}, log_path, spec.parser,
                          timeout, manual=True)  # fmt: skip
    prompt = prompt_text if prompt_text is not None else prompt_path.read_text(encoding="utf-8")
    if spec.prompt_via == "arg" and len(prompt.encode()) > MAX_ARG_PROMPT:
        raise AgentError(f"the prompt of task {task_id!r} is {len(prompt.encode()):,} bytes, more "
                         f"than {spec.name} can take as one argument; shorten the task or use an "
                         "agent that reads a prompt file (aider, a script agent)")  # fmt: skip
    argv = spec.render_argv(prompt=prompt, prompt_file=prompt_path, worktree=worktree,
                            task_id=task_id, model=model)  # fmt: skip
    env = build_env(spec.env_allow, dict(spec.env_set), home, spec.home_env, base=base_env)
    env["NBORCH_RUN_ID"], env["NBORCH_TASK_ID"], env["NBORCH_AGENT"] = run_id, task_id, spec.name
    return AttemptJob(
        run_id=run_id, task_id=task_id, agent=spec.name, argv=tuple(argv), cwd=worktree, env=env,
        log_path=log_path, parser=spec.parser, timeout=timeout,
        redact=secrets_of_all(env, os.environ if base_env is None else base_env), home=home,
        home_files=dict(HOME_FILES.get(spec.name, {})), env_allow=tuple(spec.env_allow),
        env_set=dict(spec.env_set), home_env=spec.home_env, managed_files=tuple(managed_files),
    )  # fmt: skip


def seed_home(job: AttemptJob) -> None:
    """Create the job's home folder and the files its tool needs there (idempotent)."""
    if job.home is None:
        return
    job.home.mkdir(parents=True, exist_ok=True)
    for rel, text in job.home_files.items():
        path = job.home / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
