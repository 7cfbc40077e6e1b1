"""The event stream: what agents report and what the coordinator does, as plain records.

Two layers:

* :class:`AgentEvent` — one thing an agent said or did, parsed from its output stream by the
  agent's output parser (``nborch.agents.parsers``): a message, a tool call, a file edit, an error,
  a usage report or the final result.
* :class:`RunEvent` — what the coordinator publishes to its subscribers (the notebook UI, the CLI,
  the store): attempt state changes, agent events, log lines. Subscribers never need to know how
  an attempt is executed, which keeps the executor a seam (local processes now, a cluster later).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AttemptState(StrEnum):
    """Where an attempt is in its life; the last five are final."""

    PENDING = "pending"
    BLOCKED = "blocked"  # waiting for the tasks it depends on
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the coordinator died while it ran; resume() runs it again

    @property
    def is_final(self) -> bool:
        return self not in (AttemptState.PENDING, AttemptState.BLOCKED, AttemptState.RUNNING)


AGENT_EVENT_KINDS = ("message", "tool_call", "file_edit", "error", "usage", "result", "log")


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One thing an agent reported.

    ``kind`` is one of :data:`AGENT_EVENT_KINDS`. Token and cost fields are set on ``usage`` and
    ``result`` events; ``cumulative`` says whether they are running totals (replace what came
    before) or amounts for one turn (add to what came before).
    """

    kind: str
    text: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    cumulative: bool = False
    is_error: bool = False


@dataclass(slots=True)
class UsageTally:
    """Tokens and cost added up one event at a time: cumulative reports replace what came
    before, per-turn reports add to it. :meth:`Usage.of` folds a whole list with it; a budget
    keeps one per running attempt.

    >>> tally = UsageTally()
    >>> tally.add(AgentEvent("usage", input_tokens=10, cost_usd=0.5)); tally.add(AgentEvent("usage", input_tokens=5))
    >>> (tally.input_tokens, tally.cost_usd)
    (15, 0.5)
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    def add(self, ev: AgentEvent) -> None:
        if ev.kind in ("usage", "result") and (ev.input_tokens or ev.output_tokens):
            if ev.cumulative:
                self.input_tokens, self.output_tokens = ev.input_tokens, ev.output_tokens
            else:
                self.input_tokens += ev.input_tokens
                self.output_tokens += ev.output_tokens
        if ev.cost_usd is not None:
            self.cost_usd = (ev.cost_usd if ev.cumulative or self.cost_usd is None
                             else self.cost_usd + ev.cost_usd)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Usage:
    """Totals over an attempt's events: tokens, cost, and whether the agent said it failed."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    is_error: bool = False
    final_message: str = ""
    errors: tuple[str, ...] = ()

    @classmethod
    def of(cls, events: Iterable[AgentEvent]) -> Usage:
        """Fold events into totals: cumulative reports replace, per-turn reports add up."""
        tally = UsageTally()
        is_error = False
        final = ""
        errors: list[str] = []
        for ev in events:
            tally.add(ev)
            if ev.kind == "result":
                is_error = is_error or ev.is_error
                final = ev.text or final
            elif ev.kind == "message" and ev.text:
                final = ev.text
            if ev.kind == "error" and ev.text:
                errors.append(ev.text)
        return cls(tally.input_tokens, tally.output_tokens, tally.cost_usd, is_error, final,
                   tuple(errors))


@dataclass(frozen=True, slots=True)
class RunEvent:
    """What the coordinator publishes: ``kind`` is ``state``, ``agent``, ``log`` or ``run``."""

    kind: str
    run_id: str
    task_id: str = ""
    agent: str = ""
    state: AttemptState | None = None
    agent_event: AgentEvent | None = None
    text: str = ""
    time: float = field(default_factory=time.time)
