"""The result cache, with real agent processes, real git and the real store.

Each agent script counts its runs in a file outside the repository, so a test sees whether an
attempt ran or was reused.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nborch
from nborch import AttemptState, Coordinator
from nborch.execute.cache import normalised
from nborch.execute.executor import LocalExecutor
from nborch.execute.table import run_html, run_text
from nborch.plan.markdown import parse_markdown

S = AttemptState

AGENT = """\
import pathlib, sys
wt, task = pathlib.Path(sys.argv[1]), sys.argv[2]
runs = pathlib.Path(__file__).resolve().parent / "runs.txt"
with runs.open("a") as f:
    f.write(task + "\\n")
(wt / f"task{task}.txt").write_text(f"task {task}\\n")
"""

PLAN = """\
# Cached plan

## Task 1: First
Agents: worker

Write task1.txt.

**Validation criteria**

- `test -f task1.txt` passes.

## Task 2: Second
Agents: worker

Write task2.txt.

## Task 3: Builds on the second
Agents: worker
Dependencies: 2

Write task3.txt.

## Task 4: Last
Agents: worker

Write task4.txt.
"""


@pytest.fixture(autouse=True)
def _registry():
    yield
    nborch.agents.reset()


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """The test repository with a ``.gitignore``, as users' repositories have."""
    (git_repo / ".gitignore").write_text("__pycache__/\n*.log\n")
    git(git_repo, "add", ".gitignore")
    git(git_repo, "commit", "-q", "-m", "ignore")
    return git_repo


def git(cwd: Path, *args: str) -> str:
    res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return res.stdout.strip()


def worker(tmp_path: Path, body: str = AGENT) -> Path:
    folder = tmp_path / "agent"
    folder.mkdir(exist_ok=True)
    script = folder / "worker.py"
    script.write_text(textwrap.dedent(body))
    nborch.script_agent("worker", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} "
                                  "{worktree} {task_id}")  # fmt: skip
    return folder / "runs.txt"


def ran(counter: Path) -> list[str]:
    """The tasks the agent ran since the last call (the counter is emptied)."""
    if not counter.exists():
        return []
    tasks = counter.read_text().split()
    counter.unlink()
    return sorted(tasks)


def execute(repo: Path, tmp_path: Path, text: str = PLAN, **kw) -> Coordinator:
    kw.setdefault("executor", LocalExecutor(grace=0.5))
    # a plan file name with a space: the prompt says "(from my plan.md line N)"
    return Coordinator(repo, parse_markdown(text, tmp_path / "my plan.md"), root=tmp_path / "wt",
                       timeout="60s", **kw).run_sync()  # fmt: skip


class CacheHitTests:
    def test_the_same_plan_again_reuses_every_result(self, repo, tmp_path):
        counter = worker(tmp_path)
        first = execute(repo, tmp_path)
        assert ran(counter) == ["1", "2", "3", "4"]
        assert all(ex.cached_from is None and ex.cache_key for ex in first.executions.values())
        again = execute(repo, tmp_path)
        assert ran(counter) == []  # no agent ran
        for key, ex in again.executions.items():
            old = first.executions[key]
            assert ex.status == S.COMPLETED and ex.cached_from == first.id
            assert ex.cache_key == old.cache_key and ex.commit == old.commit
            assert git(repo, "rev-parse", ex.branch) == old.commit  # the new run's branch has it
            assert (Path(ex.worktree) / f"task{key[0]}.txt").exists()
        assert again.executions[("1", "worker")].validation == "passed"
        # every view says so
        frame = again.summary()
        assert set(frame["cached_from"]) == {first.id}
        assert f"cached from {first.id} — --no-cache runs it again" in run_html(again)
        assert f"cached from {first.id}" in run_text(again)
        assert "4 reused from the cache" in repr(again)
        money = again.spending()
        assert money["cached"] == 4 and money["spent_usd"] == 0.0
        # a third run points at the run whose agent made the result, not the one that reused it
        third = execute(repo, tmp_path)
        assert {ex.cached_from for ex in third.executions.values()} == {first.id}
        loaded = nborch.Run.load(repo, third.id)
        assert loaded.executions[("2", "worker")].cached_from == first.id
        status = nborch.WorktreeManager(repo).status_records(third.id)
        assert {s.cached_from for s in status} == {first.id}
        assert status[0].to_dict()["cached_from"] == first.id

    def test_no_cache_runs_everything_again(self, repo, tmp_path):
        counter = worker(tmp_path)
        execute(repo, tmp_path)
        ran(counter)
        again = execute(repo, tmp_path, cache=False)
        assert ran(counter) == ["1", "2", "3", "4"]
        assert {ex.cached_from for ex in again.executions.values()} == {None}
        # its attempts can be reused in turn: the newest match wins
        third = execute(repo, tmp_path)
        assert ran(counter) == []
        assert {ex.cached_from for ex in third.executions.values()} == {again.id}


