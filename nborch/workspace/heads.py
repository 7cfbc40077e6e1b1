"""Many attempts' branch heads, and how far each is ahead of its base, in a few git calls.

Status asks this for every attempt at once, so the cost must not grow by a git call per attempt:

- :func:`branch_tips`: ``git show-ref --verify`` of exactly the attempts' branches (listing every
  ref folder with ``for-each-ref`` is slower: nborch's branches are one folder per task);
- :func:`ahead_of`: for each (base, head), the commits in ``base..head`` and the head's commit
  time. Both are facts about two commits that never change, so they are remembered, one line
  ``BASE HEAD COUNT TIME`` each, in ``<git-common-dir>/nborch/ahead.txt``, and git is asked only
  about pairs not seen before: one ``git rev-list --parents --timestamp HEADS... ^BASE`` per base
  commit (see :func:`walk`). That walk reads every new commit, which after a large run are loose
  objects (~20 µs each), so :meth:`WorktreeManager.commit_work` notes each commit it makes
  (:func:`remember`), and the first ``nborch status`` after a run finds them already counted.

Writers append (commit_work one line, status the pairs it had to walk); only status rewrites
the file, atomically, when it holds far more lines than there are attempts. A line torn or lost
in a race does not parse or is not there, and costs one walk; it never gives a wrong count.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WorktreeError
from ..gitcmd import Git

if TYPE_CHECKING:
    from .repo import Repo

__all__ = ["CACHE_NAME", "ahead_of", "branch_tips", "cache_path", "remember", "walk"]

CACHE_NAME = "ahead.txt"
_CACHE_SLACK = 10_000  # lines beyond twice the pairs in use before status rewrites the file
# Characters of arguments per git call: Windows' command line ends at 32K, Linux's far later.
_ARGS_CHARS = 30_000 if os.name == "nt" else 1_000_000
_GIT_FAST = ("-c", "core.warnAmbiguousRefs=false")  # full object names: no check against every ref

# BASE HEAD COUNT TIME; a time cut short by a crash (fewer than 9 digits) does not match.
_LINE = re.compile(r"([0-9a-f]{40}(?:[0-9a-f]{24})?) ([0-9a-f]{40}(?:[0-9a-f]{24})?) (\d+) (\d{9,}|-)")

Graphs = dict[str, dict[str, list[str]]]  # {base: {commit: parents}}


def cache_path(manager: Repo) -> Path:
    """Where a repository's ahead counts are remembered."""
    return manager.store_path.with_name(CACHE_NAME)


def branch_tips(manager: Repo, branches: Sequence[str]) -> dict[str, str]:
    """``{branch: head}`` for these branch names (without ``refs/heads/``); missing ones left out.

    ``git show-ref --verify`` stops at a ref that is gone (a branch deleted by hand); then every
    ``nborch/*`` branch is listed instead.
    """
    tips: dict[str, str] = {}
    for chunk in _chunks([f"refs/heads/{b}" for b in branches]):
        shown = manager.git.run("show-ref", "--verify", *chunk, check=False)
        if not shown.ok:
            return {b: sha for b, (sha, _) in manager.branch_heads().items()}
        for line in shown.stdout.splitlines():
            sha, _, ref = line.partition(" ")
            tips[ref[len("refs/heads/"):]] = sha
    return tips


def ahead_of(git: Git, pairs: Iterable[tuple[str, str]],
             cache: Path | None = None) -> dict[tuple[str, str], tuple[int, int | None]]:  # fmt: skip
    """``{(base, head): (commits in base..head, head's commit time)}`` for every pair.

    Parameters
    ----------
    git
        Git in the repository.
    pairs
        (base commit, head commit) pairs; full object names.
    cache
        The file remembering earlier answers (read, then added to); None to ask git about every
        pair.
    """
    wanted = set(pairs)
    known, lines = _load(cache) if cache else ({}, 0)
    out = {p: known[p] for p in wanted if p in known}
    new = {}
    if todo := wanted - out.keys():
        graphs, times = walk(git, todo)
        times.update(_commit_times(git, sorted({h for _, h in todo} - times.keys())))
        new = {(b, h): (_reach(h, graphs.get(b, {})), times.get(h)) for b, h in todo}
        out.update(new)
    if cache and lines + len(new) > 2 * len(wanted) + _CACHE_SLACK:
        _write(cache, out, "w")  # forget what no attempt points at any more
    elif cache and new:
        _write(cache, new, "a")
    return out


