"""``nborch rehearse``: check that real agents can be driven, without spending a token.

A rehearsal runs a plan's first task (or every task) with each agent against a local
:class:`~nborch.testing.ModelServer` that answers with a script: write ``REHEARSAL_FILE``,
finish. The agents run exactly as ``nborch execute`` runs them — same command lines, worktrees,
per-attempt homes, output parsers — but in a throw-away clone of the repository, and with an
environment that holds only the server's address and a dummy key: none of the caller's
credentials or provider settings reach them, so nothing leaves the machine.

An agent *passes* when its attempt completed and the file landed on its branch. The usual
reasons one does not: not installed, a flag its installed version no longer takes, a
first-run prompt that a headless run cannot answer.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .common import DURATION, EXIT_INCOMPLETE, EXIT_OK, agents_option, emit_json, errors_exit, table

REHEARSAL_FILE = "NBORCH_REHEARSAL.md"
REHEARSAL_TEXT = "Written by an agent during an nborch rehearsal (no model was used).\n"
MODEL = "nborch-rehearsal"
KEY = "nborch-rehearsal-key"


def server_env(url: str, model: str = MODEL) -> dict[str, str]:
    """The variables that point every built-in agent at the model server at ``url``.

    Claude Code, Gemini CLI and the OpenAI clients (Codex through its ``env_args``, Aider, Qwen
    Code) read the vendors' variables; Copilot CLI and opencode have their own.
    """
    v1 = f"{url}/v1"
    opencode = {"model": f"nborch/{model}",
                "autoupdate": False, "share": "disabled",
                "provider": {"nborch": {"npm": "@ai-sdk/openai-compatible", "name": "nborch",
                                        "options": {"baseURL": v1, "apiKey": KEY},
                                        "models": {model: {"name": model}}}}}  # fmt: skip
    return {
        "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": KEY,
        "OPENAI_BASE_URL": v1, "OPENAI_API_BASE": v1, "OPENAI_API_KEY": KEY, "OPENAI_MODEL": model,
        "GOOGLE_GEMINI_BASE_URL": url, "GEMINI_API_KEY": KEY,
        "AIDER_MODEL": f"openai/{model}",
        "COPILOT_PROVIDER_BASE_URL": v1, "COPILOT_PROVIDER_API_KEY": KEY, "COPILOT_MODEL": model,
        "COPILOT_OFFLINE": "1",
        "OPENCODE_CONFIG_CONTENT": json.dumps(opencode),
    }  # fmt: skip


def offline_spec(spec: Any, env: Mapping[str, str]) -> Any:
    """``spec`` with nothing passed through from the caller's environment and ``env`` set."""
    return dataclasses.replace(spec, env_allow=(), env_set=(*spec.env_set, *env.items()))


@contextmanager
def offline_agents(names: Sequence[str], env: Mapping[str, str]) -> Iterator[None]:
    """Register the :func:`offline_spec` of each agent for the ``with`` block, then restore."""
    from .. import agents as registry

    originals = [registry.get(n) for n in names]
    try:
        for spec in originals:
            registry.register(offline_spec(spec, env), replace=True)
        yield
    finally:
        for spec in originals:
            registry.register(spec, replace=True)


@dataclass(frozen=True, slots=True)
class RehearsalRow:
    """How one agent did on one task of the rehearsal."""

    agent: str
    task: str
    status: str
    wrote_file: bool
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    duration_s: float | None
    error: str

    @property
    def passed(self) -> bool:
        return self.status == "completed" and self.wrote_file


