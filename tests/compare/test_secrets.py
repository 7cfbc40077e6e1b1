"""Keys in nborch's environment never reach a test run's environment or a log: real runs.

An agent writes a test that prints its whole environment and nborch's own (read from
``/proc/<parent>/environ``, which any process of the same user can read). Validation while the run
executes and the comparison afterwards both run it; neither the environment nor any log, tail or
stored record may show a key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nborch
from tests.compare.test_cases import LEAN, agent, execute, make_repo

SECRETS = {"GITHUB_TOKEN": "ghp_" + "a1b2c3d4" * 4, "ANTHROPIC_API_KEY": "sk-ant-" + "z9" * 12,
           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
           "DATABASE_PASSWORD": "correct-horse-battery"}  # fmt: skip
LEAKY_TEST = '''\
import os
import pathlib


def test_leak():
    print("MINE", dict(os.environ))
    parent = pathlib.Path(f"/proc/{os.getppid()}/environ")
    if parent.exists():
        print("PARENT", parent.read_bytes().replace(b"\\0", b"\\n").decode(errors="replace"))
    assert os.environ.get("GITHUB_TOKEN") is None and os.environ.get("ANTHROPIC_API_KEY") is None
    assert os.environ.get("NEEDED_BY_TESTS") == "yes"  # the plan's test_env passes it
'''


@pytest.fixture(scope="module", autouse=True)
def _registry():
    yield
    nborch.agents.reset()


def test_no_key_in_any_test_environment_log_or_record(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    for name, value in {**SECRETS, "NEEDED_BY_TESTS": "yes"}.items():
        monkeypatch.setenv(name, value)
    repo = make_repo(tmp_path / "repo", {"app.py": "X = 1\n", ".gitignore": "__pycache__/\n",
                                         "tests/test_app.py": "def test_x():\n    assert True\n"})
    agent(tmp_path / "agents", "leaky", {"app.py": "X = 2\n", "tests/test_leak.py": LEAKY_TEST})
    run = execute(repo, tmp_path, """\
        ---
        test_command: python -m pytest -q -s
        test_env: [NEEDED_BY_TESTS]
        ---
        # Leak
        ## Task 1: Change X
        Agents: leaky

        **Validation criteria**

        - `python -m pytest -q -s tests/test_leak.py` passes
        """)
    ex = run.executions[("1", "leaky")]
    assert ex.validation == "passed", ex.validation_details  # keys absent, NEEDED_BY_TESTS there
    cmp = nborch.compare(repo, run.id, jobs=1, env=LEAN, coverage=False, metrics=False, save=False)
    # `nborch compare` as a process of its own: keys in its initial environment are what a test
    # reads from /proc/<parent>/environ
    env = {**os.environ, **LEAN}
    done = subprocess.run([sys.executable, "-m", "nborch", "compare", run.id, "-r", str(repo),
                           "--no-metrics", "--no-coverage", "-e", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    for value in SECRETS.values():
        assert value not in done.stdout + done.stderr
    ranked = cmp.tasks["1"][0]
    assert ranked.evidence.own.outcomes["tests/test_leak.py::test_leak"] == "passed"
    written = [p for p in (tmp_path / "wt").rglob("*") if p.is_file()]
    written += [p for p in (repo / ".git" / "nborch").rglob("*") if p.is_file()]
    logs = [p for p in written if p.suffix in (".log", ".json")]
    assert any("MINE" in p.read_text(errors="replace") for p in logs)  # the test did print
    texts = [p.read_text(errors="replace") for p in logs]
    texts += [json.dumps(ex.validation_details), ranked.evidence.own.tail, ranked.evidence.tests.tail]
    for value in SECRETS.values():
        assert not [t for t in texts if value in t]
    if Path("/proc/self/environ").exists():  # Linux: the compare process's keys were masked
        assert any("GITHUB_TOKEN=***" in t for t in texts)


PEEKER = """\
import os, pathlib, sys
pid = os.getppid()
while pid > 1:  # every ancestor: nborch's reaper, then nborch itself
    try:
        parent = pathlib.Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        pid = int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        break
    for item in parent.split("\\0"):
        name, _, value = item.partition("=")
        if name in ("AWS_SECRET_ACCESS_KEY", "DATABASE_PASSWORD"):
            print(f"found {name}={value}", flush=True)
            print(f"last {value}", file=sys.stderr, flush=True)
sys.exit(3)
"""


def test_an_agent_reading_nborchs_environment_shows_no_key(tmp_path: Path) -> None:
    """The agent never gets AWS_SECRET_ACCESS_KEY, but reads it from its parent's environ (nborch
    started with it) and prints it: the log, the CLI's table and JSON, and the store show ``***``."""
    repo = make_repo(tmp_path / "repo", {"app.py": "X = 1\n", ".gitignore": "__pycache__/\n"})
    script = tmp_path / "peek.py"
    script.write_text(PEEKER)
    plan = tmp_path / "plan.md"
    plan.write_text("# P\n## Task 1: Peek\nAgents: peeker\n")
    env = {**os.environ, **SECRETS, "COLUMNS": "250"}
    runs = [subprocess.run([sys.executable, "-m", "nborch", "execute", str(plan), "-r", str(repo),
                            "--script", f"peeker={sys.executable} {script} {{worktree}}",
                            "--root", str(tmp_path / "wt"), "-t", "60s", *extra],
                           capture_output=True, text=True, env=env, timeout=120)
            for extra in ([], ["--json"])]  # fmt: skip
    assert [r.returncode for r in runs] == [1, 1], runs[0].stderr
    logs = [p.read_text() for p in (repo / ".git" / "nborch" / "runs").rglob("agent.log")]
    assert len(logs) == 2 and all("found AWS_SECRET_ACCESS_KEY=***" in log for log in logs), logs
    shown = [*logs, runs[0].stdout, runs[0].stderr, runs[1].stdout, runs[1].stderr]
    with nborch.WorktreeManager(repo).store() as store:
        shown += [repr(store.attempts()), repr([store.events(r.id) for r in store.runs()])]
    for text in shown:
        for value in (SECRETS["AWS_SECRET_ACCESS_KEY"], SECRETS["DATABASE_PASSWORD"]):
            assert value not in text
