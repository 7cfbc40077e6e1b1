"""Gather the evidence about every attempt of a run: git, test runs, metrics, cross-tests.

The I/O half of the comparison (the judging is pure, in :mod:`gates` and :mod:`rank`). Test runs
are the expensive part, so they run in parallel (``jobs``), each in its own checkout: the attempt's
worktree when it is clean and at the attempt's commit, else a temporary detached checkout. The
results on each starting commit are cached by its tree in ``.git/nborch/test-cache``.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..display import plural
from ..errors import NborchError
from ..execute.validate import check_env
from ..gitcmd import Git
from ..holdout import holdouts_of
from ..prompts.context import ProjectContext
from .checkout import temporary_checkout
from .coverage_lines import LineCoverage, changed_lines, line_coverage
from .crosstest import CrossMatrix, CrossSubject, behaviour_clusters, cross_test, test_files_of
from .diffs import DiffStat, diff_stat, merges_cleanly, source_at
from .evidence import AttemptEvidence
from .metrics import MetricsReport, metrics_for
from .pinned import PinPlan, pin_plan, test_modules
from .proof import Proof, prove
from .tests import BaseCache, TestRun, classify_tests, coverage_core, is_pytest, run_tests
from .weakening import (
    changed_tests,
    collection_findings,
    is_config_file,
    is_conftest,
    is_test_file,
    weakening,
)

if TYPE_CHECKING:
    from ..execute.coordinator import Coordinator
    from ..execute.results import AgentExecution
    from ..plan import Plan
    from ..prepare import PreparedAttempt

__all__ = ["CompareOptions", "Gathered", "gather", "start_commit", "test_command_for"]

Progress = Callable[[str], None]
DEPENDENCY_MERGE = "nborch: build on task"  # the subject of the coordinator's dependency merges
PATCH_LINES = 400  # lines of each attempt's patch kept for the side-by-side view


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """How to compare. ``test_command=None`` takes the plan's, else the detected one."""

    test_command: str | None = None
    test_timeout: float = 600.0
    jobs: int = 0  # parallel test runs; 0 = one per core, at most 4
    cross: bool = True
    metrics: bool = True
    # None: measure where it is cheap (Python 3.12+, sys.monitoring); before 3.12 coverage.py's
    # tracer slows the whole suite ~2.8x, more than all the rest of the comparison
    coverage: bool | None = None
    env: Mapping[str, str] | None = None  # extra variables for the test runs

    @property
    def workers(self) -> int:
        return self.jobs if self.jobs > 0 else max(1, min(4, os.cpu_count() or 1))

    def test_env(self) -> dict[str, str]:
        """The test runs' environment: nborch's Python first on PATH, plus :attr:`env`."""
        return {**check_env(), **(self.env or {})}


@dataclass(frozen=True, slots=True)
class Gathered:
    """Everything :func:`gather` found, in assignment order."""

    evidence: tuple[AttemptEvidence, ...]
    matrices: dict[str, CrossMatrix]
    patches: dict[tuple[str, str], str]
    test_command: str | None
    base: str
    notes: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # the extra variables the tests ran with


def test_command_for(run: Coordinator, override: str | None = None) -> tuple[str | None, str]:
    """The test command to judge attempts with, and where it came from."""
    if override:
        return override, "given"
    if run.plan.test_command:
        return run.plan.test_command, "the plan's test_command"
    found = ProjectContext.detect(run.repo).test_command
    if found:
        return found, "detected from the repository"
    return None, "none found"


def start_commit(git: Git, base: str, head: str) -> str:
    """Where the agent began: the latest dependency merge on ``head``'s first-parent line, or
    ``base``. Dependency merges are the coordinator's (subject :data:`DEPENDENCY_MERGE`)."""
    log = git.out("log", "--first-parent", "--format=%H %s", f"{base}..{head}")
    for line in log.splitlines():  # newest first
        sha, _, subject = line.partition(" ")
        if subject.startswith(DEPENDENCY_MERGE):
            return sha
    return base


