"""The test runs of a comparison: each start commit once (cached by tree), each attempt in its
own checkout, then what judges it (:func:`.proof.prove`) — in parallel on a thread pool.

Every run is in a temporary detached checkout of a commit, never in the agent's worktree: only what
the attempt committed is judged, and the tests cannot litter the person's files.
"""

from __future__ import annotations

import shlex
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NborchError
from ..gitcmd import Git
from ..plan.testids import is_plain_pytest, pytest_paths, with_test_ids
from .checkout import temporary_checkout
from .coverage_lines import LineCoverage, changed_lines, line_coverage, merge_coverage
from .diffs import DiffStat
from .pinned import PinPlan, pin_plan, test_modules
from .proof import Proof, prove
from .tests import BaseCache, TestRun, run_tests

if TYPE_CHECKING:
    from ..workspace.prepare import PreparedAttempt

__all__ = ["Job", "Tested", "Tester", "combined", "in_scope"]


@dataclass(frozen=True, slots=True)
class Job:
    """One attempt to test: where it starts and ends, and what its task names."""

    start: str
    commit: str
    diff: DiffStat
    include: Sequence[str]
    baseline: Future[TestRun]
    named: tuple[str, ...] = ()
    holdout: Path | None = None
    commands: tuple[str, ...] | None = None  # validation commands to run again when pinned
    allowed: bool = False  # the task may change existing tests


@dataclass(frozen=True, slots=True)
class Tested:
    own: TestRun
    coverage: LineCoverage | None
    notes: list[str]
    pin: PinPlan
    proof: Proof