class CacheMissTests:
    def test_editing_one_task_runs_only_it_and_what_depends_on_it(self, repo, tmp_path):
        counter = worker(tmp_path)
        first = execute(repo, tmp_path)
        ran(counter)
        # Task 2 changes (and grows, so task 3 and 4 move down the plan: lines are not the key)
        edited = PLAN.replace("Write task2.txt.", "Write task2.txt.\n\nAnd say why\nin two lines.")
        again = execute(repo, tmp_path, edited)
        assert ran(counter) == ["2", "3"]
        cached = {k[0]: ex.cached_from for k, ex in again.executions.items()}
        assert cached == {"1": first.id, "2": None, "3": None, "4": first.id}

    def test_one_more_agent_on_a_task_runs_only_the_new_agent(self, repo, tmp_path):
        counter = worker(tmp_path)
        first = execute(repo, tmp_path)
        ran(counter)
        nborch.script_agent("helper", f"{shlex.quote(sys.executable)} "
                            f"{shlex.quote(str(tmp_path / 'agent' / 'worker.py'))} {{worktree}} 4b")  # fmt: skip
        more = PLAN.replace("## Task 4: Last\nAgents: worker", "## Task 4: Last\nAgents: worker, helper\nPriority: high")
        again = execute(repo, tmp_path, more)
        assert ran(counter) == ["4b"]  # only the new agent ran
        assert again.executions[("4", "worker")].cached_from == first.id
        assert again.executions[("4", "helper")].cached_from is None

    @pytest.mark.parametrize("change", ["a new base commit", "a new version of the agent",
                                        "another model"])  # fmt: skip
    def test_a_change_outside_the_plan_runs_everything(self, repo, tmp_path, change):
        counter = worker(tmp_path)
        execute(repo, tmp_path)
        ran(counter)
        options = {}
        if change == "a new base commit":
            (repo / "app.py").write_text("def answer():\n    return 43\n")
            git(repo, "commit", "-qam", "change")
        elif change == "a new version of the agent":
            worker(tmp_path, AGENT + "# a new version of the agent\n")
        else:
            options["model"] = "bigger"
        execute(repo, tmp_path, **options)
        assert ran(counter) == ["1", "2", "3", "4"]

    def test_a_result_whose_checks_failed_is_reused_with_its_verdict(self, repo, tmp_path):
        """On the same commit the checks would fail again: the verdict comes with the result,
        and a dependent task still has nothing to build on. --no-cache gives the agent
        another try."""
        counter = worker(tmp_path, AGENT.replace('f"task{task}.txt"', 'f"other{task}.txt"'))
        text = PLAN.replace("Dependencies: 2", "Dependencies: 1")
        first = execute(repo, tmp_path, text)
        assert first.executions[("1", "worker")].validation == "failed"
        assert first.executions[("3", "worker")].status == S.CANCELLED  # nothing to build on
        ran(counter)
        again = execute(repo, tmp_path, text)
        assert ran(counter) == []
        one = again.executions[("1", "worker")]
        assert one.cached_from == first.id and one.validation == "failed"
        assert one.validation_details == first.executions[("1", "worker")].validation_details
        assert again.executions[("3", "worker")].status == S.CANCELLED
        execute(repo, tmp_path, text, cache=False)
        assert ran(counter) == ["1", "2", "4"]

    def test_a_result_whose_commit_is_gone_is_not_reused(self, repo, tmp_path):
        counter = worker(tmp_path)
        first = execute(repo, tmp_path)
        ran(counter)
        report = nborch.WorktreeManager(repo).cleanup(first.id, force=True)
        assert report is not None
        # cleanup keeps unmerged work under refs/nborch/archive (so the cache can still use it):
        # delete those too, and the commits with them
        for ref in git(repo, "for-each-ref", "--format=%(refname)", "refs/nborch").split():
            git(repo, "update-ref", "-d", ref)
        for ex in first.executions.values():
            subprocess.run(["git", "branch", "-D", ex.branch], cwd=repo, capture_output=True)
        git(repo, "reflog", "expire", "--expire=now", "--all")
        git(repo, "gc", "-q", "--prune=now")
        again = execute(repo, tmp_path)
        assert ran(counter) == ["1", "2", "3", "4"]
        assert {ex.cached_from for ex in again.executions.values()} == {None}


