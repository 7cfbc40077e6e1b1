"""The comparison's test runs on a Dask cluster: :class:`RemoteTestRunner`, a drop-in for
:func:`~nborch.compare.tests.run_tests`.

Every test run of a comparison happens in a temporary checkout here (the start commit, the
attempt's commit, a pinned tree, a cross-test tree). :class:`RemoteTestRunner` takes that folder as it
is — tracked changes, pinned files, held-out tests nborch copied in — as one commit (made with a
temporary index: the checkout itself is not touched), sends it to a worker as a git bundle on top
of the run's base (scattered once), and runs :func:`run_tests` there in a worktree of the worker's
copy. Back come the :class:`TestRun`, the log and the coverage data, whose file paths are moved
to the local checkout's so the changed lines are counted as after a local run.

The test environment is built on the worker from its own: the names the comparison passes
through (``pass_env``) are looked up there, only values given explicitly (``-e NAME=VALUE``)
travel.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import NborchError
from ..execute.cluster import DaskExecutor, bundle_of, git_in, scratch_clone, start_repo
from .tests import TestRun, run_tests

__all__ = ["RemoteTestRunner", "on_dask", "run_tests_on_worker", "snapshot"]

_SNAPSHOT_IDENTITY = {"GIT_AUTHOR_NAME": "nborch", "GIT_AUTHOR_EMAIL": "nborch@localhost",
                      "GIT_COMMITTER_NAME": "nborch", "GIT_COMMITTER_EMAIL": "nborch@localhost"}  # fmt: skip


class RemoteTestRunner:
    """``run_tests`` on a Dask cluster, for the folders of one repository (see the module doc).

    Parameters
    ----------
    executor: the :class:`~nborch.execute.cluster.DaskExecutor` whose client runs the jobs.
    repo: the repository the checkouts belong to.
    base: a commit every checkout's history holds (the run's base): sent once, then each run
        sends only what it adds.
    pass_env, extra_env: the test environment, as :class:`~nborch.compare.gather.CompareOptions`
        has it (names or globs looked up on the worker; explicit values).
    """

    def __init__(self, executor: DaskExecutor, repo: str | Path, base: str,
                 pass_env: Sequence[str] = (), extra_env: Mapping[str, str] | None = None):  # fmt: skip
        self.executor, self.repo, self.base = executor, Path(repo), base
        self.pass_env, self.extra_env = tuple(pass_env), dict(extra_env or {})

    def __repr__(self) -> str:
        return f"<RemoteTestRunner of {self.repo} on {self.executor!r}>"

    def __call__(self, worktree: str | Path, command: str = "python -m pytest -q",
                 timeout: float = 600, log_path: str | Path | None = None, *,
                 env: Mapping[str, str] | None = None,
                 coverage_include: Sequence[str] | None = None,
                 coverage_file: str | Path | None = None) -> TestRun:  # fmt: skip
        """As :func:`run_tests`; ``env`` is ignored: the worker builds its own (module doc)."""
        where = Path(worktree)
        commit = snapshot(where)
        payload = {"base": self.base, "commit": commit, "command": command, "timeout": timeout,
                   "pass_env": list(self.pass_env), "extra_env": self.extra_env,
                   "coverage_include": list(coverage_include or ()), "measure": coverage_file is not None,
                   "where": str(where),
                   "extra": bundle_of(where, commit, exclude=self.base)}  # fmt: skip
        out = self._submit(payload)
        if log_path is not None:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            Path(log_path).write_bytes(out["log"])
        run: TestRun = out["run"]
        if coverage_file is not None and out["coverage"] is not None:
            data = Path(coverage_file).absolute()
            data.parent.mkdir(parents=True, exist_ok=True)
            data.write_bytes(out["coverage"])
            return replace(run, coverage_file=str(data))
        return replace(run, coverage_file=None)


    cache_tag = "on dask"  # the test cache keeps runs made on a cluster apart from local ones

    def _submit(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Run the job on the cluster; a test run is safe to run again, so one lost with its
        worker (or its bundle) is sent once more before the comparison gives up."""
        from distributed import CancelledError
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker

        for again in (False, True):
            base = self.executor.scatter_commit(self.repo, self.base, again=again)
            job = {**payload, "token": secrets.token_hex(8)}  # its own folder on the worker
            future = self.executor.client.submit(run_tests_on_worker, job, base, pure=False,
                                                 resources=self.executor.resources)  # fmt: skip
            try:
                return future.result()
            except (KilledWorker, CancelledError, CommClosedError) as err:
                lost = err
        raise NborchError(f"the test run `{payload['command']}` was lost twice with its Dask "
                          f"worker ({type(lost).__name__}: {lost}) — check the cluster's "
                          "workers (their memory, their logs) and compare again")  # fmt: skip