class Tester:
    """Runs test commands on commits in parallel, with the start commits' runs cached."""

    def __init__(self, git: Git, cache: BaseCache, command: str, timeout: float,
                 env: dict[str, str], stack: ExitStack, pool: ThreadPoolExecutor,
                 runner: Callable[..., TestRun] = run_tests) -> None:  # fmt: skip
        """``runner`` runs one test command in a folder: :func:`run_tests` here, or
        :class:`~nborch.compare.remote.RemoteTestRunner` on a Dask cluster."""
        self.git, self.cache, self.command, self.timeout = git, cache, command, timeout
        self.runner = runner
        # runs on a cluster and runs here are cached apart: their machines may differ
        tag = getattr(runner, "cache_tag", "")
        self._cache_key = f"{command} [{tag}]" if tag else command
        self.stack, self.pool = stack, pool
        self.tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nborch-cmp-")))
        self.env = env
        self._baselines: dict[str, Future[TestRun]] = {}
        self._lock = threading.Lock()

    @property
    def starts(self) -> int:
        return len(self._baselines)

    def baseline(self, commit: str) -> Future[TestRun]:
        # keyed by tree: dependents' start commits differ per attempt but often hold the same files
        tree = self.git.out("rev-parse", f"{commit}^{{tree}}")
        with self._lock:
            if tree not in self._baselines:
                self._baselines[tree] = self.pool.submit(self._baseline, commit, tree)
            return self._baselines[tree]

    def _baseline(self, commit: str, tree: str) -> TestRun:
        cached = self.cache.get(tree, self._cache_key)
        if cached is not None:
            return cached
        with temporary_checkout(self.git, commit, "nborch-base-") as where:
            run = self._run(where, self.cache.cache_dir / f"{tree}.log")
        if not run.timed_out:  # a hang may be the machine's fault: measure it again next time
            self.cache.put(tree, self._cache_key, run)
        return run

    def _run(self, where: Path, log: Path, command: str | None = None, **coverage: Any) -> TestRun:
        """``command`` (default the test command) in ``where``; a missing program is an error."""
        command = command or self.command
        try:
            return self.runner(where, command, self.timeout, log_path=log,
                               env=self.env, **coverage)  # fmt: skip
        except OSError as err:  # the program is missing or not executable: the same for all
            raise NborchError(f"cannot run the test command `{command}`: {err} — fix "
                              "test_command in the plan, or pass another one "
                              "(--test-command)") from err  # fmt: skip

    def _runner(self, where: Path, command: str, log: Path) -> TestRun:
        return self._run(where, log, command)

    def attempt(self, pa: PreparedAttempt, job: Job) -> Future[Tested]:
        return self.pool.submit(self._judged, pa, job)

    def _judged(self, pa: PreparedAttempt, job: Job) -> Tested:
        """The attempt's own run, then what judges it: the pinned run and its named tests."""
        base = job.baseline.result()  # started before this job by the pool: running or done
        pin = pin_plan(self.git, job.diff, test_modules(base.outcomes))
        added = in_scope(self.command, pin.only_added_tests) if not job.allowed else ()
        pinned = None
        if added and is_plain_pytest(self.command):
            # adding test files is all it did to the tests: its suite with them ignored *is* the
            # pinned run (a new module cannot touch the others when it is not imported), and the
            # new files run on their own — one suite's cost, not two
            ignore = shlex.join(f"--ignore={p}" for p in added)
            pinned, cov, notes, new = self._attempt(pa, job, f"{self.command} {ignore}",
                                                    with_test_ids(self.command, added))  # fmt: skip
            own = combined(pinned, new)
        else:
            own, cov, notes, _ = self._attempt(pa, job, self.command)
        proof = prove(self.git, Path(self.git.cwd), job.start, job.commit, pin, own, base,
                      self.command, job.named, job.holdout, job.commands, self._runner,
                      pa.attempt.attempt_dir / "compare", job.allowed, pinned)  # fmt: skip
        return Tested(own, cov, notes, pin, proof)

    def _attempt(self, pa: PreparedAttempt, job: Job, command: str, then: str | None = None
                 ) -> tuple[TestRun, LineCoverage | None, list[str], TestRun | None]:  # fmt: skip
        """The attempt's test run (and ``then``, a second command in the same checkout), the
        coverage of its changed lines by both, and notes for the report."""
        # never the agent's worktree: files it left there untracked or ignored (a conftest.py
        # listed in .gitignore, a pytest.py) are not part of its commit and must not judge it
        with temporary_checkout(self.git, job.commit, "nborch-attempt-") as where:
            notes: list[str] = []
            data = self.tmp / f"{pa.attempt.name}.coverage"
            more = self.tmp / f"{pa.attempt.name}.then.coverage"
            logs = pa.attempt.attempt_dir / "compare"
            run = self._run(where, logs / "tests.log", command, **self._coverage(job, data))
            second = None
            if then is not None:
                second = self._run(where, logs / "new-tests.log", then, **self._coverage(job, more))
                if job.include and (why := merge_coverage(data, more)):
                    notes.append(f"coverage of the new test files not counted: {why}")
            if not job.include:
                return run, None, notes, second
            # coverage reads the sources it measured, so this happens while the checkout exists
            lines = changed_lines(self.git.cwd, job.start, job.commit, job.include)
            return run, line_coverage(data, where, lines), notes, second

    @staticmethod
    def _coverage(job: Job, data: Path) -> dict[str, Any]:
        return {"coverage_include": list(job.include), "coverage_file": data} if job.include else {}


def in_scope(command: str, files: Sequence[str]) -> tuple[str, ...]:
    """The ``files`` the test command would collect: under one of its paths, or all when it
    names none."""
    paths = [p.rstrip("/") for p in pytest_paths(command)]
    if not paths:
        return tuple(files)
    return tuple(f for f in files if any(f == p or f.startswith(p + "/") for p in paths))


def combined(first: TestRun, second: TestRun) -> TestRun:
    """Two runs of one tree as one: the outcomes of both, the worse ending."""
    code = first.return_code if first.return_code not in (0, None) else second.return_code
    if first.return_code is None:
        code = None
    return replace(first, return_code=code, duration_s=round(first.duration_s + second.duration_s, 3),
                   timed_out=first.timed_out or second.timed_out,
                   outcomes={**first.outcomes, **second.outcomes},
                   tail="\n".join(filter(None, [first.tail, second.tail])),
                   notes=(*first.notes, *second.notes))  # fmt: skip
