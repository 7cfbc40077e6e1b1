"""What an attempt changed: files, line counts, Python functions touched, overlap and merge checks.

Git runs through :class:`nborch.gitcmd.Git`; everything after the git calls is pure. Overlap and
similarity are shown to people and never taken as evidence that two attempts behave the same.
"""

from __future__ import annotations

import ast
import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..display import html_table, plural, text_table
from ..errors import WorktreeError
from ..gitcmd import Git, split_z

__all__ = [
    "UNPARSEABLE",
    "DiffStat",
    "FileChange",
    "MergeCheck",
    "Overlap",
    "conflicts_between",
    "diff_stat",
    "functions_changed",
    "merges_cleanly",
    "overlap",
    "source_at",
]

UNPARSEABLE = "<unparseable>"
MAX_SOURCE_BYTES = 1_000_000  # larger Python files are counted but not parsed
Status = Literal["added", "modified", "deleted", "renamed"]
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "added", "T": "modified"}


@dataclass(frozen=True, slots=True)
class FileChange:
    """One changed file: its status, line counts and, for Python, the functions touched."""

    path: str
    status: Status
    insertions: int = 0
    deletions: int = 0
    binary: bool = False
    old_path: str | None = None  # set for renames
    functions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "status": self.status, "insertions": self.insertions,
                "deletions": self.deletions, "binary": self.binary, "old_path": self.old_path,
                "functions": list(self.functions)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DiffStat:
    """Everything ``git diff base head`` changed, per file and in total."""

    base: str
    head: str
    files: tuple[FileChange, ...] = ()

    @property
    def insertions(self) -> int:
        return sum(f.insertions for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions for f in self.files)

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(f.path for f in self.files)

    @property
    def functions_touched(self) -> tuple[str, ...]:
        """``path::Qualified.name`` of every Python function changed, added or removed."""
        return tuple(f"{f.path}::{name}" for f in self.files for name in f.functions)

    def to_dict(self) -> dict[str, object]:
        return {"base": self.base, "head": self.head, "files": [f.to_dict() for f in self.files],
                "insertions": self.insertions, "deletions": self.deletions,
                "functions_touched": list(self.functions_touched)}  # fmt: skip

    def _rows(self) -> list[tuple[object, ...]]:
        return [(f.path if f.old_path is None else f"{f.old_path} → {f.path}", f.status,
                 "binary" if f.binary else f"+{f.insertions} -{f.deletions}", f.functions)
                for f in self.files]  # fmt: skip

    def _summary(self) -> str:
        return (f"{plural(len(self.files), 'file')}, +{self.insertions} -{self.deletions}, "
                f"{plural(len(self.functions_touched), 'function')} touched")  # fmt: skip

    def __repr__(self) -> str:
        return f"<DiffStat {self.base[:12]}..{self.head[:12]}: {self._summary()}>"

    def __str__(self) -> str:
        return self._summary() + "\n" + text_table(_COLUMNS, self._rows())

    def _repr_html_(self) -> str:
        return html_table(_COLUMNS, self._rows(), caption=f"{self.base[:12]}..{self.head[:12]}: "
                          f"{self._summary()}")  # fmt: skip


_COLUMNS = ("file", "status", "lines", "functions")


@dataclass(frozen=True, slots=True)
class Overlap:
    """Files and functions two diffs share — for people to look at, never proof of equivalence."""

    shared_files: tuple[str, ...]
    shared_functions: tuple[str, ...]
    jaccard: float

    def to_dict(self) -> dict[str, object]:
        return {"shared_files": list(self.shared_files),
                "shared_functions": list(self.shared_functions), "jaccard": self.jaccard}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MergeCheck:
    """Whether ``head`` merges onto a commit without conflicts; ``tree`` is the result when clean."""

    clean: bool
    conflicts: tuple[str, ...] = ()
    tree: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"clean": self.clean, "conflicts": list(self.conflicts), "tree": self.tree}


# ---- pure: Python functions ----------------------------------------------------------------


