"""WorktreeManager and the git runner, against real repositories in tmp_path (real git, no mocks)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

import nborch
from nborch.errors import WorktreeError
from nborch.gitcmd import Git, ref_problem
from nborch.store import Store
from nborch.workspace.heads import cache_path
from nborch.workspace.manager import (
    STATUS_COLUMNS,
    Attempt,
    CleanupReport,
    OrphanReport,
    WorktreeManager,
    default_root,
)

_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run git in ``cwd`` and return its stdout."""
    result = subprocess.run(["git", *args], cwd=cwd, env=_ENV, capture_output=True, text=True,
                            check=check)  # fmt: skip
    return result.stdout


def nborch_branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/nborch/").split()


def worktree_paths(repo: Path) -> list[str]:
    return [line[9:] for line in git(repo, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]  # fmt: skip


def snapshot(repo: Path, root: Path) -> tuple[object, ...]:
    """Everything cleanup could change: refs, worktrees, files under the root, store rows."""
    files = sorted((str(p), p.read_bytes() if p.is_file() else b"") for p in root.rglob("*")
                   if ".git" not in p.name)  # fmt: skip
    with Store.open(repo) as store:
        rows = (store.runs(), store.attempts())
    return (git(repo, "for-each-ref"), git(repo, "worktree", "list", "--porcelain"), files, rows)


@pytest.fixture
def manager(git_repo: Path, tmp_path: Path) -> WorktreeManager:
    """A manager for ``git_repo`` whose worktrees go under ``tmp_path/wt``."""
    return WorktreeManager(git_repo, root=tmp_path / "wt")


def core(report: dict) -> dict:
    """The keys of ``cleanup --json`` that every report has something to say in."""
    return {k: report[k] for k in ("removed", "kept", "archived")}


def set_status(manager: WorktreeManager, run_id: str, statuses: dict[str, str]) -> None:
    """Write execution statuses (by task id) into a run's attempt rows, as a coordinator would."""
    with manager.store() as store:
        for rec in store.attempts(run_id):
            if rec.task_id in statuses:
                store.update_attempt(run_id, rec.task_id, rec.agent, status=statuses[rec.task_id])


# A stand-in coordinator: records itself on the run (pid and start time, as the recorder does),
# says "holding", and lives until its stdin closes.
HOLD_RUN = textwrap.dedent("""
    import sys, psutil
    from nborch.workspace.manager import WorktreeManager
    me = psutil.Process()
    with WorktreeManager(sys.argv[1]).store() as store:
        store.update_run(sys.argv[2], status="running", coordinator_pid=me.pid,
                         coordinator_started=me.create_time())
    print("holding", flush=True)
    sys.stdin.read()
""")


def commit_file(cwd: Path, name: str, text: str, message: str = "change") -> str:
    (cwd / name).write_text(text)
    git(cwd, "add", name)
    git(cwd, "commit", "-q", "--no-verify", "-m", message)
    return git(cwd, "rev-parse", "HEAD").strip()


class TestValidation:
    def test_missing_folder(self, tmp_path: Path) -> None:
        """A folder that does not exist is refused with a message saying so."""
        with pytest.raises(WorktreeError, match="does not exist"):
            WorktreeManager(tmp_path / "nope", root=tmp_path / "wt")

    def test_file_instead_of_folder(self, tmp_path: Path) -> None:
        """A file is refused as a repository."""
        (tmp_path / "f").write_text("x")
        with pytest.raises(WorktreeError, match="is a file"):
            WorktreeManager(tmp_path / "f", root=tmp_path / "wt")

    def test_not_a_repository(self, tmp_path: Path) -> None:
        """A plain folder is refused, and the message says how to make it a repository."""
        (tmp_path / "plain").mkdir()
        with pytest.raises(WorktreeError, match="not a git repository.*git init"):
            WorktreeManager(tmp_path / "plain", root=tmp_path / "wt")

    def test_bare_repository(self, git_repo: Path, tmp_path: Path) -> None:
        """A bare repository is refused, with the advice to clone it."""
        git(tmp_path, "clone", "-q", "--bare", str(git_repo), "bare.git")
        with pytest.raises(WorktreeError, match="bare repository.*clone"):
            WorktreeManager(tmp_path / "bare.git", root=tmp_path / "wt")

    def test_no_commit(self, tmp_path: Path) -> None:
        """A repository without a commit is refused: attempts start from a commit."""
        git(tmp_path, "init", "-q", "empty")
        with pytest.raises(WorktreeError, match="no commit yet"):
            WorktreeManager(tmp_path / "empty", root=tmp_path / "wt")

    def test_missing_base(self, manager: WorktreeManager) -> None:
        """A base ref that does not exist is refused when the run starts."""
        with pytest.raises(WorktreeError, match="base 'no-such-branch' is not a commit"):
            manager.new_run(base="no-such-branch")

    def test_base_that_looks_like_an_option(self, manager: WorktreeManager) -> None:
        """A base beginning with '-' is never passed to git as an option."""
        with pytest.raises(WorktreeError, match="is not a commit"):
            manager.new_run(base="--all")

    def test_subfolder_is_accepted(self, git_repo: Path, tmp_path: Path) -> None:
        """A folder inside the repository finds the repository's top folder."""
        (git_repo / "sub").mkdir()
        assert WorktreeManager(git_repo / "sub", root=tmp_path / "wt").repo == git_repo.resolve()

    def test_dirty_tree_is_reported_not_refused(self, manager: WorktreeManager, git_repo: Path) -> None:
        """Uncommitted changes in the main tree are listed and warned about, and a run starts."""
        (git_repo / "app.py").write_text("changed\n")
        (git_repo / "new.txt").write_text("new\n")
        assert sorted(manager.dirty_files()) == ["app.py", "new.txt"]
        run = manager.new_run()
        assert any("2 uncommitted change(s)" in w for w in run.warnings)

    def test_root_inside_working_tree_warns(self, git_repo: Path) -> None:
        """A root inside the working tree works but is warned about."""
        manager = WorktreeManager(git_repo, root=git_repo / "wt")
        assert any("inside the working tree" in w for w in manager.warnings)


class TestDefaultRoot:
    def test_state_folder_outside_the_repo(self, git_repo: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        """By default worktrees go under $XDG_STATE_HOME/nborch/worktrees/<repo>-<hash>."""
        monkeypatch.delenv("NBORCH_WORKTREE_ROOT", raising=False)
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        root = default_root(git_repo, git_repo / ".git")
        assert root.parent == (tmp_path / "state" / "nborch" / "worktrees").resolve()
        assert root.name.startswith("repo-") and not root.is_relative_to(git_repo)
        assert not root.exists()  # nothing is made until a worktree is

    def test_environment_variable(self, git_repo: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        """NBORCH_WORKTREE_ROOT holds one folder per repository."""
        monkeypatch.setenv("NBORCH_WORKTREE_ROOT", str(tmp_path / "roots"))
        assert WorktreeManager(git_repo).root.parent == (tmp_path / "roots").resolve()

    def test_two_repositories_with_one_name(self, tmp_path: Path) -> None:
        """Two repositories with the same folder name get different roots."""
        a = default_root(tmp_path / "a" / "repo", tmp_path / "a" / "repo" / ".git")
        b = default_root(tmp_path / "b" / "repo", tmp_path / "b" / "repo" / ".git")
        assert a != b and a.parent == b.parent


class TestNewRun:
    def test_run_id_format_and_uniqueness(self, manager: WorktreeManager) -> None:
        """Run ids read YYYYMMDD-HHMMSS-xxxx and never repeat."""
        ids = {manager.new_run().id for _ in range(5)}
        assert len(ids) == 5
        assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", i) for i in ids)

    def test_base_resolved_once(self, manager: WorktreeManager, git_repo: Path) -> None:
        """Attempts start from the commit HEAD was at when the run started, not a later one."""
        base = git(git_repo, "rev-parse", "HEAD").strip()
        run = manager.new_run()
        commit_file(git_repo, "later.txt", "later\n")
        (attempt,) = manager.create(run, [("t", "claude")])
        assert run.base_commit == attempt.base_commit == base
        assert git(attempt.path, "rev-parse", "HEAD").strip() == base
        assert run.base_ref == "main"

    def test_plan_base_and_explicit_base(self, manager: WorktreeManager, git_repo: Path) -> None:
        """The plan's base: is used; an explicit base wins over it."""
        first = git(git_repo, "rev-parse", "HEAD").strip()
        git(git_repo, "branch", "release")
        second = commit_file(git_repo, "x.txt", "x\n")
        plan = nborch.parse_plan("---\nbase: release\n---\n# P\n## Task 1: Do it\n")
        assert manager.new_run(plan).base_commit == first
        assert manager.new_run(plan, base="main").base_commit == second
        assert manager.new_run(plan).plan_title == "P"

    def test_own_run_id(self, manager: WorktreeManager) -> None:
        """A given run id is slugged, and using it twice is refused."""
        assert manager.new_run(run_id="My Run!").id == "my-run"
        with pytest.raises(WorktreeError, match="already used"):
            manager.new_run(run_id="my-run")

    def test_recorded_in_store(self, manager: WorktreeManager, git_repo: Path) -> None:
        """The run is in the repository's store with its base commit and root."""
        run = manager.new_run()
        with Store.open(git_repo) as store:
            (record,) = store.runs()
        assert (record.id, record.base_commit, record.root) == (run.id, run.base_commit, str(manager.root))
        assert manager.run(run.id).base_commit == run.base_commit
        assert "prepared" in repr(run)


class TestCreate:
    def test_one_worktree_and_branch_per_attempt(self, manager: WorktreeManager, git_repo: Path) -> None:
        """Each attempt gets nborch/<run>/<task>/<agent>, <root>/<run>/<task>--<agent>, its own folder."""
        run = manager.new_run()
        made = manager.create(run, [("1.1", "claude"), ("1.1", "codex"), ("1.2", "claude")])
        assert [a.branch for a in made] == [f"nborch/{run.id}/1.1/claude", f"nborch/{run.id}/1.1/codex",
                                            f"nborch/{run.id}/1.2/claude"]  # fmt: skip
        for a in made:
            assert a.path == manager.root / run.id / a.name
            assert (a.path / "app.py").read_text() == "def answer():\n    return 42\n"
            assert git(a.path, "status", "--porcelain") == ""
            assert git(a.path, "symbolic-ref", "HEAD").strip() == f"refs/heads/{a.branch}"
            assert a.attempt_dir.is_dir() and a.attempt_dir.is_relative_to(git_repo / ".git" / "nborch")
        assert sorted(nborch_branches(git_repo)) == sorted(f"refs/heads/{a.branch}" for a in made)
        assert [s.state for s in manager.status_records()] == ["prepared"] * 3

    def test_unsafe_ids_become_safe_names(self, manager: WorktreeManager, git_repo: Path) -> None:
        """Ids like ../../etc and 'a b;c' give valid branches and paths inside the root."""
        run = manager.new_run()
        ids = ["../../etc", "a b;c", "a;b c", "-rf", "x.lock", "HEAD", "@{u}", "ünïcødé", "..", "~^:?*["]
        made = manager.create(run, [(i, "my agent; rm -rf /") for i in ids])
        assert len({a.path for a in made}) == len({a.branch for a in made}) == len(ids)
        for a in made:
            assert a.path.resolve().is_relative_to(manager.root.resolve())
            assert a.attempt_dir.resolve().is_relative_to((git_repo / ".git" / "nborch").resolve())
            assert git(git_repo, "check-ref-format", "--branch", a.branch).strip() == a.branch
            assert a.path.is_dir()
        assert {a.task_id for a in made} == set(ids)

    def test_slugs_stay_apart_across_calls(self, manager: WorktreeManager) -> None:
        """Two ids with one slug get different names, even when added in separate calls."""
        run = manager.new_run()
        (first,) = manager.create(run, [("a b", "claude")])
        (second,) = manager.create(run, [("a;b", "claude")])
        (third,) = manager.create(run, [("a b", "codex")])
        assert first.task_slug == "a-b" and second.task_slug.startswith("a-b-")
        assert third.task_slug == first.task_slug

    def test_names_do_not_collide_across_runs(self, manager: WorktreeManager) -> None:
        """The same task and agent in two runs get different branches and folders."""
        a = manager.create(manager.new_run(), [("t", "claude")])[0]
        b = manager.create(manager.new_run(), [("t", "claude")])[0]
        assert a.branch != b.branch and a.path != b.path and a.attempt_dir != b.attempt_dir

    def test_duplicate_attempt_refused(self, manager: WorktreeManager, git_repo: Path) -> None:
        """The same (task, agent) twice is refused before anything is made."""
        run = manager.new_run()
        with pytest.raises(WorktreeError, match="listed twice"):
            manager.create(run, [("t", "claude"), ("t", "claude")])
        assert nborch_branches(git_repo) == []

    def test_plan_tasks_use_their_slugs(self, manager: WorktreeManager) -> None:
        """Task objects, and task ids of the run's plan, use the plan's slugs."""
        plan = nborch.parse_plan("# P\n## Phase 1\n### Task 1.1: Add store\n### Add the API\n")
        run = manager.new_run(plan)
        made = manager.create(run, [(plan.tasks[0], "claude"), (plan.tasks[1].id, "codex")])
        assert [a.task_slug for a in made] == [plan.tasks[0].slug, plan.tasks[1].slug]

    def test_rollback_leaves_nothing_half_made(self, manager: WorktreeManager, git_repo: Path) -> None:
        """When one creation fails, every worktree, branch, folder and row of the call goes."""
        run = manager.new_run()
        pairs = [(f"task {i}", "claude") for i in range(6)]
        blocker = manager.root / run.id / "task-3--claude"
        blocker.parent.mkdir(parents=True)
        blocker.write_text("a file of the user's, in the way")
        with pytest.raises(WorktreeError, match="task 'task 3' × agent 'claude'.*nothing of this call"):
            manager.create(run, pairs)
        assert nborch_branches(git_repo) == []
        assert worktree_paths(git_repo) == [str(git_repo.resolve())]
        assert [p.name for p in (manager.root / run.id).iterdir()] == ["task-3--claude"]
        assert blocker.read_text() == "a file of the user's, in the way"
        assert not (git_repo / ".git" / "nborch" / "runs" / run.id).exists()
        assert manager.attempts(run.id) == []
        assert len(manager.create(run, pairs[:3])) == 3  # the run is still usable

    def test_attempt_folder_is_not_in_the_worktree(self, manager: WorktreeManager) -> None:
        """nborch's own folder for an attempt is in the git dir, never inside a worktree."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        assert not a.attempt_dir.is_relative_to(a.path)


class TestConcurrency:
    def test_two_threads(self, git_repo: Path, tmp_path: Path) -> None:
        """Two threads preparing runs of several worktrees at once all succeed."""
        results: dict[int, list[Attempt]] = {}
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def prepare(n: int) -> None:
            try:
                manager = WorktreeManager(git_repo, root=tmp_path / "wt")
                run = manager.new_run()
                barrier.wait(timeout=60)
                results[n] = manager.create(run, [(f"task {i}", a) for i in range(3)
                                                  for a in ("claude", "codex")])  # fmt: skip
            except BaseException as err:  # reported below, in the test's thread
                errors.append(err)

        threads = [threading.Thread(target=prepare, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(len(r) for r in results.values()) == 12
        assert len(nborch_branches(git_repo)) == 12 and len(worktree_paths(git_repo)) == 13

    def test_two_processes(self, git_repo: Path, tmp_path: Path) -> None:
        """Two processes preparing runs of several worktrees at once all succeed."""
        go = tmp_path / "go"
        script = textwrap.dedent(f"""
            import json, sys, time
            from pathlib import Path
            from nborch.workspace.manager import WorktreeManager
            manager = WorktreeManager({str(git_repo)!r}, root={str(tmp_path / "wt")!r})
            run = manager.new_run()
            while not Path({str(go)!r}).exists():
                time.sleep(0.005)
            made = manager.create(run, [(f"task {{i}}", a) for i in range(4) for a in ("x", "y")])
            print(json.dumps([a.branch for a in made]))
        """)
        procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
        go.write_text("go")
        outs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outs, strict=True):
            assert proc.returncode == 0, err
        branches = [b for out, _ in outs for b in json.loads(out)]
        assert len(set(branches)) == 16
        assert sorted(nborch_branches(git_repo)) == sorted(f"refs/heads/{b}" for b in branches)
        assert len(WorktreeManager(git_repo, root=tmp_path / "wt").runs()) == 2


class TestRefNames:
    NAMES = ["nborch/r/t/a", "a", "a/b", "-a", "a..b", "a/.b", "a.lock", "a/b.lock/c", "a b",
             "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b", "a//b", "/a", "a/", "a.", "@",
             "a@{b", "a@b", "HEAD", "x/HEAD", "a\x01b", "a\x7fb", ".a", "a.b", "ü", "a/-b"]

    def test_agrees_with_git(self, tmp_path: Path) -> None:
        """ref_problem accepts exactly the names 'git check-ref-format --branch' accepts."""
        for name in self.NAMES:
            real = subprocess.run(["git", "check-ref-format", "--branch", name], cwd=tmp_path,
                                  capture_output=True, env=_ENV).returncode == 0  # fmt: skip
            assert (ref_problem(f"refs/heads/{name}") is None) == real, name


class TestGitRunner:
    def test_error_names_command_and_stderr(self, git_repo: Path) -> None:
        """A failing command raises WorktreeError with the command line and git's message."""
        with pytest.raises(WorktreeError, match=r"'git rev-parse --verify nope' failed in .*repo: fatal: Needed a single"):
            Git(git_repo).run("rev-parse", "--verify", "nope")

    def test_retries_while_a_lock_is_held(self, git_repo: Path) -> None:
        """A command meeting a held index.lock waits for it instead of failing."""
        lock = git_repo / ".git" / "index.lock"
        lock.write_text("")
        timer = threading.Timer(0.3, lock.unlink)
        timer.start()
        try:
            (git_repo / "new.txt").write_text("x")
            Git(git_repo).run("add", "new.txt")
        finally:
            timer.join()
        assert "new.txt" in git(git_repo, "diff", "--cached", "--name-only")

    def test_environment_cannot_redirect_git(self, git_repo: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        """GIT_DIR and GIT_INDEX_FILE from a surrounding hook do not point git elsewhere."""
        monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
        monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "index"))
        assert Git(git_repo).out("rev-parse", "--show-toplevel") == str(git_repo.resolve())


class TestCommitWork:
    def test_managed_files_stay_out(self, manager: WorktreeManager, git_repo: Path) -> None:
        """A tracked CLAUDE.md nborch appended to and an AGENTS.md it created never reach the commit."""
        commit_file(git_repo, "CLAUDE.md", "The user's own notes.\n")
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        (a.path / "CLAUDE.md").write_text("The user's own notes.\n\n<!-- nborch -->\nDo the task.\n")
        (a.path / "AGENTS.md").write_text("nborch instructions\n")
        a = manager.record_managed(a, ["CLAUDE.md", a.path / "AGENTS.md"])
        assert a.managed_files == ("AGENTS.md", "CLAUDE.md")
        (a.path / "app.py").write_text("def answer():\n    return 43\n")
        (a.path / "feature.py").write_text("NEW = 1\n")
        sha = manager.commit_work(a, "Do the task")
        changed = git(a.path, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).split()
        assert sorted(changed) == ["app.py", "feature.py"]
        assert git(a.path, "show", f"{sha}:CLAUDE.md") == "The user's own notes.\n"
        assert (a.path / "AGENTS.md").exists()  # still there for the agent, just not committed
        assert manager.commit_work(a, "again") is None  # only nborch's files are left
        assert manager.status_records()[0].dirty == 0

    def test_agent_commit_of_managed_file_is_undone_at_the_tip(self, manager: WorktreeManager) -> None:
        """If the agent commits nborch's file itself, the next commit restores the base version."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        a = manager.record_managed(a, ["AGENTS.md"])
        commit_file(a.path, "AGENTS.md", "nborch text\n")
        sha = manager.commit_work(a, "result")
        assert sha is not None
        assert git(a.path, "ls-tree", "--name-only", sha).split() == ["README.md", "app.py"]

    def test_identity_kept(self, manager: WorktreeManager) -> None:
        """The repository's configured identity authors the commit."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        (a.path / "x.txt").write_text("x")
        sha = manager.commit_work(a, "x")
        assert git(a.path, "log", "-1", "--format=%an <%ae>", sha).strip() == "Test User <test@example.invalid>"

    def test_fallback_identity(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """With no identity configured anywhere, commits are by nborch <nborch@localhost>."""
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
        monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                    "GIT_COMMITTER_EMAIL", "EMAIL"):  # fmt: skip
            monkeypatch.delenv(var, raising=False)
        repo = tmp_path / "anon"
        repo.mkdir()
        (repo / "f.txt").write_text("f\n")
        env = {**_ENV, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@x", "GIT_COMMITTER_NAME": "x",
               "GIT_COMMITTER_EMAIL": "x@x"}  # fmt: skip
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "first"]):
            subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
        manager = WorktreeManager(repo, root=tmp_path / "wt")
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        (a.path / "x.txt").write_text("x")
        sha = manager.commit_work(a, "x", wip=True)
        assert git(a.path, "log", "-1", "--format=%an <%ae>|%cn|%s", sha).strip() == (
            "nborch <nborch@localhost>|nborch|WIP: x")

    def test_managed_paths_must_stay_inside(self, manager: WorktreeManager, tmp_path: Path) -> None:
        """A managed path that leaves the worktree is refused."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        for bad in ("../x", tmp_path / "outside.md", ""):
            with pytest.raises(WorktreeError):
                manager.record_managed(a, [bad])

    def test_vanished_worktree(self, manager: WorktreeManager) -> None:
        """Committing in a worktree whose folder is gone says so."""
        import shutil

        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        shutil.rmtree(a.path)
        with pytest.raises(WorktreeError, match="is gone"):
            manager.commit_work(a, "x")


class TestStatus:
    def test_frame(self, manager: WorktreeManager) -> None:
        """status() has the documented columns, counts commits ahead and dirty files."""
        run = manager.new_run()
        a, b = manager.create(run, [("t", "claude"), ("t", "codex")])
        a = manager.record_managed(a, ["AGENTS.md"])
        (a.path / "AGENTS.md").write_text("nborch\n")
        (a.path / "one.txt").write_text("1")
        (a.path / "app.py").write_text("changed")
        commit_file(b.path, "b.txt", "b")
        commit_file(b.path, "c.txt", "c")
        frame = manager.status()
        assert tuple(frame.columns) == STATUS_COLUMNS == (
            "run", "task", "agent", "branch", "path", "head", "ahead", "dirty", "last_change",
            "exists", "state", "status", "problem", "cached_from")  # fmt: skip
        assert frame["ahead"].tolist() == [0, 2] and frame["dirty"].tolist() == [2, 0]
        assert frame["status"].tolist() == ["pending", "pending"]
        assert str(frame["last_change"].dt.tz) == "UTC"  # a datetime column, in UTC
        assert frame["exists"].tolist() == [True, True]
        assert frame["head"][1] == git(b.path, "rev-parse", "HEAD").strip()

    def test_records_are_json_ready(self, manager: WorktreeManager) -> None:
        """status_records() give plain dicts for the CLI's JSON."""
        manager.create(manager.new_run(), [("t", "claude")])
        (record,) = manager.status_records()
        json.dumps(record.to_dict())
        assert {"run", "task", "agent", "branch", "path", "ahead", "dirty", "status"} <= (
            record.to_dict().keys())

    def test_empty(self, manager: WorktreeManager) -> None:
        """A repository without runs has an empty status table with the columns."""
        assert manager.status().empty and tuple(manager.status().columns) == STATUS_COLUMNS

    def test_committed_attempts_are_looked_at_only_with_check(self, manager: WorktreeManager) -> None:
        """Worktrees of attempts the coordinator sealed get no git status (dirty None) unless check."""
        run = manager.new_run()
        a, b = manager.create(run, [("t", "claude"), ("u", "claude")])
        set_status(manager, run.id, {"t": "completed", "u": "interrupted"})
        for x in (a, b):
            (x.path / "late.txt").write_text("edited after the run")
        assert [(s.status, s.dirty) for s in manager.status_records()] == [
            ("completed", None), ("interrupted", 1)]  # fmt: skip
        assert [s.dirty for s in manager.status_records(check=True)] == [1, 1]
        assert manager.status()["dirty"].isna().tolist() == [True, False]

    def test_ahead_counts_agree_with_git(self, manager: WorktreeManager, git_repo: Path) -> None:
        """Bulk ahead counts equal 'git rev-list --count base..head' for merges, shared history
        and runs with different bases."""
        old = manager.new_run()
        commit_file(git_repo, "main.txt", "moved on")
        new = manager.new_run()
        a, b, c, _ = manager.create(old, [("t", "x"), ("u", "x"), ("v", "x"), ("w", "x")])
        (d,) = manager.create(new, [("t", "x")])
        commit_file(a.path, "1.txt", "1")
        commit_file(a.path, "2.txt", "2")
        git(b.path, "merge", "-q", "--no-edit", "--no-ff", a.branch)  # shares a's two commits
        git(c.path, "merge", "-q", "--ff-only", "main")  # the newer base: ahead of the old one
        commit_file(d.path, "3.txt", "3")
        bases = {old.id: old.base_commit, new.id: new.base_commit}
        expected = [int(git(git_repo, "rev-list", "--count", f"{bases[s.run]}..{s.branch}"))
                    for s in manager.status_records()]  # fmt: skip
        assert [s.ahead for s in manager.status_records()] == expected == [2, 3, 1, 0, 1]

    def test_branch_deleted_by_hand(self, manager: WorktreeManager, git_repo: Path) -> None:
        """An attempt whose branch was deleted by hand has no head; the others are still counted."""
        a, b = manager.create(manager.new_run(), [("t", "claude"), ("u", "claude")])
        commit_file(b.path, "b.txt", "b")
        git(a.path, "checkout", "-q", "--detach")
        git(git_repo, "branch", "-D", a.branch)
        assert [(s.head, s.ahead) for s in manager.status_records()] == [
            (None, 0), (git(git_repo, "rev-parse", b.branch).strip(), 1)]  # fmt: skip

    def test_dead_coordinator_reads_interrupted(self, manager: WorktreeManager) -> None:
        """Unfinished attempts of a run whose coordinator died read interrupted; nothing is written."""
        run = manager.new_run()
        manager.create(run, [("t", "claude"), ("u", "claude")])
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        started = psutil.Process(proc.pid).create_time()
        proc.wait()
        with manager.store() as store:
            store.update_run(run.id, status="running", coordinator_pid=proc.pid,
                             coordinator_started=started)  # fmt: skip
        set_status(manager, run.id, {"t": "running", "u": "completed"})
        assert [s.status for s in manager.status_records()] == ["interrupted", "completed"]
        with manager.store() as store:
            assert [a.status for a in store.attempts(run.id)] == ["running", "completed"]

    def test_cli_json_without_pandas(self, manager: WorktreeManager, git_repo: Path) -> None:
        """'nborch status --json' gives each attempt's status and never imports pandas."""
        manager.create(manager.new_run(), [("t", "claude")])
        code = ("import sys\nfrom nborch.cli.main import main\n"
                f"main(['status', '-r', {str(git_repo)!r}, '--json'], standalone_mode=False)\n"
                "assert 'pandas' not in sys.modules, 'pandas was imported'\n")  # fmt: skip
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        (row,) = json.loads(out.stdout)["worktrees"]
        assert row["status"] == "pending" and row["dirty"] == 0 and row["ahead"] == 0


