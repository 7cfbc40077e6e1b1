"""Committing an attempt's work on its branch, leaving out the files nborch wrote there.

:meth:`nborch.workspace.manager.WorktreeManager.commit_work` and ``record_managed`` call into here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..errors import StoreError, WorktreeError
from ..gitcmd import Git
from ..store import is_locked
from .heads import cache_path, remember
from .records import Attempt

if TYPE_CHECKING:
    from .repo import Repo

__all__ = ["FALLBACK_IDENTITY", "REGENERABLE", "clean_message", "commit_work", "identity_env", "ignored_work",
           "record_managed"]

FALLBACK_IDENTITY = ("nborch", "nborch@localhost")
# Ignored folders and files any run of the tools makes again: never worth a commit.
REGENERABLE = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis",
                         "node_modules", ".venv", "venv", ".tox", ".nox", ".coverage", ".eggs",
                         ".ipynb_checkpoints", ".DS_Store"})  # fmt: skip
REGENERABLE_SUFFIXES = (".pyc", ".pyo", ".egg-info")


def record_managed(manager: Repo, attempt: Attempt,
                   paths: Iterable[str | Path]) -> Attempt:  # fmt: skip
    """Note files nborch wrote into the worktree (config files), so commits leave them out.

    ``paths`` are relative to the worktree (absolute paths inside it are accepted).
    """
    rel = set(attempt.managed_files)
    for p in paths:
        p = Path(p)
        if p.is_absolute():
            if not p.resolve().is_relative_to(attempt.path):
                raise WorktreeError(f"{p} is not inside the worktree {attempt.path}")
            p = p.resolve().relative_to(attempt.path)
        posix = PurePosixPath(p.as_posix())
        if ".." in posix.parts or not posix.parts or str(posix) == ".":
            raise WorktreeError(f"managed file {str(p)!r} must be a path inside the worktree")
        rel.add(str(posix))
    updated = replace(attempt, managed_files=tuple(sorted(rel)))
    with manager.store() as store:
        store.update_attempt(attempt.run_id, attempt.task_id, attempt.agent,
                             managed_files=updated.managed_files)  # fmt: skip
    return updated


def ignored_work(git: Git, attempt: Attempt) -> list[str]:
    """Files in the worktree that ``.gitignore`` hides and the agent made (a fresh worktree has
    none): a ``report.csv``, ``build/out.txt``. Caches the tools rebuild (:data:`REGENERABLE`)
    and nborch's own files do not count."""
    out = git.at(attempt.path).run("ls-files", "-z", "--others", "--ignored", "--exclude-standard",
                                   check=False).stdout  # fmt: skip
    managed = set(attempt.managed_files)
    return [p for p in out.split("\0") if p and p not in managed and not _regenerable(p)]


def _regenerable(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return any(p in REGENERABLE or p.endswith(REGENERABLE_SUFFIXES) for p in parts)


def commit_work(manager: Repo, attempt: Attempt, message: str, wip: bool = False,
                ignored: Iterable[str] = ()) -> str | None:  # fmt: skip
    """Commit everything the agent changed in the worktree, leaving nborch's files out.

    Files in ``attempt.managed_files`` are reset to the base commit's version in the index
    (added ones are unstaged), so the branch tip never carries nborch's config files. ``ignored``
    files (see :func:`ignored_work`) are added although ``.gitignore`` matches them.

    Returns
    -------
    str | None
        The new commit's sha, or None when there was nothing to commit.
    """
    if not (attempt.path / ".git").exists():
        raise WorktreeError(f"the worktree {attempt.path} is gone; nothing to commit — see "
                            "manager.orphans()")  # fmt: skip
    wt = manager.git.at(attempt.path)
    wt.run("add", "-A")
    ignored = list(ignored)
    for start in range(0, len(ignored), 500):  # argv stays far below the system's limit
        wt.run("add", "-f", "--", *(f":(literal){p}" for p in ignored[start : start + 500]))
    if attempt.managed_files:
        wt.run("reset", "-q", attempt.base_commit, "--",
               *(f":(literal){p}" for p in attempt.managed_files))  # fmt: skip
    staged = wt.run("diff", "--cached", "--quiet", check=False)
    if staged.returncode == 0:  # the agent may have committed itself: note how far it got
        remember(wt, cache_path(manager), attempt.base_commit, wt.out("rev-parse", "HEAD"))
        return None
    if staged.returncode != 1:
        raise WorktreeError(wt.describe(staged))
    message = clean_message(message)
    if wip and not message.startswith("WIP"):
        message = f"WIP: {message}"
    wt.run("-c", "commit.gpgsign=false", "-c", "gc.auto=0", "commit", "--quiet", "--no-verify",
           "-m", message, env=identity_env(wt))  # fmt: skip
    sha = wt.out("rev-parse", "HEAD")
    remember(wt, cache_path(manager), attempt.base_commit, sha)  # the next status need not walk
    # An attempt the store does not know (made by hand) still gets its commit; the head noted in
    # the store is a cache of git's, so a store another process holds locked just misses it.
    try:
        with manager.store() as store, suppress(KeyError):
            store.set_busy_timeout(0.5)
            store.update_attempt(attempt.run_id, attempt.task_id, attempt.agent, head=sha)
    except sqlite3.OperationalError as err:
        if not is_locked(err):
            raise
    except StoreError as err:  # a full disk: the commit is made, only its cache note is missing
        if not err.disk_full:
            raise
    return sha


def clean_message(message: str) -> str:
    """A commit message git accepts: control characters (a NUL from a plan's title, an escape
    sequence) are written as ``\\xNN`` instead; lines and tabs stay."""
    return "".join(ch if ch in "\n\t" or (ch >= " " and ch != "\x7f") else f"\\x{ord(ch):02x}"
                   for ch in message)  # fmt: skip


def identity_env(git: Git) -> dict[str, str]:
    """Author/committer variables for a commit: the configured identity where there is one,
    ``nborch <nborch@localhost>`` for what is missing."""
    env: dict[str, str] = {}
    name = os.environ.get("GIT_AUTHOR_NAME")
    email = os.environ.get("GIT_AUTHOR_EMAIL") or os.environ.get("EMAIL")
    if not (name and email):  # one git call for both keys: this runs on every commit
        found = git.run("config", "--get-regexp", r"^user\.(name|email)$", check=False).stdout
        configured = dict(line.split(" ", 1) for line in found.splitlines() if " " in line)
        name = name or configured.get("user.name", "").strip()
        email = email or configured.get("user.email", "").strip()
    if not name:
        env.update(GIT_AUTHOR_NAME=FALLBACK_IDENTITY[0], GIT_COMMITTER_NAME=FALLBACK_IDENTITY[0])
    if not email:
        env.update(GIT_AUTHOR_EMAIL=FALLBACK_IDENTITY[1], GIT_COMMITTER_EMAIL=FALLBACK_IDENTITY[1])
    return env
