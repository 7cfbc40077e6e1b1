"""Coverage of changed lines: of the lines an attempt added or changed, which share the tests run.

Three steps, each usable alone:

1. :func:`parse_zero_context_diff` (pure) reads ``git diff -U0`` output into the new-side line
   numbers added or changed per file; :func:`changed_lines` is its git edge (Python files only,
   test files left out).
2. :func:`nborch.compare.tests.run_tests` runs the tests under coverage.py, measuring those files.
3. :func:`line_coverage` reads coverage.py's data and intersects it with the changed lines that are
   *executable*: a comment, a blank line or a docstring is never "missing". A changed line inside
   a statement that spans several lines counts as that statement, once — the way coverage.py
   itself counts.

>>> parse_zero_context_diff("+++ b/a.py\\n@@ -1,0 +2,2 @@\\n+x = 1\\n+y = 2\\n")
{'a.py': frozenset({2, 3})}
"""

from __future__ import annotations

import contextlib
import io
import re
import tokenize
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..display import html_table, plural, text_table
from ..gitcmd import Git
from .findings import is_test_file

if TYPE_CHECKING:
    from coverage import CoverageData

__all__ = [
    "LineCoverage",
    "changed_lines",
    "line_coverage",
    "merge_coverage",
    "parse_zero_context_diff",
]

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_COLUMNS = ("file", "covered", "executable changed", "missing lines")

FileCoverage = tuple[int, int, tuple[int, ...]]  # covered, total, missing line numbers


# ---- pure: the diff -------------------------------------------------------------------------