def _changes(git: Git, diff: DiffStat) -> list[tuple[str, str | None, str | None]]:
    """``(path, before, after)`` texts of the test and config files a diff touches."""
    out = []
    for f in diff.files:
        if f.binary or not (is_test_file(f.path) or is_config_file(f.path) or is_conftest(f.path)):
            continue
        before = None if f.status == "added" else source_at(git, diff.base, f.old_path or f.path)
        after = None if f.status == "deleted" else source_at(git, diff.head, f.path)
        out.append((f.path, before, after))
    return out


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
class _Job:
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
class _Tested:
    own: TestRun
    coverage: LineCoverage | None
    notes: list[str]
    pin: PinPlan
    proof: Proof


class _Tester:
    """Runs test commands on commits in parallel, with the start commits' runs cached."""

    def __init__(self, git: Git, cache: BaseCache, command: str, opts: CompareOptions,
                 stack: ExitStack, pool: ThreadPoolExecutor) -> None:  # fmt: skip
        self.git, self.cache, self.command, self.opts = git, cache, command, opts
        self.stack, self.pool = stack, pool
        self.tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nborch-cmp-")))
        self.env = opts.test_env()
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
            return run_tests(where, command, self.opts.test_timeout, log_path=log,
                             env=self.env, **coverage)  # fmt: skip
        except OSError as err:  # the program is missing or not executable: the same for all
            raise NborchError(f"cannot run the test command `{command}`: {err} — fix "
                              "test_command in the plan, or pass another one "
                              "(--test-command)") from err  # fmt: skip

    def _runner(self, where: Path, command: str, log: Path) -> TestRun:
        return self._run(where, log, command)

    def attempt(self, pa: PreparedAttempt, job: _Job) -> Future[_Tested]:
        return self.pool.submit(self._judged, pa, job)

    def _judged(self, pa: PreparedAttempt, job: _Job) -> _Tested:
        """The attempt's own run, then what judges it: the pinned run and its named tests."""
        own, cov, notes = self._attempt(pa, job.start, job.commit, job.include)
        # the start's run is already running or done: the pool started it before this job
        collected = test_modules(job.baseline.result().outcomes)
        pin = pin_plan(self.git, job.diff, collected)
        proof = prove(self.git, Path(self.git.cwd), job.start, job.commit, pin, own,
                      job.baseline.result(), self.command,
                      job.named, job.holdout, job.commands, self._runner,
                      pa.attempt.attempt_dir / "compare", job.allowed)  # fmt: skip
        return _Tested(own, cov, notes, pin, proof)

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


def _order(run: Coordinator) -> list[PreparedAttempt]:
    return list(run.prepared.attempts) if run.prepared is not None else []


