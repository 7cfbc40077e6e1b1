"""A case's repository: the pinned sdist, downloaded once with pip, extracted and committed.

No third-party source is kept in this repository: each run fetches the sdist with ``pip download``
into a cache under the temporary folder (reused by later runs), extracts it, commits it as it is,
then commits the case's ``bug.patch`` on top. That second commit is the base of every attempt.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from cases import Case

CACHE = Path(tempfile.gettempdir()) / "nborch-bench-selection" / "sdists"
IGNORED = ("__pycache__/", "*.egg-info/", ".pytest_cache/")
IDENTITY = (("user.name", "Selection Benchmark"), ("user.email", "bench@example.invalid"),
            ("commit.gpgsign", "false"))  # fmt: skip


def _norm(name: str) -> str:
    """A distribution name as the package index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _cached(project: str, version: str, cache: Path) -> Path | None:
    wanted = _norm(f"{project}-{version}")
    for path in sorted(cache.glob("*")):
        stem = path.name.removesuffix(".tar.gz").removesuffix(".zip")
        if stem != path.name and _norm(stem) == wanted:
            return path
    return None


def download(project: str, version: str, cache: Path = CACHE) -> Path:
    """The sdist of ``project==version`` in ``cache``, downloaded by pip if it is not there yet."""
    cache.mkdir(parents=True, exist_ok=True)
    found = _cached(project, version, cache)
    if found is None:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                               "--no-binary", ":all:", f"{project}=={version}", "-d", str(cache)],
                              capture_output=True, text=True)  # fmt: skip
        found = _cached(project, version, cache)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"pip download of {project}=={version} failed:\n{done.stderr}")
    return found


def extract(archive: Path, dest: Path) -> Path:
    """Extract the sdist into ``dest`` (created); return its one top folder."""
    dest.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(dest)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")  # no owners, no links out of dest
    (top,) = [p for p in dest.iterdir() if p.is_dir()]
    return top


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}:\n{done.stderr}")
    return done.stdout


def _ignore_build_files(repo: Path) -> None:
    path = repo / ".gitignore"
    old = path.read_text() if path.is_file() else ""
    missing = [p for p in IGNORED if p not in old.splitlines()]
    if missing:
        path.write_text(old + ("\n" if old and not old.endswith("\n") else "")
                        + "".join(f"{p}\n" for p in missing))  # fmt: skip


def _add_sdist(repo: Path) -> None:
    """Stage every file of the sdist but build leftovers: a project's own .gitignore may exclude
    generated files its sdist ships (humanize's _version.py), which its code needs."""
    git(repo, "add", "--all", "--force", ".")
    leftovers = [p for name in ("__pycache__", ".pytest_cache", "*.egg-info")
                 for p in repo.rglob(name) if p.is_dir()]  # fmt: skip
    if leftovers:
        git(repo, "rm", "-r", "--quiet", "--cached", "--ignore-unmatch",
            *(str(p.relative_to(repo)) for p in leftovers))


def make_repo(case: Case, where: Path) -> Path:
    """A git repository at ``where/repo``: the sdist, then the injected bug (HEAD)."""
    top = extract(download(case.project, case.version), where / "sdist")
    repo = top.rename(where / "repo")
    _ignore_build_files(repo)
    git(repo, "init", "--quiet", "-b", "main")
    for key, value in IDENTITY:
        git(repo, "config", key, value)
    _add_sdist(repo)
    git(repo, "commit", "--quiet", "--no-verify", "-m", f"{case.project} {case.version} (sdist)")
    git(repo, "apply", str(case.bug_patch))
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--no-verify", "-m", f"Inject the bug of {case.name}")
    return repo
