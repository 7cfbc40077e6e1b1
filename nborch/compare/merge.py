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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..display import html_table, plural, text_table
from ..errors import WorktreeError
from ..execute.validate import check_env
from ..gitcmd import Git, ref_problem
from .checkout import temporary_checkout
from .integrate import Conflict, Pick, build, checked_out, require_clean, resolve_commit, set_target
from .tests import TestRun, is_pytest, run_tests

__all__ = ["INTEGRATION_PREFIX", "Conflict", "MergeOutcome", "Pick", "merge_picks"]

INTEGRATION_PREFIX = "nborch/integration/"
_COLUMNS = ("task", "agent", "commit", "result", "detail")


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


@dataclass(slots=True)
class _Target:
    branch: str
    old: str | None  # its head before, if it exists
    where: list[Path]  # the worktree that has it checked out, if any
    onto: str  # where the picks are merged
    notes: list[str]


def _target(git: Git, into: str, base: str, force: bool) -> _Target:
    """Step 2's decision, made first: which branch, where the picks go, and whether that is
    allowed (see the module docstring)."""
    branch = into.removeprefix("refs/heads/")
    problem = ref_problem(f"refs/heads/{branch}")
    if problem:
        raise WorktreeError(f"cannot merge into {into!r}: the branch name {problem} — choose "
                            f"another name, e.g. {INTEGRATION_PREFIX}<run>")  # fmt: skip
    base_sha = resolve_commit(git, base, "base")
    old = git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}",
                  check=False).stdout.strip() or None  # fmt: skip
    where = checked_out(git, f"refs/heads/{branch}") if old else []
    if len(where) > 1:
        raise WorktreeError(f"{branch} is checked out in {len(where)} worktrees "
                            f"({', '.join(map(str, where))}) — keep it in one and try again")  # fmt: skip
    target = _Target(branch, old, where, base_sha, [])
    if old and branch.startswith(INTEGRATION_PREFIX):
        if not force:
            raise WorktreeError(f"{branch} already exists (at {old[:12]}) — pass force=True "
                                "(--force) to rebuild and replace it, or merge into another "
                                "branch")  # fmt: skip
        target.notes.append(f"rebuilt from base {base_sha[:12]}; replaces {branch} at {old[:12]}")
    elif old:
        target.onto = old
        if old != base_sha:
            target.notes.append(f"merged onto {branch} at {old[:12]}, not the base {base_sha[:12]}")
    for wt in where:
        require_clean(git, wt, branch)
    return target


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
    target = _target(git, into, base, force)
    branch, old, where, onto, notes = target.branch, target.old, target.where, target.onto, target.notes
    resolved = tuple(replace(p, commit=resolve_commit(git, p.commit, f"task {p.task} ({p.agent})"),
                             extra_tests=tuple((resolve_commit(git, c, f"tests for task {p.task}"), tuple(ps))
                                               for c, ps in p.extra_tests))
                     for p in picks)  # fmt: skip
    built = build(git, onto, resolved, message_prefix)
    notes += built.notes
    if built.conflicts:
        notes.append("no branch was created or moved; later picks were checked without the "
                     "conflicting ones — choose other attempts or resolve by hand")  # fmt: skip
        return MergeOutcome(branch, None, tuple(built.merged), tuple(built.skipped),
                            tuple(built.conflicts), None, False, tuple(notes), onto)  # fmt: skip

    updated = set_target(git, branch, old, where, built.current,
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
