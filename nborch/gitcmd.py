"""A small runner for the git command line: argv lists, no shell, a clean environment, clear errors.

Every git call nborch makes goes through :class:`Git`. Commands that change shared repository state
(refs, worktree registrations) run under a per-repository inter-process lock (``fcntl.flock`` on
``<git-common-dir>/nborch/git.lock``), and every command is retried for a while when git reports a
lock file held by someone else (``index.lock``, ``packed-refs.lock``, a ref's ``.lock``), so
concurrent nborch processes and threads never fail with lock errors.

>>> ref_problem("refs/heads/nborch/20250101-120000-ab12/task-1/claude") is None
True
>>> ref_problem("refs/heads/a..b")
"contains '..'"
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import WorktreeError
from .log import logger

__all__ = ["Git", "GitResult", "RepoLike", "clean_env", "porcelain_paths", "ref_problem", "repo_path", "split_z", "worktree_list"]

# A repository as users hand it over: a path, or a GitPython ``git.Repo`` they already hold.
RepoLike = str | os.PathLike[str] | Any


def repo_path(repo: RepoLike) -> Path:
    """The folder of ``repo``: a path, or a ``git.Repo`` (GitPython) whose working tree it is.

    GitPython is not needed: a ``git.Repo`` is recognised by its ``working_tree_dir``, so a
    notebook that already opened its repository with GitPython passes it as it is.

    >>> repo_path("~/src/app") == Path("~/src/app").expanduser()
    True
    """
    if isinstance(repo, str | os.PathLike):
        return Path(repo).expanduser()
    tree = getattr(repo, "working_tree_dir", None)
    if tree is None:
        if getattr(repo, "git_dir", None) is not None:
            raise WorktreeError(f"{repo!r} is a bare repository: it has no working tree to branch "
                                "worktrees from — clone it and pass the clone")  # fmt: skip
        raise WorktreeError(f"{repo!r} is not a repository: pass its folder (a str or Path) or a "
                            "git.Repo")  # fmt: skip
    return Path(tree)

# Variables that would point git at another repository, index or config than the one we name.
# They are set, for example, when nborch runs inside a git hook. The user's identity variables and
# GIT_CONFIG_GLOBAL/GIT_CONFIG_NOSYSTEM are kept: they are the user's choice, not a location.
_LOCATION_VARS = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX",
    "GIT_CEILING_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_QUARANTINE_PATH", "GIT_REFLOG_ACTION", "LANGUAGE",
})  # fmt: skip
_LOCK_ERROR = re.compile(
    r"\.lock'?:? File exists|index\.lock|could not lock config file|Unable to create '[^']*\.lock'",
    re.IGNORECASE,
)
DISK_FULL = re.compile(r"No space left on device|Out of diskspace|Disk quota exceeded", re.IGNORECASE)
_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.0, 1.5, 1.5, 2.0, 2.0)  # ≈ 11 s in all


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a git command: no location overrides, no prompts, English messages.

    ``LC_ALL=C`` keeps messages parseable (lock errors are recognised by their text);
    ``GIT_OPTIONAL_LOCKS=0`` stops read-only commands such as ``git status`` from taking the index
    lock, so nborch never contends with an agent's own git calls.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _LOCATION_VARS and not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C", GIT_EDITOR="true")
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class GitResult:
    """What one git command did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class _RepoLock:
    """An inter-process lock per repository, re-entrant within one thread.

    ``flock`` locks belong to an open file description, so two threads of one process that each
    open the file also exclude each other; the per-thread depth makes nested use safe.
    """

    _local = threading.local()

    def __init__(self, path: Path):
        self.path = path

    @contextmanager
    def hold(self) -> Iterator[None]:
        depths: dict[str, int] = self._local.__dict__.setdefault("depths", {})
        key = str(self.path)
        if depths.get(key):
            depths[key] += 1
            try:
                yield
            finally:
                depths[key] -= 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _flock(fd, True)
            depths[key] = 1
            try:
                yield
            finally:
                depths[key] = 0
                _flock(fd, False)
        finally:
            os.close(fd)


def _flock(fd: int, lock: bool) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the lock-error retries still apply
        return
    fcntl.flock(fd, fcntl.LOCK_EX if lock else fcntl.LOCK_UN)