def rehearse(repo: str | Path, plan: Any, agents: Sequence[str], *, all_tasks: bool = False,
             timeout: str | float | None = "5m", max_concurrent: int = 4,
             keep: Path | None = None) -> list[RehearsalRow]:  # fmt: skip
    """Run ``agents`` on ``plan``'s first task (every task with ``all_tasks``) against a local
    model server, in a clone of ``repo`` made in ``keep`` (default: a temporary folder, removed
    afterwards). Returns one row per attempt; see the module docstring."""
    from ..errors import NborchError
    from ..gitcmd import Git
    from ..run import Run
    from ..testing import Finish, ModelServer, Script, WriteFile

    if not agents:
        raise NborchError("no agent to rehearse: name some with --agents claude,codex")
    work = Path(keep) if keep is not None else Path(tempfile.mkdtemp(prefix="nborch-rehearsal-"))
    try:
        clone = work / "repo"
        Git(Path(repo).resolve()).run("clone", "--quiet", ".", str(clone))
        script = Script([WriteFile(REHEARSAL_FILE, REHEARSAL_TEXT),
                         Finish(f"Rehearsal: wrote {REHEARSAL_FILE}.")])  # fmt: skip
        with ModelServer(script) as server, offline_agents(agents, server_env(server.url)):
            run = Run(clone, _rehearsal_plan(plan, all_tasks), agents=list(agents),
                              per_task=len(agents), max_concurrent=max_concurrent,
                              timeout=timeout, root=work / "worktrees", base="HEAD",
                              validate=False, include_done=True)  # fmt: skip
            run.check_agents()
            run.run_sync()
        git = Git(clone)
        return [RehearsalRow(
            agent=ex.agent, task=ex.task, status=str(ex.status),
            wrote_file=bool(ex.branch) and git.ok("cat-file", "-e", f"{ex.branch}:{REHEARSAL_FILE}"),
            input_tokens=ex.input_tokens, output_tokens=ex.output_tokens, cost_usd=ex.cost_usd,
            duration_s=ex.duration_s, error=ex.error,
        ) for ex in run.executions.values()]  # fmt: skip
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _rehearsal_plan(plan: Any, all_tasks: bool) -> Any:
    """The tasks to rehearse, free of the plan's own ``Agents:`` lines and ``done`` marks."""
    todo = [t for t in plan.tasks if not t.done] or list(plan.tasks)
    if not all_tasks:
        todo = [dataclasses.replace(todo[0], depends_on=())]
    kept = {t.id for t in todo}
    tasks = tuple(dataclasses.replace(t, agents=(), done=False,
                                      depends_on=tuple(d for d in t.depends_on if d in kept))
                  for t in todo)  # fmt: skip
    return dataclasses.replace(plan, tasks=tasks)


def _default_agents() -> list[str]:
    """The installed command-line agents (demo and manual ones need no rehearsal)."""
    from .. import agents as registry

    return [s.name for s in registry.all_specs() if s.kind == "cli" and s.available()]


@click.command("rehearse")
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@click.option("-r", "--repo-path", "repo", type=click.Path(path_type=Path), default=".",
              show_default=True, help="The git repository (it is cloned; nothing in it changes).")
@click.option("--agents", "agents", default=None, metavar="A,B",
              help="Agents to rehearse (default: every installed command-line agent).")
@click.option("--script", "scripts", multiple=True, metavar="NAME='CMD {prompt_file}'",
              help="Register a command line as an agent; repeatable.")
@click.option("--all-tasks", is_flag=True, help="Every task of the plan, not only the first.")
@click.option("-t", "--timeout", type=DURATION, default="5m", show_default=True, help="Per attempt.")
@click.option("-c", "--max-concurrent", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--keep", type=click.Path(path_type=Path), default=None,
              help="Keep the clone, worktrees and agent logs in this new folder.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@errors_exit
def rehearse_command(plan_path: Path, repo: Path, agents: str | None, scripts: Sequence[str],
                     all_tasks: bool, timeout: float | None, max_concurrent: int, keep: Path | None,
                     as_json: bool) -> None:  # fmt: skip
    """Check that agents can be driven: run them on PLAN against a local scripted model server
    (no account, no token spent) and report, per agent, whether its edit landed."""
    from ..agents.config import load_repo_agents
    from ..plan.load import load_plan
    from .common import register_scripts

    load_repo_agents(repo)
    register_scripts(scripts)
    names = agents_option(agents) or _default_agents()
    rows = rehearse(repo, load_plan(plan_path), names, all_tasks=all_tasks, timeout=timeout,
                    max_concurrent=max_concurrent, keep=keep)  # fmt: skip
    if as_json:
        emit_json({"passed": all(r.passed for r in rows),
                    "attempts": [{**dataclasses.asdict(r), "passed": r.passed} for r in rows]})  # fmt: skip
    else:
        table(f"rehearsal: {sum(r.passed for r in rows)}/{len(rows)} attempts passed",
               ["agent", "task", "result", "status", "tokens in/out", "cost", "error"],
               [(r.agent, r.task, "ok" if r.passed else "FAILED", r.status,
                 f"{r.input_tokens}/{r.output_tokens}",
                 "" if r.cost_usd is None else f"${r.cost_usd:.4f}", r.error[:200]) for r in rows])  # fmt: skip
    sys.exit(EXIT_OK if rows and all(r.passed for r in rows) else EXIT_INCOMPLETE)


COMMANDS = (rehearse_command,)
