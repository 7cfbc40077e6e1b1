"""Gather the evidence about every attempt of a run: git, test runs, metrics, cross-tests.

The I/O half of the comparison (the judging is pure, in :mod:`gates` and :mod:`rank`). Test runs
are the expensive part, so they run in parallel (``jobs``), each in a temporary detached checkout
of its commit, never the agent's worktree (:mod:`.tester`); what judges each attempt is its pinned
run (:mod:`.pinned`, :mod:`.proof`, :mod:`.verdict`). The results on each starting commit are cached by its tree in
``.git/nborch/test-cache``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..display import plural
from ..execute.validate import check_env, test_env_of
from ..gitcmd import Git
from ..plan.holdout import holdouts_of
from ..workspace.prompts.context import ProjectContext
from .crosstest import CrossMatrix, CrossSubject, behaviour_clusters, cross_test, test_files_of
from .diffs import DiffStat, diff_stat, merges_cleanly, source_at
from .evidence import AttemptEvidence
from .findings import Finding
from .metrics import MetricsReport, metrics_for
from .pinned import shadows
from .remote import RemoteTestRunner, on_dask
from .tester import Job, Tester
from .tests import BaseCache, TestRun, coverage_core, is_pytest, run_tests
from .verdict import judge_record
from .weakening import changed_tests, is_config_file, is_conftest, is_test_file, weakening

if TYPE_CHECKING:
    from ..execute.results import AgentExecution
    from ..plan.model import Plan
    from ..workspace.prepare import PreparedAttempt, PreparedRun

__all__ = ["CompareOptions", "Gathered", "RecordedRun", "gather", "start_commit", "test_command_for"]


class RecordedRun(Protocol):
    """What the comparison needs of a run: a :class:`~nborch.Run` fits, loaded or just ended."""

    repo: Path
    plan: Plan
    prepared: PreparedRun | None
    executions: Mapping[tuple[str, str], AgentExecution]

    @property
    def running(self) -> bool: ...

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
    pass_env: tuple[str, ...] = ()  # names or globs passed through from nborch's environment
    executor: Any = None  # where test runs happen: None/"local" here, "dask" or a DaskExecutor

    @property
    def workers(self) -> int:
        if self.jobs > 0:
            return self.jobs
        dask = on_dask(self.executor)
        return dask.threads if dask is not None else max(1, min(4, os.cpu_count() or 1))

    def runner(self, repo: str | Path, base: str) -> Callable[..., TestRun]:
        """What runs one test command in a checkout: :func:`run_tests` here, or on Dask."""
        dask = on_dask(self.executor)
        if dask is None:
            return run_tests
        return RemoteTestRunner(dask, repo, base, self.pass_env, self.env)

    def test_env(self) -> dict[str, str]:
        """The test runs' environment: allow-listed like an agent's (no credentials unless
        :attr:`pass_env` names them), nborch's Python first on PATH, plus :attr:`env`."""
        return {**check_env(allow=self.pass_env), **(self.env or {})}


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


def test_command_for(run: RecordedRun, override: str | None = None) -> tuple[str | None, str]:
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


def _shadowing(diff: DiffStat) -> list[Finding]:
    """Files that would be imported instead of pytest's machinery or the standard library."""
    out = []
    for f in diff.files:
        if f.status != "deleted" and (name := shadows(f.path)) is not None:
            out.append(Finding("shadows-module", f.path, f"the tests would import it instead of "
                                                         f"the module {name!r}"))  # fmt: skip
    return out


def _order(run: RecordedRun) -> list[PreparedAttempt]:
    return list(run.prepared.attempts) if run.prepared is not None else []


def gather(run: RecordedRun, options: CompareOptions | None = None,
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
    opts = replace(opts, pass_env=(*opts.pass_env, *test_env_of(run.plan)))
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
                   weakening=(*weakening(touched), *_shadowing(diff)),
                   test_files=test_files_of(diff))  # fmt: skip
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
        runner = opts.runner(run.repo, base)
        notes += _run_tests(git, command, opts, run.plan, attempts, records, say, runner)
        if opts.cross and is_pytest(command):
            matrices = _cross(run, command, opts, attempts, records, say, runner)
    evidence = tuple(AttemptEvidence(**records[(pa.attempt.task_id, pa.attempt.agent)])
                     for pa in attempts)  # fmt: skip
    passed = {k: v for k, v in opts.test_env().items() if k not in check_env()}
    return Gathered(evidence, matrices, patches, command, base, tuple(notes),
                    {**passed, **(opts.env or {})})  # fmt: skip


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
               say: Progress, runner: Callable[..., TestRun] = run_tests) -> list[str]:  # fmt: skip
    """Run the tests of every changed attempt and its starting point; notes for the report."""
    cache = BaseCache(_common_dir(git) / "nborch" / "test-cache")
    measure, notes = _measure_coverage(git, command, opts)
    holdouts = holdouts_of(plan, git.cwd)
    if holdouts:
        notes.append(f"held-out tests: {', '.join(sorted({str(h) for h in holdouts.values()}))} "
                     "(never shown to agents) join each attempt's pinned run")  # fmt: skip
    allowed = {t.id for t in plan.tasks if t.changes_tests}
    with ExitStack() as stack, ThreadPoolExecutor(opts.workers, "nborch-tests") as pool:
        tester = Tester(git, cache, command, opts.test_timeout, opts.test_env(), stack, pool, runner)
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
            job = Job(rec["start"], rec["commit"], rec["diff"], include, baseline,
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
            judge_record(rec, base_run, done, allowed=rec["task"] in allowed)
            if base_run.timed_out:
                why = (f"the tests did not finish on the starting commit {rec['start'][:12]} in "
                       f"{opts.test_timeout:g} s: nothing to compare this attempt's results with")
                rec["notes"] = (*rec.get("notes", ()), why)
            if (cov := done.coverage) is not None:
                rec["coverage"] = cov.fraction
                rec["coverage_lines"] = (cov.covered, cov.total) if cov.total else None
                rec["notes"] = tuple(rec.get("notes", ())) + tuple(cov.notes)
    return notes


def _common_dir(git: Git) -> Path:
    common = Path(git.out("rev-parse", "--git-common-dir"))
    return (common if common.is_absolute() else Path(git.cwd) / common).resolve()


def _cross(run: RecordedRun, command: str, opts: CompareOptions,
           attempts: Sequence[PreparedAttempt], records: dict[tuple[str, str], dict[str, Any]],
           say: Progress, runner: Callable[..., TestRun] = run_tests) -> dict[str, CrossMatrix]:  # fmt: skip
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
                            env=opts.test_env(), jobs=opts.workers, own=own, runner=runner)  # fmt: skip
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

