"""A git repository as nborch sees it: found and checked once, with its store and worktree root.

>>> repo = Repo("path/to/repo")                      # doctest: +SKIP
>>> repo.resolve("HEAD")                            # doctest: +SKIP
'0b6f…'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ..errors import WorktreeError
from ..gitcmd import Git, RepoLike, porcelain_paths, repo_path
from ..names import short_hash, slugify
from ..store import AttemptRecord, RunRecord, Store
from .records import BRANCH_PREFIX, RunInfo, run_info

__all__ = ["MAX_WORKERS", "Repo", "default_root"]

MAX_WORKERS = 4
_T = TypeVar("_T")
_R = TypeVar("_R")


def default_root(repo: Path, common_dir: Path) -> Path:
    """Where a repository's worktrees go when no ``root`` is given.

    ``$NBORCH_WORKTREE_ROOT/<repo>-<hash>`` if that variable is set, else
    ``$XDG_STATE_HOME/nborch/worktrees/<repo>-<hash>`` (``~/.local/state/...``;
    ``%LOCALAPPDATA%\\nborch\\worktrees\\...`` on Windows). State, not cache: a worktree can hold an
    agent's uncommitted work, and cache folders are emptied by cleaners without asking. The hash
    of the git dir keeps two repositories with the same folder name apart.
    """
    base = os.environ.get("NBORCH_WORKTREE_ROOT")
    if base:
        parent = Path(base).expanduser()
    elif os.name == "nt":
        parent = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        parent = parent / "nborch" / "worktrees"
    else:
        parent = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        parent = parent / "nborch" / "worktrees"
    return (parent / f"{slugify(repo.name, 32)}-{short_hash(str(common_dir), 8)}").resolve()


class Repo:
    """One git repository as nborch sees it: its git runner, run store and worktree root.

    :class:`~nborch.workspace.manager.WorktreeManager` adds runs and attempts on top; the stage
    modules (:mod:`.create`, :mod:`.commit`, :mod:`.status`, :mod:`.heads`, :mod:`.cleanup`) take
    a ``Repo`` and use only its public members.

    Parameters
    ----------
    repo
        A folder inside a non-bare git repository with at least one commit, or a ``git.Repo``.
    root
        Where worktrees of new runs go; default :func:`default_root`. Existing runs keep the
        root they were made with.
    max_workers
        Worktrees checked out in parallel.

    Raises
    ------
    WorktreeError
        If ``repo`` is missing, not a git repository, bare, or has no commit.

    """

    def __init__(self, repo: RepoLike, root: str | Path | None = None, *,
                 max_workers: int = MAX_WORKERS):  # fmt: skip
        path = repo_path(repo).absolute()
        if not path.is_dir():
            what = "is a file" if path.exists() else "does not exist"
            raise WorktreeError(f"{path} {what} — pass the folder of a git repository")
        # The usual case takes one git call; when it fails, the calls below say what is wrong.
        fast = Git(path).run("rev-parse", "--is-bare-repository", "--is-inside-work-tree",
                             "--git-common-dir", "--show-toplevel", "HEAD^{commit}", "--",
                             check=False)  # fmt: skip
        if fast.ok and fast.stdout.startswith("false\ntrue\n"):
            common, top = fast.stdout.splitlines()[2:4]
            self.common_dir = (path / common).resolve()
            self.git = Git(Path(top).resolve(), self.common_dir / "nborch" / "git.lock")
            self.repo = self.git.cwd
        else:
            self._probe(path)
        self.root = Path(root).expanduser().resolve() if root else default_root(self.repo, self.common_dir)
        self.max_workers = max(1, max_workers)
        self.warnings: list[str] = []
        if self.root.is_relative_to(self.repo):
            self.warnings.append(f"worktree root {self.root} is inside the working tree "
                                 f"{self.repo}; its worktrees will show up in 'git status' there")  # fmt: skip

    def _probe(self, path: Path) -> None:
        """Find the repository around ``path`` one question at a time, or say what is wrong."""
        probe = Git(path).run("rev-parse", "--is-bare-repository", "--is-inside-work-tree",
                              "--git-common-dir", check=False)  # fmt: skip
        if not probe.ok:
            said = probe.stderr.strip()
            if "dubious ownership" in said:
                raise WorktreeError(f"{path} is a git repository owned by another user, so git "
                                    "refuses to work in it — if you trust it: git config --global "
                                    f"--add safe.directory {path}")  # fmt: skip
            first = said.splitlines()[0] if said else f"git exit status {probe.returncode}"
            raise WorktreeError(f"{path} is not a git repository ({first}) — pass a repository, "
                                "or run 'git init' there and commit your files")  # fmt: skip
        bare, inside, common = probe.stdout.splitlines()[:3]
        if bare == "true":
            raise WorktreeError(f"{path} is a bare repository: it has no working tree to branch "
                                f"worktrees from — clone it ('git clone {path} DEST') and pass the "
                                "clone")  # fmt: skip
        if inside != "true":
            raise WorktreeError(f"{path} is inside a git dir, not a working tree — pass the "
                                "repository's top folder")  # fmt: skip
        self.common_dir = (path / common).resolve()
        self.git = Git(path, self.common_dir / "nborch" / "git.lock")
        self.repo = Path(self.git.out("rev-parse", "--show-toplevel")).resolve()
        self.git = self.git.at(self.repo)
        if not self.git.ok("rev-parse", "--verify", "-q", "HEAD^{commit}") and not self.git.out(
                "for-each-ref", "--count=1", "refs/heads", "refs/tags"):  # fmt: skip
            raise WorktreeError(f"{self.repo} has no commit yet; attempts start from a commit — "
                                "commit something first (git add -A && git commit -m 'first')")  # fmt: skip

    # -- store and small helpers ----------------------------------------------------------

    def git_at(self, path: str | Path) -> Git:
        """Git running in ``path`` (a worktree of this repository), sharing its lock."""
        return self.git.at(path)

    @property
    def store_path(self) -> Path:
        return Store.path_for(self.common_dir)

    def store(self) -> Store:
        """Open this repository's run history (close it, or use ``with``)."""
        return Store(self.store_path)

    def run_records(self, run_id: str | None = None) -> list[RunRecord]:
        """The runs (one, or all) as stored, without their attempts; no store file is made."""
        if not self.store_path.exists():
            return []
        with self.store() as store:
            return store.runs() if run_id is None else [r for r in [store.get_run(run_id)] if r]

    def records(self, run_id: str | None = None) -> tuple[list[RunRecord], list[AttemptRecord]]:
        if not self.store_path.exists():
            return [], []
        with self.store() as store:
            runs = store.runs() if run_id is None else [r for r in [store.get_run(run_id)] if r]
            return runs, store.attempts(run_id)

    def pool(self, fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        if len(items) <= 1 or self.max_workers == 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(min(self.max_workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def dirty_files(self) -> list[str]:
        """Uncommitted changes in the main working tree (attempts start from a commit and will
        not see them)."""
        out = self.git.out("status", "--porcelain", "-z")
        return porcelain_paths(out)

    def branch_heads(self) -> dict[str, tuple[str, int]]:
        out = self.git.out("for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00"
                            "%(committerdate:unix)", f"refs/heads/{BRANCH_PREFIX}/")  # fmt: skip
        heads = {}
        for line in out.splitlines():
            name, sha, when = line.split("\0")
            heads[name] = (sha, int(when or 0))
        return heads

    def resolve(self, ref: str) -> str | None:
        if ref.startswith("-"):
            return None
        result = self.git.run("rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}",
                               check=False)  # fmt: skip
        return result.stdout.strip() if result.ok else None

    def runs(self) -> list[RunInfo]:
        """Every run recorded for this repository, oldest first."""
        return [run_info(r) for r in self.records()[0]]

    def run(self, run_id: str) -> RunInfo:
        """One recorded run; raises WorktreeError if there is none with that id."""
        runs, _ = self.records(run_id)
        if not runs:
            raise WorktreeError(f"no run {run_id!r} in {self.repo} — see manager.runs()")
        return run_info(runs[0])
