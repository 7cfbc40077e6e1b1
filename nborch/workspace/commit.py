"""Committing an attempt's work on its branch, leaving out the files nborch wrote there.

:meth:`nborch.workspace.manager.WorktreeManager.commit_work` and ``record_managed`` call into here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..errors import WorktreeError
from ..gitcmd import Git
from .heads import cache_path, remember
from .records import Attempt

if TYPE_CHECKING:
    from .repo import Repo

__all__ = ["FALLBACK_IDENTITY", "commit_work", "identity_env", "record_managed"]

FALLBACK_IDENTITY = ("nborch", "nborch@localhost")


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


def commit_work(manager: Repo, attempt: Attempt, message: str,
                wip: bool = False) -> str | None:  # fmt: skip
    """Commit everything the agent changed in the worktree, leaving nborch's files out.

    Files in ``attempt.managed_files`` are reset to the base commit's version in the index
    (added ones are unstaged), so the branch tip never carries nborch's config files.

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
    if attempt.managed_files:
        wt.run("reset", "-q", attempt.base_commit, "--",
               *(f":(literal){p}" for p in attempt.managed_files))  # fmt: skip
    staged = wt.run("diff", "--cached", "--quiet", check=False)
    if staged.returncode == 0:  # the agent may have committed itself: note how far it got
        remember(wt, cache_path(manager), attempt.base_commit, wt.out("rev-parse", "HEAD"))
        return None
    if staged.returncode != 1:
        raise WorktreeError(wt.describe(staged))
    if wip and not message.startswith("WIP"):
        message = f"WIP: {message}"
    wt.run("-c", "commit.gpgsign=false", "-c", "gc.auto=0", "commit", "--quiet", "--no-verify",
           "-m", message, env=identity_env(wt))  # fmt: skip
    sha = wt.out("rev-parse", "HEAD")
    remember(wt, cache_path(manager), attempt.base_commit, sha)  # the next status need not walk
    # An attempt the store does not know (made by hand) still gets its commit.
    with manager.store() as store, suppress(KeyError):
        store.update_attempt(attempt.run_id, attempt.task_id, attempt.agent, head=sha)
    return sha


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