class CacheCommandLineTests:
    def test_json_names_the_run_reused_and_no_cache_runs_again(self, repo, tmp_path):
        counter = worker(tmp_path)
        script = tmp_path / "agent" / "worker.py"
        plan = tmp_path / "plan.md"
        plan.write_text(PLAN)
        cmd = [sys.executable, "-m", "nborch", "execute", str(plan), "-r", str(repo), "--root",
               str(tmp_path / "wt"), "--script",
               f"worker={sys.executable} {script} {{worktree}} {{task_id}}", "--json"]  # fmt: skip
        first = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        assert {a["cached_from"] for a in first["attempts"]} == {None}
        ran(counter)
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        second = json.loads(res.stdout)
        assert {a["cached_from"] for a in second["attempts"]} == {first["run_id"]}
        assert second["cached"] == 4 and ran(counter) == []
        res = subprocess.run([*cmd, "--no-cache"], capture_output=True, text=True, check=True)
        assert {a["cached_from"] for a in json.loads(res.stdout)["attempts"]} == {None}
        assert ran(counter) == ["1", "2", "3", "4"]
        human = subprocess.run(cmd[:-1], capture_output=True, text=True, check=True)
        assert "reused from earlier runs" in human.stderr and "--no-cache" in human.stderr


class KeyTests:
    def test_model_and_server_choices_are_in_the_key_and_secrets_are_not(self):
        from nborch.agents import get
        from nborch.execute.cache import choices

        env = {"ANTHROPIC_MODEL": "opus", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
               "ANTHROPIC_API_KEY": "sk-secret", "ANTHROPIC_AUTH_TOKEN": "t", "OTHER_MODEL": "x"}
        assert choices(get("claude"), env) == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
                                               "ANTHROPIC_MODEL": "opus"}  # fmt: skip

    def test_a_cli_is_known_by_its_version(self, tmp_path):
        """A CLI agent's identity is what ``--version`` prints: a new version is a new agent."""
        from nborch.agents import AgentSpec
        from nborch.execute.cache import agent_identity

        program = tmp_path / "fakecli"

        def spec(version: str) -> AgentSpec:
            program.write_text(f"#!/bin/sh\necho 'fakecli {version}'\n")
            program.chmod(0o755)
            return AgentSpec(name="fakecli", display_name="Fake", kind="cli",
                             executable=str(program), argv=(str(program), "{prompt_file}"))  # fmt: skip

        one = agent_identity(spec("1.0"))
        assert one == agent_identity(spec("1.0"))
        assert one != agent_identity(spec("1.10"))  # (another size: no same-tick mtime doubt)

    def test_normalised_takes_the_longest_match_first(self):
        text = "/root/r1/1--a and nborch/r1/1/a in r1"
        out = normalised(text, {"r1": "{run}", "/root/r1/1--a": "{worktree}"})
        assert out == "{worktree} and nborch/{run}/1/a in {run}"


class CacheSafetyTests:
    def test_a_resumed_attempt_keeps_its_own_work_rather_than_a_cached_result(self, repo, tmp_path):
        """R0 completes task 1; R1 (no cache) fails it after writing precious.txt (kept as WIP).
        Resuming R1 with the cache on must not put R0's result over that work: the agent runs
        again, on top of its WIP."""
        counter = worker(tmp_path)
        execute(repo, tmp_path)
        worker(tmp_path, AGENT + "(wt / 'precious.txt').write_text('mine')\nsys.exit(3)\n")
        failed = execute(repo, tmp_path, cache=False)
        wip = failed.executions[("1", "worker")]
        assert wip.status == S.FAILED and wip.commit
        ran(counter)
        worker(tmp_path)  # the agent as it was in R0: R0's result matches the attempt's key
        resumed = Coordinator.load(repo, failed.id, cache=True)
        resumed.resume(retry_failed=True).wait(120)
        assert "1" in ran(counter)  # the agent ran again instead of the cache
        again = resumed.executions[("1", "worker")]
        assert again.cached_from is None and again.status == S.COMPLETED
        assert git(repo, "merge-base", "--is-ancestor", wip.commit, again.commit) == ""  # kept
        assert git(repo, "show", f"{again.commit}:precious.txt") == "mine"

    def test_race_mode_starts_no_sibling_of_a_cached_winner(self, repo, tmp_path):
        counter = worker(tmp_path)
        nborch.script_agent("other", f"{shlex.quote(sys.executable)} "
                            f"{shlex.quote(str(tmp_path / 'agent' / 'worker.py'))} {{worktree}} 1b")  # fmt: skip
        text = "# Race\n\n## Task 1: First\nAgents: worker\n\n**Validation criteria**\n\n- `test -f task1.txt` passes.\n"
        execute(repo, tmp_path, text)
        ran(counter)
        both = text.replace("Agents: worker", "Agents: worker, other")
        run = execute(repo, tmp_path, both, race=True)
        assert ran(counter) == []  # the other agent never started
        other = run.executions[("1", "other")]
        assert other.status == S.CANCELLED and other.reason == "race won by worker"
        assert other.started_at is None
        assert run.executions[("1", "worker")].cached_from is not None

    def test_a_result_made_without_checks_is_checked_when_reused(self, repo, tmp_path):
        counter = worker(tmp_path)
        unchecked = execute(repo, tmp_path, validate=False)
        assert unchecked.executions[("1", "worker")].validation == ""
        ran(counter)
        checked = execute(repo, tmp_path)
        assert ran(counter) == []
        one = checked.executions[("1", "worker")]
        assert one.cached_from == unchecked.id and one.validation == "passed"
        assert checked.executions[("2", "worker")].validation == "none"  # no criteria to run

    def test_a_prepared_worktree_someone_worked_in_is_not_reset(self, repo, tmp_path):
        counter = worker(tmp_path)
        execute(repo, tmp_path)
        ran(counter)
        team = nborch.assign(parse_markdown(PLAN))
        prepared = nborch.prepare(repo, team, root=tmp_path / "wt")
        one = next(p for p in prepared.attempts if p.attempt.task_id == "1")
        (one.attempt.path / "notes.txt").write_text("a person's notes\n")
        run = Coordinator(repo, prepared, timeout="60s", executor=LocalExecutor(grace=0.5)).run_sync()
        assert ran(counter) == ["1"]  # the others were reused; this one ran over the notes
        ex = run.executions[("1", "worker")]
        assert ex.cached_from is None
        assert git(repo, "show", f"{ex.commit}:notes.txt") == "a person's notes"


