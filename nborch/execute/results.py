"""What one attempt did: :class:`AgentExecution`, and the run summary built from many of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ..events import AttemptState
from .budget import Prices

# The columns of run.summary() and of `nborch execute --json` attempts, in order.
SUMMARY_COLUMNS = (
    "task", "agent", "status", "duration_s", "return_code", "branch", "commit", "files_changed",
    "insertions", "deletions", "input_tokens", "output_tokens", "cost_usd", "log_path", "error",
    "validation", "started_at", "ended_at", "is_demo", "problem", "worker", "reason", "cached_from",
)  # fmt: skip


@dataclass(slots=True)
class AgentExecution:
    """The record of one attempt, updated as it runs (the coordinator owns it)."""

    task: str
    agent: str
    branch: str = ""
    worktree: str = ""
    status: AttemptState = AttemptState.PENDING
    started_at: datetime | None = None
    ended_at: datetime | None = None
    return_code: int | None = None
    log_path: str = ""
    tail: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    commit: str | None = None
    files_changed: int = 0
    insertions: int = 0
    deletions: int = 0
    error: str = ""
    validation: str = ""  # "passed", "failed", "none" (no runnable criteria) or "" (not run)
    validation_details: list[dict[str, Any]] = field(default_factory=list)
    tries: int = 0
    is_demo: bool = False
    last_line: str = ""
    start_commit: str | None = None  # where the agent began: the base plus merged dependencies
    problem: str = ""  # what is wrong with its worktree (the agent left its branch, deleted .git)
    worker: str = ""  # the Dask worker it ran on ("" here)
    reason: str = ""  # why it was stopped early: "race won by AGENT", "budget", or ""
    cached_from: str | None = None  # the run whose result it reused instead of running
    cache_key: str = ""  # what makes its result reusable (see nborch.execute.cache)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.ended_at or datetime.now(self.started_at.tzinfo)
        return round((end - self.started_at).total_seconds(), 3)

    @property
    def is_successful(self) -> bool:
        """Completed, and its validation (if it had runnable criteria) passed."""
        return self.status == AttemptState.COMPLETED and self.validation != "failed"

    @property
    def note(self) -> str:
        """What the views say of how it ended when no error says it: a reused result's origin."""
        return f"cached from {self.cached_from} — --no-cache runs it again" if self.cached_from else ""

    def row(self) -> dict[str, Any]:
        """The summary row (see :data:`SUMMARY_COLUMNS`)."""
        data = {k: v for k, v in asdict(self).items() if k in SUMMARY_COLUMNS}
        data["status"] = str(self.status)
        data["duration_s"] = self.duration_s
        return {c: data.get(c) for c in SUMMARY_COLUMNS}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready row: datetimes as ISO text."""
        row = self.row()
        for key in ("started_at", "ended_at"):
            row[key] = row[key].isoformat() if row[key] else None
        return row


def summary_frame(executions: Iterable[AgentExecution]):  # -> pandas.DataFrame
    """The run summary as a DataFrame with proper dtypes (categorical status, datetimes)."""
    import pandas as pd

    frame = pd.DataFrame([e.row() for e in executions], columns=list(SUMMARY_COLUMNS))
    frame["status"] = pd.Categorical(frame["status"], categories=[s.value for s in AttemptState])
    for col in ("started_at", "ended_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    for col in ("files_changed", "insertions", "deletions", "input_tokens", "output_tokens"):
        frame[col] = frame[col].astype("int64")
    frame["return_code"] = frame["return_code"].astype("Int64")
    frame["cost_usd"] = frame["cost_usd"].astype("float64")
    return frame


def counts(executions: Sequence[AgentExecution]) -> dict[str, int]:
    """How many attempts are in each state."""
    out: dict[str, int] = {}
    for e in executions:
        out[str(e.status)] = out.get(str(e.status), 0) + 1
    return out


def spending(executions: Iterable[AgentExecution], prices: Prices | None = None,
             budget_usd: float | None = None) -> dict[str, Any]:  # fmt: skip
    """What the run spent and what it did not.

    ``spent_usd``: what its agents reported, plus tokens at ``prices`` for those that report
    none (that part is also ``estimated_usd``). ``saved_usd``/``saved_tokens``: results reused
    from the cache (what they cost when they were made: ``saved_by_cache_usd``), and for each
    attempt stopped because another won the race, what the winner spent beyond it (what
    finishing it would have cost, roughly: ``saved_by_race_usd``). ``budget_usd`` is the run's
    budget (None: none).
    """
    prices = prices or Prices()
    executions = list(executions)
    by_key = {(e.task, e.agent): e for e in executions}

    spent = estimated = by_cache = by_race = 0.0
    cache_tokens = race_tokens = stopped = cached = by_budget = 0
    for e in executions:
        tokens, cost = e.input_tokens + e.output_tokens, prices.of_attempt(e)
        if e.cached_from:
            cached += 1
            by_cache, cache_tokens = by_cache + cost, cache_tokens + tokens
            continue
        spent += cost
        estimated += cost if e.cost_usd is None else 0.0
        by_budget += e.reason == "budget"
        if not e.reason.startswith("race won by "):
            continue
        stopped += 1
        winner = by_key.get((e.task, e.reason.removeprefix("race won by ")))
        if winner is not None:
            by_race += max(0.0, prices.of_attempt(winner) - cost)
            race_tokens += max(0, winner.input_tokens + winner.output_tokens - tokens)
    return {"spent_usd": round(spent, 6), "estimated_usd": round(estimated, 6),
            "saved_usd": round(by_cache + by_race, 6), "saved_tokens": cache_tokens + race_tokens,
            "saved_by_cache_usd": round(by_cache, 6), "saved_by_cache_tokens": cache_tokens,
            "saved_by_race_usd": round(by_race, 6), "saved_by_race_tokens": race_tokens,
            "budget_usd": budget_usd, "stopped_by_race": stopped,
            "stopped_by_budget": by_budget, "cached": cached}  # fmt: skip