def _function_segments(source: str) -> dict[str, str] | None:
    """Qualified name → source text (decorators included) of every function; None if unparseable."""
    try:
        with warnings.catch_warnings():  # invalid escapes etc. warn at parse time; not our concern
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, UnicodeError, RecursionError, MemoryError):
        return None
    lines = source.splitlines(keepends=True)
    found: dict[str, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    found[name] = "".join(lines[start - 1 : child.end_lineno])
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def functions_changed(before: str | None, after: str | None) -> tuple[str, ...]:
    """The qualified names (``Class.method``, ``func``) changed, added or removed between sources.

    ``None`` stands for a file that does not exist on that side. A nested function's change also
    changes its enclosing function's source, so both are named. Returns ``("<unparseable>",)`` when
    either side is not valid Python; never raises.

    >>> functions_changed("def f():\\n    return 1\\n", "def f():\\n    return 2\\n")
    ('f',)
    """
    old = _function_segments(before) if before is not None else {}
    new = _function_segments(after) if after is not None else {}
    if old is None or new is None:
        return (UNPARSEABLE,)
    return tuple(sorted(n for n in old.keys() | new.keys() if old.get(n) != new.get(n)))


def overlap(a: DiffStat, b: DiffStat) -> Overlap:
    """The files and functions two diffs both touch, and the Jaccard index of their file sets.

    Shown to people as a hint of where attempts collide; it is never evidence that two attempts are
    equivalent (the same files can be changed in opposite ways).
    """
    files_a, files_b = a.paths, b.paths
    union = files_a | files_b
    functions = (set(a.functions_touched) & set(b.functions_touched)) - {
        f"{p}::{UNPARSEABLE}" for p in union
    }
    return Overlap(tuple(sorted(files_a & files_b)), tuple(sorted(functions)),
                   len(files_a & files_b) / len(union) if union else 0.0)  # fmt: skip


# ---- git edges ------------------------------------------------------------------------------


def _parse_name_status(out: str) -> list[tuple[str, str | None, str]]:
    """``git diff --name-status -z`` → (status letter, old path or None, path)."""
    fields, rows = list(split_z(out)), []
    i = 0
    while i < len(fields):
        letter = fields[i][0]
        if letter in "RC":
            rows.append((letter, fields[i + 1], fields[i + 2]))
            i += 3
        else:
            rows.append((letter, None, fields[i + 1]))
            i += 2
    return rows


def _parse_numstat(out: str) -> dict[str, tuple[int, int, bool]]:
    """``git diff --numstat -z`` → new path → (insertions, deletions, binary)."""
    fields, counts = out.split("\0"), {}
    i = 0
    while i < len(fields) and fields[i]:
        ins, dels, path = fields[i].split("\t", 2)
        if path == "":  # a rename: the old and new paths follow as their own fields
            path = fields[i + 2]
            i += 3
        else:
            i += 1
        binary = ins == "-"
        counts[path] = (0 if binary else int(ins), 0 if binary else int(dels), binary)
    return counts


def source_at(git: Git, rev: str, path: str) -> str | None:
    """A file's text at ``rev``; None when it is missing there or too big to parse."""
    size = git.run("cat-file", "-s", f"{rev}:{path}", check=False)
    if not size.ok or int(size.stdout.strip() or 0) > MAX_SOURCE_BYTES:
        return None
    return git.run("show", f"{rev}:{path}").stdout


def diff_stat(repo_or_worktree: str | Path, base: str, head: str) -> DiffStat:
    """What ``head`` changed relative to ``base``, with the Python functions touched.

    Parameters
    ----------
    repo_or_worktree
        A repository or one of its worktrees.
    base, head
        Commits (any revision git understands).

    Returns
    -------
    DiffStat
        Files in git's order; renames are detected (``-M``). Python files over 1 MB are counted
        but not parsed.
    """
    git = Git(repo_or_worktree)
    base_sha = git.out("rev-parse", "--verify", f"{base}^{{commit}}")
    head_sha = git.out("rev-parse", "--verify", f"{head}^{{commit}}")
    names = _parse_name_status(git.out("diff", "--name-status", "-z", "-M", base_sha, head_sha))
    counts = _parse_numstat(git.out("diff", "--numstat", "-z", "-M", base_sha, head_sha))
    files = []
    for letter, old_path, path in names:
        ins, dels, binary = counts.get(path, (0, 0, False))
        status: Status = _STATUS.get(letter, "modified")  # type: ignore[assignment]
        functions: tuple[str, ...] = ()
        if path.endswith(".py") and not binary:
            before_path = old_path if letter == "R" else path
            before = None if status == "added" else source_at(git, base_sha, before_path or path)
            after = None if status == "deleted" else source_at(git, head_sha, path)
            too_big = (status != "added" and before is None) or (status != "deleted" and after is None)
            functions = () if too_big else functions_changed(before, after)
        files.append(FileChange(path, status, ins, dels, binary,
                                old_path if letter == "R" else None, functions))  # fmt: skip
    return DiffStat(base_sha, head_sha, tuple(files))


def merges_cleanly(
    repo: str | Path, base: str, head: str, onto: str | None = None
) -> MergeCheck:
    """Whether ``head`` merges onto ``onto`` (default ``base``) without conflicts, in memory.

    Uses ``git merge-tree --write-tree`` (git >= 2.38): no worktree, index or ref is touched. The
    merge base is the one git finds between ``onto`` and ``head``; for attempt branches cut from
    ``base`` that is ``base`` itself.

    Returns
    -------
    MergeCheck
        ``clean``, the conflicted paths (sorted), and the merged tree's id when clean.
    """
    git = Git(repo)
    result = git.run("merge-tree", "--write-tree", "-z", "--name-only", onto or base, head,
                     check=False)  # fmt: skip
    if result.returncode not in (0, 1):
        raise WorktreeError(git.describe(result) + " — merge-tree --write-tree needs git >= 2.38")
    fields = result.stdout.split("\0")
    if result.returncode == 0:
        return MergeCheck(True, (), fields[0].strip())
    conflicts = list(itertools.takewhile(bool, fields[1:]))
    return MergeCheck(False, tuple(sorted(set(conflicts))), None)


def conflicts_between(
    repo: str | Path, heads: Sequence[str]
) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every pair of ``heads`` that conflicts when merged, with the conflicted paths.

    Each pair is merged on its own (``merge-tree``, in memory); pairs that merge cleanly are left
    out, so an empty list means any two of them merge. Order follows ``heads``.
    """
    found = []
    for a, b in itertools.combinations(heads, 2):
        check = merges_cleanly(repo, a, b)
        if not check.clean:
            found.append((a, b, check.conflicts))
    return found

