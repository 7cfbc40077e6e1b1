"""Merging the chosen attempt of every task into an integration branch, then testing the result.

:func:`merge_picks` works in three steps:

1. **In memory.** Starting at ``onto``, each pick is merged with ``git merge-tree --write-tree``
   and recorded with ``git commit-tree`` (a merge commit naming task and agent); "take A with B's
   tests" adds B's test files through a temporary index. No worktree, index or ref is touched, so
   a conflict leaves nothing behind but unreachable objects that ``git gc`` drops.
2. **The target.** Only when every pick merged: the branch ``into`` is created atomically, moved
   with a compare-and-swap, or — when it is checked out in a worktree that has no uncommitted
   changes to tracked files — fast-forwarded there with ``git merge --ff-only``.
3. **The tests.** The full test command runs on the result in a temporary detached worktree that
   is removed afterwards. The branch is kept even when they fail; the outcome says so.

Where the picks go (``onto``):

- ``into`` does not exist → the run's ``base``; the branch is created there.
- ``into`` exists (say ``main``) → its current head, so work added to it since ``base`` is kept
  and the result always fast-forwards it.
- ``into`` is an existing ``nborch/integration/...`` branch → refused unless ``force=True``, which
  rebuilds it from ``base`` and replaces it (re-running the merge of a run is one flag away).
  ``force`` changes nothing for other branches: nborch never throws commits of yours away.

Untracked files do not count as "dirty": git's own fast-forward refuses to overwrite one, and then
nothing has moved.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..display import html_table, plural, text_table
from ..errors import WorktreeError
from ..execute.validate import check_env
from ..gitcmd import Git, porcelain_paths, ref_problem, split_z
from ..workspace.cleanup import worktree_list
from ..workspace.commit import identity_env
from .checkout import temporary_checkout
from .diffs import merges_cleanly
from .tests import TestRun, is_pytest, run_tests

__all__ = ["INTEGRATION_PREFIX", "Conflict", "MergeOutcome", "Pick", "merge_picks"]

INTEGRATION_PREFIX = "nborch/integration/"
_COLUMNS = ("task", "agent", "commit", "result", "detail")


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


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """What :func:`merge_picks` did: the branch, its commit, each pick's fate, the tests.

    ``commit`` is None when a conflict stopped the merge (then nothing was written). ``updated``
    says whether the branch was created or moved. ``onto`` is the commit the picks were merged on.
    The picks in ``merged`` and ``skipped`` carry full commit ids, whatever revisions were given.
    """

    into: str
    commit: str | None
    merged: tuple[Pick, ...] = ()
    skipped: tuple[tuple[Pick, str], ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    tests: TestRun | None = None
    updated: bool = False
    notes: tuple[str, ...] = ()
    onto: str = ""

    @property
    def ok(self) -> bool:
        """No conflict, and the tests passed or there were none to run."""
        return not self.conflicts and (self.tests is None or self.tests.ok or _no_tests(self.tests))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {"into": self.into, "commit": self.commit, "onto": self.onto, "ok": self.ok,
                "updated": self.updated, "merged": [p.to_dict() for p in self.merged],
                "skipped": [{**p.to_dict(), "reason": why} for p, why in self.skipped],
                "conflicts": [c.to_dict() for c in self.conflicts],
                "tests": None if self.tests is None else self.tests.to_dict(),
                "notes": list(self.notes)}  # fmt: skip

    def _tests_text(self) -> str:
        if self.tests is None:
            return "tests not run"
        if self.tests.ok:
            return "tests passed"
        return "tests timed out" if self.tests.timed_out else "tests FAILED"

    def _summary(self) -> str:
        if self.conflicts:
            return f"{plural(len(self.conflicts), 'conflict')}, nothing written"
        parts = [f"{len(self.merged)} merged"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join([*parts, self._tests_text()])

    def _rows(self) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for p in self.merged:
            extra = sum(len(paths) for _, paths in p.extra_tests)
            rows.append((p.task, p.agent, p.commit[:12], "merged",
                         f"+ {plural(extra, 'test path')} from other attempts" if extra else ""))  # fmt: skip
        rows += [(p.task, p.agent, p.commit[:12], "skipped", why) for p, why in self.skipped]
        rows += [(c.task, c.agent, "", "conflict", c.describe()) for c in self.conflicts]
        return rows

    def __repr__(self) -> str:
        at = f" @ {self.commit[:12]}" if self.commit else ""
        return f"<MergeOutcome {self.into}{at}: {self._summary()}>"

    def __str__(self) -> str:
        lines = [f"{self.into}{' @ ' + self.commit[:12] if self.commit else ''}: {self._summary()}",
                 text_table(_COLUMNS, self._rows(), limit=80)]  # fmt: skip
        if self.tests is not None:
            lines.append(f"tests: {self.tests!r}")
            if not self.tests.ok and self.tests.tail:
                lines.append(self.tests.tail)
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        caption = f"{self.into}{' @ ' + self.commit[:12] if self.commit else ''}: {self._summary()}"
        parts = [html_table(_COLUMNS, self._rows(), caption=caption)]
        if self.tests is not None:
            parts.append(f"<p>tests: {html.escape(repr(self.tests))}</p>")
            if not self.tests.ok and self.tests.tail:
                parts.append(f"<pre>{html.escape(self.tests.tail)}</pre>")
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        return "".join(parts)


# ---- step 1: the result, in memory ----------------------------------------------------------


@dataclass(slots=True)
class _Build:
    current: str
    merged: list[Pick]
    skipped: list[tuple[Pick, str]]
    conflicts: list[Conflict]
    notes: list[str]


def _commit_tree(git: Git, tree: str, parents: Sequence[str], message: str,
                 ident: dict[str, str]) -> str:  # fmt: skip
    args = [a for p in parents for a in ("-p", p)]
    return git.out("-c", "commit.gpgsign=false", "commit-tree", tree, *args, "-m", message,
                   env=ident)  # fmt: skip


def _add_files(git: Git, current: str, source: str, paths: Sequence[str], message: str,
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
    return _commit_tree(git, tree, [current], message, ident)


def _build(git: Git, onto: str, picks: Sequence[Pick], prefix: str) -> _Build:
    """Merge ``picks`` in order onto ``onto`` as new commits no ref points at."""
    ident = identity_env(git)
    b = _Build(onto, [], [], [], [])
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
            advance(_commit_tree(git, check.tree, [b.current, pick.commit], message, ident),
                    pick.task)  # fmt: skip
            b.merged.append(pick)
        for source, paths in pick.extra_tests:
            message = (f"{prefix}: task {pick.task} — tests from {source[:12]}\n\n"
                       + "\n".join(f"- {p}" for p in paths))  # fmt: skip
            new = _add_files(git, b.current, source, paths, message, ident)
            if new is None:
                b.notes.append(f"task {pick.task}: the tests from {source[:12]} were already there")
            else:
                advance(new, pick.task)
    return b


# ---- step 2: the target branch --------------------------------------------------------------


def _resolve(git: Git, rev: str, what: str) -> str:
    res = git.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if not res.ok:
        raise WorktreeError(f"{what}: {rev!r} is not a commit in {git.cwd} — check the branch "
                            "or commit id (was it deleted or never committed?)")  # fmt: skip
    return res.stdout.strip()


def _checked_out(git: Git, ref: str) -> list[Path]:
    """The worktrees that have ``ref`` checked out (``git worktree list --porcelain``)."""
    return [Path(e["worktree"]) for e in worktree_list(git) if e.get("branch") == ref]


def _require_clean(git: Git, worktree: Path, branch: str) -> None:
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


def _set_target(git: Git, branch: str, old: str | None, where: list[Path], result: str,
                message: str) -> bool:  # fmt: skip
    """Point ``branch`` at ``result``; whether it was created or moved."""
    ref, ident = f"refs/heads/{branch}", identity_env(git)
    if old == result:
        return False
    if where:
        wt = git.at(where[0])
        _require_clean(git, where[0], branch)  # again: time has passed since the first check
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


def _no_tests(run: TestRun) -> bool:
    """pytest's exit code 5: it ran and found no tests — nothing failed."""
    return run.runner == "pytest" and run.return_code == 5 and not run.outcomes


