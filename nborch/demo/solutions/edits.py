"""The demo agents' edit tool: changes to files inside a worktree, as plain data, and applying them.

A :class:`Change` is what a real agent's edit tool does to one file: write it whole, replace one
exact piece of text, or append to it. Applying a change is idempotent (a change already in the
file is reported as ``unchanged``), so a demo agent can be re-run on a worktree it already
edited, and it never writes outside the worktree: :func:`safe_path` refuses absolute paths,
``..``, symlinks that lead out, and the worktree's ``.git``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ChangeKind = Literal["write", "replace", "append"]


class UnsafePath(ValueError):
    """A change names a path outside the worktree (or inside its ``.git``); nothing was written."""


class ChangeFailed(ValueError):
    """A change does not fit the file as it is (its text to replace is missing or ambiguous)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One edit to one file, relative to the worktree.

    ``write`` puts ``new`` as the whole file; ``replace`` swaps ``old`` (which must occur exactly
    once) for ``new``; ``append`` adds ``new`` at the end. ``why`` is what the agent says first.
    """

    path: str
    kind: ChangeKind
    new: str
    old: str = ""
    why: str = ""

    @property
    def tool(self) -> str:
        """The name of the demo agent's tool that makes this change (shown in its tool_call)."""
        return {"write": "demo_write", "replace": "demo_edit", "append": "demo_append"}[self.kind]


@dataclass(frozen=True, slots=True)
class Solution:
    """What a demo agent does for one task of the sample plan.

    ``summary`` is its closing message. ``flaw`` says what a hasty solution gets wrong on purpose;
    it is for tests and documentation, and the agent does not announce it (finding it is the job
    of the comparison engine).
    """

    task_id: str
    behaviour: str
    summary: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()
    flaw: str = ""


def text(block: str) -> str:
    """A code block written in a triple-quoted string: drop the newline right after the quotes."""
    return block.removeprefix("\n")


def write(path: str, new: str, why: str = "") -> Change:
    """A change that writes ``path`` whole."""
    return Change(path, "write", text(new), why=why)


def replace(path: str, old: str, new: str, why: str = "") -> Change:
    """A change that replaces the one occurrence of ``old`` in ``path`` with ``new``."""
    return Change(path, "replace", text(new), old=text(old), why=why)


def insert_after(path: str, anchor: str, new: str, why: str = "") -> Change:
    """A change that inserts ``new`` right after the one occurrence of ``anchor``."""
    anchor = text(anchor)
    return Change(path, "replace", anchor + text(new), old=anchor, why=why)


def append(path: str, new: str, why: str = "") -> Change:
    """A change that appends ``new``, verbatim, to ``path`` (after a newline if it lacks one).

    Unlike the other helpers this keeps a leading newline: ``"\\n\\ndef test_x():..."`` leaves
    two blank lines before the new function.
    """
    return Change(path, "append", new, why=why)


def safe_path(root: str | os.PathLike[str], relative: str) -> Path:
    """``root / relative``, resolved, or ``UnsafePath`` if that is not inside ``root``.

    Symlinks are followed before the check, so a link pointing out of the worktree is refused
    too, and so is anything under the worktree's ``.git``.

    >>> safe_path("/tmp/wt", "../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nborch.demo.solutions.edits.UnsafePath: refusing to write '../etc/passwd': it is outside ...
    """
    base = Path(root).resolve()
    if not relative or Path(relative).is_absolute():
        raise UnsafePath(f"refusing to write {relative!r}: give a path relative to the worktree")
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise UnsafePath(f"refusing to write {relative!r}: it is outside the worktree {base}")
    if target.relative_to(base).parts[:1] == (".git",):
        raise UnsafePath(f"refusing to write {relative!r}: it is inside the worktree's .git")
    return target


def apply(root: str | os.PathLike[str], change: Change) -> str:
    """Make ``change`` in the worktree ``root``; return ``created``, ``updated`` or ``unchanged``.

    Raises ``UnsafePath`` for a path outside the worktree and ``ChangeFailed`` when a
    ``replace`` does not fit the file; in both cases nothing is written.
    """
    target = safe_path(root, change.path)
    exists = target.is_file()
    current = None
    if exists:
        with open(target, encoding="utf-8", newline="") as handle:
            current = handle.read()
    if change.kind == "write":
        updated = change.new
    elif current is None:
        if change.kind == "append":
            updated = change.new
        else:
            raise ChangeFailed(f"{change.path} does not exist, so there is nothing to edit")
    elif change.kind == "append":
        already = change.new.strip() and change.new.strip() in current
        sep = "" if not current or current.endswith("\n") else "\n"
        updated = current if already else current + sep + change.new
    else:
        updated = _replaced(change, current)
    if updated == current:
        return "unchanged"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as handle:
        handle.write(updated)
    return "updated" if exists else "created"


def _replaced(change: Change, current: str) -> str:
    count = current.count(change.old)
    if change.new in current and (count == 0 or change.old in change.new):
        return current  # made already, by an earlier run on this worktree
    if count == 1:
        return current.replace(change.old, change.new)
    first = change.old.strip().splitlines()[0] if change.old.strip() else change.old
    where = "is not there" if count == 0 else f"occurs {count} times"
    raise ChangeFailed(
        f"cannot edit {change.path}: the text to replace (starting {first.strip()!r}) {where}; "
        "the file differs from what the demo agent expects"
    )
