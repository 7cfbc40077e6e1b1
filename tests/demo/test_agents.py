"""The demo agents on the sample project: real subprocesses, real git, real pytest runs.

Every sample repository is a fresh ``make_sample_repo`` copy in ``tmp_path``; the sample's own
tests run only there (never in ``nborch/demo/sample``). ``NBORCH_DEMO_SPEED=0`` keeps the agents
from pausing, except where a test is about timing.
"""

from __future__ import annotations

import ast
import doctest
import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import nborch
from nborch import agents
from nborch.agents.builtin import DEMO, DEMO_BROKEN, DEMO_HASTY, DEMO_SLOW, DEMO_VARIANTS
from nborch.agents.parsers import parse_stream
from nborch.demo import PLAN_PATH, make_sample_repo, solutions
from nborch.demo import agent as demo_agent
from nborch.demo.agent import NOTES_FILE, SPEED_ENV, normalise_task_id
from nborch.demo.solutions import Change, UnsafePath, apply, edits, safe_path
from nborch.events import Usage

PLAN = nborch.load_plan(PLAN_PATH)
TASKS = {task.id: task for task in PLAN.tasks}

# What each hasty solution breaks that a gate in its own worktree sees (nothing of the careful
# solution needed): a validation test id that fails or is missing, or an existing test.
CAUGHT_IN_ITS_WORKTREE = {
    "1.1": "tests/test_store.py::test_complete_marks_done",
    "1.3": "tests/test_due.py::test_not_overdue_when_done_due_today_or_undated",
    "1.4": "tests/test_store.py::test_add_assigns_increasing_ids",
    "2.2": "tests/test_cli.py::test_list_empty",
    "2.3": "tests/test_models.py::test_str_shows_state_priority_tags_and_due",
}
# Hasty solutions whose own suite passes: the careful tests, run on their code, fail.
CAUGHT_BY_CROSS_TESTING = {
    "1.2": "tests/test_search.py::test_search_is_case_insensitive",
    "2.1": "tests/test_storage.py::test_roundtrip_preserves_every_field",
    "2.4": "tests/test_docs.py::test_readme_examples_pass",
}


@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    @property
    def result(self) -> dict[str, Any]:
        last = self.events[-1]
        assert last["type"] == "result", self.stdout
        return last

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


def dependencies(task_id: str) -> list[str]:
    """Every task ``task_id`` depends on, directly or not, in plan order."""
    seen: set[str] = set()
    todo = list(TASKS[task_id].depends_on)
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(TASKS[dep].depends_on)
    return [t for t in TASKS if t in seen]


def sample(tmp_path: Path, task_id: str | None = None, name: str = "repo") -> Path:
    """A fresh sample repository with the careful work of ``task_id``'s dependencies in it."""
    repo = make_sample_repo(tmp_path / name)
    for dep in dependencies(task_id) if task_id else []:
        for change in solutions.solution_for(dep, "careful", repo).changes:
            apply(repo, change)
    return repo


