"""Quality metrics on the changed Python files of an attempt: complexity, maintainability, new lint.

Complexity and maintainability come from radon's Python API (never a subprocess); lint comes from
``ruff check`` with the repository's own configuration, never fixing anything. Nothing here raises
on bad input: unparseable source gives ``None`` values and a note, a missing ruff gives a note.

Lint on the base (and the head) runs in a temporary detached worktree (``git worktree add
--detach``), removed afterwards. That is the simplest *correct* way: ruff then sees the repository's
real configuration at every level (``pyproject.toml``, ``ruff.toml``, ``extend``, per-file ignores,
first-party detection for import sorting) exactly as it is at that commit, which copying the files
and one ``pyproject.toml`` into a temporary folder would only approximate.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from radon.complexity import cc_visit
from radon.metrics import mi_visit
from radon.visitors import Class

from ..errors import WorktreeError
from ..gitcmd import Git
from ..proc.command import run_command
from .checkout import temporary_checkout

__all__ = [
    "LintFinding",
    "MetricsReport",
    "PyMetrics",
    "find_ruff",
    "lint_findings",
    "metrics_for",
    "new_lint_findings",
    "py_metrics",
]

RUFF_TIMEOUT = 120.0  # seconds for one ruff run


@dataclass(frozen=True, slots=True)
class PyMetrics:
    """Complexity and maintainability of one Python file before and after (None: absent or unparseable)."""

    path: str
    complexity_before: int | None = None
    complexity_after: int | None = None
    mi_before: float | None = None
    mi_after: float | None = None

    @property
    def complexity_delta(self) -> int | None:
        """After minus before; an absent file counts as 0, an unparseable one makes it None."""
        return _delta(self.complexity_before, self.complexity_after)

    @property
    def mi_delta(self) -> float | None:
        """Maintainability index after minus before; None unless both sides were measured."""
        if self.mi_before is None or self.mi_after is None:
            return None
        return self.mi_after - self.mi_before

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "complexity_before": self.complexity_before,
                "complexity_after": self.complexity_after, "complexity_delta": self.complexity_delta,
                "mi_before": self.mi_before, "mi_after": self.mi_after,
                "mi_delta": self.mi_delta}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One ruff finding: file (relative to the worktree, ``/``-separated), rule code, line, message."""

    path: str
    code: str
    line: int
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "code": self.code, "line": self.line, "message": self.message}


@dataclass(frozen=True, slots=True)
class MetricsReport:
    """Metrics of the changed Python files between two commits, with the lint the head added."""

    files: tuple[PyMetrics, ...] = ()
    complexity_delta: int = 0
    mi_delta: float | None = None  # mean over the files measured on both sides
    new_lint: tuple[LintFinding, ...] = ()
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        mi = "n/a" if self.mi_delta is None else f"{self.mi_delta:+.1f}"
        return (f"<MetricsReport: {len(self.files)} files, complexity {self.complexity_delta:+d}, "
                f"MI {mi}, {len(self.new_lint)} new lint>")  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        return {"files": [f.to_dict() for f in self.files],
                "complexity_delta": self.complexity_delta, "mi_delta": self.mi_delta,
                "new_lint": [f.to_dict() for f in self.new_lint],
                "notes": list(self.notes)}  # fmt: skip


def _delta(before: int | None, after: int | None) -> int | None:
    return None if before is None or after is None else after - before


def _measure(source: str | None) -> tuple[int | None, float | None, str | None]:
    """(complexity, MI, problem) of one source text; an absent file is (0, None, None).

    Class blocks are skipped in the sum: radon gives a class the *average* of its methods, which
    are already counted as blocks of their own.
    """
    if source is None:
        return 0, None, None
    try:
        blocks = cc_visit(source)
        mi = float(mi_visit(source, multi=True))
    except (SyntaxError, ValueError) as err:  # ValueError: NUL bytes in the source
        return None, None, f"{type(err).__name__}: {err}"
    return sum(b.complexity for b in blocks if not isinstance(b, Class)), mi, None


def py_metrics(path: str, before: str | None, after: str | None) -> tuple[PyMetrics, list[str]]:
    """Measure one file from its source before and after (None = absent), with notes on problems.

    >>> m, notes = py_metrics("a.py", None, "def f(x):\\n    return 1 if x else 2\\n")
    >>> m.complexity_delta, notes
    (2, [])
    """
    cc_b, mi_b, why_b = _measure(before)
    cc_a, mi_a, why_a = _measure(after)
    notes = [f"{path}: could not parse the {side} version ({why})"
             for side, why in (("base", why_b), ("head", why_a)) if why]  # fmt: skip
    return PyMetrics(path, cc_b, cc_a, mi_b, mi_a), notes


def find_ruff() -> str | None:
    """The ruff executable next to the running Python (its venv) first, then on PATH; or None."""
    exe_dir = Path(sys.executable).parent
    for name in ("ruff", "ruff.exe"):
        candidate = exe_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("ruff")