def gather(run: Coordinator, options: CompareOptions | None = None,
           progress: Progress | None = None) -> Gathered:  # fmt: skip
    """Measure every attempt of a finished (or interrupted) run.

    Parameters
    ----------
    run
        The run, e.g. from :meth:`nborch.Run.load`.
    options
        Test command, timeout, parallelism and which signals to measure.
    progress
        Called with a short line as each step starts (the CLI prints them).
    """
    opts = options or CompareOptions()
    say = progress or (lambda _line: None)
    git = Git(run.repo)
    base = run.prepared.run.base_commit
    command, source = test_command_for(run, opts.test_command)
    notes = [f"test command: `{command}` ({source})" if command else
             "no test command: set test_command in the plan, or pass one — without tests the "
             "comparison cannot tell which attempt works"]  # fmt: skip
    attempts = _order(run)
    records: dict[tuple[str, str], dict[str, Any]] = {}
    patches: dict[tuple[str, str], str] = {}
    say(f"diffs{' and metrics' if opts.metrics else ''} of {len(attempts)} attempts")
    for n, pa in enumerate(attempts):
        ex: AgentExecution = run.executions[(pa.attempt.task_id, pa.attempt.agent)]
        rec = records[(ex.task, ex.agent)] = _basics(pa, ex, n)
        if not ex.commit:
            continue
        start = start_commit(git, base, ex.commit)
        diff = diff_stat(run.repo, start, ex.commit)
        touched = _changes(git, diff)
        rec.update(start=start, diff=diff, merge=merges_cleanly(run.repo, base, ex.commit),
                   weakening=tuple(weakening(touched)), test_files=test_files_of(diff))
        if run.plan[ex.task].changes_tests:  # shown side by side: the task may change them
            rec["changed_tests"] = tuple(changed_tests(touched))
        patch = git.run("diff", "--no-color", "-M", start, ex.commit, check=False).stdout
        lines = patch.splitlines()
        patches[(ex.task, ex.agent)] = "\n".join(lines[:PATCH_LINES]) + (
            f"\n… {len(lines) - PATCH_LINES} more lines" if len(lines) > PATCH_LINES else "")
        if opts.metrics:
            rec["metrics"] = _code_only(metrics_for(run.repo, start, ex.commit, diff.paths))

    matrices: dict[str, CrossMatrix] = {}
    if command:
        notes += _run_tests(git, command, opts, run.plan, attempts, records, say)
        if opts.cross and is_pytest(command):
            matrices = _cross(run, command, opts, attempts, records, say)
    evidence = tuple(AttemptEvidence(**records[(pa.attempt.task_id, pa.attempt.agent)])
                     for pa in attempts)  # fmt: skip
    return Gathered(evidence, matrices, patches, command, base, tuple(notes), dict(opts.env or {}))


def _code_only(report: MetricsReport) -> MetricsReport:
    """The report with complexity and maintainability deltas over the code, not its tests.

    A new test function (and each assertion in it) adds cyclomatic complexity; counted, that
    would rank an attempt lower for adding tests. New lint in test files still counts, and the
    per-file figures stay in ``files``.
    """
    code = [f for f in report.files if not is_test_file(f.path)]
    cc = [f.complexity_delta for f in code if f.complexity_delta is not None]
    mi = [f.mi_delta for f in code if f.mi_delta is not None]
    return replace(report, complexity_delta=sum(cc), mi_delta=sum(mi) / len(mi) if mi else None)


def _basics(pa: PreparedAttempt, ex: AgentExecution, order: int) -> dict[str, Any]:
    return dict(task=ex.task, agent=ex.agent, status=str(ex.status), branch=ex.branch,
                commit=ex.commit or None, start=pa.attempt.base_commit, order=order,
                validation=ex.validation, checks=tuple(ex.validation_details),
                input_tokens=ex.input_tokens, output_tokens=ex.output_tokens,
                cost_usd=ex.cost_usd, duration_s=ex.duration_s)  # fmt: skip


def _measure_coverage(git: Git, command: str, opts: CompareOptions) -> tuple[bool, list[str]]:
    """Whether to measure coverage of changed lines, and a note when it is not measured."""
    if opts.coverage is not None:
        return opts.coverage, []
    core, why = coverage_core(command, git.cwd, opts.test_env())
    if core == "sysmon":
        return True, []
    return False, [why or "coverage of changed lines not measured: before Python 3.12 coverage.py "
                   "traces every line and slows the whole test suite ~2.8x — pass coverage=True "
                   "(--coverage) to measure it anyway"]  # fmt: skip


