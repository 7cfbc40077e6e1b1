"""The test runs of a comparison: each start commit once (cached by tree), each attempt in its
own checkout, then what judges it (:func:`.proof.prove`) — in parallel on a thread pool.

The attempt's own worktree runs its tests when it is clean and at the attempt's commit; otherwise
(cleaned up, edited since) a temporary detached checkout does.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..display import plural
from ..errors import NborchError
from ..gitcmd import Git
from .checkout import temporary_checkout
from .coverage_lines import LineCoverage, changed_lines, line_coverage
from .diffs import DiffStat
from .pinned import PinPlan, pin_plan, test_modules
from .proof import Proof, prove
from .tests import BaseCache, TestRun, run_tests

if TYPE_CHECKING:
    from ..prepare import PreparedAttempt

__all__ = ["Job", "Tested", "Tester"]


def _untracked(worktree: Path) -> set[str]:
    """Untracked, not ignored files of a worktree (paths relative to it)."""
    out = Git(worktree).run("status", "--porcelain", "-z", "--untracked-files=all", check=False)
    return {entry[3:] for entry in out.stdout.split("\0") if entry.startswith("?? ")}


def _usable_worktree(path: Path, commit: str) -> bool:
    """Whether the attempt's own worktree can run its tests: present, at ``commit``, clean."""
    if not (path / ".git").exists():
        return False
    git = Git(path)
    head = git.run("rev-parse", "HEAD", check=False)
    if not head.ok or head.stdout.strip() != commit:
        return False
    return git.out("status", "--porcelain", "--untracked-files=no") == ""


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
                 env: dict[str, str], stack: ExitStack, pool: ThreadPoolExecutor) -> None:  # fmt: skip
        self.git, self.cache, self.command, self.timeout = git, cache, command, timeout
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
        cached = self.cache.get(tree, self.command)
        if cached is not None:
            return cached
        with temporary_checkout(self.git, commit, "nborch-base-") as where:
            run = self._run(where, self.cache.cache_dir / f"{tree}.log")
        if not run.timed_out:  # a hang may be the machine's fault: measure it again next time
            self.cache.put(tree, self.command, run)
        return run

    def _run(self, where: Path, log: Path, command: str | None = None, **coverage: Any) -> TestRun:
        command = command or self.command
        try:
            return run_tests(where, command, self.timeout, log_path=log,
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
        own, cov, notes = self._attempt(pa, job.start, job.commit, job.include)
        # the start's run is already running or done: the pool started it before this job
        collected = test_modules(job.baseline.result().outcomes)
        pin = pin_plan(self.git, job.diff, collected)
        proof = prove(self.git, Path(self.git.cwd), job.start, job.commit, pin, own,
                      job.baseline.result(), self.command,
                      job.named, job.holdout, job.commands, self._runner,
                      pa.attempt.attempt_dir / "compare", job.allowed)  # fmt: skip
        return Tested(own, cov, notes, pin, proof)

    def _attempt(self, pa: PreparedAttempt, start: str, commit: str, include: Sequence[str]
                 ) -> tuple[TestRun, LineCoverage | None, list[str]]:  # fmt: skip
        """The attempt's test run, its coverage of changed lines, and notes for the report."""
        with ExitStack() as stack:
            where, notes = pa.attempt.path, []
            own = _usable_worktree(where, commit)
            if not own:
                where = stack.enter_context(temporary_checkout(self.git, commit, "nborch-attempt-"))
            before = _untracked(where) if own else set()
            data = self.tmp / f"{pa.attempt.name}.coverage"
            cov: dict[str, Any] = ({"coverage_include": list(include), "coverage_file": data}
                                   if include else {})  # fmt: skip
            run = self._run(where, pa.attempt.attempt_dir / "compare" / "tests.log", **cov)
            if own and (left := sorted(_untracked(where) - before)):
                # the person's worktree: say so rather than delete what might be theirs
                notes.append(f"the tests left {plural(len(left), 'untracked file')} in the "
                             f"attempt's worktree: {', '.join(left[:3])}"
                             + (" …" if len(left) > 3 else ""))  # fmt: skip
            if not include:
                return run, None, notes
            # coverage reads the sources it measured, so this happens while the checkout exists
            lines = changed_lines(self.git.cwd, start, commit, include)
            return run, line_coverage(data, where, lines), notes
