"""The baseline ranker: run the test command on each attempt, take the first one that exits 0.

This is what "the tests pass" means without per-test evidence: an exit code. Each attempt's
commit is exported with ``git archive`` into a folder of its own (no git, nothing shared with
nborch's worktrees) and the case's test command runs there with the interpreter running this
benchmark first on ``PATH``. Results are kept by tree, so an attempt whose tree was already tested
(the same patch in the second run) is not run again.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sdists import git

TIMEOUT = 300.0  # seconds for one run of a case's test command


def test_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", os.defpath)
    env.pop("PYTHONPATH", None)  # the checkout's own code must be imported, not ours
    return env


def exits_zero(repo: Path, commit: str, command: str, env: Mapping[str, str]) -> bool:
    """Whether ``command`` exits 0 in a fresh export of ``commit``."""
    with tempfile.TemporaryDirectory(prefix="exit-code-") as folder:
        archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=repo,
                                 capture_output=True, check=True).stdout  # fmt: skip
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        try:
            done = subprocess.run(shlex.split(command), cwd=folder, env=dict(env),
                                  capture_output=True, timeout=TIMEOUT)  # fmt: skip
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0


class ExitCodeRanker:
    """Exit codes of a case's attempts, cached by tree, and the attempt the baseline takes."""

    def __init__(self, repo: Path, command: str, env: Mapping[str, str], jobs: int = 2) -> None:
        self.repo, self.command, self.env, self.jobs = repo, command, test_env(env), jobs
        self._by_tree: dict[str, bool] = {}

    def _tree(self, commit: str) -> str:
        return git(self.repo, "rev-parse", f"{commit}^{{tree}}").strip()

    def verdicts(self, commits: Mapping[str, str]) -> dict[str, bool]:
        """agent → whether the test command exits 0 on its commit."""
        trees = {agent: self._tree(c) for agent, c in commits.items()}
        todo = {t: commits[a] for a, t in trees.items() if t not in self._by_tree}
        with ThreadPoolExecutor(self.jobs) as pool:
            results = pool.map(lambda c: exits_zero(self.repo, c, self.command, self.env),
                               todo.values())  # fmt: skip
            self._by_tree.update(zip(todo, results, strict=True))
        return {agent: self._by_tree[tree] for agent, tree in trees.items()}

    @staticmethod
    def pick(order: list[str], verdicts: Mapping[str, bool]) -> str | None:
        """The first attempt in assignment order whose command exits 0, or None (abstain)."""
        return next((agent for agent in order if verdicts.get(agent)), None)