def clean_env(**extra: str) -> dict[str, str]:
    drop = ("PYTEST_", "NBORCH_DEMO_", "TODO_FILE", "GIT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def agent_argv(spec, repo: Path, task_id: str, tmp_path: Path, *extra: str, **values) -> list[str]:
    prompt = tmp_path / f"prompt-{task_id or 'none'}.md"
    if not prompt.exists():
        title = TASKS[task_id].title if task_id in TASKS else "Something of your own"
        prompt.write_text(f"# Prompt\n\n### Task {task_id}: {title}\n\nDo it well.\n")
    argv = spec.render_argv(prompt_file=prompt, worktree=repo, task_id=task_id, **values)
    return [*argv, *extra]


def run_agent(spec, repo: Path, task_id: str, tmp_path: Path, *extra: str, speed: str = "0",
              **values) -> AgentRun:  # fmt: skip
    result = subprocess.run(
        agent_argv(spec, repo, task_id, tmp_path, *extra, **values), cwd=repo,
        env=clean_env(**{SPEED_ENV: speed}), stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    return AgentRun(result.returncode, result.stdout, result.stderr)


def run_suite(repo: Path, tmp_path: Path) -> tuple[int, dict[str, str]]:
    """Run the sample's whole suite in ``repo``: the exit code and each test id's outcome."""
    report = tmp_path / f"junit-{time.monotonic_ns()}.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=repo, env=clean_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert report.exists(), result.stdout + result.stderr
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
        bad = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[test_id] = bad[0] if bad else "passed"
    return result.returncode, outcomes


def validation_ids(task_id: str) -> list[str]:
    return [t for criterion in TASKS[task_id].validation for t in criterion.tests]


def validation_commands(task_id: str) -> list[list[str]]:
    """The task's validation commands other than pytest runs (the whole suite covers those)."""
    commands = [shlex.split(c) for c in TASKS[task_id].commands]
    return [[sys.executable, *c[1:]] for c in commands if c[0] == "python" and "pytest" not in c]


def run_command(argv: list[str], repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=repo, env=clean_env(), capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def existing_tests(repo: Path) -> set[str]:
    """The test ids in ``repo`` now, read from its test files (parameters left out)."""
    ids = set()
    for path in (repo / "tests").glob("test_*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                ids.add(f"tests/{path.name}::{node.name}")
    return ids


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], env=clean_env(), check=True,
                            capture_output=True, text=True)  # fmt: skip
    return result.stdout


@contextmanager
def streaming(argv: list[str], repo: Path) -> Iterator[tuple[subprocess.Popen[str], queue.Queue]]:
    """Start an agent in its own process group; its stdout lines arrive in a queue."""
    with subprocess.Popen(argv, cwd=repo, env=clean_env(**{SPEED_ENV: "0"}),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True,
                          start_new_session=True) as proc:  # fmt: skip
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
        reader.start()
        try:
            yield proc, lines
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            reader.join(timeout=10)


def wait_for(lines: queue.Queue, found: Callable[[dict], bool], timeout: float) -> list[dict]:
    """Events read until one satisfies ``found`` (it included); fails after ``timeout`` seconds."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no matching event within {timeout} s; got {seen}"
        try:
            event = json.loads(lines.get(timeout=left))
        except queue.Empty:
            continue
        seen.append(event)
        if found(event):
            return seen


def progress(event: dict) -> bool:
    return event["type"] == "message" and event["text"].startswith("Still working")


class TestCarefulAgent:
    @pytest.mark.parametrize("task_id", solutions.TASK_IDS)
    def test_passes_every_validation_criterion(self, tmp_path, task_id):
        """The careful agent's work passes the task's validation test ids and commands and the whole suite."""
        repo = sample(tmp_path, task_id)
        run = run_agent(agents.get("demo"), repo, task_id, tmp_path)
        assert run.returncode == 0, run.stderr
        assert run.result["is_error"] is False
        code, outcomes = run_suite(repo, tmp_path)
        assert code == 0 and set(outcomes.values()) == {"passed"}, outcomes
        for test_id in validation_ids(task_id):
            assert outcomes.get(test_id) == "passed", test_id
        for argv in validation_commands(task_id):
            result = run_command(argv, repo)
            assert result.returncode == 0, result.stdout + result.stderr
        assert not (repo / "todos.json").exists()

    def test_solutions_merge_like_the_coordinator_combines_them(self, tmp_path):
        """Each careful solution on a branch from its dependencies' branches merges into one integration branch whose suite passes."""
        repo = sample(tmp_path)
        for task_id in solutions.TASK_IDS:
            git(repo, "checkout", "-q", "-b", f"demo/{task_id}", "main")
            for dep in TASKS[task_id].depends_on:
                git(repo, "merge", "-q", "--no-edit", f"demo/{dep}")
            for change in solutions.solution_for(task_id, "careful", repo).changes:
                apply(repo, change)
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"Task {task_id}")
        git(repo, "checkout", "-q", "-b", "integration", "main")
        for task_id in reversed(solutions.TASK_IDS):
            git(repo, "merge", "-q", "--no-edit", f"demo/{task_id}")
        code, outcomes = run_suite(repo, tmp_path)
        assert code == 0 and len(outcomes) > 50, outcomes
        assert run_command([sys.executable, "-m", "doctest", "README.md"], repo).returncode == 0

    def test_documents_overdue_only_when_it_is_there(self, tmp_path):
        """Task 2.4's README shows overdue() when task 1.3's work is in the worktree, and says why not otherwise."""
        repo = sample(tmp_path, "2.4")
        without = solutions.solution_for("2.4", "careful", repo)
        assert "overdue" not in without.changes[0].new and any("1.3" in n for n in without.notes)
        for change in solutions.solution_for("1.3", "careful").changes:
            apply(repo, change)
        run = run_agent(DEMO, repo, "2.4", tmp_path)
        assert run.returncode == 0, run.stderr
        assert "store.overdue(today=date(2030, 5, 1))" in (repo / "README.md").read_text()
        assert run_command([sys.executable, "-m", "doctest", "README.md"], repo).returncode == 0

    def test_running_twice_changes_nothing_more(self, tmp_path):
        """A second run on the same worktree (a resume) finds every change made and edits nothing."""
        repo = sample(tmp_path, "1.1")
        assert run_agent(DEMO, repo, "1.1", tmp_path).returncode == 0
        diff = git(repo, "diff")
        again = run_agent(DEMO, repo, "1.1", tmp_path)
        assert again.returncode == 0 and again.result["is_error"] is False
        assert again.kinds("file_edit") == [] and git(repo, "diff") == diff
        assert sum("already has this change" in m["text"] for m in again.kinds("message")) == 4

    def test_takes_a_short_realistic_time(self, tmp_path):
        """At normal speed the careful agent takes between 0.2 and about 1 second."""
        repo = sample(tmp_path, "1.1")
        started = time.monotonic()
        run = run_agent(DEMO, repo, "1.1", tmp_path, speed="1")
        elapsed = time.monotonic() - started
        assert run.returncode == 0
        assert 0.2 <= elapsed <= 2.5, elapsed  # about 0.8 s; the slack is for a busy machine


class TestHastyAgent:
    @pytest.mark.parametrize("task_id", sorted(CAUGHT_IN_ITS_WORKTREE))
    def test_breaks_a_validation_id_or_an_existing_test(self, tmp_path, task_id):
        """The hasty agent's own new tests pass, yet a validation test id or an existing test fails in its worktree."""
        repo = sample(tmp_path, task_id)
        before = existing_tests(repo)
        run = run_agent(DEMO_HASTY, repo, task_id, tmp_path)
        assert run.returncode == 0 and run.result["is_error"] is False
        _, outcomes = run_suite(repo, tmp_path)
        failed = [t for t, o in outcomes.items() if o != "passed"]
        assert [t for t in failed if t.split("[")[0] not in before] == []  # its own tests pass
        broken = [t for t in validation_ids(task_id) if outcomes.get(t) != "passed"]
        broken += [t for t in failed if t.split("[")[0] in before]
        assert CAUGHT_IN_ITS_WORKTREE[task_id] in broken

    def test_docs_fail_the_doctest_command(self, tmp_path):
        """Task 2.4's hasty README fails the validation command `python -m doctest README.md`."""
        repo = sample(tmp_path, "2.4")
        assert run_agent(DEMO_HASTY, repo, "2.4", tmp_path).returncode == 0
        result = run_command([sys.executable, "-m", "doctest", "README.md"], repo)
        assert result.returncode != 0 and "#Errands" in result.stdout

    @pytest.mark.parametrize("task_id", sorted(CAUGHT_BY_CROSS_TESTING))
    def test_fails_the_careful_tests(self, tmp_path, task_id):
        """Where the hasty agent's own suite passes, the careful agent's tests fail on its code."""
        repo = sample(tmp_path, task_id)
        assert run_agent(DEMO_HASTY, repo, task_id, tmp_path).returncode == 0
        code, _ = run_suite(repo, tmp_path)
        assert code == 0
        careful = solutions.solution_for(task_id, "careful", repo)
        for change in careful.changes:
            if change.kind == "write" and change.path.startswith("tests/"):
                apply(repo, change)
        _, outcomes = run_suite(repo, tmp_path)
        assert outcomes[CAUGHT_BY_CROSS_TESTING[task_id]] == "failure"

    def test_every_task_has_a_flaw_that_is_caught(self):
        """Every hasty solution says what it gets wrong, and each is caught by one of the checks above."""
        caught = set(CAUGHT_IN_ITS_WORKTREE) | set(CAUGHT_BY_CROSS_TESTING)
        assert caught == set(solutions.TASK_IDS)
        assert len(CAUGHT_IN_ITS_WORKTREE) >= 5
        for task_id in solutions.TASK_IDS:
            assert solutions.solution_for(task_id, "hasty").flaw


class TestEvents:
    def test_json_lines_ending_in_one_result(self, tmp_path):
        """Every stdout line is a demo event the parser understands, ending in one result with the totals."""
        repo = sample(tmp_path, "1.1")
        run = run_agent(DEMO, repo, "1.1", tmp_path)
        kinds = [e["type"] for e in run.events]
        assert kinds[-1] == "result" and kinds.count("result") == 1
        first = run.events[0]["text"]
        assert "demo agent" in first and "invented" in first and "No AI model" in first
        size = len((tmp_path / "prompt-1.1.md").read_bytes())
        assert any(f"{size} bytes" in m["text"] for m in run.kinds("message"))
        edited = sorted(e["path"] for e in run.kinds("file_edit"))
        assert len(run.kinds("tool_call")) == len(edited) == 4
        assert edited == sorted(line[3:] for line in git(repo, "status", "--porcelain").splitlines())
        parsed = parse_stream(run.stdout.splitlines(), "demo")
        assert [e for e in parsed if e.kind == "log"] == []
        reported = [e.text for e in parsed if e.kind == "file_edit"]
        assert reported == [e["path"] for e in run.kinds("file_edit")]  # once per file
        usage = Usage.of(parsed)
        assert usage.input_tokens == run.result["input_tokens"] > 0
        assert usage.input_tokens == sum(e["input_tokens"] for e in run.kinds("usage"))
        assert usage.cost_usd == 0.0 and not usage.is_error

    def test_missing_prompt_file_is_a_usage_error(self, tmp_path):
        """Without a readable prompt file the agent reports an error result and exits 2."""
        repo = sample(tmp_path)
        argv = [sys.executable, "-m", "nborch.demo.agent", "--prompt-file",
                str(tmp_path / "nope.md"), "--worktree", str(repo), "--task-id", "1.1"]  # fmt: skip
        result = subprocess.run(argv, env=clean_env(), capture_output=True, text=True, timeout=60,
                                check=False)  # fmt: skip
        assert result.returncode == 2
        last = json.loads(result.stdout.splitlines()[-1])
        assert last["type"] == "result" and last["is_error"] is True
        assert git(repo, "status", "--porcelain") == ""


class TestUnknownTasks:
    def test_unknown_task_gets_only_a_notes_file(self, tmp_path):
        """A task the sample plan lacks gets a labelled NBORCH_DEMO_NOTES.md, nothing else, and no error."""
        repo = sample(tmp_path)
        run = run_agent(DEMO, repo, "7.3", tmp_path)
        assert run.returncode == 0 and run.result["is_error"] is False
        assert "'7.3' is not one it knows" in run.result["text"]
        assert git(repo, "status", "--porcelain") == f"?? {NOTES_FILE}\n"
        notes = (repo / NOTES_FILE).read_text()
        assert "demo agent" in notes and "No AI model ran" in notes and "`7.3`" in notes

    def test_known_task_in_another_project_gets_only_a_notes_file(self, git_repo, tmp_path):
        """Task 1.1 of a repository that is not the sample project is not touched either."""
        run = run_agent(DEMO_HASTY, git_repo, "1.1", tmp_path)
        assert run.returncode == 0 and run.result["is_error"] is False
        assert git(git_repo, "status", "--porcelain") == f"?? {NOTES_FILE}\n"
        assert "not the sample project" in (git_repo / NOTES_FILE).read_text()

    def test_task_id_found_in_the_prompt(self, tmp_path):
        """Without --task-id the agent takes the task id from the prompt's 'Task 1.1' heading."""
        repo = sample(tmp_path)
        agent_argv(DEMO, repo, "1.1", tmp_path)  # writes prompt-1.1.md
        argv = DEMO.render_argv(prompt_file=tmp_path / "prompt-1.1.md", worktree=repo, task_id="")
        result = subprocess.run(argv, env=clean_env(**{SPEED_ENV: "0"}), capture_output=True,
                                text=True, timeout=60, check=False)  # fmt: skip
        assert result.returncode == 0
        assert "M todo/store.py" in git(repo, "status", "--porcelain")

    def test_task_ids_are_normalised(self):
        """Common spellings of a task id all name the same task."""
        for raw in ("1.1", " Task 1.1 ", "task-1-1", "1_1", "TASK_1.1"):
            assert normalise_task_id(raw) == "1.1"

    def test_model_naming_a_behaviour_picks_it(self, tmp_path):
        """--model hasty on the plain demo agent selects the hasty behaviour; other models are ignored."""
        repo = sample(tmp_path)
        run = run_agent(DEMO, repo, "9.9", tmp_path, model="hasty")
        assert "hasty behaviour" in run.events[0]["text"]
        other = run_agent(DEMO, repo, "9.9", tmp_path, model="gpt-x")
        assert "careful behaviour" in other.events[0]["text"] and "ignored" in other.events[0]["text"]


class TestWorktreeBoundary:
    def test_symlink_out_of_the_worktree_is_refused(self, tmp_path):
        """Edits that would land outside the worktree through a symlink are refused and reported."""
        repo = sample(tmp_path)
        outside = tmp_path / "outside"
        shutil.copytree(repo / "todo", outside)
        shutil.rmtree(repo / "todo")
        (repo / "todo").symlink_to(outside, target_is_directory=True)
        before = {p.name: p.read_bytes() for p in outside.iterdir()}
        run = run_agent(DEMO, repo, "1.1", tmp_path)
        assert run.returncode == 1 and run.result["is_error"] is True
        errors = [e["text"] for e in run.kinds("error")]
        assert len(errors) == 2 and all("outside the worktree" in e for e in errors)
        assert {p.name: p.read_bytes() for p in outside.iterdir()} == before
        assert sorted(e["path"] for e in run.kinds("file_edit")) == [
            "tests/test_cli.py", "tests/test_store.py",
        ]  # fmt: skip

    @pytest.mark.parametrize("path", ["../x.py", "/etc/passwd", "todo/../../x.py", ".git/config", ""])
    def test_safe_path_refuses_escapes(self, tmp_path, path):
        """Absolute paths, '..' out of the worktree and its .git are refused before anything is written."""
        with pytest.raises(UnsafePath):
            safe_path(tmp_path, path)
        with pytest.raises(UnsafePath):
            apply(tmp_path, Change(path, "write", "x"))
        assert list(tmp_path.iterdir()) == []

    def test_safe_path_accepts_paths_inside(self, tmp_path):
        """A relative path inside the worktree resolves to that file."""
        assert safe_path(tmp_path, "todo/./x.py") == (tmp_path / "todo" / "x.py").resolve()


class TestBrokenAgent:
    def test_edits_one_file_then_crashes(self, tmp_path):
        """The broken agent edits one file, then exits 1 with a traceback and no result event."""
        repo = sample(tmp_path, "1.1")
        run = run_agent(DEMO_BROKEN, repo, "1.1", tmp_path)
        assert run.returncode == 1
        assert "Traceback (most recent call last)" in run.stderr and "RuntimeError" in run.stderr
        assert git(repo, "status", "--porcelain") == " M todo/store.py\n"
        assert [e["path"] for e in run.kinds("file_edit")] == ["todo/store.py"]
        assert run.kinds("result") == []


class TestSlowAgent:
    def test_streams_progress_and_stops_on_sigterm(self, tmp_path):
        """The slow agent reports progress every second and exits promptly on SIGTERM, its first edit kept."""
        repo = sample(tmp_path, "1.1")
        with streaming(agent_argv(DEMO_SLOW, repo, "1.1", tmp_path), repo) as (proc, lines):
            wait_for(lines, progress, timeout=10)
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=5) == 128 + signal.SIGTERM
            assert time.monotonic() - sent < 2
            last = wait_for(lines, lambda e: e["type"] == "result", timeout=5)[-1]
        assert last["is_error"] is True and "SIGTERM" in last["text"]
        assert git(repo, "status", "--porcelain") == " M todo/store.py\n"

    def test_ignore_sigterm_leaves_only_sigkill(self, tmp_path):
        """With --ignore-sigterm the slow agent keeps streaming after SIGTERM until SIGKILL."""
        repo = sample(tmp_path, "1.1")
        argv = agent_argv(DEMO_SLOW, repo, "1.1", tmp_path, "--ignore-sigterm")
        with streaming(argv, repo) as (proc, lines):
            wait_for(lines, lambda e: "Ignoring SIGTERM" in e.get("text", ""), timeout=10)
            proc.send_signal(signal.SIGTERM)
            wait_for(lines, progress, timeout=5)
            assert proc.poll() is None
            os.killpg(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=5) == -signal.SIGKILL

    def test_finishes_the_job_after_its_duration(self, tmp_path):
        """Given a short --duration the slow agent ends with the careful work and a good result."""
        repo = sample(tmp_path, "1.1")
        run = run_agent(DEMO_SLOW, repo, "1.1", tmp_path, "--duration", "1.1")
        assert run.returncode == 0 and run.result["is_error"] is False
        assert [m for m in run.kinds("message") if progress(m)]
        assert len(run.kinds("file_edit")) == 4