def _run_tests(git: Git, command: str, opts: CompareOptions, plan: Plan,
               attempts: Iterable[PreparedAttempt], records: dict[tuple[str, str], dict[str, Any]],
               say: Progress) -> list[str]:  # fmt: skip
    """Run the tests of every changed attempt and its starting point; notes for the report."""
    cache = BaseCache(_common_dir(git) / "nborch" / "test-cache")
    measure, notes = _measure_coverage(git, command, opts)
    holdouts = holdouts_of(plan, git.cwd)
    if holdouts:
        notes.append(f"held-out tests: {', '.join(sorted({str(h) for h in holdouts.values()}))} "
                     "(never shown to agents) join each attempt's pinned run")  # fmt: skip
    allowed = {t.id for t in plan.tasks if t.changes_tests}
    with ExitStack() as stack, ThreadPoolExecutor(opts.workers, "nborch-tests") as pool:
        tester = _Tester(git, cache, command, opts, stack, pool)
        pending = {}
        for pa in attempts:
            key = (pa.attempt.task_id, pa.attempt.agent)
            rec = records[key]
            if rec.get("diff") is None or not rec["diff"].files:
                continue
            baseline = tester.baseline(rec["start"])
            include = [f.path for f in rec["diff"].files if f.path.endswith(".py")
                       and f.status != "deleted" and not is_test_file(f.path)] if measure else []  # fmt: skip
            task = plan[pa.attempt.task_id]
            validated = rec.get("validation") in ("passed", "failed")
            job = _Job(rec["start"], rec["commit"], rec["diff"], include, baseline,
                       task.named_tests, holdouts.get(pa.attempt.task_id),
                       task.commands if validated else None, task.changes_tests)  # fmt: skip
            pending[key] = (baseline, tester.attempt(pa, job))
        say(f"tests: {len(pending)} attempts and {plural(tester.starts, 'starting point')}, "
            f"{opts.workers} at a time")
        for key, (baseline, attempt) in pending.items():
            rec = records[key]
            base_run = baseline.result()
            done = attempt.result()
            rec["notes"] = (*rec.get("notes", ()), *done.notes, *done.proof.notes)
            _judge(rec, base_run, done, allowed=rec["task"] in allowed)
            if base_run.timed_out:
                why = (f"the tests did not finish on the starting commit {rec['start'][:12]} in "
                       f"{opts.test_timeout:g} s: nothing to compare this attempt's results with")
                rec["notes"] = (*rec.get("notes", ()), why)
            if (cov := done.coverage) is not None:
                rec["coverage"] = cov.fraction
                rec["coverage_lines"] = (cov.covered, cov.total) if cov.total else None
                rec["notes"] = tuple(rec.get("notes", ())) + tuple(cov.notes)
    return notes


def _judge(rec: dict[str, Any], base: TestRun, done: _Tested, allowed: bool) -> None:
    """Fill an attempt's record from its runs: which run judges it, the test delta, the named
    tests, where its own tree and the pinned tree disagree, and what pytest saw it weaken."""
    own, proof = done.own, done.proof
    pinned = proof.pinned
    judge = own if pinned is None or allowed else pinned
    # a run killed at the timeout has no per-test results: comparing it would call every test it
    # never reached "broken" (or, on the base side, every test "new")
    finished = not (base.timed_out or judge.timed_out)
    delta = classify_tests(base, judge) if finished else None
    if delta is not None and judge is not own and not own.timed_out:
        mine = classify_tests(base, own)  # its new tests live only in its own tree
        # what fails in its own tree counts too: its test changes (a shared fixture) merge with
        # it; tests gone or skipped there are the weakening gate's to judge
        failing = {t for t in mine.broken if own.outcomes.get(t) in ("failed", "error")}
        broken = tuple(sorted({*delta.broken, *failing}))
        delta = replace(delta, new_passing=mine.new_passing, new_failing=mine.new_failing,
                        broken=broken)  # fmt: skip
    rec.update(baseline=base, tests=judge, delta=delta, own=own, pinned=pinned,
               pins=done.pin.described, named=proof.named, changes_tests=allowed)  # fmt: skip
    if pinned is not None and not (own.timed_out or pinned.timed_out):
        rec["disagree"] = disagreement(base, own, pinned)
    if proof.checks is not None:  # the coordinator's verdict came from the attempt's own tests
        again = {c["command"]: c for c in proof.checks}
        # test-id checks are the named_tests gate's; checks of new test files keep their verdict
        kept = [again.get(c.get("command"), c) for c in rec.get("checks", ())
                if c.get("command") in again or not c.get("named")]  # fmt: skip
        kept += [c for c in proof.checks if c not in kept]
        verdict = "" if not kept else "passed" if all(c["passed"] for c in kept) else "failed"
        rec.update(checks=tuple(kept), validation=verdict)
    if not base.timed_out and not own.timed_out and own.runner == "pytest":
        found = collection_findings(dict(base.outcomes), dict(own.outcomes), rec.get("weakening", ()))
        rec["weakening"] = (*rec.get("weakening", ()), *found)
    if allowed:
        rec["weakening"] = tuple(f for f in rec.get("weakening", ()) if f.kind != "assertions-changed")