class TestAheadMemory:
    def test_commit_work_notes_the_count(self, manager: WorktreeManager, git_repo: Path) -> None:
        """Each commit nborch makes is noted with its count and time, so status need not walk."""
        run = manager.new_run()
        (a,) = manager.create(run, [("t", "claude")])
        commit_file(a.path, "agent.txt", "the agent committed this itself")
        assert manager.commit_work(a, "nothing left") is None  # notes the agent's commit
        (a.path / "more.txt").write_text("more")
        sha = manager.commit_work(a, "more")
        when = git(git_repo, "log", "-1", "--format=%ct", a.branch).strip()
        lines = cache_path(manager).read_text().splitlines()
        assert lines[-1] == f"{run.base_commit} {sha} 2 {when}" and len(lines) == 2

    def test_status_agrees_with_and_without_memory(self, manager: WorktreeManager,
                                                   git_repo: Path) -> None:  # fmt: skip
        """Status gives the same rows from remembered counts, from none, and past torn lines."""
        run = manager.new_run()
        a, b, c = manager.create(run, [("t", "x"), ("u", "x"), ("v", "x")])
        commit_file(a.path, "1.txt", "1")
        manager.commit_work(b, "nothing")
        git(c.path, "merge", "-q", "--no-edit", "--no-ff", a.branch)
        first = manager.status_records()
        assert [s.ahead for s in first] == [1, 0, 2]
        memory = cache_path(manager)
        assert len(memory.read_text().splitlines()) == 3  # every pair, now remembered
        memory.write_text("torn line\n" + memory.read_text() + "abc def 1\n")
        assert manager.status_records() == first
        memory.unlink()
        assert manager.status_records() == first

    def test_outgrown_memory_is_rewritten(self, manager: WorktreeManager,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        """Memory holding far more pairs than attempts point at is rewritten to those in use."""
        run = manager.new_run()
        (a,) = manager.create(run, [("t", "x")])
        head = commit_file(a.path, "1.txt", "1")
        stale = "".join(f"{'a' * 40} {i:040d} 1 -\n" for i in range(5))
        cache_path(manager).write_text(stale)
        monkeypatch.setattr("nborch.workspace.heads._CACHE_SLACK", 2)
        assert manager.status_records()[0].ahead == 1
        assert cache_path(manager).read_text().split()[:3] == [run.base_commit, head, "1"]
        assert len(cache_path(manager).read_text().splitlines()) == 1

    def test_remembered_counts_are_used(self, manager: WorktreeManager) -> None:
        """A remembered (base, head) is not asked of git again: the note is what status shows."""
        run = manager.new_run()
        (a,) = manager.create(run, [("t", "x")])
        head = commit_file(a.path, "1.txt", "1")
        cache_path(manager).write_text(f"{run.base_commit} {head} 7 1700000000\n")
        (row,) = manager.status_records()
        assert row.ahead == 7 and row.last_change == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


class TestCleanup:
    def test_clean_attempt_goes_entirely(self, manager: WorktreeManager, git_repo: Path) -> None:
        """An attempt with no work loses its worktree and branch; the run is marked cleaned."""
        run = manager.new_run()
        (a,) = manager.create(run, [("t", "claude")])
        report = manager.cleanup()
        assert core(report.to_json()) == {"removed": [str(a.path)], "kept": [], "archived": []}
        assert not a.path.exists() and not (manager.root / run.id).exists()
        assert nborch_branches(git_repo) == []
        assert manager.run(run.id).status == "cleaned"
        assert manager.status_records()[0].state == "removed"
        assert a.attempt_dir.is_dir()  # prompts and logs stay as history

    def test_uncommitted_changes_become_a_wip_commit(self, manager: WorktreeManager, git_repo: Path) -> None:
        """Uncommitted work is committed as WIP and its branch is kept."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        (a.path / "work.txt").write_text("precious")
        report = manager.cleanup()
        assert report.removed == [str(a.path)] and report.kept[0][0] == str(a.path)
        assert "1 commit(s) not merged" in report.kept[0][1]
        assert git(git_repo, "show", f"{a.branch}:work.txt") == "precious"
        assert git(git_repo, "log", "-1", "--format=%s", a.branch).startswith("WIP: ")
        assert report.committed[0][1] == git(git_repo, "rev-parse", a.branch).strip()

    def test_ignored_files_the_agent_made_are_saved_before_the_worktree_goes(
            self, manager: WorktreeManager, git_repo: Path) -> None:  # fmt: skip
        """report.csv and build/out.txt that .gitignore hides are committed (git add -f) on the
        branch; caches are not; the dry run says what would happen and changes nothing."""
        (git_repo / ".gitignore").write_text("*.csv\nbuild/\n__pycache__/\n")
        commit_file(git_repo, ".gitignore", "*.csv\nbuild/\n__pycache__/\n", "ignore")
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        (a.path / "report.csv").write_text("a,b\n1,2\n")
        (a.path / "build").mkdir()
        (a.path / "build" / "out.txt").write_text("built")
        (a.path / "__pycache__").mkdir()
        (a.path / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
        dry = manager.cleanup(dry_run=True)
        assert dry.ignored == [(str(a.path), ("build/out.txt", "report.csv"))]
        assert (a.path / "report.csv").exists() and "save ignored files" in str(dry)
        assert "1 commit(s) not merged" in dry.kept[0][1]
        report = manager.cleanup()
        assert not a.path.exists()
        assert git(git_repo, "show", f"{a.branch}:report.csv") == "a,b\n1,2\n"
        assert git(git_repo, "show", f"{a.branch}:build/out.txt") == "built"
        assert "__pycache__" not in git(git_repo, "ls-tree", "-r", "--name-only", a.branch)
        assert report.to_json()["ignored_saved"] == [{"path": str(a.path),
                                                      "files": ["build/out.txt", "report.csv"]}]  # fmt: skip
        assert "ignored files" in git(git_repo, "log", "-1", "--format=%s", a.branch)

    def test_too_many_ignored_files_keep_the_worktree(self, manager: WorktreeManager,
                                                      git_repo: Path, monkeypatch) -> None:  # fmt: skip
        """Beyond the limits nothing is committed or removed, and the reason says what to do."""
        from nborch.workspace import cleanup as cleanup_module

        monkeypatch.setattr(cleanup_module, "MAX_IGNORED_FILES", 2)
        commit_file(git_repo, ".gitignore", "out/\n", "ignore")
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        (a.path / "out").mkdir()
        for i in range(3):
            (a.path / "out" / f"{i}.bin").write_text(str(i))
        report = manager.cleanup(force=True)
        assert report.kept and "3 files .gitignore hides" in report.kept[0][1]
        assert (a.path / "out" / "2.bin").exists() and report.removed == []

    def test_a_nul_in_the_message_does_not_lose_the_commit(self, manager: WorktreeManager,
                                                           git_repo: Path) -> None:  # fmt: skip
        """A title with a NUL (a Taskmaster "A\\u0000B") still commits the work."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        (a.path / "work.txt").write_text("done")
        sha = manager.commit_work(a, "1 A\x00B\x1b[2J (claude, completed)")
        assert sha and git(git_repo, "show", f"{a.branch}:work.txt") == "done"
        assert git(git_repo, "log", "-1", "--format=%s", a.branch).strip() == "1 A\\x00B\\x1b[2J (claude, completed)"

    def test_unmerged_branch_kept_then_archived_with_force(self, manager: WorktreeManager,
                                                          git_repo: Path) -> None:  # fmt: skip
        """Unmerged commits keep the branch; force saves its head under refs/nborch/archive first."""
        run = manager.new_run()
        (a,) = manager.create(run, [("t", "claude")])
        head = commit_file(a.path, "feature.txt", "done")
        assert manager.cleanup().kept and nborch_branches(git_repo) == [f"refs/heads/{a.branch}"]
        assert manager.cleanup().kept  # still kept on a second call, nothing else happens
        report = manager.cleanup(force=True)
        ref = f"refs/nborch/archive/{run.id}/t/claude"
        assert core(report.to_json()) == {"removed": [], "kept": [], "archived": [ref]}
        assert git(git_repo, "rev-parse", ref).strip() == head
        assert nborch_branches(git_repo) == []
        assert core(manager.cleanup().to_json()) == {"removed": [], "kept": [], "archived": []}

    def test_merged_branch_is_deleted(self, manager: WorktreeManager, git_repo: Path) -> None:
        """A branch whose commits were merged into the base ref goes without force."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        commit_file(a.path, "feature.txt", "done")
        git(git_repo, "merge", "-q", "--ff-only", a.branch)
        report = manager.cleanup()
        assert report.kept == [] and nborch_branches(git_repo) == []

    def test_dry_run_changes_nothing(self, manager: WorktreeManager, git_repo: Path, tmp_path: Path) -> None:
        """dry_run lists removals, keeps and archives, and leaves refs, files and rows as they were."""
        run = manager.new_run()
        a, b, c = manager.create(run, [("t", "claude"), ("t", "codex"), ("u", "claude")])
        (a.path / "dirty.txt").write_text("uncommitted")
        commit_file(b.path, "feature.txt", "done")
        before = snapshot(git_repo, tmp_path / "wt")
        report = manager.cleanup(dry_run=True)
        assert snapshot(git_repo, tmp_path / "wt") == before
        assert report.dry_run and sorted(report.removed) == sorted(str(x.path) for x in (a, b, c))
        assert sorted(p for p, _ in report.kept) == sorted([str(a.path), str(b.path)])
        forced = manager.cleanup(dry_run=True, force=True)
        assert snapshot(git_repo, tmp_path / "wt") == before
        assert len(forced.archived) == 2 and "would archive" in str(forced)
        real = manager.cleanup(force=True)
        assert sorted(real.archived) == sorted(forced.archived)
        assert sorted(real.removed) == sorted(forced.removed)

    def test_worktree_deleted_by_hand(self, manager: WorktreeManager, git_repo: Path) -> None:
        """A worktree folder deleted by hand shows in status and orphans, and cleanup tidies git."""
        import shutil

        run = manager.new_run()
        a, b = manager.create(run, [("t", "claude"), ("t", "codex")])
        shutil.rmtree(a.path)
        assert [s.exists for s in manager.status_records()] == [False, True]
        orphans = manager.orphans()
        assert orphans.missing == [(run.id, "t", "claude", str(a.path))]
        assert orphans.prunable == [str(a.path)] and orphans.vanished_runs == []
        report = manager.cleanup()
        assert sorted(report.removed) == sorted([str(a.path), str(b.path)])
        assert worktree_paths(git_repo) == [str(git_repo.resolve())]
        assert nborch_branches(git_repo) == []
        assert not manager.orphans()

    def test_detached_work_keeps_the_worktree(self, manager: WorktreeManager, git_repo: Path) -> None:
        """Commits an agent made on a detached HEAD are not thrown away with the worktree."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        git(a.path, "checkout", "-q", "--detach")
        commit_file(a.path, "detached.txt", "only here")
        report = manager.cleanup(force=True)
        assert report.removed == [] and "not on its branch" in report.kept[0][1]
        assert (a.path / "detached.txt").is_file()
        git(a.path, "checkout", "-q", "-B", a.branch)  # put the work on the branch: now it can go
        report = manager.cleanup(force=True)
        assert report.removed == [str(a.path)] and len(report.archived) == 1
        assert git(git_repo, "show", f"{report.archived[0]}:detached.txt") == "only here"

    def test_unknown_run(self, manager: WorktreeManager) -> None:
        """Cleaning up a run that does not exist is refused."""
        with pytest.raises(WorktreeError, match="no run 'nope'"):
            manager.cleanup("nope")

    def test_only_the_named_run(self, manager: WorktreeManager) -> None:
        """cleanup(run_id) leaves other runs alone."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        run2 = manager.new_run()
        (b,) = manager.create(run2, [("t", "claude")])
        assert manager.cleanup(run2.id).removed == [str(b.path)]
        assert a.path.is_dir()

    def test_live_run_is_kept_until_its_coordinator_is_gone(self, manager: WorktreeManager,
                                                            git_repo: Path) -> None:  # fmt: skip
        """A running attempt of a run whose coordinator (a real second process) lives is kept, its
        finished ones go; once that process exits, cleanup proceeds."""
        run = manager.new_run()
        a, b = manager.create(run, [("t", "claude"), ("u", "claude")])
        (a.path / "half-done.txt").write_text("the agent is writing this")
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_RUN, str(git_repo), run.id], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            set_status(manager, run.id, {"t": "running", "u": "completed"})
            for dry in (True, False):
                report = manager.cleanup(dry_run=dry, force=True)
                assert report.kept == [(str(a.path), "running in a live run (cancel it first)")]
                assert report.removed == [str(b.path)] and report.committed == []
            assert (a.path / "half-done.txt").is_file()
            assert f"refs/heads/{a.branch}" in nborch_branches(git_repo)
        finally:
            holder.communicate("")  # closing stdin ends the coordinator
        assert holder.returncode == 0
        report = manager.cleanup()
        assert report.removed == [str(a.path)] and report.committed[0][0] == str(a.path)
        assert git(git_repo, "show", f"{a.branch}:half-done.txt") == "the agent is writing this"

    def test_same_process_coordinator_counts_as_live(self, manager: WorktreeManager) -> None:
        """A run held by this very process (a notebook's background run) is live too; a finished
        run of a live process is not."""
        run = manager.new_run()
        (a,) = manager.create(run, [("t", "claude")])
        with manager.store() as store:
            store.update_run(run.id, status="running", coordinator_pid=os.getpid(),
                             coordinator_started=psutil.Process().create_time())  # fmt: skip
        set_status(manager, run.id, {"t": "pending"})
        assert manager.cleanup().kept == [(str(a.path), "running in a live run (cancel it first)")]
        with manager.store() as store:
            store.update_run(run.id, status="stopped")
        assert manager.cleanup().removed == [str(a.path)]

    def test_report_shows_itself(self) -> None:
        """CleanupReport has a state repr, an escaped HTML table and the exact JSON keys."""
        report = CleanupReport(removed=["/w/a"], kept=[("/w/<b>", "branch kept")], archived=["r"])
        assert repr(report) == "<CleanupReport: 1 removed, 1 kept, 1 archived, 0 WIP commits>"
        assert "&lt;b&gt;" in report._repr_html_() and "<b>" not in report._repr_html_()
        assert list(report.to_json()) == ["removed", "kept", "archived", "committed", "ignored_saved"]
        assert report.to_json()["kept"] == [{"path": "/w/<b>", "reason": "branch kept"}]


class TestOrphans:
    def test_unknown_branch_and_worktrees(self, manager: WorktreeManager, git_repo: Path) -> None:
        """nborch branches, worktrees and root folders that no run knows are reported."""
        manager.create(manager.new_run(), [("t", "claude")])
        git(git_repo, "branch", "nborch/stray/t/a")
        stray_wt = manager.root / "old-run" / "t--a"
        git(git_repo, "worktree", "add", "-q", "-b", "nborch/old-run/t/a", str(stray_wt))
        (manager.root / "other-run" / "x--y").mkdir(parents=True)
        report = manager.orphans()
        assert sorted(report.unknown_branches) == ["nborch/old-run/t/a", "nborch/stray/t/a"]
        assert sorted(report.unknown_worktrees) == sorted(
            [str(stray_wt.resolve()), str(manager.root / "other-run" / "x--y")])
        assert report.missing == [] and bool(report)
        assert "unknown worktree" in str(report) and "OrphanReport" in report._repr_html_()
        json.dumps(report.to_json())
        manager.cleanup()  # unknown things are reported, never touched
        assert stray_wt.is_dir() and "refs/heads/nborch/stray/t/a" in nborch_branches(git_repo)

    def test_vanished_run_and_prune(self, manager: WorktreeManager, git_repo: Path, tmp_path: Path) -> None:
        """A run whose worktrees all vanished is reported; prune drops only nborch's entries."""
        import shutil

        run = manager.new_run()
        a, b = manager.create(run, [("t", "claude"), ("u", "claude")])
        own = tmp_path / "users-own-worktree"
        git(git_repo, "worktree", "add", "-q", "-b", "mine", str(own))
        for p in (a.path, b.path, own):
            shutil.rmtree(p)
        report = manager.orphans(prune=True)
        assert report.vanished_runs == [run.id] and len(report.missing) == 2
        assert sorted(report.prunable) == sorted(str(p.resolve()) for p in (a.path, b.path, own))
        assert worktree_paths(git_repo) == [str(git_repo.resolve()), str(own.resolve())]
        assert isinstance(report, OrphanReport)


class TestDisplay:
    def test_manager_repr_and_html(self, manager: WorktreeManager) -> None:
        """The manager shows its runs and attempts as text and as an escaped table."""
        manager.create(manager.new_run(), [("<t>", "claude")])
        assert "1 runs, 1 attempts (1 with worktrees)" in repr(manager)
        html = manager._repr_html_()
        assert "&lt;t&gt;" in html and "<t>" not in html


class OwnershipTests:
    @pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository to another user")
    def test_dubious_ownership_says_how_to_trust_the_repository(self, git_repo: Path) -> None:
        """A repository owned by another user: one line with git's safe.directory remedy."""
        import pwd
        import shutil

        nobody = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(git_repo):
            for name in (*dirs, *files):
                os.lchown(os.path.join(root, name), nobody.pw_uid, nobody.pw_gid)
        os.chown(git_repo, nobody.pw_uid, nobody.pw_gid)
        home = git_repo.parent / "home"  # no ~/.gitconfig that trusts every folder
        home.mkdir()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HOME", str(home))
            mp.delenv("GIT_CONFIG_GLOBAL", raising=False)
            with pytest.raises(WorktreeError, match="safe.directory") as err:
                WorktreeManager(git_repo)
        assert "\n" not in str(err.value)
        shutil.rmtree(home)


class WorktreeProblemTests:
    """status flags an attempt whose agent switched branches or removed its .git."""

    def test_head_moved_and_git_missing_are_flagged(self, manager: WorktreeManager,
                                                    git_repo: Path) -> None:  # fmt: skip
        run = manager.new_run()
        a, b, _ = manager.create(run, [("t", "claude"), ("u", "claude"), ("v", "claude")])
        git(a.path, "switch", "-q", "-c", "other")
        (b.path / ".git").unlink()
        problems = {s.task: s.problem for s in manager.status_records()}
        assert problems["t"].startswith("HEAD left the attempt's branch: now on other")
        assert problems["u"].startswith(".git is missing")
        assert problems["v"] == ""
        out = subprocess.run([sys.executable, "-m", "nborch", "status", "-r", str(git_repo),
                              "--json"], capture_output=True, text=True, check=True).stdout  # fmt: skip
        flagged = {w["task"]: w["problem"] for w in json.loads(out)["worktrees"]}
        assert flagged["t"] and flagged["u"] and not flagged["v"]

    def test_a_replaced_git_and_a_worktree_reached_through_a_symlink(
            self, manager: WorktreeManager, git_repo: Path, tmp_path: Path) -> None:  # fmt: skip
        """An agent that ran `git init` in its worktree is flagged; a worktree git lists under
        another spelling of its path (a symlinked root) is not."""
        (a,) = manager.create(manager.new_run(), [("t", "claude")])
        (a.path / ".git").unlink()
        git(a.path, "init", "-q")
        assert manager.status_records()[0].problem.startswith(".git was replaced")
        link = tmp_path / "link-root"
        link.symlink_to(manager.root)
        linked = WorktreeManager(git_repo, root=link)
        (b,) = linked.create(linked.new_run(), [("u", "claude")])
        assert {s.task: s.problem for s in linked.status_records()}["u"] == ""
        assert b.path.exists()
