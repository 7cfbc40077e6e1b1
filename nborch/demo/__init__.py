"""The bundled demo: a small sample project (``todo``), its plan, and helpers to set them up.

``nborch demo`` and the tutorials copy the sample project into a fresh git repository with
:func:`make_sample_repo` and run the plan at :func:`sample_plan_path` against it. Nothing here
touches the disk at import time.

>>> SAMPLE_DIR.name, PLAN_PATH.name
('sample', 'plan.md')
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import WorktreeError

__all__ = ["PLAN_PATH", "SAMPLE_DIR", "make_sample_repo", "sample_plan_path"]

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
"""The sample project as shipped: a todo-list library with a passing pytest suite."""

PLAN_PATH = Path(__file__).resolve().parent / "plan.md"
"""The sample plan for the sample project, in nborch's markdown plan format."""

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")
_AUTHOR = ("nborch demo", "demo@nborch.invalid")
# Variables that would point git at another repository, change the config it reads, or override
# the commit's author (so the sample's first commit is the same on every machine).
_GIT_VARS_DROPPED = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_TEMPLATE_DIR", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", "EMAIL",
})  # fmt: skip


def sample_plan_path() -> Path:
    """The path of the bundled sample plan (``nborch/demo/plan.md``).

    Returns
    -------
    Path
        An absolute path to a file that ships with the package; read it, do not edit it.
    """
    return PLAN_PATH


def make_sample_repo(dest: str | Path) -> Path:
    """Copy the sample project into ``dest`` and make it a git repository with one commit.

    The repository is on branch ``main``; its commit author is ``nborch demo
    <demo@nborch.invalid>``, set in the repository's own config, so this works on a machine with
    no git identity configured. Neither the system nor the global git config is read.

    Parameters
    ----------
    dest
        Where to create the repository: a path that does not exist yet, or an empty directory.

    Returns
    -------
    Path
        ``dest``, resolved to an absolute path.

    Raises
    ------
    WorktreeError
        If git is not installed, ``dest`` is a file or a non-empty directory, or a git command
        fails (its error output is in the message).
    """
    dest = Path(dest).expanduser().resolve()
    git = shutil.which("git")
    if git is None:
        raise WorktreeError(
            "git is not installed or not on PATH; the demo needs it to create a sample repository "
            "— install git (https://git-scm.com/downloads) and try again"
        )
    if dest.exists() and not dest.is_dir():
        raise WorktreeError(f"{dest} is a file; give make_sample_repo a new or empty directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise WorktreeError(
            f"{dest} is not empty; give make_sample_repo a path that does not exist yet or an "
            "empty directory, so nothing of yours is mixed into the sample repository"
        )
    shutil.copytree(SAMPLE_DIR, dest, ignore=_IGNORE, dirs_exist_ok=True)

    env = {k: v for k, v in os.environ.items() if k not in _GIT_VARS_DROPPED}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")

    def run(*args: str) -> None:
        try:
            subprocess.run([git, *args], cwd=dest, env=env, check=True, capture_output=True,
                           text=True)  # fmt: skip
        except subprocess.CalledProcessError as err:
            detail = (err.stderr or err.stdout or "").strip() or f"exit status {err.returncode}"
            raise WorktreeError(
                f"'git {' '.join(args)}' failed in {dest}: {detail} — check that git works there "
                "(git 2.28 or newer is needed for 'git init -b')"
            ) from err

    run("init", "--quiet", "-b", "main")
    run("config", "user.name", _AUTHOR[0])
    run("config", "user.email", _AUTHOR[1])
    run("config", "commit.gpgsign", "false")
    run("config", "core.autocrlf", "false")
    run("add", "--all")
    run("commit", "--quiet", "--no-verify", "-m", "Initial sample project")
    return dest