class Git:
    """Runs git in one directory (a repository or one of its worktrees).

    Parameters
    ----------
    cwd
        The directory git runs in.
    lock_path
        The inter-process lock file for this repository; ``locked=True`` calls and :meth:`lock`
        hold it. Found from ``git rev-parse --git-common-dir`` when not given.
    """

    def __init__(self, cwd: str | Path, lock_path: Path | None = None):
        self.cwd = Path(cwd)
        self._lock_path = lock_path
        self._exe: str | None = None

    def __repr__(self) -> str:
        return f"<Git {self.cwd}>"

    @property
    def exe(self) -> str:
        if self._exe is None:
            found = shutil.which("git")
            if found is None:
                raise WorktreeError(
                    "git is not installed or not on PATH — install git "
                    "(https://git-scm.com/downloads) and try again"
                )
            self._exe = found
        return self._exe

    def at(self, cwd: str | Path) -> Git:
        """The same repository's lock and git executable, run in another directory (a worktree)."""
        other = Git(cwd, self._lock_path)
        other._exe = self._exe
        return other

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold this repository's inter-process lock across several commands."""
        if self._lock_path is None:
            common = Path(self.out("rev-parse", "--git-common-dir"))
            self._lock_path = (self.cwd / common).resolve() / "nborch" / "git.lock"
        with _RepoLock(self._lock_path).hold():
            yield

    def run(
        self,
        *args: str,
        check: bool = True,
        locked: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> GitResult:
        """Run ``git ARGS``; retry while a lock file is held; raise WorktreeError if it fails.

        Parameters
        ----------
        check
            Raise on a non-zero exit (after retries); with ``False`` the result says what happened.
        locked
            Hold the repository lock for the command (for commands that change refs or worktrees).
        env
            Extra environment variables for this command only.
        """
        if locked:
            with self.lock():
                return self.run(*args, check=check, env=env)
        argv = [self.exe, *args]
        full_env = clean_env(env)
        for delay in (*_RETRY_DELAYS, None):
            began = time.perf_counter()
            try:
                proc = subprocess.run(argv, cwd=self.cwd, env=full_env, capture_output=True,
                                      text=True, encoding="utf-8", errors="surrogateescape",
                                      stdin=subprocess.DEVNULL)  # fmt: skip
            except OSError as err:
                raise WorktreeError(f"could not run 'git {' '.join(args)}' in {self.cwd}: {err}") from err
            result = GitResult(tuple(args), proc.returncode, proc.stdout, proc.stderr)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("git %s (in %s): exit %d, %.0f ms", " ".join(args)[:300], self.cwd,
                             proc.returncode, (time.perf_counter() - began) * 1000)  # fmt: skip
            if (result.ok or delay is None or not _LOCK_ERROR.search(result.stderr)
                    or DISK_FULL.search(result.stderr)):  # a full disk stays full: do not wait
                break
            time.sleep(delay)
        if check and not result.ok:
            err = WorktreeError(self.describe(result))
            err.disk_full = bool(DISK_FULL.search(result.stderr))
            raise err
        return result

    def out(self, *args: str, **kwargs) -> str:
        """Run a command and return its stdout without the trailing newline."""
        return self.run(*args, **kwargs).stdout.rstrip("\n")

    def ok(self, *args: str) -> bool:
        """Whether a command exits 0 (for questions such as ``merge-base --is-ancestor``)."""
        return self.run(*args, check=False).ok

    def describe(self, result: GitResult) -> str:
        """An error message naming the command, the folder and what git said."""
        said = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        hint = ""
        if DISK_FULL.search(said):
            hint = " — the disk is full: free some space and try again"
        elif _LOCK_ERROR.search(said):
            hint = (" — another git process kept a lock file for over 10 s; if none is running, "
                    "delete the .lock file named above and try again")  # fmt: skip
        return f"'git {' '.join(result.args)}' failed in {self.cwd}: {said}{hint}"


def ref_problem(refname: str) -> str | None:
    """Why ``refname`` breaks git's ref-name rules (``git help check-ref-format``), or None.

    Checks the full name (``refs/heads/...``); the rules are those git documents, plus the branch
    rules of ``git check-ref-format --branch``: no ``HEAD``, no leading ``-``.
    """
    if not refname:
        return "is empty"
    if refname == "@":
        return "is the single character '@'"
    if refname.startswith("/") or refname.endswith("/"):
        return "begins or ends with '/'"
    if refname.endswith("."):
        return "ends with '.'"
    for bad, why in (("..", "contains '..'"), ("//", "contains '//'"), ("@{", "contains '@{'")):
        if bad in refname:
            return why
    for ch in refname:
        if ord(ch) < 0x20 or ord(ch) == 0x7F or ch in " ~^:?*[\\":
            return f"contains the character {ch!r}"
    for part in refname.split("/"):
        if part.startswith("."):
            return f"has a part beginning with '.': {part!r}"
        if part.endswith(".lock"):
            return f"has a part ending with '.lock': {part!r}"
    if refname.startswith("refs/heads/"):
        branch = refname[len("refs/heads/"):]
        if branch.startswith("-"):
            return "is a branch name beginning with '-'"
        if branch == "HEAD":
            return "is the branch name 'HEAD'"
    return None


def split_z(text: str) -> Sequence[str]:
    """The fields of NUL-separated git output (``-z``), without the empty tail."""
    return [f for f in text.split("\0") if f]


def porcelain_paths(out: str) -> list[str]:
    """Paths from ``git status --porcelain -z`` (v1): ``XY path``, renames followed by the old path."""
    paths = []
    fields = split_z(out)
    i = 0
    while i < len(fields):
        entry = fields[i]
        paths.append(entry[3:])
        i += 2 if {"R", "C"} & set(entry[:2]) else 1
    return paths


def worktree_list(git: Git) -> list[dict[str, str]]:
    """``git worktree list --porcelain`` as one dict per worktree (``worktree``, ``branch``, …)."""
    entries: list[dict[str, str]] = []
    for line in git.out("worktree", "list", "--porcelain", "-z").split("\0"):
        if line.startswith("worktree "):
            entries.append({"worktree": line[len("worktree "):]})
        elif line and entries:
            key, _, value = line.partition(" ")
            entries[-1][key] = value
    return entries