def snapshot(where: Path) -> str:
    """A commit of the folder ``where`` (a git checkout) as it is now, files git ignores included
    (a fresh checkout holds only what nborch put there); its index and HEAD stay as they are."""
    with tempfile.TemporaryDirectory(prefix="nborch-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), **_SNAPSHOT_IDENTITY}
        git_in(where, "read-tree", "HEAD", env=env)
        git_in(where, "add", "-A", "--force", env=env)
        tree = git_in(where, "write-tree", env=env).decode().strip()
        head = git_in(where, "rev-parse", "HEAD").decode().strip()
        return git_in(where, "commit-tree", tree, "-p", head, "-m", "nborch: test snapshot",
                      env=env).decode().strip()  # fmt: skip


def run_tests_on_worker(payload: dict[str, Any], base_bundle: bytes) -> dict[str, Any]:
    """Run one test command on this Dask worker (see the module doc)."""
    from distributed import get_worker

    from ..execute.validate import check_env

    scratch = Path(get_worker().local_directory) / "nborch"
    token = payload["token"]
    here = scratch / "tests" / token
    cache = start_repo(scratch, payload["base"], base_bundle)
    worktree = here / f"wt-{token}"
    try:
        here.mkdir(parents=True)
        extra = here / "extra.bundle"
        extra.write_bytes(payload["extra"])
        scratch_clone(cache, worktree, payload["commit"], extra)
        env = {**check_env(allow=payload["pass_env"]), **payload["extra_env"]}
        data = here / "coverage" if payload["measure"] else None
        run = run_tests(worktree, payload["command"], payload["timeout"], log_path=here / "tests.log",
                        env=env, coverage_include=payload["coverage_include"] or None,
                        coverage_file=data)  # fmt: skip
        coverage = None
        if run.coverage_file:
            coverage = _moved_coverage(Path(run.coverage_file), str(worktree), payload["where"],
                                       here / "coverage.moved")  # fmt: skip
        log = (here / "tests.log").read_bytes() if (here / "tests.log").exists() else b""
        return {"run": run, "log": log, "coverage": coverage}
    finally:
        shutil.rmtree(here, ignore_errors=True)


def _moved_coverage(data: Path, old: str, new: str, out: Path) -> bytes:
    """coverage.py's data with its measured files moved from ``old`` to ``new`` (a folder)."""
    from coverage import CoverageData

    src = CoverageData(basename=str(data))
    src.read()
    dst = CoverageData(basename=str(out))

    def moved(path: str) -> str:
        return new + path[len(old):] if path.startswith(old) else path

    files = src.measured_files()
    if src.has_arcs():
        dst.add_arcs({moved(f): src.arcs(f) or [] for f in files})
    else:
        dst.add_lines({moved(f): src.lines(f) or [] for f in files})
    dst.write()
    return out.read_bytes()


def on_dask(executor: Any) -> DaskExecutor | None:
    """The Dask executor a comparison was asked to use (``"dask"``, a DaskExecutor), or None."""
    if executor is None or executor == "local":
        return None
    if executor == "dask":
        return DaskExecutor()
    if isinstance(executor, DaskExecutor):
        return executor
    from ..errors import NborchError

    raise NborchError(f"compare runs its tests here or on Dask: executor must be 'local', "
                      f"'dask' or a DaskExecutor, not {executor!r}")  # fmt: skip