class TestSpecs:
    @pytest.mark.parametrize("spec", [DEMO, *DEMO_VARIANTS], ids=lambda s: s.name)
    def test_labelled_demo_agents_running_the_bundled_module(self, spec):
        """Every demo spec is a demo kind, says 'demo' in its name, and runs nborch.demo.agent."""
        assert spec.is_demo and spec.kind == "demo" and "demo" in spec.display_name.lower()
        argv = spec.render_argv(prompt_file="F", worktree="W", task_id="T")
        assert argv[:3] == [sys.executable, "-m", "nborch.demo.agent"]
        assert spec.available()

    def test_variants_fix_their_behaviour(self):
        """demo-hasty, demo-slow and demo-broken pass their behaviour; plain demo stays careful."""
        for spec in DEMO_VARIANTS:
            argv = spec.render_argv(prompt_file="F", worktree="W", task_id="T")
            assert argv[-2:] == ["--behaviour", spec.name.removeprefix("demo-")]
        assert "--behaviour" not in DEMO.argv and agents.get("demo") is DEMO

    def test_docstring_examples_pass(self):
        """The examples in the demo agent's and the solutions' docstrings run as written."""
        for module in (demo_agent, solutions, edits):
            result = doctest.testmod(module)
            assert result.failed == 0, module.__name__
