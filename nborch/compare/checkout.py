"""A temporary detached checkout of a commit, removed and pruned afterwards — also on errors.

The comparison reads and runs commits that may have no worktree of their own (the base, an
attempt whose worktree was cleaned up, or one a person has since edited). ``git worktree add
--detach`` gives a real checkout without moving any branch; it is registered with git only while
in use.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..gitcmd import Git

__all__ = ["temporary_checkout"]


@contextmanager
def temporary_checkout(repo: str | Path | Git, commit: str, prefix: str = "nborch-") -> Iterator[Path]:
    """A detached worktree of ``commit`` in a temporary folder for the duration of the block.

    >>> with temporary_checkout(repo, "HEAD") as where:  # doctest: +SKIP
    ...     run_tests(where)
    """
    git = repo if isinstance(repo, Git) else Git(repo)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        where = Path(tmp) / "wt"
        # hooks off: a user's post-checkout hook has no business running on nborch's checkouts
        git.run("-c", f"core.hooksPath={os.devnull}", "worktree", "add", "--detach", "--quiet",
                str(where), commit, locked=True)  # fmt: skip
        try:
            yield where
        finally:
            git.run("worktree", "remove", "--force", str(where), check=False, locked=True)
            git.run("worktree", "prune", check=False, locked=True)
