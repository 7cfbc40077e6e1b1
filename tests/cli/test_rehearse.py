"""`nborch rehearse`: agents driven against a local model server, offline, in a clone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nborch import agents
from nborch.cli.main import main
from nborch.cli.rehearse import (
    REHEARSAL_FILE,
    REHEARSAL_TEXT,
    offline_agents,
    offline_spec,
    rehearse,
    server_env,
)
from nborch.plan.load import load_plan

# A minimal coding agent: asks the server (OpenAI Chat Completions) what to do, runs the
# write_file calls it gets, sends the results back, until the model stops calling tools.
MINI_AGENT = r'''
import json, os, sys, urllib.request
url = os.environ["OPENAI_BASE_URL"] + "/chat/completions"
tool = {"type": "function", "function": {"name": "write_file", "parameters": {
    "type": "object", "properties": {"file_path": {"type": "string"},
                                     "content": {"type": "string"}}}}}
messages = [{"role": "user", "content": open(sys.argv[1]).read()}]
for _ in range(5):
    body = json.dumps({"model": os.environ["OPENAI_MODEL"], "messages": messages,
                       "tools": [tool]}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json",
                                     "authorization": "Bearer " + os.environ["OPENAI_API_KEY"]})
    answer = json.load(urllib.request.urlopen(request))["choices"][0]["message"]
    messages.append(answer)
    if not answer.get("tool_calls"):
        print(answer["content"])
        break
    for call in answer["tool_calls"]:
        args = json.loads(call["function"]["arguments"])
        with open(args["file_path"], "w") as out:
            out.write(args["content"])
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": "ok"})
'''

PLAN = """# Rehearsal plan

## Task 1: Add a greeting

Agents: claude

**Deliverables**
- `hello.py`

## Task 2: Document it

Depends on: 1
"""


@pytest.fixture(autouse=True)
def clean_registry():
    agents.reset()
    yield
    agents.reset()


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.md"
    path.write_text(PLAN)
    return path


@pytest.fixture
def mini_agent(tmp_path: Path) -> str:
    """A script agent that follows the model server's answers."""
    script = tmp_path / "mini_agent.py"
    script.write_text(MINI_AGENT)
    agents.script_agent("mini", f"{sys.executable} {script} {{prompt_file}}")
    return "mini"


class TestOfflineSpecs:
    """The agents of a rehearsal see the server and nothing of the caller's environment."""

    def test_nothing_passes_through(self):
        """Allow-lists are emptied and the server's variables set."""
        spec = offline_spec(agents.get("claude"), {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
        assert spec.env_allow == ()
        assert ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9") in spec.env_set
        assert ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1") in spec.env_set

    def test_codex_follows_the_server(self):
        """Codex's provider arguments come from the server's OPENAI_BASE_URL, not the caller's."""
        env = server_env("http://127.0.0.1:9")
        spec = offline_spec(agents.get("codex"), env)
        argv = spec.render_argv(prompt="p", worktree="/w",
                                env={"OPENAI_BASE_URL": "https://elsewhere.invalid/v1"})  # fmt: skip
        assert 'model_providers.nborch.base_url="http://127.0.0.1:9/v1"' in argv

    def test_every_url_is_local(self):
        """Every address handed to the agents is the server's."""
        env = server_env("http://127.0.0.1:9")
        urls = [v for k, v in env.items() if "URL" in k or "API_BASE" in k]
        assert urls and all(u.startswith("http://127.0.0.1:9") for u in urls)
        assert json.loads(env["OPENCODE_CONFIG_CONTENT"])["provider"]["nborch"]["options"][
            "baseURL"] == "http://127.0.0.1:9/v1"

    def test_specs_are_restored(self):
        """Leaving the block puts the user's own specs back, even after an error."""
        before = agents.get("gemini")
        with pytest.raises(RuntimeError), offline_agents(["gemini"], {"X_URL": "u"}):
            assert agents.get("gemini").env_allow == ()
            raise RuntimeError("boom")
        assert agents.get("gemini") is before


class TestRehearse:
    """A script agent that asks the server what to do passes the rehearsal."""

    def test_first_task_in_a_clone(self, git_repo, plan_file, mini_agent, tmp_path):
        """The agent writes the file on its branch in the clone; the repository is untouched."""
        rows = rehearse(git_repo, load_plan(plan_file), [mini_agent], timeout="60s",
                        keep=tmp_path / "kept")  # fmt: skip
        assert [(r.agent, r.task, r.status, r.wrote_file) for r in rows] == [
            ("mini", "1", "completed", True)]
        assert rows[0].passed
        clone = tmp_path / "kept" / "repo"
        branch = subprocess.run(["git", "branch", "--list", "nborch/*", "--format=%(refname)"],
                                cwd=clone, capture_output=True, text=True).stdout.split()  # fmt: skip
        shown = subprocess.run(["git", "show", f"{branch[0]}:{REHEARSAL_FILE}"], cwd=clone,
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert shown == REHEARSAL_TEXT
        mine = subprocess.run(["git", "branch", "--list", "nborch/*"], cwd=git_repo,
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert mine == "" and not (git_repo / REHEARSAL_FILE).exists()

    def test_an_agent_that_cannot_be_driven_fails(self, git_repo, plan_file):
        """A script agent that ignores the server completes without the file: not passed."""
        agents.script_agent("idle", f"{sys.executable} -c pass")
        rows = rehearse(git_repo, load_plan(plan_file), ["idle"], timeout="60s")
        assert len(rows) == 1 and rows[0].status == "completed" and not rows[0].passed

    def test_cli_reports_json_and_exit_code(self, git_repo, plan_file, tmp_path):
        """`nborch rehearse --all-tasks --json` runs every task and exits 0 when all passed."""
        script = tmp_path / "mini_agent.py"
        script.write_text(MINI_AGENT)
        result = CliRunner().invoke(main, [
            "rehearse", str(plan_file), "-r", str(git_repo), "--agents", "mini", "--all-tasks",
            "--script", f"mini={sys.executable} {script} {{prompt_file}}", "--json", "-t", "60s",
        ])  # fmt: skip
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["passed"] is True
        assert [(a["task"], a["passed"]) for a in report["attempts"]] == [("1", True), ("2", True)]
