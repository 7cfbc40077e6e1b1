"""The coordinator: runs every attempt of a run in parallel, in dependency order, and records it.

>>> run = nborch.Coordinator("repo", team, max_concurrent=5, timeout="20m")   # doctest: +SKIP
>>> await run                        # in a notebook; run.run_sync() elsewhere     # doctest: +SKIP
>>> run.summary()                                                             # doctest: +SKIP

Life of an attempt: pending → blocked (while the tasks it depends on run) → running → completed,
failed, timeout or cancelled. Whatever way it ends, what the agent wrote is committed on its
branch (WIP when it did not complete): work is never thrown away. Every change of state is a
:class:`~nborch.events.RunEvent` for subscribers (the notebook view, the CLI) and a row in the
store, so a run killed mid-way is found *interrupted* and can be resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import agents as registry
from ..agents.parsers import looks_like_auth, looks_transient
from ..durations import format_duration
from ..errors import AgentError, NborchError
from ..events import AgentEvent, AttemptState, RunEvent, UsageTally
from ..gitcmd import RepoLike, repo_path
from ..log import logger
from ..plan.model import Plan
from ..procs import process_identity
from ..team.assign import Assignments
from ..workspace.prepare import PreparedAttempt, PreparedRun, prepare
from ..workspace.status import worktree_problem
from .budget import DEFAULT_PRICE, Budget, Prices
from .cache import attempt_key, find_cached, origin, reused_fields
from .control import RunControl, Subscriber
from .executor import ExecutionResult, Executor, LocalExecutor, stop_leftover
from .gitwork import Workspace
from .jobs import build_job
from .loop import PriorityGate
from .options import RunOptions
from .recorder import Recorder
from .results import AgentExecution
from .validate import run_checks, verdict

S = AttemptState
_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class Coordinator(RunControl):
    """Run the attempts of a plan or of assignments; see the module docstring.

    Parameters
    ----------
    repo:
        The git repository the run works on (a folder, or a ``git.Repo``).
    work:
        A :class:`~nborch.Plan` (assigned with ``agents``/``per_task``), an
        :class:`~nborch.Assignments`, or a :class:`~nborch.workspace.prepare.PreparedRun`.
    options:
        A :class:`~nborch.execute.options.RunOptions`; or give its fields as keywords:
        ``max_concurrent`` (attempts at once), ``timeout`` (per attempt, e.g. ``"20m"``; None for
        no limit), ``retries`` (extra tries for failures that look transient: rate limits, 5xx),
        ``model``, ``validate`` (run each completed attempt's validation criteria),
        ``check_timeout``, ``backoff``, ``race`` (stop a task's other attempts once one
        completes and passes its checks).
    executor:
        Where processes run: ``"local"`` (default, :class:`~nborch.execute.executor.LocalExecutor`),
        ``"dask"`` (:class:`~nborch.execute.cluster.DaskExecutor` on a LocalCluster), or any
        :class:`~nborch.execute.executor.Executor` (``DaskExecutor(client)``).
    agents, per_task, root, base, include_done:
        How a plan is assigned and prepared (see :func:`nborch.assign`, :func:`nborch.prepare`).
    """

    def __init__(self, repo: RepoLike, work: Plan | Assignments | PreparedRun,
                 options: RunOptions | None = None, *, executor: Executor | str | None = None,
                 agents: Sequence[str] | None = None, per_task: int | str = 1,
                 root: str | Path | None = None, base: str | None = None,
                 include_done: bool = False, **option_values: Any):  # fmt: skip
        if options is not None and option_values:
            raise NborchError("pass either options=RunOptions(...) or keyword options "
                              f"({', '.join(sorted(option_values))}), not both")  # fmt: skip
        self.options = options if options is not None else RunOptions.of(**option_values)
        repo = repo_path(repo)
        self.repo = Path(repo)
        self.prepared = work if isinstance(work, PreparedRun) else None
        if isinstance(work, PreparedRun):
            self.assignments = work.assignments
        elif isinstance(work, Assignments):
            self.assignments = work
        else:
            from ..agents.config import load_repo_agents
            from ..team.assign import assign
            from ..team.history import load_history

            load_repo_agents(repo)  # a plan may name the repository's own script agents
            history = load_history(repo) if per_task == "auto" else None
            self.assignments = assign(work, agents=agents, per_task=per_task, history=history)
        self.plan = self.assignments.plan
        self.gate = PriorityGate(self.options.max_concurrent)
        self.executor = executor_of(executor)
        self._owns_executor = executor is None or isinstance(executor, str)  # so it closes it
        self.include_done, self.root, self.base = include_done, root, base
        # A prepared run's attempts are exactly the ones it prepared (done tasks included or not).
        keys = ([p.key for p in work.attempts] if isinstance(work, PreparedRun) else
                [(t, a) for t, a in self.assignments.attempts
                 if include_done or not self.plan[t].done])  # fmt: skip
        self.executions: dict[tuple[str, str], AgentExecution] = {
            (t, a): AgentExecution(t, a, is_demo=registry.get(a).is_demo) for t, a in keys
        }
        self._subscribers: list[Subscriber] = []
        self._cancel: dict[tuple[str, str], asyncio.Event] = {}
        self._manual_done: dict[tuple[str, str], asyncio.Event] = {}
        self._task_final: dict[str, asyncio.Event] = {}
        self._task_keys: dict[str, list[tuple[str, str]]] = {}
        self._future: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.recorder: Recorder | None = None
        self.workspace: Workspace | None = None
        self.error: BaseException | None = None
        self._skip: set[tuple[str, str]] = set()  # attempts a resumed run keeps as they are
        # attempts stopped early: (reason, what to say) — a race was won, the budget is spent
        self._stopped: dict[tuple[str, str], tuple[str, str]] = {}
        self._ran_before: set[tuple[str, str]] = set()  # resumed attempts: never replaced by the cache
        # a task's budget: the run's options for it, else its plan's ``Budget:`` line
        per_task_usd = {t.id: t.budget_usd for t in self.plan if t.budget_usd is not None}
        self.budget = Budget(self.options.budget_usd, {**per_task_usd, **self.options.task_budget_usd},
                             Prices(self.options.prices))  # fmt: skip
        # the result cache's answers per task, and (race mode) the attempts whose cached result
        # passed and has yet to be put on their branch
        self._lookups: dict[str, asyncio.Future[dict[tuple[str, str], tuple[Any, str]]]] = {}
        self._hits_pending: dict[str, set[tuple[str, str]]] = {}
        self._hits_settled: dict[str, asyncio.Event] = {}
        self._by_key: dict[tuple[str, str], PreparedAttempt] = {}
        self._resumed = False

    @classmethod
    def load(cls, repo: RepoLike, run_id: str, **options: Any) -> Coordinator:
        """A recorded run with its results; attempts whose coordinator died are *interrupted*.

        ``options`` (``timeout``, ``max_concurrent``…) change the ones the run was started with;
        ``None`` keeps the saved value (``timeout="none"`` removes the limit).
        """
        from .runs import load_run

        return load_run(repo, run_id, cls=cls, **options)

    def resume(self, retry_failed: bool = False) -> Coordinator:
        """Run again only what did not finish (and, with ``retry_failed``, what failed), in the
        same worktrees, after committing what they hold as WIP. Starts the run and returns it."""
        if self._future is not None and not self._future.done():
            raise NborchError("the run is still going — wait for it (or cancel it) before resume()")
        if self.id is not None:
            from ..workspace.manager import WorktreeManager
            from .runs import mark_interrupted

            manager = WorktreeManager(self.repo)
            mark_interrupted(manager, self.id)  # the record says what happened before the resume
            with manager.store() as store:  # one process resumes a run: the claim is atomic
                other = store.claim_run(self.id, *process_identity())
            if other is not None:
                raise NborchError(f"run {self.id} is still being run by process {other}; resume "
                                  "it once that process has ended")  # fmt: skip
        again = {S.PENDING, S.BLOCKED, S.RUNNING, S.INTERRUPTED}
        if retry_failed:
            again |= {S.FAILED, S.TIMEOUT, S.CANCELLED}
        self._skip = {k for k, ex in self.executions.items() if ex.status not in again}
        # An attempt that started before holds work (committed as WIP when the run resumes): the
        # cache must not put another result over it.
        self._ran_before = {k for k, ex in self.executions.items()
                            if k not in self._skip and (ex.started_at is not None or ex.tries)}
        for key, ex in self.executions.items():
            if key not in self._skip:
                fresh = AgentExecution(ex.task, ex.agent, is_demo=ex.is_demo)
                fresh.tries, fresh.log_path = ex.tries, ex.log_path
                if not ex.cached_from:  # what earlier tries spent still counts, budget too
                    fresh.input_tokens, fresh.output_tokens = ex.input_tokens, ex.output_tokens
                    fresh.cost_usd = ex.cost_usd
                self.executions[key] = fresh
        # A run that already ran in this process starts afresh: new loop state, no old cancels.
        self._resumed, self._future, self._loop, self.error = True, None, None, None
        self._cancel, self._manual_done, self._task_final = {}, {}, {}
        self._stopped, self._lookups = {}, {}
        self.budget.live.clear()
        self._hits_pending, self._hits_settled = {}, {}
        return self.start()

    def check_agents(self) -> None:
        """Raise AgentError naming every agent that is not installed, and how to install it."""
        missing = sorted({a for _, a in self.executions if not registry.get(a).available()})
        if missing:
            lines = [registry.get(a).unavailable_reason() or a for a in missing]
            raise AgentError("cannot start: " + "; ".join(lines))

    def set_state(self, ex: AgentExecution, state: AttemptState, error: str = "") -> None:
        if state == S.CANCELLED and (ex.task, ex.agent) in self._stopped:
            ex.reason, said = self._stopped[(ex.task, ex.agent)]
            error = said + (f" ({error})" if error and error != "cancelled" else "")
        logger.info("run %s, task %s, %s: %s%s", self.id, ex.task, ex.agent, state,
                    f" — {error}" if error else "")  # fmt: skip
        ex.status = state
        if error:
            ex.error = error
        if state == S.RUNNING and ex.started_at is None:
            ex.started_at = datetime.now(UTC)
        if state.is_final and ex.ended_at is None:
            ex.ended_at = datetime.now(UTC)
        if self.recorder is not None:
            self.recorder.save(ex)
        self.emit(RunEvent("state", self.id or "", ex.task, ex.agent, state, text=error))

    async def _main(self) -> None:
        try:
            if self.prepared is None:
                self.prepared = await asyncio.to_thread(
                    prepare, self.repo, self.assignments, root=self.root, base=self.base,
                    include_done=self.include_done, live=True)  # fmt: skip
            self.workspace = Workspace(self.repo, self.prepared)
            notes = [n for n in (*self.race_notes(), *self.budget_notes())
                     if n not in self.prepared.warnings]  # fmt: skip
            if notes:  # said with prepare's warnings, before anything runs
                self.prepared = replace(self.prepared, warnings=(*self.prepared.warnings, *notes))
            self.recorder = Recorder(self.workspace.manager, self.prepared, self.options.to_dict())
            self.recorder.begin(self.executions.values())
            if self._resumed:  # keep what an earlier try left in the worktrees
                for pa in self.prepared.attempts:
                    if pa.key in self.executions and pa.key not in self._skip:
                        await asyncio.to_thread(stop_leftover, pa.attempt.attempt_dir)
                        await asyncio.to_thread(self.workspace.commit, pa, S.INTERRUPTED, True)
            self._task_keys = {}
            for key in self.executions:  # a scan per finished attempt would be quadratic
                self._task_keys.setdefault(key[0], []).append(key)
            for t in self._task_keys:
                self._task_final[t] = asyncio.Event()
            self.emit(RunEvent("run", self.id or "", text="started"))
            for (t, a), ex in self.executions.items():
                if (t, a) not in self._skip:
                    self.emit(RunEvent("state", self.id or "", t, a, ex.status))
            by_key = {p.key: p for p in self.prepared.attempts}
            # Started in priority order: the first ones take free slots before the others queue.
            order = sorted(self.executions, key=lambda k: _RANK.get(self.plan[k[0]].priority, 2))
            self._by_key = by_key
            ready = [by_key[k] for k in order if k not in self._skip and not by_key[k].task.depends_on]
            looked = await asyncio.to_thread(lambda: {pa.key: self._look_up(pa) for pa in ready})
            for pa in ready:  # answered already: awaiting them does not yield to other attempts
                fut = self._lookups.setdefault(pa.key[0], asyncio.get_running_loop().create_future())
                if not fut.done():
                    fut.set_result({k: v for k, v in looked.items() if k[0] == pa.key[0]})
            await asyncio.gather(*(self._attempt(by_key[k]) for k in order))
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            if self.recorder is not None:
                self.recorder.end(self.executions.values())
            close = getattr(self.executor, "close", None)
            if self._owns_executor and close is not None:  # a LocalCluster made for this run
                await asyncio.to_thread(close)
            self.emit(RunEvent("run", self.id or "", text="finished"))

    async def _attempt(self, pa: PreparedAttempt) -> None:
        ex = self.executions[pa.key]
        ex.branch, ex.worktree = pa.attempt.branch, str(pa.attempt.path)
        if pa.key in self._skip:
            self._maybe_task_final(pa.attempt.task_id)
            return
        try:
            await self._attempt_body(pa, ex)
        except Exception as exc:  # a bug or an I/O error: the attempt fails, the run goes on
            if not ex.status.is_final:
                self.set_state(ex, S.FAILED, f"nborch error: {exc!r}")
        finally:
            self._settle(pa.key)  # however it ended, its siblings wait no longer
            self._maybe_task_final(pa.attempt.task_id)

    async def _attempt_body(self, pa: PreparedAttempt, ex: AgentExecution) -> None:
        cancel = self._cancel_event(pa.key)
        if pa.task.depends_on:
            logger.info("task %s, %s: waits for task(s) %s", pa.attempt.task_id, pa.attempt.agent,
                        ", ".join(pa.task.depends_on))  # fmt: skip
            self.set_state(ex, S.BLOCKED)
            blocked = await self._wait_dependencies(pa, ex, cancel)
            if blocked:
                return
        if await self._reuse(pa, ex, cancel):
            return
        self._check_budget(pa.task.id)  # a resumed run may have spent it all already
        if not await self._take_slot(pa, cancel):
            self.set_state(ex, S.CANCELLED, "cancelled before it started")
            return
        try:
            assert self.workspace is not None
            # Without dependencies the agent starts from the base; with them, after the merges.
            ex.start_commit = (await asyncio.to_thread(self.workspace.head, pa)
                               if pa.task.depends_on else pa.attempt.base_commit)  # fmt: skip
            # no await from here to "running": attempts starting at once see each other
            refused = self.budget.refusal(ex, self.executions)
            if refused:
                self._stopped[pa.key] = ("budget", refused)
                self.set_state(ex, S.CANCELLED, "not started")
                return
            self.set_state(ex, S.RUNNING)
            state, error = await self._execute(pa, ex, cancel)
            # The slot is held until the work is committed and checked: "running" attempts
            # (agent, commit or checks) never outnumber max_concurrent.
            await self._finish(pa, ex, state, error)
        finally:
            self.gate.release()

    def _look_up(self, pa: PreparedAttempt) -> tuple[Any, str]:
        """The result cache (blocking): work out the attempt's key (kept, so later runs can
        reuse this one) and find a completed attempt of another run with the same one;
        ``(record or None, what went wrong or "")``."""
        assert self.workspace is not None and self.recorder is not None
        ex = self.executions[pa.key]
        deps = [(d, self._chosen(d)) for d in pa.task.depends_on if d in self._task_final]
        try:
            ex.cache_key = attempt_key(pa, model=self.options.model,
                                       dependencies=[(d, w.commit if w else None) for d, w in deps])  # fmt: skip
            # not for what a person does (a manual agent), nor over an earlier try's work
            if not self.options.cache or pa.spec.kind == "manual" or pa.key in self._ran_before:
                return None, ""
            return find_cached(self.recorder.store, self.workspace.manager, ex.cache_key,
                               self.id or ""), ""  # fmt: skip
        except (OSError, sqlite3.Error, NborchError) as err:
            return None, f"the result cache could not be read ({err}); the agent runs"

    async def _task_lookup(self, task: str) -> dict[tuple[str, str], tuple[Any, str]]:
        """The result cache's answer for every attempt of ``task``, looked up once, together
        (so in race mode each attempt knows whether a sibling's cached result passed). Tasks
        without dependencies were looked up before any attempt started: their answer is there
        without a wait, and the attempts reach the slots in priority order."""
        fut = self._lookups.get(task)
        if fut is None:
            pas = [self._by_key[k] for k in self._task_keys.get(task, ()) if k not in self._skip]
            fut = asyncio.ensure_future(asyncio.to_thread(
                lambda: {pa.key: self._look_up(pa) for pa in pas}))  # fmt: skip
            self._lookups[task] = fut
        found = await fut
        if task not in self._hits_pending:
            self._hits_pending[task] = {
                k for k, (rec, _) in found.items()
                if rec is not None and rec.validation == "passed" and not self.executions[k].status.is_final}  # fmt: skip
            self._hits_settled[task] = asyncio.Event()
            if not self._hits_pending[task]:
                self._hits_settled[task].set()
        return found

    def _settle(self, key: tuple[str, str]) -> None:
        """The attempt ``key`` is done trying to reuse a cached result that passed."""
        pending = self._hits_pending.get(key[0])
        if pending is not None and key in pending:
            pending.discard(key)
            if not pending:
                self._hits_settled[key[0]].set()

    async def _reuse(self, pa: PreparedAttempt, ex: AgentExecution, cancel: asyncio.Event) -> bool:
        """Take over a recorded result of the same attempt instead of running the agent (True),
        or say why not. In race mode, an attempt whose sibling has a cached result that passed
        its checks waits for that reuse: once it has happened, the sibling won and this attempt
        never starts (its cancel is set); if it did not happen, this attempt runs."""
        rec, problem = (await self._task_lookup(pa.task.id)).get(pa.key, (None, ""))
        if problem:
            logger.warning("task %s, %s: %s", ex.task, ex.agent, problem)
            self.emit(RunEvent("log", self.id or "", ex.task, ex.agent, text=problem))
        try:
            if rec is None:
                if self.options.race and self._hits_pending.get(ex.task, set()) - {pa.key}:
                    settled = asyncio.ensure_future(self._hits_settled[ex.task].wait())
                    stop = asyncio.ensure_future(cancel.wait())
                    await asyncio.wait({settled, stop}, return_when=asyncio.FIRST_COMPLETED)
                    settled.cancel()
                    stop.cancel()
                return False
            return False if cancel.is_set() else await self._take_over(pa, ex, rec, cancel)
        finally:
            self._settle(pa.key)

    async def _take_over(self, pa: PreparedAttempt, ex: AgentExecution, rec: Any,
                         cancel: asyncio.Event) -> bool:  # fmt: skip
        """Put the result ``rec`` recorded on this attempt's branch and record it as this
        attempt's (checked first under a slot, if it was made without checks)."""
        assert self.workspace is not None
        deps = [w.commit for d in pa.task.depends_on if (w := self._chosen(d)) is not None and w.commit]
        if not await asyncio.to_thread(self.workspace.reuse, pa, rec.commit_sha, deps):
            said = (f"the worktree holds work of its own, so the result of run {origin(rec)} is "
                    "not put over it; the agent runs")  # fmt: skip
            self.emit(RunEvent("log", self.id or "", ex.task, ex.agent, text=said))
            return False
        for name, value in reused_fields(rec).items():
            setattr(ex, name, value)
        ex.cached_from = origin(rec)
        logger.info("task %s, %s: reusing the result of run %s (commit %s)", ex.task, ex.agent,
                    ex.cached_from, rec.commit_sha)  # fmt: skip
        if not self.options.validate:  # a verdict this run did not ask for
            ex.validation, ex.validation_details = "", []
        elif not ex.validation:  # made by a run without checks: this one checks it, in a slot
            if not await self._take_slot(pa, cancel):
                self.set_state(ex, S.CANCELLED, "cancelled before the reused result was checked")
                return True
            try:
                checks = await run_checks(pa.task, self.plan, pa.attempt.path,
                                          pa.attempt.attempt_dir / "checks", self.options.check_timeout)  # fmt: skip
            finally:
                self.gate.release()
            ex.validation, ex.validation_details = verdict(checks), [c.to_dict() for c in checks]
        ex.started_at = ex.ended_at = datetime.now(UTC)
        if cancel.is_set():  # the result is on the branch; the run was told to stop
            self.set_state(ex, S.CANCELLED, "cancelled as its result was reused")
            return True
        self.set_state(ex, S.COMPLETED)
        if self.options.race and ex.validation == "passed":
            self._win(ex)
        return True

    async def _take_slot(self, pa: PreparedAttempt, cancel: asyncio.Event) -> bool:
        """Wait for a free slot; False (holding none) if the attempt is cancelled first."""
        if cancel.is_set():
            return False
        if self.gate.active >= self.options.max_concurrent:
            logger.info("task %s, %s: waiting for a free slot (%d of %d taken; priority %s)",
                        pa.attempt.task_id, pa.attempt.agent, self.gate.active,
                        self.options.max_concurrent, pa.task.priority)  # fmt: skip
        slot = asyncio.ensure_future(self.gate.acquire(_RANK.get(pa.task.priority, 2)))
        stop = asyncio.ensure_future(cancel.wait())
        await asyncio.wait({slot, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not slot.done():
            slot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slot
            return False
        if cancel.is_set():
            self.gate.release()
            return False
        return True

    async def _wait_dependencies(self, pa: PreparedAttempt, ex: AgentExecution,
                                 cancel: asyncio.Event) -> bool:  # fmt: skip
        """Wait for the tasks ``pa`` depends on and merge their chosen attempts into its worktree.

        Returns True when the attempt cannot run (and has been given its final state)."""
        waits = [self._task_final[d].wait() for d in pa.task.depends_on if d in self._task_final]
        cancelled = asyncio.ensure_future(cancel.wait())
        gathered = asyncio.ensure_future(asyncio.gather(*waits))
        await asyncio.wait({cancelled, gathered}, return_when=asyncio.FIRST_COMPLETED)
        cancelled.cancel()
        if not gathered.done():
            gathered.cancel()
            self.set_state(ex, S.CANCELLED, "cancelled while waiting for its dependencies")
            return True
        chosen = []
        for dep in pa.task.depends_on:
            winner = self._chosen(dep)
            if dep in self._task_final and winner is None:
                self.set_state(ex, S.CANCELLED, f"skipped: dependency {dep!r} has no attempt that "
                                                "completed and passed its validation")  # fmt: skip
                return True
            if winner is not None:
                chosen.append(winner)
        assert self.workspace is not None
        problem = await asyncio.to_thread(self.workspace.merge_dependencies, pa, chosen)
        if problem:
            self.set_state(ex, S.FAILED, problem)
            return True
        return False

    def _chosen(self, task_id: str) -> AgentExecution | None:
        """The attempt a dependent task builds on: the first, in assignment order (the primary
        agent first), that completed and passed its validation. Assignment order rather than
        finishing order keeps runs reproducible; the comparison engine can choose better."""
        return next((e for e in self._attempts_of(task_id) if e.is_successful), None)

    def _maybe_task_final(self, task_id: str) -> None:
        if all(e.status.is_final for e in self._attempts_of(task_id)):
            self._task_final[task_id].set()

    def _attempts_of(self, task_id: str) -> list[AgentExecution]:
        """A task's attempts in assignment order (found by key: resume replaces the records)."""
        return [self.executions[k] for k in self._task_keys.get(task_id, ())]

    async def _execute(self, pa: PreparedAttempt, ex: AgentExecution,
                       cancel: asyncio.Event) -> tuple[AttemptState, str]:  # fmt: skip
        if pa.spec.kind == "manual":
            return await self._wait_manual(pa, cancel)
        job = build_job(pa.spec, run_id=self.id or "", task_id=pa.attempt.task_id,
                        worktree=pa.attempt.path, attempt_dir=pa.attempt.attempt_dir,
                        prompt_path=pa.prompt_path, timeout=self.options.timeout,
                        model=self.options.model,
                        managed_files=tuple(pa.attempt.managed_files))  # fmt: skip
        ex.log_path = str(job.log_path)
        while True:
            ex.tries += 1
            self.budget.live[pa.key] = UsageTally()
            result = await self.executor.run(job, lambda ev: self._on_agent(ex, ev), cancel)
            live = self.budget.live.pop(pa.key, None)  # the totals below replace what it reported
            usage = result.usage
            if (result.process.state == "lost" and live is not None and not usage.input_tokens
                    and not usage.output_tokens and usage.cost_usd is None):  # it went with it
                result = replace(result, usage=replace(result.usage, input_tokens=live.input_tokens,
                                 output_tokens=live.output_tokens, cost_usd=live.cost_usd))  # fmt: skip
            state, error = self._judge(pa, result)
            ex.return_code = result.process.return_code
            ex.tail = list(result.process.tail[-20:])
            ex.worker = result.worker
            ex.input_tokens += result.usage.input_tokens
            ex.output_tokens += result.usage.output_tokens
            if result.usage.cost_usd is not None:
                ex.cost_usd = (ex.cost_usd or 0.0) + result.usage.cost_usd
            if self.recorder is not None:  # what each try spent survives a crash of this process
                self.recorder.save(ex, event=False)
            lost = result.process.state == "lost"
            if ex.tries > self.options.retries or not (
                    lost or (state == S.FAILED and looks_transient(error))):
                return state, error
            delay = self.options.backoff * 2 ** (ex.tries - 1)
            self.emit(RunEvent("log", self.id or "", ex.task, ex.agent,
                               text=f"transient failure, retry {ex.tries} in {delay:g}s: {error}"))
            try:
                await asyncio.wait_for(cancel.wait(), delay)
                return S.CANCELLED, "cancelled while waiting to retry"
            except TimeoutError:
                continue

    def _judge(self, pa: PreparedAttempt, result: ExecutionResult) -> tuple[AttemptState, str]:
        state, error = self._verdict(pa, result)
        if state == S.FAILED and pa.spec.auth_hint and looks_like_auth(error):
            error = (f"{error} — {pa.spec.display_name} has a config folder of its own in every "
                     f"attempt, so a login made in the tool itself is not seen: {pa.spec.auth_hint}")
        return state, error

    def _verdict(self, pa: PreparedAttempt, result: ExecutionResult) -> tuple[AttemptState, str]:
        proc, usage = result.process, result.usage
        if proc.state == "timeout":
            return S.TIMEOUT, f"timed out after {format_duration(self.options.timeout)}"
        if proc.state == "cancelled":
            return S.CANCELLED, "cancelled"
        if proc.state == "failed-to-start":
            return S.FAILED, proc.error or "the agent could not start"
        if proc.state == "lost":  # its Dask worker died: what the agent did there is unknown
            return S.INTERRUPTED, proc.error or "the process was lost"
        errors = "; ".join(dict.fromkeys(usage.errors))
        if proc.return_code != 0:
            last = next((ln for ln in reversed(proc.tail) if ln.strip()), "")
            return S.FAILED, errors or f"exit code {proc.return_code}: {last}"[:500]
        if usage.is_error:
            return S.FAILED, errors or usage.final_message or "the agent reported an error"
        if pa.spec.exit_zero_on_failure and result.fatal:
            return S.FAILED, "; ".join(result.fatal)
        return S.COMPLETED, ""

    def _on_agent(self, ex: AgentExecution, event: AgentEvent) -> None:
        if event.text and event.text.strip():
            # A log event may hold a batch of lines (the newest last); others lead with a summary.
            line = event.text.rpartition("\n")[2] if event.kind == "log" else event.text.split("\n", 1)[0]
            ex.last_line = line[:200] or ex.last_line
        self.emit(RunEvent("agent", self.id or "", ex.task, ex.agent, agent_event=event))
        live = self.budget.live.get((ex.task, ex.agent))
        if live is not None and event.kind in ("usage", "result"):
            live.add(event)
            self._check_budget(ex.task)

    def spent_by(self, ex: AgentExecution) -> float:
        """Dollars the attempt has spent so far (while it runs, what it has reported)."""
        return self.budget.spent_by(ex)

    def _check_budget(self, task: str) -> None:
        """Stop what a spent budget covers: running attempts commit their work as WIP, the others
        never start (reason "budget")."""
        keys, said = self.budget.over(self.executions, self._task_keys.get(task, []), task)
        for key in keys:
            if not self.executions[key].status.is_final and key not in self._stopped:
                logger.info("task %s, %s: stopped — %s", key[0], key[1], said)
                self._stopped[key] = ("budget", said)
                self._cancel_event(key).set()

    async def _wait_manual(self, pa: PreparedAttempt,
                           cancel: asyncio.Event) -> tuple[AttemptState, str]:  # fmt: skip
        done = self._manual_event(pa.key)
        assert self.recorder is not None
        deadline = None if self.options.timeout is None else time.monotonic() + self.options.timeout
        while not done.is_set():
            if cancel.is_set():
                return S.CANCELLED, "cancelled"
            if deadline is not None and time.monotonic() > deadline:
                return S.TIMEOUT, f"not marked done within {format_duration(self.options.timeout)}"
            if await asyncio.to_thread(self.recorder.manual_done, pa):
                break  # `nborch done RUN TASK AGENT` from another process
            await asyncio.sleep(1.0)
        return S.COMPLETED, ""

    async def _finish(self, pa: PreparedAttempt, ex: AgentExecution, state: AttemptState,
                      error: str) -> None:  # fmt: skip
        assert self.workspace is not None
        ex.ended_at = datetime.now(UTC)  # the agent's time; committing and checking come after
        said, ex.last_line = ex.last_line, "committing and validating…"
        wip = state != S.COMPLETED
        # Looked at once here, before the commit, and stored: status need not read every worktree.
        ex.problem = await asyncio.to_thread(worktree_problem, str(pa.attempt.path), pa.attempt.branch)
        try:
            commit, stat = await asyncio.to_thread(self.workspace.commit, pa, state, wip,
                                                   ex.start_commit)  # fmt: skip
        except NborchError as err:
            if not err.disk_full:
                raise
            ex.last_line = said
            self.set_state(ex, S.FAILED, disk_full_message(pa, err, error))
            return
        ex.commit = commit
        ex.files_changed, ex.insertions, ex.deletions = stat
        if state == S.COMPLETED and self.options.validate:
            checks = await run_checks(pa.task, self.plan, pa.attempt.path,
                                      pa.attempt.attempt_dir / "checks", self.options.check_timeout)  # fmt: skip
            ex.validation = verdict(checks)
            ex.validation_details = [c.to_dict() for c in checks]
        ex.last_line = said
        self.set_state(ex, state, error)
        self._check_budget(ex.task)  # its final cost may be more than it reported on the way
        if self.options.race and state == S.COMPLETED and ex.validation == "passed":
            self._win(ex)

    def _win(self, winner: AgentExecution) -> None:
        """Race mode: the task's other attempts stop (running ones commit their WIP), and
        those not started never start."""
        for key in self._task_keys.get(winner.task, ()):
            other = self.executions[key]
            if key != (winner.task, winner.agent) and not other.status.is_final:
                self._stopped.setdefault(key, (f"race won by {winner.agent}",) * 2)
                logger.info("task %s: %s won the race; stopping %s", winner.task, winner.agent,
                            other.agent)  # fmt: skip
                self._cancel_event(key).set()

    def race_notes(self) -> list[str]:
        """What race mode cannot do in this run, said before it starts: tasks without checks
        (nothing proves a winner, so all their attempts run)."""
        if not self.options.race:
            return []
        tasks = {t for t, _ in self.executions}
        blind = [t for t in sorted(tasks) if not (self.plan[t].commands or self.plan[t].named_tests)]
        single = [t for t in sorted(tasks) if sum(1 for k in self.executions if k[0] == t) < 2]
        notes = []
        if blind:
            notes.append(f"race: task(s) {', '.join(blind)} name no checks (validation commands or "
                         "test ids), so nothing can prove a winner: all their attempts run")  # fmt: skip
        if single and len(single) == len(tasks):
            notes.append("race: every task has one attempt, so there is nothing to race")
        return notes

    def budget_notes(self) -> list[str]:
        """What a budget will count at a guessed price, said before the run starts: agents with
        no price of their own, in case they report no cost."""
        o = self.options
        if self.budget.run_usd is None and not self.budget.task_usd:
            return []
        notes = []
        unknown = [t for t in o.task_budget_usd if t not in self.plan]
        if unknown:
            notes.append(f"budget: no task {', '.join(unknown)} in this plan; its budget is unused")
        guessed = sorted({a for _, a in self.executions
                          if not self.budget.prices.is_priced(a) and not registry.get(a).is_demo})  # fmt: skip
        if guessed:
            inp, out = DEFAULT_PRICE
            notes.append(f"budget: {', '.join(guessed)} {'has' if len(guessed) == 1 else 'have'} "
                         f"no price; if {'it reports' if len(guessed) == 1 else 'they report'} "
                         f"no cost, tokens count at ${inp:g}/${out:g} per million input/output "
                         "(set prices={AGENT: (IN, OUT)} or --price AGENT=IN/OUT)")  # fmt: skip
        return notes


def disk_full_message(pa: PreparedAttempt, err: NborchError, error: str) -> str:
    """Why an attempt failed when its work could not be committed for lack of disk space."""
    before = f" (the agent itself: {error})" if error else ""
    return (f"the disk is full: the attempt's work could not be committed{before} and is still "
            f"in {pa.attempt.path} — free some space; `nborch cleanup` commits it as WIP on "
            f"{pa.attempt.branch} before removing the worktree ({err})")


def executor_of(executor: Executor | str | None) -> Executor:
    """The executor a run was given by name or object."""
    if executor is None or executor == "local":
        return LocalExecutor()
    if executor == "dask":
        from .cluster import DaskExecutor

        return DaskExecutor()
    if isinstance(executor, str):
        raise NborchError(f"unknown executor {executor!r}: use 'local', 'dask', or an Executor "
                          "object such as DaskExecutor(client)")  # fmt: skip
    return executor
