"""Fixtures for driving the real agent CLIs (``make agents``) through ``nborch execute``.

The CLIs are looked up like nborch does (``$NBORCH_AGENT_PATH``, then ``PATH``). A missing one
skips its tests, unless ``NBORCH_REQUIRE_AGENTS=1`` (set by ``make test-agents``) makes that a
failure. Every agent talks only to a :class:`~nborch.testing.ModelServer` on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from nborch.agents.spec import find_program
from nborch.cli.rehearse import server_env
from nborch.testing import Finish, ModelServer, Script, WriteFile

FILE = "hello.txt"
TEXT = "hello from the model server\n"
SCRIPT = Script([WriteFile(FILE, TEXT), Finish(f"Created {FILE}.")])
PLAN = """# Agent check

## Task 1: Write the greeting

Write `hello.txt` with a greeting.

**Deliverables**
- `hello.txt`
"""
# The variables of the caller that nborch and git need; nothing else reaches `nborch execute`.
KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "NBORCH_AGENT_PATH")
PROGRAMS = {"aider": "aider", "claude": "claude", "codex": "codex", "gemini": "gemini",
            "qwen": "qwen", "opencode": "opencode", "copilot": "copilot"}  # fmt: skip


def need(agent: str) -> str:
    """The agent's program, or skip (fail under NBORCH_REQUIRE_AGENTS=1) when not installed."""
    found = find_program(PROGRAMS[agent])
    if found is None:
        message = f"{agent} is not installed: run `make agents` and set NBORCH_AGENT_PATH"
        if os.environ.get("NBORCH_REQUIRE_AGENTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass
class Outcome:
    """What one `nborch execute --json` run gave: its exit code, its attempt, the repository."""

    code: int
    attempt: dict[str, Any]
    stderr: str
    repo: Path

    def on_branch(self, path: str) -> str | None:
        """The text of ``path`` on the attempt's branch, or None when it is not there."""
        shown = subprocess.run(["git", "show", f"{self.attempt['branch']}:{path}"], cwd=self.repo,
                               capture_output=True, text=True)  # fmt: skip
        return shown.stdout if shown.returncode == 0 else None

    def log(self) -> str:
        return Path(self.attempt["log_path"]).read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> list[str]:
        """The agent's own stdout lines from the log (no stderr, no runner notes)."""
        return [line for line in self.log().splitlines()
                if not line.startswith(("[stderr] ", "[nborch] "))]  # fmt: skip


def record(out: Outcome, agent: str, case: str) -> None:
    """With NBORCH_RECORD_STREAMS=DIR, keep the agent's stdout as DIR/AGENT.CASE.jsonl (the
    parser fixtures in tests/data/agent_streams were made so)."""
    folder = os.environ.get("NBORCH_RECORD_STREAMS")
    if not folder or not Path(out.attempt["log_path"]).exists():
        return
    version = subprocess.run([need(agent), "--version"], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL).stdout.strip().splitlines()[:1]  # fmt: skip
    ext = "txt" if agent == "aider" else "jsonl"
    head = (f"# {agent} {' '.join(version)} via `nborch execute` against nborch.testing."
            f"ModelServer ({case}); recorded by tests_agents with NBORCH_RECORD_STREAMS.\n")
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{agent}.{case}.{ext}").write_text(head + "\n".join(out.stdout()) + "\n")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small git repository with one commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# Greeting\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "Test"],
                 ["config", "user.email", "test@example.invalid"], ["add", "-A"],
                 ["commit", "-q", "--no-verify", "-m", "start"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return repo


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(SCRIPT) as server:
        yield server


@pytest.fixture
def execute(tmp_path: Path, repo: Path) -> Callable[..., Outcome]:
    """Run `nborch execute` on the one-task plan with one agent against ``server``."""

    def run(agent: str, server: ModelServer, *options: str, timeout: str = "180s",
            env: dict[str, str] | None = None, case: str = "") -> Outcome:
        need(agent)
        plan = tmp_path / "plan.md"
        plan.write_text(PLAN)
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        given = env or {}
        env = {k: os.environ[k] for k in KEEP if k in os.environ}
        env.update(HOME=str(home), **server_env(server.url), **given)
        done = subprocess.run(
            [sys.executable, "-m", "nborch", "execute", str(plan), "-r", str(repo), "--agents",
             agent, "--json", "--no-validate", "--timeout", timeout,
             "--root", str(tmp_path / "worktrees"), *options],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        try:
            attempts = json.loads(done.stdout)["attempts"]
        except (json.JSONDecodeError, KeyError):
            pytest.fail(f"no JSON from nborch execute (exit {done.returncode}): {done.stderr}")
        assert len(attempts) == 1
        out = Outcome(done.returncode, attempts[0], done.stderr, repo)
        if case:
            record(out, agent, case)
        return out

    return run


def processes_in(folder: Path) -> list[str]:
    """The processes still running with a working directory inside ``folder``."""
    left = []
    for proc in psutil.process_iter(["pid", "name", "cwd"]):
        cwd = proc.info.get("cwd")
        if cwd and Path(cwd).is_relative_to(folder):
            left.append(f"{proc.info['pid']} {proc.info['name']}")
    return left
