"""Cross-testing: every attempt's new or changed tests run against every other attempt of a task.

Test outcomes are the only evidence that two attempts behave alike (text or AST similarity never
is): attempts that pass exactly the same cross-tests form one *behaviour cluster*.

The edge is :func:`cross_test`. Each runner gets one temporary detached checkout of its commit
(``git worktree add --detach``). For every author, the author's test files are written into it from
the author's commit (``git restore --source``, working tree only), only those files run with the
pytest command, and the checkout is put back exactly (``git reset --hard`` + ``git clean -ffdx``)
so no author ever sees another's files or leftovers. Checkouts are removed and pruned afterwards,
also on errors and ``KeyboardInterrupt``. :class:`CrossMatrix` and :func:`behaviour_clusters` are
pure.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path, PurePosixPath

from ..display import html_table, plural, text_table
from ..errors import WorktreeError
from ..execute.validate import check_env
from ..gitcmd import Git, split_z
from .diffs import DiffStat
from .findings import is_test_file
from .tests import Outcome, TestRun, is_pytest, run_tests

__all__ = ["CrossMatrix", "CrossSubject", "behaviour_clusters", "cross_test", "test_files_of"]


def test_files_of(diff: DiffStat) -> tuple[str, ...]:
    """The test files an attempt added, modified or renamed into place (not deleted), sorted."""
    return tuple(sorted({f.path for f in diff.files
                         if f.status != "deleted" and is_test_file(f.path)}))  # fmt: skip


test_files_of.__test__ = False  # type: ignore[attr-defined]  # a library function, not a test


@dataclass(frozen=True, slots=True)
class CrossSubject:
    """One attempt taking part: its key (``"claude"``), head commit and the test files it wrote."""

    key: str
    commit: str
    test_files: tuple[str, ...] = ()

    @classmethod
    def from_diff(cls, key: str, diff: DiffStat) -> CrossSubject:
        """The subject for an attempt whose changes are ``diff`` (its head and its test files)."""
        return cls(key, diff.head, test_files_of(diff))


def _collected(test_id: str) -> bool:
    # pytest reports a module that fails to import as one id without "::" (``tests.test_x``);
    # it is an outcome of that run, not a test the author wrote.
    return "::" in test_id


@dataclass(frozen=True, slots=True)
class CrossMatrix:
    """Outcomes of each author's tests on each runner: ``cells[(author, runner)][test_id]``.

    A passed test is named ``"author:test_id"`` in :meth:`passes`, so two authors' tests with the
    same id stay apart. ``runs`` keeps the full :class:`TestRun` of every cell (exit code, timeout,
    output tail); ``notes`` says what could not be tested and why.
    """

    cells: Mapping[tuple[str, str], Mapping[str, Outcome]] = field(default_factory=dict)
    subjects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    runs: Mapping[tuple[str, str], TestRun] = field(default_factory=dict)

    @property
    def authors(self) -> tuple[str, ...]:
        """Subjects whose tests were run, in subject order."""
        have = {author for author, _ in self.cells}
        return tuple(s for s in self.subjects if s in have)

    def authored_by(self, author: str) -> tuple[str, ...]:
        """The ids of ``author``'s tests seen on any runner, sorted (import failures excluded)."""
        ids = {t for (a, _), out in self.cells.items() if a == author for t in out if _collected(t)}
        return tuple(sorted(ids))

    def passes(self, runner: str) -> frozenset[str]:
        """The tests ``runner`` passes, over all authors, as ``"author:test_id"``."""
        return frozenset(f"{a}:{t}" for (a, r), out in self.cells.items() if r == runner
                         for t, o in out.items() if o == "passed" and _collected(t))  # fmt: skip

    def _counts(self, author: str, runner: str) -> tuple[int, int]:
        out = self.cells.get((author, runner), {})
        ids = self.authored_by(author)
        return sum(1 for t in ids if out.get(t) == "passed"), len(ids)

    def pass_rate(self, runner: str, exclude_own: bool = True) -> float | None:
        """Share of the other attempts' tests (all tests with ``exclude_own=False``) ``runner``
        passes; ``None`` when there are none to pass."""
        passed = total = 0
        for author in self.authors:
            if exclude_own and author == runner:
                continue
            p, t = self._counts(author, runner)
            passed, total = passed + p, total + t
        return passed / total if total else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict: subjects, notes and one entry per (author, runner) cell."""
        cells = []
        for (author, runner), out in self.cells.items():
            run = self.runs.get((author, runner))
            cells.append({"author": author, "runner": runner, "outcomes": dict(out),
                          "timed_out": run.timed_out if run else None,
                          "return_code": run.return_code if run else None,
                          "duration_s": run.duration_s if run else None})  # fmt: skip
        return {"subjects": list(self.subjects), "notes": list(self.notes), "cells": cells,
                "pass_rates": {s: self.pass_rate(s) for s in self.subjects}}  # fmt: skip

    def _rows(self) -> tuple[tuple[str, ...], list[tuple[object, ...]]]:
        columns = ("runner", *(f"{a}'s tests" for a in self.authors), "others' tests passed")
        rows = []
        for runner in self.subjects:
            row: list[object] = [runner]
            for author in self.authors:
                p, t = self._counts(author, runner)
                run = self.runs.get((author, runner))
                row.append(f"{p}/{t}" + (" (timed out)" if run and run.timed_out else ""))
            rate = self.pass_rate(runner)
            row.append("—" if rate is None else f"{rate:.0%}")
            rows.append(tuple(row))
        return columns, rows

    def _summary(self) -> str:
        if not self.cells:
            return f"{plural(len(self.subjects), 'attempt')}, not cross-tested"
        return (f"{plural(len(self.subjects), 'attempt')}, "
                f"{plural(len(self.authors), 'author')} of tests, {plural(len(self.cells), 'run')}")  # fmt: skip

    def __repr__(self) -> str:
        notes = f", {plural(len(self.notes), 'note')}" if self.notes else ""
        return f"<CrossMatrix: {self._summary()}{notes}>"

    def __str__(self) -> str:
        parts = [self._summary()]
        if self.cells:
            parts.append(text_table(*self._rows()))
        return "\n".join(parts + [f"note: {n}" for n in self.notes])

    def _repr_html_(self) -> str:
        notes = html_table(("note",), [(n,) for n in self.notes]) if self.notes else ""
        if not self.cells:
            return html_table(("note",), [(n,) for n in self.notes], caption=self._summary())
        return self.grid_html() + notes

    def grid_html(self) -> str:
        """The matrix as a coloured grid: a row per runner, a column per author of tests, each
        cell the author's tests that pass on the runner — green all, amber some, red none, no
        tint when there is none to run — in JupyterLab's theme colours."""
        columns, rows = self._rows()
        head = "".join(f"<th {_GRID_CELL}>{escape(c)}</th>" for c in columns)
        body = []
        for runner, row in zip(self.subjects, rows, strict=True):
            cells = [f"<th {_GRID_CELL}>{escape(str(row[0]))}</th>"]
            for author, text in zip(self.authors, row[1:-1], strict=True):
                p, t = self._counts(author, runner)
                shade = _GRID_SHADES["none" if t == 0 else "all" if p == t else "some" if p else "no"]
                cells.append(f'<td {_GRID_CELL[:-1]};background:{shade}" title="{escape(author)}\'s '
                             f'tests on {escape(runner)}: {p} of {t} pass">{escape(str(text))}</td>')  # fmt: skip
            cells.append(f"<td {_GRID_CELL}>{escape(str(row[-1]))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        caption = (f'<caption style="text-align:left;font-weight:bold">{escape(self._summary())}: '
                   "each cell, an author's tests passing on a runner</caption>")  # fmt: skip
        return (f'<table class="nborch-cross" style="border-collapse:collapse">{caption}'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


_GRID_CELL = 'style="padding:2px 8px;text-align:center;border:1px solid var(--jp-border-color2,#ddd)"'
# Tinted, so the text on them stays readable in light and dark themes alike.
_GRID_SHADES = {
    "all": "color-mix(in srgb, var(--jp-success-color1,#43a047) 35%, transparent)",
    "some": "color-mix(in srgb, var(--jp-warn-color1,#fb8c00) 35%, transparent)",
    "no": "color-mix(in srgb, var(--jp-error-color1,#e53935) 35%, transparent)",
    "none": "transparent",
}


def behaviour_clusters(matrix: CrossMatrix) -> list[tuple[str, ...]]:
    """Group attempts that pass exactly the same cross-tests (their own tests included).

    Returns
    -------
    Clusters in order of first appearance in ``matrix.subjects``, each in subject order. With no
    cross-tests at all the answer is ``[]``: nothing is known, which is not "all behave alike". An
    attempt that did not run every author's tests is a cluster of its own: unknown is not equal.

    >>> m = CrossMatrix({("a", "a"): {"t.py::test_x": "passed"}, ("a", "b"): {"t.py::test_x":
    ...                  "failed"}, ("a", "c"): {"t.py::test_x": "passed"}}, ("a", "b", "c", "d"))
    >>> behaviour_clusters(m)
    [('a', 'c'), ('b',), ('d',)]
    """
    if not any(matrix.authored_by(a) for a in matrix.authors):
        return []
    groups: dict[object, list[str]] = {}
    for key in matrix.subjects:
        complete = all((a, key) in matrix.cells for a in matrix.authors)
        groups.setdefault(matrix.passes(key) if complete else key, []).append(key)
    return [tuple(g) for g in groups.values()]


# ---- the edge: checkouts and runs ------------------------------------------------------------


def _runnable(paths: Sequence[str]) -> tuple[str, ...]:
    # Only modules pytest would collect by default: an explicit path is collected whatever its
    # name, so helpers and conftest.py are written into the checkout but not passed as arguments.
    return tuple(p for p in paths if (n := PurePosixPath(p).name) != "conftest.py"
                 and (n.startswith("test_") or n.endswith("_test.py")))  # fmt: skip


def _run_runner(git: Git, root: Path, index: int, runner: CrossSubject,
                authors: Sequence[CrossSubject], command: str, timeout: float,
                env: Mapping[str, str], stop: threading.Event, own: Mapping[str, TestRun],
                tests: Callable[..., TestRun] = run_tests) -> dict[tuple[str, str], TestRun]:  # fmt: skip
    """All authors' tests on one runner, in its own checkout; the checkout is removed after.

    A runner's own tests come from its full test run (``own``) when the caller has one: that run
    already ran them on the same commit."""
    results: dict[tuple[str, str], TestRun] = {}
    if runner.key in own and any(a.key == runner.key for a in authors):
        files = set(_runnable(runner.test_files))
        full = own[runner.key]
        results[(runner.key, runner.key)] = replace(full, outcomes={
            t: o for t, o in full.outcomes.items() if t.split("::")[0] in files})
    todo = [a for a in authors if (a.key, runner.key) not in results]
    if not todo:
        return results
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", runner.key)[:40]
    checkout = root / f"{index}-{safe}"
    git.run("-c", f"core.hooksPath={os.devnull}", "worktree", "add", "--detach", "--quiet",
            str(checkout), runner.commit, locked=True)  # fmt: skip
    wt = git.at(checkout)
    try:
        for author in todo:
            if stop.is_set():
                break
            files = _runnable(author.test_files)
            if author.key != runner.key:
                wt.run("--literal-pathspecs", "restore", f"--source={author.commit}",
                       "--worktree", "--", *author.test_files)  # fmt: skip
            try:
                run = tests(checkout, f"{command} {shlex.join(files)}", timeout, env=env)
            finally:  # back to the runner's exact tree: no author sees another's files
                wt.run("reset", "--hard", "--quiet")
                wt.run("clean", "-ffdx", "--quiet")
            results[(author.key, runner.key)] = run
    finally:
        git.run("worktree", "remove", "--force", "--force", str(checkout), locked=True, check=False)
    return results


def _notes(subjects: Sequence[CrossSubject], runs: Mapping[tuple[str, str], TestRun],
           timeout: float) -> list[str]:  # fmt: skip
    notes = []
    for s in subjects:
        if not s.test_files:
            notes.append(f"{s.key} added or changed no test files: it only runs the others' tests")
        elif not _runnable(s.test_files):
            notes.append(f"{s.key} changed only test helpers ({', '.join(s.test_files)}): "
                         "no test module to run")  # fmt: skip
    for (author, runner), run in runs.items():
        if run.timed_out:
            notes.append(f"{author}'s tests on {runner} timed out after {timeout:g} s")
        elif not run.outcomes:
            notes.append(f"{author}'s tests on {runner} gave no results (exit {run.return_code})")
        elif failed := sorted(t for t in run.outcomes if not _collected(t)):
            notes.append(f"{author}'s tests did not load on {runner}: {', '.join(failed)}")
    return notes


def _resolve(git: Git, subject: CrossSubject) -> CrossSubject:
    """The subject with its commit as a full id; fails early on a missing commit or test file."""
    found = git.run("rev-parse", "--verify", "--quiet", f"{subject.commit}^{{commit}}", check=False)
    if not found.ok:
        raise WorktreeError(f"{subject.key}: no commit {subject.commit!r} in {git.cwd} — pass the "
                            "attempt's head commit (a branch name or commit id)")  # fmt: skip
    sha = found.stdout.strip()
    if subject.test_files:
        listed = git.out("--literal-pathspecs", "ls-tree", "-r", "-z", "--name-only", sha, "--",
                         *subject.test_files)  # fmt: skip
        if missing := sorted(set(subject.test_files) - set(split_z(listed))):
            raise WorktreeError(f"{subject.key}: commit {sha[:12]} has no {', '.join(missing)} — "
                                "list only files that exist in the attempt's head commit")  # fmt: skip
    return replace(subject, commit=sha)


def _cleanup(git: Git, root: Path) -> list[str]:
    """Remove what is left of the checkouts under ``root``; say what could not be removed."""
    problems = []
    shutil.rmtree(root, ignore_errors=True)  # normally empty: each runner removes its checkout
    if root.exists():
        problems.append(f"could not remove the temporary checkouts under {root}: delete it by hand")
    pruned = git.run("worktree", "prune", locked=True, check=False)
    if not pruned.ok:
        problems.append(f"{git.describe(pruned)} — run 'git worktree prune' in {git.cwd}")
    return problems


def cross_test(repo: str | Path, subjects: Sequence[CrossSubject],
               command: str = "python -m pytest -q", timeout: float = 300.0,
               env: Mapping[str, str] | None = None, jobs: int = 1,
               own: Mapping[str, TestRun] | None = None,
               runner: Callable[..., TestRun] = run_tests) -> CrossMatrix:  # fmt: skip
    """Run each subject's test files against every subject's commit, its own included.

    Parameters
    ----------
    repo: the repository (any of its worktrees) holding every subject's commit.
    subjects: the attempts; keys must be unique. Subjects without test files run others' tests.
    command: the pytest command; the test file paths are appended. Other runners cannot run
        single files, so they give a matrix with a note and no cells.
    timeout: seconds per run (one author's tests on one runner) before its process group is killed.
    env: extra environment variables for the test runs, on top of the caller's environment with
        nborch's Python first on ``PATH`` (``PYTHONDONTWRITEBYTECODE=1`` is always set).
    jobs: runners tested at once, each in its own checkout. An interrupt stops at once with
        ``jobs=1``; with more, runs already started finish first (at most ``timeout``).
    own: key → that subject's full test run on its own commit, when the caller has one; its
        own tests' outcomes are taken from it instead of running them again.
    runner: runs one test command in a checkout (:func:`run_tests`, or a
        :class:`~nborch.compare.remote.RemoteTestRunner` on a Dask cluster).

    Returns
    -------
    A :class:`CrossMatrix`; failing or hanging tests are outcomes, not exceptions.

    Example
    -------
    >>> subjects = [CrossSubject.from_diff(k, diff_stat(repo, base, head))
    ...             for k, head in heads.items()]  # doctest: +SKIP
    >>> behaviour_clusters(cross_test(repo, subjects))  # doctest: +SKIP
    [('claude', 'codex'), ('aider',)]
    """
    keys = tuple(s.key for s in subjects)
    if len(set(keys)) != len(keys):
        raise ValueError(f"subject keys must be unique, got {list(keys)}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if not is_pytest(command):
        why = f"cross-testing needs pytest to run single test files; {command!r} is not pytest"
        return CrossMatrix({}, keys, (why,))
    authors = [s for s in subjects if _runnable(s.test_files)]
    if not authors:
        return CrossMatrix({}, keys, tuple(_notes(subjects, {}, timeout)))
    git = Git(repo)
    resolved = [_resolve(git, s) for s in subjects]
    by_key = {s.key: s for s in resolved}
    authors = [by_key[a.key] for a in authors]
    full_env = {**check_env(), **(env or {})}  # run_tests adds PYTHONDONTWRITEBYTECODE=1
    runs: dict[tuple[str, str], TestRun] = {}
    stop = threading.Event()
    root = Path(tempfile.mkdtemp(prefix="nborch-cross-"))
    try:
        args = [(git, root, i, s, authors, command, timeout, full_env, stop, own or {}, runner)
                for i, s in enumerate(resolved)]  # fmt: skip
        if jobs == 1:
            for a in args:
                runs.update(_run_runner(*a))
        else:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="nborch-cross") as pool:
                futures = [pool.submit(_run_runner, *a) for a in args]
                try:
                    for fut in futures:
                        runs.update(fut.result())
                finally:  # on any error or interrupt: start nothing new, let started runs end
                    stop.set()
                    pool.shutdown(wait=True, cancel_futures=True)
    finally:
        problems = _cleanup(git, root)
    ordered = {(a.key, r): runs[(a.key, r)] for a in authors for r in keys if (a.key, r) in runs}
    cells = {k: dict(run.outcomes) for k, run in ordered.items()}
    return CrossMatrix(cells, keys, tuple(_notes(subjects, ordered, timeout) + problems), ordered)
