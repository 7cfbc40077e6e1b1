"""Git work around an attempt: merge the dependencies it builds on, commit what it produced."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from ..events import AttemptState
from ..workspace.manager import WorktreeManager, identity_env
from ..workspace.prepare import PreparedAttempt, PreparedRun
from ..workspace.status import dirty_paths
from .results import AgentExecution


class Workspace:
    """The worktree side of a run (all methods block; the coordinator calls them in a thread)."""

    def __init__(self, repo: str | Path, prepared: PreparedRun):
        self.manager = WorktreeManager(repo, prepared.run.root)
        self.prepared = prepared

    def merge_dependencies(self, pa: PreparedAttempt, chosen: Sequence[AgentExecution]) -> str:
        """Merge each chosen dependency attempt into ``pa``'s worktree; '' or what went wrong."""
        wt = self.manager.git_at(pa.attempt.path)
        for dep in chosen:
            if not dep.commit:
                continue  # it completed without changing anything
            if wt.ok("merge-base", "--is-ancestor", dep.commit, "HEAD"):
                continue  # merged on an earlier try (resume)
            res = wt.run("-c", "commit.gpgsign=false", "merge", "--no-ff", "--no-edit", "-m",
                         f"nborch: build on task {dep.task} ({dep.agent})", dep.commit,
                         check=False, env=identity_env(wt))  # fmt: skip
            if not res.ok:
                wt.run("merge", "--abort", check=False)
                said = (res.stdout + res.stderr).strip().splitlines()
                return (f"the chosen attempts of its dependencies do not merge cleanly: task "
                        f"{dep.task} ({dep.agent}) conflicts — {'; '.join(said[-3:])}")  # fmt: skip
        return ""

    def reuse(self, pa: PreparedAttempt, commit: str | None, dependencies: Collection[str] = ()) -> bool:
        """Put the attempt's branch and worktree at ``commit``, a result the cache reuses (None:
        that attempt changed nothing, so it stays where it starts) — only while the worktree
        holds nothing of its own: it is on its branch, with no uncommitted change but nborch's
        files, and no commit beyond the base but merges of ``dependencies`` (the commits of
        the attempts it builds on). True when the worktree is at ``commit`` already (a run
        stopped while checking a reused result). False, with nothing done, otherwise."""
        a = pa.attempt
        wt = self.manager.git_at(a.path)
        if wt.run("symbolic-ref", "-q", "HEAD", check=False).stdout.strip() != f"refs/heads/{a.branch}":
            return False
        if dirty_paths(self.manager.git, a.path, a.managed_files):
            return False
        head = wt.out("rev-parse", "HEAD")
        if commit and head == commit:
            return True
        allowed = set(dependencies)
        for line in wt.out("rev-list", "--first-parent", "--parents", f"{a.base_commit}..HEAD").splitlines():
            _, *parents = line.split()
            if len(parents) < 2 or not set(parents[1:]) <= allowed:
                return False  # a commit of its own, or a merge of something else
        if commit:
            wt.run("reset", "--hard", "--quiet", commit)
        return True

    def head(self, pa: PreparedAttempt) -> str:
        """The commit the attempt's worktree is at (after its dependencies were merged)."""
        return self.manager.git_at(pa.attempt.path).out("rev-parse", "HEAD")

    def commit(self, pa: PreparedAttempt, state: AttemptState, wip: bool,
               since: str | None = None) -> tuple[str | None, tuple[int, int, int]]:  # fmt: skip
        """Commit the attempt's work (WIP unless it completed); the head and the diffstat of the
        agent's own work, from ``since`` (where it started, after merging its dependencies)."""
        a = pa.attempt
        title = pa.task.title if len(pa.task.title) <= 60 else pa.task.title[:59] + "…"
        message = (f"{'WIP: ' if wip else ''}{a.task_id} {title} ({a.agent}, {state})\n\n"
                   f"nborch run {a.run_id}, task {a.task_id}, agent {a.agent}: {state}.")  # fmt: skip
        if not (a.path / ".git").exists():
            return None, (0, 0, 0)
        self.manager.commit_work(a, message, wip=wip)
        wt = self.manager.git_at(a.path)
        head = wt.out("rev-parse", "HEAD")
        start = since or a.base_commit
        if head == start:
            return None, (0, 0, 0)
        return head, shortstat(wt.out("diff", "--shortstat", start, head))


def shortstat(text: str) -> tuple[int, int, int]:
    """``(files, insertions, deletions)`` from ``git diff --shortstat`` output."""
    import re

    nums = [0, 0, 0]
    for n, word in re.findall(r"(\d+) (file|insertion|deletion)", text):
        nums[("file", "insertion", "deletion").index(word)] = int(n)
    return nums[0], nums[1], nums[2]
