"""Steps 1 and 2 of a merge (see :mod:`.merge`): the result built in memory with git's plumbing,
then the target branch set — created, moved with a compare-and-swap, or fast-forwarded in the
worktree that has it checked out."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import WorktreeError
from ..gitcmd import Git, porcelain_paths, split_z, worktree_list
from ..workspace.commit import identity_env
from .diffs import merges_cleanly


@dataclass(frozen=True, slots=True)
class Pick:
    """The attempt chosen for one task; ``extra_tests`` adds other attempts' test files on top.

    ``extra_tests`` holds ``(commit, paths)`` pairs: those files (or folders) as they are in that
    other attempt's commit ("take A with B's tests").
    """

    task: str
    agent: str
    commit: str
    extra_tests: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"task": self.task, "agent": self.agent, "commit": self.commit,
                "extra_tests": [{"commit": c, "paths": list(p)} for c, p in self.extra_tests]}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Conflict:
    """A pick that does not merge: the conflicted files and the earlier tasks that touched them."""

    task: str
    agent: str
    files: tuple[str, ...]
    with_tasks: tuple[str, ...] = ()

    def describe(self) -> str:
        other = (f"task {', '.join(self.with_tasks)}" if self.with_tasks
                 else "the target branch's own changes")  # fmt: skip
        verb = "conflicts" if len(self.files) == 1 else "conflict"
        return f"{', '.join(self.files)} {verb} with {other}"

    def to_dict(self) -> dict[str, object]:
        return {"task": self.task, "agent": self.agent, "files": list(self.files),
                "with_tasks": list(self.with_tasks)}  # fmt: skip



# ---- step 1: the result, in memory ----------------------------------------------------------


@dataclass(slots=True)
class Build:
    current: str
    merged: list[Pick]
    skipped: list[tuple[Pick, str]]
    conflicts: list[Conflict]
    notes: list[str]


def commit_tree(git: Git, tree: str, parents: Sequence[str], message: str,
                 ident: dict[str, str]) -> str:  # fmt: skip
    args = [a for p in parents for a in ("-p", p)]
    return git.out("-c", "commit.gpgsign=false", "commit-tree", tree, *args, "-m", message,
                   env=ident)  # fmt: skip


def add_files(git: Git, current: str, source: str, paths: Sequence[str], message: str,
               ident: dict[str, str]) -> str | None:  # fmt: skip
    """A commit on ``current`` with ``paths`` as they are in ``source``; None if nothing changes."""
    listing = split_z(git.run("ls-tree", "-r", "-z", "--full-tree", source, "--", *paths).stdout)
    entries = [tuple(line.split("\t", 1)) for line in listing]
    missing = [p for p in paths
               if not any(e[1] == p or e[1].startswith(p.rstrip("/") + "/") for e in entries)]  # fmt: skip
    if missing:
        raise WorktreeError(f"{', '.join(missing)} not found in commit {source[:12]} — name test "
                            "files (or folders) that exist in that attempt's commit")  # fmt: skip
    infos = [a for meta, path in entries
             for a in ("--cacheinfo", f"{meta.split()[0]},{meta.split()[2]},{path}")]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="nborch-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}  # never the user's index
        git.run("read-tree", current, env=env)
        git.run("update-index", "--add", "--replace", *infos, env=env)
        tree = git.out("write-tree", env=env)
    if tree == git.out("rev-parse", f"{current}^{{tree}}"):
        return None
    return commit_tree(git, tree, [current], message, ident)


def build(git: Git, onto: str, picks: Sequence[Pick], prefix: str) -> Build:
    """Merge ``picks`` in order onto ``onto`` as new commits no ref points at."""
    ident = identity_env(git)
    b = Build(onto, [], [], [], [])
    touched: dict[str, list[str]] = {}  # file → tasks whose merge changed it, in order

    def advance(new: str, task: str) -> None:
        for path in split_z(git.run("diff", "--name-only", "-z", "--no-renames", b.current,
                                    new).stdout):  # fmt: skip
            touched.setdefault(path, []).append(task)
        b.current = new

    for pick in picks:
        if git.ok("merge-base", "--is-ancestor", pick.commit, b.current):
            # a dependent attempt already holds its dependency's merge; an empty attempt is base
            b.skipped.append((pick, f"already contained in {b.current[:12]}"))
        else:
            check = merges_cleanly(git.cwd, b.current, pick.commit)
            if not check.clean:
                with_tasks = dict.fromkeys(t for f in check.conflicts for t in touched.get(f, ()))
                b.conflicts.append(Conflict(pick.task, pick.agent, check.conflicts,
                                            tuple(t for t in with_tasks if t != pick.task)))  # fmt: skip
                continue  # the later picks are still checked, without this one
            assert check.tree is not None
            message = (f"{prefix}: merge task {pick.task} ({pick.agent})\n\n"
                       f"Attempt {pick.commit} chosen for task {pick.task}, agent {pick.agent}.")  # fmt: skip
            advance(commit_tree(git, check.tree, [b.current, pick.commit], message, ident),
                    pick.task)  # fmt: skip
            b.merged.append(pick)
        for source, paths in pick.extra_tests:
            message = (f"{prefix}: task {pick.task} — tests from {source[:12]}\n\n"
                       + "\n".join(f"- {p}" for p in paths))  # fmt: skip
            new = add_files(git, b.current, source, paths, message, ident)
            if new is None:
                b.notes.append(f"task {pick.task}: the tests from {source[:12]} were already there")
            else:
                advance(new, pick.task)
    return b


# ---- step 2: the target branch --------------------------------------------------------------


def resolve_commit(git: Git, rev: str, what: str) -> str:
    res = git.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if not res.ok:
        raise WorktreeError(f"{what}: {rev!r} is not a commit in {git.cwd} — check the branch "
                            "or commit id (was it deleted or never committed?)")  # fmt: skip
    return res.stdout.strip()


def checked_out(git: Git, ref: str) -> list[Path]:
    """The worktrees that have ``ref`` checked out (``git worktree list --porcelain``)."""
    return [Path(e["worktree"]) for e in worktree_list(git) if e.get("branch") == ref]


def require_clean(git: Git, worktree: Path, branch: str) -> None:
    if not worktree.is_dir():
        raise WorktreeError(f"{branch} is checked out in {worktree}, which no longer exists — "
                            "run 'git worktree prune' and try again")  # fmt: skip
    # untracked files are left to git: a fast-forward that would overwrite one fails, moving nothing
    out = git.at(worktree).out("status", "--porcelain", "-z", "--untracked-files=no")
    if out:
        files = porcelain_paths(out)
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        raise WorktreeError(f"{branch} is checked out in {worktree} with uncommitted changes "
                            f"({shown}) — commit or stash them, or merge into another branch; "
                            "nothing was changed")  # fmt: skip


def set_target(git: Git, branch: str, old: str | None, where: list[Path], result: str,
                message: str) -> bool:  # fmt: skip
    """Point ``branch`` at ``result``; whether it was created or moved."""
    ref, ident = f"refs/heads/{branch}", identity_env(git)
    if old == result:
        return False
    if where:
        wt = git.at(where[0])
        require_clean(git, where[0], branch)  # again: time has passed since the first check
        how = (("merge", "--ff-only", "--quiet", result)
               if git.ok("merge-base", "--is-ancestor", old or "", result)
               else ("reset", "--keep", "--quiet", result))  # only a forced integration branch  # fmt: skip
        res = wt.run(*how, check=False, locked=True, env=ident)
    else:  # create (empty old value: fails if it exists) or compare-and-swap
        res = git.run("update-ref", "-m", message, ref, result, old or "", check=False,
                      locked=True, env=ident)  # fmt: skip
    if not res.ok:
        raise WorktreeError(f"{git.describe(res)} — {branch} was left as it was; if it changed "
                            "while merging, run the merge again")  # fmt: skip
    return True


# ---- step 3: the tests ----------------------------------------------------------------------