def _test_result(git: Git, commit: str, command: str, timeout: float,
                 env: Mapping[str, str] | None) -> TestRun:  # fmt: skip
    """Run ``command`` in a temporary detached worktree at ``commit`` (removed afterwards)."""
    with temporary_checkout(git, commit, "nborch-merge-") as where:
        try:
            return run_tests(where, command, timeout, env={**check_env(), **(env or {})})
        except OSError as err:  # the program is missing or not executable: a failed run, reported
            return TestRun(command=command, return_code=None, duration_s=0.0, timed_out=False,
                           runner="pytest" if is_pytest(command) else "exit-code",
                           tail=f"could not start the test command: {err}")  # fmt: skip


def merge_picks(
    repo: str | Path,
    base: str,
    picks: Iterable[Pick],
    *,
    into: str,
    message_prefix: str = "nborch",
    test_command: str | None = None,
    test_timeout: float = 600.0,
    force: bool = False,
    env: Mapping[str, str] | None = None,
) -> MergeOutcome:
    """Merge the chosen attempt of every task, in the given order, into the branch ``into``.

    Parameters
    ----------
    repo
        The repository (or one of its worktrees).
    base
        The run's base commit: where a new ``into`` branch starts.
    picks
        One :class:`Pick` per task, in dependency order.
    into
        A branch name, e.g. ``nborch/integration/<run>`` or ``main``. An existing branch gets the
        picks merged on its current head; an existing ``nborch/integration/...`` branch is only
        rebuilt from ``base`` and replaced with ``force=True``. A branch checked out in a
        worktree is fast-forwarded there, and only when that worktree has no tracked changes.
    message_prefix
        The first word of every commit message nborch writes.
    test_command
        The full test suite, run on the result in a temporary worktree; None runs nothing.
    test_timeout
        Seconds before the test run is killed.
    force
        Replace an existing ``nborch/integration/...`` branch.
    env
        Extra environment variables for the test run.

    Returns
    -------
    MergeOutcome
        With ``conflicts`` filled and nothing written when any pick conflicts; otherwise the
        branch is set (even when the tests then fail — ``ok`` is False and the tests say why).

    Raises
    ------
    WorktreeError
        A revision is not a commit, ``into`` is not a valid branch name, an integration branch
        exists without ``force``, or the worktree that has ``into`` checked out is dirty.
    """
    git = Git(repo)
    branch = into.removeprefix("refs/heads/")
    problem = ref_problem(f"refs/heads/{branch}")
    if problem:
        raise WorktreeError(f"cannot merge into {into!r}: the branch name {problem} — choose "
                            f"another name, e.g. {INTEGRATION_PREFIX}<run>")  # fmt: skip
    base_sha = _resolve(git, base, "base")
    resolved = tuple(replace(p, commit=_resolve(git, p.commit, f"task {p.task} ({p.agent})"),
                             extra_tests=tuple((_resolve(git, c, f"tests for task {p.task}"), tuple(ps))
                                               for c, ps in p.extra_tests))
                     for p in picks)  # fmt: skip
    old = git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}",
                  check=False).stdout.strip() or None  # fmt: skip
    where = _checked_out(git, f"refs/heads/{branch}") if old else []
    if len(where) > 1:
        raise WorktreeError(f"{branch} is checked out in {len(where)} worktrees "
                            f"({', '.join(map(str, where))}) — keep it in one and try again")  # fmt: skip
    notes: list[str] = []
    onto = base_sha
    if old and branch.startswith(INTEGRATION_PREFIX):
        if not force:
            raise WorktreeError(f"{branch} already exists (at {old[:12]}) — pass force=True "
                                "(--force) to rebuild and replace it, or merge into another "
                                "branch")  # fmt: skip
        notes.append(f"rebuilt from base {base_sha[:12]}; replaces {branch} at {old[:12]}")
    elif old:
        onto = old
        if old != base_sha:
            notes.append(f"merged onto {branch} at {old[:12]}, not the base {base_sha[:12]}")
    for wt in where:
        _require_clean(git, wt, branch)

    built = _build(git, onto, resolved, message_prefix)
    notes += built.notes
    if built.conflicts:
        notes.append("no branch was created or moved; later picks were checked without the "
                     "conflicting ones — choose other attempts or resolve by hand")  # fmt: skip
        return MergeOutcome(branch, None, tuple(built.merged), tuple(built.skipped),
                            tuple(built.conflicts), None, False, tuple(notes), onto)  # fmt: skip

    updated = _set_target(git, branch, old, where, built.current,
                          f"{message_prefix}: merge {plural(len(built.merged), 'pick')}")  # fmt: skip
    if not updated:
        notes.append(f"{branch} was already at the result")
    if where and updated:
        notes.append(f"updated the checkout of {branch} in {where[0]}")
    tests = None
    if test_command is None:
        notes.append("no test command: the result was not tested")
    else:
        tests = _test_result(git, built.current, test_command, test_timeout, env)
        if _no_tests(tests):
            notes.append("the test command found no tests: the result was not tested")
        elif not tests.ok:
            again = ("choose other attempts and merge again with force=True"
                     if branch.startswith(INTEGRATION_PREFIX) else f"its previous head was {onto[:12]}")  # fmt: skip
            notes.append(f"{branch} is at {built.current[:12]} although its tests fail — fix it "
                         f"there, or {again}")  # fmt: skip
    return MergeOutcome(branch, built.current, tuple(built.merged), tuple(built.skipped), (),
                        tests, updated, tuple(notes), onto)  # fmt: skip