def remember(git: Git, cache: Path, base: str, head: str) -> None:
    """Note how far ``head`` is ahead of ``base`` (called where nborch commits an attempt); a git
    failure here is not worth failing the commit for, and is ignored."""
    if head == base:
        return
    try:
        listed = git.out(*_GIT_FAST, "rev-list", "--timestamp", f"^{base}", head, "--").splitlines()
    except WorktreeError:
        return
    when = next((int(line.split()[0]) for line in listed if line.endswith(head)), None)
    _write(cache, {(base, head): (len(listed), when)}, "a")


def walk(git: Git, pairs: Iterable[tuple[str, str]]) -> tuple[Graphs, dict[str, int]]:
    """The commits each base lacks of its heads, with their parents and commit times.

    Returns ``({base: {commit: parents}}, {commit: unix time})``: one ``git rev-list --parents
    --timestamp HEADS... ^BASE`` per base (and per chunk of heads) lists every commit that is in
    one of its heads but not in the base. A head's commits ahead of its base are then the commits
    of that graph it reaches (:func:`_reach`): any path from a head to such a commit stays inside
    the graph, since a commit reachable from the base has only such ancestors.
    """
    by_base: dict[str, set[str]] = {}
    for base, head in pairs:
        if head != base:
            by_base.setdefault(base, set()).add(head)
    graphs: Graphs = {}
    times: dict[str, int] = {}
    for base, heads in by_base.items():
        for chunk in _chunks(sorted(heads)):
            out = git.out(*_GIT_FAST, "rev-list", "--parents", "--timestamp", *chunk, f"^{base}",
                          "--")  # fmt: skip
            listed = [line.split() for line in out.splitlines() if line]
            graphs.setdefault(base, {}).update((f[1], f[2:]) for f in listed)
            times.update((f[1], int(f[0])) for f in listed)
    return graphs, times


def _reach(head: str, parents: dict[str, list[str]]) -> int:
    """How many commits of ``parents`` (a graph without the base's history) ``head`` reaches."""
    seen: set[str] = set()
    stack = [head]
    while stack:
        sha = stack.pop()
        if sha in parents and sha not in seen:
            seen.add(sha)
            stack.extend(parents[sha])
    return len(seen)


def _commit_times(git: Git, commits: Sequence[str]) -> dict[str, int]:
    """``{commit: unix time}`` of commits the walk did not list (heads at or behind a base)."""
    times: dict[str, int] = {}
    for chunk in _chunks(list(commits)):
        out = git.out(*_GIT_FAST, "rev-list", "--no-walk", "--timestamp", *chunk, "--")
        times.update((sha, int(ts)) for ts, sha in (line.split() for line in out.splitlines() if line))
    return times


def _chunks(items: list[str]) -> list[list[str]]:
    """``items`` in runs short enough for one command line."""
    out: list[list[str]] = []
    size = _ARGS_CHARS
    for item in items:
        if size + len(item) + 1 > _ARGS_CHARS:
            out.append([])
            size = 0
        out[-1].append(item)
        size += len(item) + 1
    return out


def _load(path: Path) -> tuple[dict[tuple[str, str], tuple[int, int | None]], int]:
    """The remembered answers and the file's line count; lines that do not parse (torn or cut
    short) are skipped."""
    try:
        text = path.read_text()
    except OSError:
        return {}, 0
    known = {}
    lines = text.splitlines()
    for line in lines:
        match = _LINE.fullmatch(line)
        if match:
            base, head, count, when = match.groups()
            known[(base, head)] = (int(count), None if when == "-" else int(when))
    return known, len(lines)


def _write(path: Path, entries: dict[tuple[str, str], tuple[int, int | None]], mode: str) -> None:
    """Append the answers (``mode="a"``) or replace the file with them atomically (``"w"``); a
    repository nborch cannot write to still gets its status."""
    text = "".join(f"{b} {h} {n} {'-' if t is None else t}\n" for (b, h), (n, t) in entries.items())
    target = path if mode == "a" else path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        with open(target, mode, encoding="ascii") as f:
            f.write(text)
        if target != path:
            target.replace(path)
    except OSError:
        if target != path:
            target.unlink(missing_ok=True)