RACE_PLAN = """\
# Race

## Task 1: First
Agents: {agents}

**Validation criteria**

- `test -f task1.txt` passes.

## Task 2: Builds on it
Agents: {agents}
Dependencies: 1

**Validation criteria**

- `test -f task2.txt` passes.
"""


def other(tmp_path: Path) -> None:
    """A second agent that does the same work; it fails while ``agent/fail`` exists (a file its
    key does not see)."""
    script = tmp_path / "agent" / "other.py"
    script.write_text(AGENT.replace("runs.txt", "other-runs.txt"))
    nborch.script_agent("other", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} "
                                 "{worktree} {task_id}")  # fmt: skip


class RaceCacheTests:
    def test_no_sibling_of_a_cached_winner_starts_dependent_tasks_too(self, repo, tmp_path):
        counter = worker(tmp_path)
        other(tmp_path)
        execute(repo, tmp_path, RACE_PLAN.format(agents="worker"))
        ran(counter)
        run = execute(repo, tmp_path, RACE_PLAN.format(agents="other, worker"), race=True)
        assert ran(counter) == [] and not (tmp_path / "agent" / "other-runs.txt").exists()
        for task in ("1", "2"):
            loser = run.executions[(task, "other")]
            assert loser.status == S.CANCELLED and loser.reason == "race won by worker"
            assert loser.started_at is None and loser.tries == 0
            assert run.executions[(task, "worker")].cached_from is not None

    def test_a_cached_winner_that_cannot_be_reused_leaves_its_siblings_to_run(self, repo, tmp_path):
        """The cached result that passed cannot go on its branch (a person's notes are in the
        worktree): its agent runs — and fails — so the sibling is not cancelled on a guess."""
        counter = worker(tmp_path, AGENT + "if (pathlib.Path(__file__).parent / 'fail').exists():\n"
                                           "    sys.exit(3)\n")  # fmt: skip
        other(tmp_path)
        text = RACE_PLAN.format(agents="worker").split("## Task 2")[0]
        execute(repo, tmp_path, text)
        ran(counter)
        (tmp_path / "agent" / "fail").touch()
        team = nborch.assign(parse_markdown(text.replace("Agents: worker", "Agents: worker, other")))
        prepared = nborch.prepare(repo, team, root=tmp_path / "wt")
        mine = next(p for p in prepared.attempts if p.key == ("1", "worker"))
        (mine.attempt.path / "notes.txt").write_text("a person's notes\n")
        run = Coordinator(repo, prepared, timeout="60s", race=True,
                          executor=LocalExecutor(grace=0.5)).run_sync()  # fmt: skip
        assert ran(counter) == ["1"]
        assert run.executions[("1", "worker")].status == S.FAILED
        assert run.executions[("1", "other")].status == S.COMPLETED
        assert run.executions[("1", "other")].validation == "passed"