def _unquote(path: str) -> str:
    """A path as git prints it in a header: C-quoted (``"b/t\\303\\251.py"``) when unusual."""
    path = path.removesuffix("\t")  # git ends a name that contains a space with a tab
    if not (len(path) >= 2 and path[0] == path[-1] == '"'):
        return path
    raw, body, i = bytearray(), path[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and body[i + 1 : i + 4].isdigit() and len(body[i + 1 : i + 4]) == 3:
            raw.append(int(body[i + 1 : i + 4], 8))
            i += 4
        elif ch == "\\" and i + 1 < len(body) and body[i + 1] in _ESCAPES:
            raw.append(_ESCAPES[body[i + 1]])
            i += 2
        else:
            raw += ch.encode("utf-8", "surrogateescape")
            i += 1
    return raw.decode("utf-8", "surrogateescape")


def parse_zero_context_diff(text: str) -> dict[str, frozenset[int]]:
    """The new-side line numbers added or changed per file, from a unified diff.

    Made for ``git diff -U0 -M`` (renames detected, so a renamed file is keyed by its new path and
    only its edited lines count), but context lines are understood too. Deleted files, pure
    deletions, mode changes and binary files add nothing; files with no new line are left out.

    Parameters
    ----------
    text
        The diff; paths in ``+++ b/<path>`` headers (git's quoting is undone).

    Returns
    -------
    dict
        Path (as in the ``+++`` header, without ``b/``) → line numbers on the new side.
    """
    found: dict[str, set[int]] = {}
    path: str | None = None
    old_left = new_left = 0  # lines still to read in the current hunk
    line_no = 0
    for line in text.split("\n"):  # not splitlines(): \x0c or \x1c may sit inside a source line
        if old_left > 0 or new_left > 0:
            tag = line[:1]
            if tag == "+":
                if path is not None:
                    found.setdefault(path, set()).add(line_no)
                line_no += 1
                new_left -= 1
                continue
            if tag == "-":
                old_left -= 1
                continue
            if tag == " ":
                line_no += 1
                old_left, new_left = old_left - 1, new_left - 1
                continue
            if tag == "\\":  # "\ No newline at end of file"
                continue
            old_left = new_left = 0  # a short hunk: fall through and read this line as a header
        if line.startswith("\\"):
            continue
        if line.startswith("diff "):
            path = None
        elif line.startswith("+++ "):
            name = _unquote(line[4:])
            path = None if name == "/dev/null" else name.removeprefix("b/")
        elif match := _HUNK.match(line):
            old_left = int(match.group(1)) if match.group(1) is not None else 1
            line_no = int(match.group(2))
            new_left = int(match.group(3)) if match.group(3) is not None else 1
    return {p: frozenset(lines) for p, lines in found.items() if lines}


# ---- git edge -------------------------------------------------------------------------------


def changed_lines(
    repo: str | Path, base: str, head: str, paths: Iterable[str] | None = None
) -> dict[str, frozenset[int]]:
    """The lines ``head`` added or changed relative to ``base`` in non-test Python files.

    Parameters
    ----------
    repo
        A repository or one of its worktrees.
    base, head
        Commits (any revision git understands).
    paths
        Keep only these files (new-side paths relative to the repository root). Renames are
        detected over the whole diff first, so a renamed file counts only its edited lines.

    Returns
    -------
    dict
        Path → new-side line numbers, for ``.py`` files that are not test files
        (:func:`nborch.compare.weakening.is_test_file`) and have at least one new line.
    """
    git = Git(repo)
    base_sha = git.out("rev-parse", "--verify", f"{base}^{{commit}}")
    head_sha = git.out("rev-parse", "--verify", f"{head}^{{commit}}")
    # Pin everything a user's config could change about the output: prefixes, colour, external
    # diff drivers, textconv filters, relative paths, quoting of non-ASCII names.
    out = git.out("-c", "core.quotePath=false", "diff", "-U0", "-M", "--no-color", "--no-ext-diff",
                  "--no-textconv", "--no-relative", "--src-prefix=a/", "--dst-prefix=b/",
                  base_sha, head_sha)  # fmt: skip
    wanted = None if paths is None else {str(p).replace("\\", "/") for p in paths}
    return {path: lines for path, lines in parse_zero_context_diff(out).items()
            if path.endswith(".py") and not is_test_file(path)
            and (wanted is None or path in wanted)}  # fmt: skip


# ---- the result -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineCoverage:
    """How many of the changed executable statements the tests ran, in total and per file."""

    covered: int
    total: int
    per_file: Mapping[str, FileCoverage] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def fraction(self) -> float | None:
        """``covered / total``; ``None`` when no changed line is executable (or nothing ran)."""
        return self.covered / self.total if self.total else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {"covered": self.covered, "total": self.total, "fraction": self.fraction,
                "per_file": {p: {"covered": c, "total": t, "missing": list(m)}
                             for p, (c, t, m) in self.per_file.items()},
                "notes": list(self.notes)}  # fmt: skip

    def _summary(self) -> str:
        share = "n/a" if self.fraction is None else f"{self.fraction:.0%}"
        return (f"{share} of changed lines covered ({self.covered}/{self.total} statements, "
                f"{plural(len(self.per_file), 'file')})")  # fmt: skip

    def _rows(self) -> list[tuple[object, ...]]:
        return [(p, c, t, _ranges(m)) for p, (c, t, m) in self.per_file.items()]

    def __repr__(self) -> str:
        notes = f", {plural(len(self.notes), 'note')}" if self.notes else ""
        return f"<LineCoverage {self._summary()}{notes}>"

    def __str__(self) -> str:
        return "\n".join([self._summary(), text_table(_COLUMNS, self._rows()), *self.notes])

    def _repr_html_(self) -> str:
        return html_table(_COLUMNS, self._rows(), caption=self._summary())


def _ranges(lines: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` → ``'1-3, 7'``."""
    spans: list[list[int]] = []
    for n in sorted(lines):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


# ---- reading coverage.py's data -------------------------------------------------------------


def _first_lines(source: str) -> dict[int, int]:
    """Line → first line of its logical line, for lines inside multi-line statements only."""
    firsts: dict[int, int] = {}
    start: int | None = None
    with contextlib.suppress(tokenize.TokenError, SyntaxError):  # then: each line stands alone
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if start is not None:
                    for n in range(start + 1, tok.end[0] + 1):
                        firsts[n] = start
                start = None
            elif start is None and tok.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT,
                                                    tokenize.DEDENT, tokenize.ENCODING):  # fmt: skip
                start = tok.start[0]
    return firsts


def _measured_by_path(data: CoverageData, root: Path) -> dict[str, str]:
    """Path relative to ``root`` (POSIX) → the file name coverage.py recorded."""
    out = {}
    for name in data.measured_files():
        with contextlib.suppress(ValueError, OSError):
            out[Path(name).resolve().relative_to(root).as_posix()] = name
    return out


def line_coverage(
    data_file: str | Path, root: str | Path, changed: Mapping[str, Iterable[int]]
) -> LineCoverage:
    """Which changed executable statements the tests ran, from a coverage.py data file.

    Parameters
    ----------
    data_file
        The data written by ``run_tests(..., coverage_file=...)`` (or any ``coverage run``).
    root
        The worktree the tests ran in; measured files are matched to ``changed`` by their path
        relative to it, and the sources there are parsed for their statements (so read the data
        before the worktree changes). A changed file the tests never imported is all missing.
    changed
        Path relative to ``root`` → changed line numbers, as :func:`changed_lines` gives.

    Returns
    -------
    LineCoverage
        Counts of statements: a changed line is counted as the statement it belongs to; lines
        that are not part of an executable statement are left out. coverage.py's default
        exclusions apply (``# pragma: no cover``); the project's own coverage settings do not.
        A missing or unreadable data file gives ``fraction`` ``None`` and a note.
    """
    import coverage  # here, not at import time: only this function needs it

    data_path = Path(data_file)
    if not data_path.is_file():
        why = (f"no coverage data at {data_path}: the tests did not run under coverage "
               "(see the test run's notes)")  # fmt: skip
        return LineCoverage(0, 0, {}, (why,))
    base = Path(root).resolve()
    notes: list[str] = []
    per_file: dict[str, FileCoverage] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cov = coverage.Coverage(data_file=str(data_path), config_file=False)
        try:
            cov.load()
            measured = _measured_by_path(cov.get_data(), base)
        except coverage.CoverageException as err:
            return LineCoverage(0, 0, {}, (f"cannot read coverage data {data_path}: {err}",))
        for path in sorted(changed):
            source_file = base / path
            name = measured.get(path, str(source_file))
            try:
                source = source_file.read_text(encoding="utf-8", errors="replace")
                _, statements, _, missing, _ = cov.analysis2(name)
            except (OSError, coverage.CoverageException) as err:
                notes.append(f"{path}: not analysed ({err})")
                continue
            firsts = _first_lines(source)
            executable = {firsts.get(n, n) for n in changed[path]} & set(statements)
            lost = tuple(sorted(executable & set(missing)))
            per_file[path] = (len(executable) - len(lost), len(executable), lost)
    notes += [f"coverage.py: {w.message}" for w in caught]
    return LineCoverage(sum(c for c, _, _ in per_file.values()),
                        sum(t for _, t, _ in per_file.values()), per_file, tuple(notes))  # fmt: skip


def merge_coverage(into: str | Path, other: str | Path) -> str:
    """Add the lines measured in the data file ``other`` to ``into`` (two runs of one tree);
    returns why not ("" when merged, or when ``other`` measured nothing)."""
    import coverage

    if not Path(other).is_file():
        return ""
    try:
        data = coverage.CoverageData(basename=str(into))
        data.read()
        more = coverage.CoverageData(basename=str(other))
        more.read()
        data.update(more)
        data.write()
    except (OSError, coverage.CoverageException) as err:
        return str(err)
    return ""