def disagreement(base: TestRun, own: TestRun, pinned: TestRun) -> tuple[str, ...]:
    """Tests that do not pass with the start's tests put back, yet pass in the attempt's own tree —
    or are hidden there (skipped, or not collected though the start had them)."""
    out = []
    for tid, outcome in pinned.outcomes.items():
        if outcome not in ("failed", "error"):
            continue
        mine = own.outcomes.get(tid)
        if mine in ("passed", "skipped") or (mine is None and tid in base.outcomes):
            out.append(tid)
    return tuple(sorted(out))


def _common_dir(git: Git) -> Path:
    common = Path(git.out("rev-parse", "--git-common-dir"))
    return (common if common.is_absolute() else Path(git.cwd) / common).resolve()


def _cross(run: Coordinator, command: str, opts: CompareOptions,
           attempts: Sequence[PreparedAttempt], records: dict[tuple[str, str], dict[str, Any]],
           say: Progress) -> dict[str, CrossMatrix]:  # fmt: skip
    by_task: dict[str, list[dict[str, Any]]] = {}
    for pa in attempts:
        rec = records[(pa.attempt.task_id, pa.attempt.agent)]
        if rec.get("diff") is not None and rec["diff"].files:
            by_task.setdefault(rec["task"], []).append(rec)
    matrices = {}
    for task, recs in by_task.items():
        if len(recs) < 2 or not any(r["test_files"] for r in recs):
            continue
        say(f"cross-tests {task}: {len(recs)} attempts")
        # a weakened attempt's tests are no evidence (rank ignores them): run none of them
        subjects = [CrossSubject(r["agent"], r["commit"],
                                 () if any(f.weakens for f in r.get("weakening", ())) else r["test_files"])
                    for r in recs]  # fmt: skip
        own = {r["agent"]: r["own"] for r in recs if r.get("own") is not None}
        matrix = cross_test(run.repo, subjects, command, timeout=opts.test_timeout,
                            env=opts.env, jobs=opts.workers, own=own)  # fmt: skip
        matrices[task] = matrix
        clusters = behaviour_clusters(matrix)
        new = {r["agent"]: _new_tests(matrix, r) for r in recs}
        for r in recs:
            r["cross"] = {a: counted for a in matrix.subjects
                          if (counted := _pass_count(matrix, a, r["agent"], new[a]))[1]}  # fmt: skip
            r["cluster"] = next((n for n, c in enumerate(clusters, 1) if r["agent"] in c), None)
    return matrices


def _new_tests(matrix: CrossMatrix, rec: dict[str, Any]) -> frozenset[str]:
    """The author's tests that did not exist where it started: an edited test file also holds
    old tests, which say nothing about the new work."""
    before = rec["baseline"].outcomes if rec.get("baseline") is not None else {}
    return frozenset(t for t in matrix.authored_by(rec["agent"]) if t not in before)


def _pass_count(matrix: CrossMatrix, author: str, runner: str,
                tests: frozenset[str]) -> tuple[int, int]:  # fmt: skip
    cell = matrix.cells.get((author, runner), {})
    return sum(1 for t in tests if cell.get(t) == "passed"), len(tests)