def lint_findings(
    worktree: str | Path,
    paths: Iterable[str],
    *,
    ruff: str | None = None,
    notes: list[str] | None = None,
) -> list[LintFinding]:
    """Ruff's findings on ``paths`` in ``worktree``, with the repository's own config, never fixing.

    Parameters
    ----------
    worktree
        The checkout ruff runs in (its config is found from there, as ``ruff check`` would).
    paths
        Files relative to ``worktree``; absent ones are skipped, excluded ones respect the config.
    ruff
        The ruff executable; found with :func:`find_ruff` when not given.
    notes
        A list that receives a sentence when lint could not be run (no ruff, ruff failed).

    Returns
    -------
    The findings sorted by path and line; an empty list when ruff is missing or failed.
    """
    notes = [] if notes is None else notes
    root = Path(worktree)
    present = sorted({p for p in paths if (root / p).is_file()})
    if not present:
        return []
    exe = ruff or find_ruff()
    if exe is None:
        notes.append("lint not measured: no ruff executable next to Python or on PATH "
                     "(install it with `pip install ruff`)")  # fmt: skip
        return []
    argv = [exe, "check", "--output-format", "json", "--no-fix", "--force-exclude", "--no-cache",
            "--", *present]  # fmt: skip
    try:
        proc = run_command(argv, cwd=root, timeout=RUFF_TIMEOUT)
    except OSError as err:
        notes.append(f"lint not measured: could not run {exe}: {err}")
        return []
    if proc.timed_out:
        notes.append(f"lint not measured: {exe} took more than {RUFF_TIMEOUT:g} s")
        return []
    try:
        raw = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        raw = None
    if proc.return_code not in (0, 1) or not isinstance(raw, list):
        said = (proc.stderr or proc.stdout).strip()[:500] or f"exit status {proc.return_code}"
        notes.append(f"lint not measured: ruff failed in {root}: {said}")
        return []
    return sorted((_finding(root, item) for item in raw), key=lambda f: (f.path, f.line, f.code))


def _finding(root: Path, item: dict) -> LintFinding:
    filename = Path(item.get("filename") or "")
    try:
        rel = filename.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = filename.as_posix()
    line = int((item.get("location") or {}).get("row") or 0)
    # Older ruff versions give syntax errors no rule code; 0.17 calls them "invalid-syntax".
    return LintFinding(rel, item.get("code") or "invalid-syntax", line, str(item.get("message", "")))


def new_lint_findings(
    base_findings: Sequence[LintFinding], head_findings: Sequence[LintFinding]
) -> list[LintFinding]:
    """The head findings that the base did not have, matched by (path, code, message) counts.

    Line numbers are ignored because unrelated edits move them; when the head has more copies of a
    finding than the base, the later ones are reported as new.
    """
    left = Counter((f.path, f.code, f.message) for f in base_findings)
    new = []
    for finding in head_findings:
        key = (finding.path, finding.code, finding.message)
        if left[key] > 0:
            left[key] -= 1
        else:
            new.append(finding)
    return new


def _show(git: Git, commit: str, path: str) -> str | None:
    result = git.run("show", f"{commit}:{path}", check=False)
    return result.stdout if result.ok else None


def metrics_for(
    repo: str | Path,
    base: str,
    head: str,
    paths: Iterable[str],
    *,
    ruff: str | None = None,
) -> MetricsReport:
    """Metrics of the Python files among ``paths`` changed from ``base`` to ``head``.

    Parameters
    ----------
    repo
        The repository (or any of its worktrees).
    base, head
        Commits (any revision git understands).
    paths
        The changed files, relative to the repository root; non-Python ones are ignored.
    ruff
        The ruff executable; found with :func:`find_ruff` when not given.

    Returns
    -------
    A :class:`MetricsReport`; problems (unparseable files, no ruff) are in its ``notes``.
    """
    git = Git(repo)
    py = sorted({p for p in paths if p.endswith(".py")})
    notes: list[str] = []
    files = []
    for path in py:
        measured, why = py_metrics(path, _show(git, base, path), _show(git, head, path))
        files.append(measured)
        notes.extend(why)
    new: list[LintFinding] = []
    if py:
        exe = ruff or find_ruff()
        try:
            with temporary_checkout(git, base, "nborch-lint-") as wt:
                before = lint_findings(wt, py, ruff=exe, notes=notes)
            with temporary_checkout(git, head, "nborch-lint-") as wt:
                after = lint_findings(wt, py, ruff=exe, notes=notes)
            new = new_lint_findings(before, after)
        except WorktreeError as err:
            notes.append(f"lint not measured: {err}")
        notes = list(dict.fromkeys(notes))  # the same missing-ruff note from both sides once
    cc = [f.complexity_delta for f in files if f.complexity_delta is not None]
    mi = [f.mi_delta for f in files if f.mi_delta is not None]
    return MetricsReport(files=tuple(files), complexity_delta=sum(cc),
                         mi_delta=sum(mi) / len(mi) if mi else None, new_lint=tuple(new),
                         notes=tuple(notes))  # fmt: skip
