"""Run attempts on a Dask cluster: :class:`DaskExecutor`, the executor seam's cluster side.

The coordinator, the store, the views and the git history stay where they are; only the agent's
process runs on a worker. Work moves as git data, never through a shared disk:

1. the attempt's start commit goes as a git bundle, scattered once per commit (Dask keeps it on
   the workers that received it); a worker clones it once into its own scratch folder and makes
   a clone per attempt from there;
2. the files nborch wrote into the worktree (agent config files) and the attempt's folder (the
   prompt) travel with the job; the environment does not: the worker builds it from its own
   environment with the agent's allow-list, so credentials are never pickled into the graph;
3. the worker runs the job with the same :class:`~nborch.execute.executor.LocalExecutor` (process
   group, timeout, watchdog, redaction), streaming agent events back as they come (Dask's
   topic events: ``Worker.log_event`` → ``Client.subscribe_topic``);
4. it commits what the agent left uncommitted as one transfer commit and sends the new commits
   back as a bundle with the log; here they are fetched into the user's repository, the
   attempt's branch moves to the agent's own commits and the transfer commit's changes are put in
   the worktree uncommitted — so the coordinator commits them exactly as after a local run.

A cancel reaches the worker through a :class:`distributed.Event` the worker-side job watches
(``Client.cancel`` does not stop running code). A worker that dies mid-attempt makes it
``interrupted`` (a ``lost`` process), and the job never runs twice: Dask reschedules a task whose
worker died, but the rerun sees the attempt was started and returns at once.

Per-provider limits (``limits={"anthropic": 4}``) are :class:`distributed.Semaphore` leases
taken on the worker, so many machines together never exceed them (an agent counts against its
own name and every provider its allow-list names, :mod:`nborch.agents.providers`); ``resources={"AGENTS": 1}``
asks each attempt of a worker started with ``--resources AGENTS=2``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import NborchError
from ..events import AgentEvent, Usage
from ..gitcmd import Git
from ..proc.spec import ProcessResult
from .executor import ExecutionResult, LocalExecutor, OnEvent
from .jobs import AttemptJob

__all__ = ["DaskExecutor", "bundle_of", "git_in", "run_on_worker", "scratch_clone", "start_repo"]

MAX_SHIPPED_BYTES = 50 * 2**20  # files nborch wrote into a worktree, sent with each job
RESUBMITS = 3  # a job lost before its agent started is sent again this many times at most
EVENT_FLUSH_S = 0.2  # how often a worker sends the events it has gathered
CANCEL_POLL_S = 0.5  # how often it asks whether the coordinator cancelled the attempt
MAX_EVENTS_PER_FLUSH = 500  # beyond this a flush keeps the newest (the log has them all)
_IDENTITY = {"GIT_AUTHOR_NAME": "nborch", "GIT_AUTHOR_EMAIL": "nborch@localhost",
             "GIT_COMMITTER_NAME": "nborch", "GIT_COMMITTER_EMAIL": "nborch@localhost"}  # fmt: skip
_TRANSFER_REF = "refs/nborch-transfer"


def git_in(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> bytes:
    """Run git through nborch's one runner (:class:`~nborch.gitcmd.Git`: a clean environment,
    lock retries, a WorktreeError naming the command) and return its stdout as bytes."""
    return Git(cwd).run(*args, env=env).stdout.encode("utf-8", "surrogateescape")


class DaskExecutor:
    """Runs attempts on a Dask cluster (see the module docstring).

    Parameters
    ----------
    client_or_address
        A ``distributed.Client``, a scheduler address (``"tcp://host:8786"``), or None for a
        ``LocalCluster(processes=True, threads_per_worker=1)`` sized to this machine, made at
        the first attempt and closed by :meth:`close`.
    limits
        Attempts at once per provider or agent, cluster-wide: ``{"anthropic": 4}`` holds for
        ``claude`` and for every agent that may call Anthropic (``aider``, ``cline``…), ``{"tick":
        2}`` for the agent ``tick``.
    resources
        Worker resources each attempt takes: ``{"AGENTS": 1}`` with workers started
        ``--resources AGENTS=2`` runs at most two agents per worker.
    grace
        Seconds between SIGTERM and SIGKILL on the worker.
    """

    def __init__(self, client_or_address: Any = None, *, limits: Mapping[str, int] | None = None,
                 resources: Mapping[str, float] | None = None, grace: float = 5.0,
                 n_workers: int | None = None):  # fmt: skip
        self._given = client_or_address
        self.limits = dict(limits or {})
        self.resources = dict(resources) if resources else None
        self.grace = grace
        self.n_workers = n_workers
        self._client: Any = None
        self._cluster: Any = None
        self._lock = threading.Lock()
        self._bundles: dict[tuple[str, str], Any] = {}  # (repo, commit) -> scattered bundle
        self._bundling = threading.Lock()
        # One topic for all this executor's jobs (the scheduler keeps a bounded log per topic);
        # each batch names its job, whose listener gets it.
        self._topic = f"nborch-events-{secrets.token_hex(8)}"
        self._listeners: dict[str, Callable[[list[dict[str, Any]]], None]] = {}
        self._subscribed: Any = None

    def __repr__(self) -> str:
        where = self._given if isinstance(self._given, str) else "a LocalCluster" if self._given is None else "a client"
        return f"<DaskExecutor on {where}>"

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (made on first use)."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Any:
        try:
            import distributed
        except ImportError as err:
            raise NborchError("the Dask executor needs dask.distributed: pip install "
                              "'nborch[dask]'") from err  # fmt: skip
        if isinstance(self._given, distributed.Client):
            return self._given
        if isinstance(self._given, str):
            try:
                return distributed.Client(self._given, timeout="20s")
            except (OSError, TimeoutError) as err:
                raise NborchError(f"cannot reach the Dask scheduler at {self._given}: {err} — "
                                  "start it (dask scheduler) or give another address") from err  # fmt: skip
        if self._given is not None:
            raise NborchError(f"DaskExecutor takes a distributed.Client, a scheduler address or "
                              f"None, not {type(self._given).__name__}")  # fmt: skip
        import dask

        # A worker that dies must not make Dask run an agent again elsewhere (see run_on_worker).
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            self._cluster = distributed.LocalCluster(
                n_workers=self.n_workers or os.cpu_count() or 1, threads_per_worker=1,
                processes=True, dashboard_address=":0")  # fmt: skip
        return distributed.Client(self._cluster)

    @property
    def dashboard_link(self) -> str:
        """The Dask dashboard's address, or "" when it has none."""
        if self._client is None:
            return ""
        return getattr(self._client, "dashboard_link", "") or ""

    def close(self) -> None:
        """Close the client and the LocalCluster this executor made (a given client stays open)."""
        with self._lock:
            if self._client is not None and self._client is not self._given:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = self._subscribed = None
            self._bundles.clear()

    # -- the executor seam ---------------------------------------------------------------

    async def run(self, job: AttemptJob, on_event: OnEvent,
                  cancel: asyncio.Event) -> ExecutionResult:  # fmt: skip
        await asyncio.to_thread(lambda: self.client)
        start, bundle, files, attempt_files, links = await asyncio.to_thread(self._outgoing, job)
        payload = {
            "start": start, "files": files, "attempt_files": attempt_files, "links": links,
            "job": _portable(job), "grace": self.grace, "local_worktree": str(job.cwd),
            "local_attempt": str(job.log_path.parent), "limits": self.limits_for(job),
            "managed": list(job.managed_files),
        }  # fmt: skip
        for _ in range(RESUBMITS):
            outcome, started = await self._once(job, payload, bundle, on_event, cancel)
            if "lost" not in outcome or started or cancel.is_set():
                break
            # Lost before its agent started (the worker holding the start bundle died, say):
            # nothing ran, so it is sent again with a fresh bundle rather than reported lost.
            bundle = await asyncio.to_thread(self._start_bundle, job.cwd, start, True)
        if cancel.is_set() and ("cancelled" in outcome or ("lost" in outcome and not started)):
            return _unfinished(job, {"cancelled": "cancelled before its agent started"})
        if "lost" in outcome or "failed" in outcome or "cancelled" in outcome:
            return _unfinished(job, outcome)
        unplaced = await asyncio.to_thread(self._incoming, job, start, outcome)
        process = replace(outcome["process"], log_path=job.log_path)
        if "unsent" in outcome or unplaced:  # it ran, but its work is not here: not a result
            process = replace(process, state="lost", error=outcome.get("unsent") or unplaced)
        return ExecutionResult(process, outcome["usage"], tuple(outcome["fatal"]), outcome["worker"])

    async def _once(self, job: AttemptJob, base: Mapping[str, Any], bundle: Any, on_event: OnEvent,
                    cancel: asyncio.Event) -> tuple[dict[str, Any], bool]:  # fmt: skip
        """One submission of the job: its outcome, and whether its agent started."""
        from distributed import Event

        loop = asyncio.get_running_loop()
        client = self.client
        token = secrets.token_hex(8)

        def deliver(batch: list[dict[str, Any]]) -> None:
            for item in batch:
                on_event(AgentEvent(**item))

        self._listen(client)
        self._listeners[token] = lambda batch: loop.call_soon_threadsafe(deliver, batch)
        payload = {**base, "token": token, "topic": self._topic}
        stop = await asyncio.to_thread(Event, f"nborch-cancel-{token}", client)
        future = client.submit(run_on_worker, payload, bundle, pure=False, retries=0,
                               key=f"nborch-{job.run_id}-{job.task_id}-{job.agent}-{token}",
                               resources=self.resources)  # fmt: skip
        done = loop.create_future()
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(
            lambda: done.done() or done.set_result(None)))  # fmt: skip
        waiter = asyncio.ensure_future(cancel.wait())
        try:
            await asyncio.wait({done, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if cancel.is_set() and not done.done():
                await asyncio.to_thread(stop.set)  # seen by a running job within CANCEL_POLL_S
                if not await asyncio.to_thread(
                        lambda: Event(f"nborch-started-{token}", client).is_set()):  # fmt: skip
                    await asyncio.to_thread(client.cancel, future)  # still queued: never starts
            await done
        except BaseException:
            await asyncio.to_thread(stop.set)  # our caller was cancelled: stop the worker's job
            raise
        finally:
            waiter.cancel()
            self._listeners.pop(token, None)
        outcome = await asyncio.to_thread(_outcome, future)

        def started_then_forget() -> bool:
            began = Event(f"nborch-started-{token}", client)
            was = began.is_set() if "lost" in outcome else True
            if "lost" not in outcome:  # the scheduler forgets an event once it is cleared; a
                began.clear()  # lost job's copy may still run somewhere: its cancel stays set
                stop.clear()
            return was

        return outcome, await asyncio.to_thread(started_then_forget)

    def _listen(self, client: Any) -> None:
        """Subscribe to this executor's topic once per client."""
        if self._subscribed is client:
            return

        def dispatch(event: tuple[float, dict[str, Any]]) -> None:
            listener = self._listeners.get(event[1].get("token", ""))
            if listener is not None:
                listener(event[1]["events"])

        client.subscribe_topic(self._topic, dispatch)
        self._subscribed = client

    def limits_for(self, job: AttemptJob) -> list[tuple[str, int]]:
        """The limits this attempt counts against: its agent's name, and every provider whose
        credentials the agent's allow-list passes (:mod:`nborch.agents.providers`)."""
        from ..agents import registry
        from ..agents.providers import providers_of
        from ..errors import AgentError

        names = {job.agent}
        with contextlib.suppress(AgentError):
            names |= providers_of(registry.get(job.agent))
        return sorted((n, int(self.limits[n])) for n in names if n in self.limits)

    def _outgoing(self, job: AttemptJob) -> tuple[str, Any, dict[str, bytes | None],
                                                  dict[str, bytes], dict[str, str]]:  # fmt: skip
        """The start commit, its scattered bundle, and the worktree's uncommitted files (nborch's
        own, and what an earlier try left), the attempt folder's files and the links."""
        start = git_in(job.cwd, "rev-parse", "HEAD").decode().strip()
        bundle = self._start_bundle(job.cwd, start)
        files: dict[str, bytes | None] = {}
        links: dict[str, str] = {}  # sent as links: never the file a link points at
        out = git_in(job.cwd, "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames")
        total = 0
        for entry in out.decode("utf-8", "surrogateescape").split("\0"):
            if len(entry) < 4:
                continue
            rel = entry[3:]
            path = job.cwd / rel
            if path.is_symlink():
                links[rel] = os.readlink(path)
                continue
            files[rel] = path.read_bytes() if path.is_file() else None
            total += len(files[rel] or b"")
        attempt_dir = job.log_path.parent
        attempt_files = ({p.name: p.read_bytes() for p in attempt_dir.iterdir()
                         if p.is_file() and not p.is_symlink() and p.suffix in (".md", ".txt", ".json")}
                         if attempt_dir.is_dir() else {})  # fmt: skip
        total += sum(map(len, attempt_files.values()))
        if total > MAX_SHIPPED_BYTES:
            raise NborchError(f"the attempt's uncommitted files in {job.cwd} come to "
                              f"{total / 2**20:.0f} MB, more than a Dask job carries "
                              f"({MAX_SHIPPED_BYTES / 2**20:.0f} MB): commit them to the base")  # fmt: skip
        return start, bundle, files, attempt_files, links

    def _start_bundle(self, cwd: Path, start: str, again: bool = False) -> Any:
        """:meth:`scatter_commit` keyed by the repository (all its worktrees share one bundle)."""
        common = git_in(cwd, "rev-parse", "--git-common-dir").decode().strip()
        return self.scatter_commit(cwd, start, str((cwd / common).resolve()), again)

    def scatter_commit(self, cwd: Path, commit: str, repo_key: str | None = None,
                       again: bool = False) -> Any:  # fmt: skip
        """A Dask future of a git bundle holding ``commit`` (scattered once per repository and
        commit: every job starting there shares it, and each worker keeps its copy); scattered
        again when the workers holding it are gone, or with ``again``."""
        key = (repo_key or str(cwd), commit)
        with self._bundling:
            if again or key not in self._bundles or self._bundles[key].status != "finished":
                self._bundles[key] = self.client.scatter(bundle_of(cwd, commit), broadcast=False,
                                                         hash=False)  # fmt: skip
            return self._bundles[key]

    @property
    def threads(self) -> int:
        """Worker threads on the cluster now (how many jobs can run at once)."""
        workers = self.client.scheduler_info().get("workers", {})
        return sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1

    def _incoming(self, job: AttemptJob, start: str, outcome: Mapping[str, Any]) -> str:
        """The worker's log and commits into this machine's repository and worktree; "" when
        done, else why not (the worktree is then back at its start, the work under a ref)."""
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        job.log_path.write_bytes(outcome["log"])
        head, transfer, gone = outcome["head"], outcome["transfer"], outcome.get("gone", [])
        if not outcome["bundle"] and not outcome.get("leftovers"):
            return ""  # nothing changed, and nothing an earlier try left needs undoing
        # Held by a ref until it is in place: if putting it there fails, nothing is lost.
        keep = f"refs/nborch/recover/{job.run_id}/{outcome['token']}"
        try:
            if outcome["bundle"]:
                with tempfile.TemporaryDirectory(prefix="nborch-bundle-") as tmp:
                    path = Path(tmp) / "work.bundle"
                    path.write_bytes(outcome["bundle"])
                    git_in(job.cwd, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
                           str(path), f"HEAD:{keep}")  # fmt: skip
            nborchs = [f":(exclude,literal){p}" for p in job.managed_files]
            # The files first, while the index is still the start's: what the agent deleted
            # (committed or not) goes from the worktree too; then the branch and the index.
            git_in(job.cwd, "restore", f"--source={transfer or head}", "--worktree", "--", ":/",
                   *nborchs)  # fmt: skip
            for rel in gone:  # untracked files an earlier try left and this one removed
                (job.cwd / rel).unlink(missing_ok=True)
            if head != start:  # the agent's own commits move the attempt's branch, as locally
                git_in(job.cwd, "reset", "--quiet", "--soft", head)
                git_in(job.cwd, "restore", f"--source={head}", "--staged", "--", ":/")
        except (NborchError, OSError) as err:
            with contextlib.suppress(NborchError):  # the branch where it was, the work kept
                git_in(job.cwd, "reset", "--quiet", "--soft", start)
            kept = f" — it is kept as {keep} (git log {keep})" if outcome["bundle"] else ""
            return (f"the work came back from its Dask worker but could not be put in "
                    f"{job.cwd}: {err}{kept}")  # fmt: skip
        if outcome["bundle"]:
            git_in(job.cwd, "update-ref", "-d", keep)
        return ""


def bundle_of(cwd: Path, commit: str, exclude: str | None = None) -> bytes:
    """A git bundle holding ``commit`` and its history (without ``exclude``'s, which the other
    side has); a bundle needs a ref: a temporary one, under its own name."""
    ref = f"{_TRANSFER_REF}/start-{secrets.token_hex(6)}"
    with tempfile.TemporaryDirectory(prefix="nborch-bundle-") as tmp:
        path = Path(tmp) / "start.bundle"
        git_in(cwd, "update-ref", ref, commit)
        try:
            git_in(cwd, "bundle", "create", "--quiet", str(path), ref,
                   *([f"^{exclude}"] if exclude and exclude != commit else []))  # fmt: skip
        finally:
            git_in(cwd, "update-ref", "-d", ref)
        return path.read_bytes()


def _portable(job: AttemptJob) -> dict[str, Any]:
    """The job as plain data for a worker: no environment values (the worker has its own), no
    secrets to mask (the worker finds its own), no paths of this machine but those it maps."""
    return {"run_id": job.run_id, "task_id": job.task_id, "agent": job.agent,
            "argv": list(job.argv), "parser": job.parser, "timeout": job.timeout,
            "env_allow": list(job.env_allow), "env_set": dict(job.env_set),
            "home_env": job.home_env, "home_files": dict(job.home_files)}  # fmt: skip


def _outcome(future: Any) -> dict[str, Any]:
    """The worker's answer; ``{"lost": why}`` when its worker died, ``{"failed": why}`` when
    the job itself raised there (a git or disk problem on that machine)."""
    from distributed import CancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except (KilledWorker, CommClosedError, CancelledError) as err:
        return {"lost": f"{type(err).__name__}: {err}"}
    except Exception as err:
        return {"failed": f"{type(err).__name__}: {err}"}


def _unfinished(job: AttemptJob, outcome: Mapping[str, str]) -> ExecutionResult:
    """The result of a job that did not come back: lost with its worker, cancelled before its
    agent started, or failed there."""
    now = datetime.now(UTC)
    if "lost" in outcome:
        state, text = "lost", f"the Dask worker running this attempt was lost ({outcome['lost']})"
    elif "cancelled" in outcome:
        state, text = "cancelled", str(outcome["cancelled"])
    else:
        state, text = "failed-to-start", f"the Dask job failed on its worker: {outcome['failed']}"
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    with job.log_path.open("a", encoding="utf-8") as log:
        log.write(f"[nborch] {text}\n")
    process = ProcessResult(state=state, return_code=None, started_at=now, ended_at=now,
                            duration_s=0.0, tail=(text,), log_path=job.log_path, error=text)  # fmt: skip
    return ExecutionResult(process, Usage.of([]))


# -- on the worker ----------------------------------------------------------------------------

_CLONE_LOCK = threading.Lock()


def run_on_worker(payload: dict[str, Any], bundle: bytes) -> dict[str, Any]:
    """Run one attempt on this Dask worker and return its outcome (see the module docstring)."""
    from distributed import Event, Semaphore, get_client, get_worker

    worker, client = get_worker(), get_client()  # the client: its objects are used from threads
    token = payload["token"]
    started = Event(f"nborch-started-{token}", client=client)
    if started.is_set():  # Dask reran us after a worker died: the attempt must not run twice
        return {"lost": "the worker that started it died; it is not run a second time"}
    started.set()
    cancelled = Event(f"nborch-cancel-{token}", client=client)
    if cancelled.is_set():  # cancelled while the job was being handed to this worker
        return {"cancelled": "cancelled before its agent started"}
    scratch = Path(worker.local_directory) / "nborch"
    here = scratch / "attempts" / token
    try:
        cache = start_repo(scratch, payload["start"], bundle)
        worktree, attempt_dir = here / f"wt-{token}", here / "attempt"
        attempt_dir.mkdir(parents=True)
        scratch_clone(cache, worktree, payload["start"])
        for rel, data in payload["files"].items():
            path = worktree / rel
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        for name, data in payload["attempt_files"].items():
            (attempt_dir / name).write_bytes(data)
        for rel, target in payload["links"].items():
            (worktree / rel).parent.mkdir(parents=True, exist_ok=True)
            (worktree / rel).unlink(missing_ok=True)
            os.symlink(target, worktree / rel)
        job = _local_job(payload, worktree, attempt_dir)
        with contextlib.ExitStack() as leases:  # taken in name order: no two jobs wait on each other
            for name, most in payload["limits"]:
                # the number is in the name: a scheduler keeps a semaphore's size for good
                lease = Semaphore(max_leases=most, name=f"nborch-limit-{name}-{most}")
                while not lease.acquire(timeout=CANCEL_POLL_S):  # a cancel while waiting counts
                    if cancelled.is_set():
                        return {"cancelled": "cancelled while waiting for a lease of " + name}
                leases.callback(lease.release)
            result = _run_job(worker, job, payload, cancelled)
        out = {"process": result.process, "usage": result.usage, "fatal": list(result.fatal),
               "token": token, "worker": worker.address, "bundle": b"", "head": payload["start"],
               "transfer": None}  # fmt: skip
        # Files an earlier try left (shipped, not nborch's own): which are gone now, so the
        # coordinator removes them too; and that there were some, so it looks even when the
        # agent's tree ended as it started.
        leftovers = [p for p in (*payload["files"], *payload["links"]) if p not in payload["managed"]]
        out["leftovers"] = bool(leftovers)
        out["gone"] = [p for p in leftovers if not os.path.lexists(worktree / p)]
        try:  # what the agent did, in git, for the way back
            out["head"] = git_in(worktree, "rev-parse", "HEAD").decode().strip()
            out["transfer"] = _transfer_commit(worktree, out["head"], payload["managed"])
            if (out["transfer"] or out["head"]) != payload["start"]:
                made = here / "work.bundle"
                git_in(worktree, "bundle", "create", "--quiet", str(made), "HEAD",
                       f"^{payload['start']}")  # fmt: skip
                out["bundle"] = made.read_bytes()
        except (NborchError, OSError) as err:  # the log, tokens and cost still come back
            out["unsent"] = f"its work could not be sent back from {worker.address}: {err}"
        out["log"] = job.log_path.read_bytes() if job.log_path.exists() else b""
        return out
    finally:
        shutil.rmtree(here, ignore_errors=True)


def start_repo(scratch: Path, start: str, bundle: bytes) -> Path:
    """A repository holding ``start``, cloned from its bundle once per commit on this worker."""
    cache = scratch / "repos" / start
    scratch.mkdir(parents=True, exist_ok=True)
    with _CLONE_LOCK:
        if not (cache / "HEAD").exists():
            tmp = Path(tempfile.mkdtemp(prefix="clone-", dir=scratch))
            (tmp / "start.bundle").write_bytes(bundle)
            git_in(tmp, "clone", "--quiet", "--mirror", str(tmp / "start.bundle"), str(tmp / "repo"))
            git_in(tmp / "repo", "update-ref", "refs/heads/start", start)  # what a clone of it gets
            cache.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / "repo", cache)
            shutil.rmtree(tmp, ignore_errors=True)
    return cache


def scratch_clone(cache: Path, dest: Path, commit: str, bundle: Path | None = None) -> Path:
    """A checkout of ``commit`` at ``dest``: a clone sharing the worker's copy's objects (none is
    copied), with ``bundle``'s commits fetched into it first when given. A clone of its own, not
    a worktree of the copy: jobs running side by side never see each other's refs or HEADs."""
    git_in(cache.parent, "clone", "--quiet", "--shared", "--no-checkout", str(cache), str(dest))
    if bundle is not None:
        heads = git_in(dest, "bundle", "list-heads", str(bundle)).decode().split()
        git_in(dest, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", str(bundle), *heads[1::2])
    git_in(dest, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit)
    return dest


def _local_job(payload: dict[str, Any], worktree: Path, attempt_dir: Path) -> AttemptJob:
    """The job with this worker's paths and environment."""
    from ..proc.env import build_env, secrets_of_all

    spec = payload["job"]
    old_wt, old_attempt = payload["local_worktree"], payload["local_attempt"]

    def here(text: str) -> str:
        return text.replace(old_attempt, str(attempt_dir)).replace(old_wt, str(worktree))

    home = attempt_dir / "home"
    env = build_env(spec["env_allow"], {k: here(v) for k, v in spec["env_set"].items()}, home,
                    spec["home_env"])  # fmt: skip
    env.update(NBORCH_RUN_ID=spec["run_id"], NBORCH_TASK_ID=spec["task_id"], NBORCH_AGENT=spec["agent"])
    return AttemptJob(run_id=spec["run_id"], task_id=spec["task_id"], agent=spec["agent"],
                      argv=tuple(here(a) for a in spec["argv"]), cwd=worktree, env=env,
                      log_path=attempt_dir / "agent.log", parser=spec["parser"],
                      timeout=spec["timeout"], redact=secrets_of_all(env, os.environ), home=home,
                      home_files=spec["home_files"])  # fmt: skip


def _run_job(worker: Any, job: AttemptJob, payload: dict[str, Any], stop: Any) -> ExecutionResult:
    """The job through the LocalExecutor, its events sent back in batches, a cancel watched."""
    pending: list[dict[str, Any]] = []
    lock = threading.Lock()
    finished = threading.Event()

    def flush() -> None:
        with lock:
            batch, pending[:] = pending[-MAX_EVENTS_PER_FLUSH:], []
        if batch:
            worker.log_event(payload["topic"], {"token": payload["token"], "events": batch})

    def on_event(event: AgentEvent) -> None:
        with lock:
            pending.append({"kind": event.kind, "text": _plain(event.text),
                            "data": _plain(event.data), "is_error": event.is_error,
                            # what a budget counts while the attempt runs
                            "input_tokens": event.input_tokens, "output_tokens": event.output_tokens,
                            "cost_usd": event.cost_usd, "cumulative": event.cumulative})  # fmt: skip

    async def main() -> ExecutionResult:
        loop = asyncio.get_running_loop()
        cancel = asyncio.Event()

        def watch() -> None:
            # Events go every EVENT_FLUSH_S (a batched send, no round trip); the coordinator's
            # cancel is asked for every CANCEL_POLL_S (a round trip to the scheduler).
            asked = time.monotonic()
            while not finished.wait(EVENT_FLUSH_S):
                flush()
                if time.monotonic() - asked >= CANCEL_POLL_S:
                    asked = time.monotonic()
                    try:
                        stopped = stop.is_set()
                    except Exception:  # a scheduler hiccup: ask again next time, keep sending
                        continue
                    if stopped:
                        loop.call_soon_threadsafe(cancel.set)
                        return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            return await LocalExecutor(grace=payload["grace"]).run(job, on_event, cancel)
        finally:
            finished.set()

    try:
        return asyncio.run(main())
    finally:
        flush()
        time.sleep(0)  # let the batched send go before the result does


def _plain(value: Any) -> Any:
    """``value`` as msgpack can carry it (event data is JSON-like already)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):  # a lone surrogate (from JSON "\\ud83d") would break msgpack
        return value.encode("utf-8", "replace").decode("utf-8")
    return value if value is None or isinstance(value, int | float | bool) else str(value)


def _transfer_commit(worktree: Path, head: str, shipped: list[str]) -> str | None:
    """Commit what the agent left uncommitted (nborch's own files left out); None if nothing."""
    git_in(worktree, "add", "-A")
    for start in range(0, len(shipped), 500):
        chunk = [f":(literal){p}" for p in shipped[start : start + 500]]
        git_in(worktree, "reset", "--quiet", head, "--", *chunk)
    git = Git(worktree)
    made = git.run("-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m",
                   "nborch: uncommitted work of the attempt, for transfer", check=False,
                   env=_IDENTITY)  # fmt: skip
    if not made.ok:  # nothing to commit (git says so with 1), or a real failure
        if git.ok("diff", "--cached", "--quiet"):
            return None
        raise NborchError(f"could not commit the attempt's work on the worker: {git.describe(made)}")
    return git.out("rev-parse", "HEAD")
