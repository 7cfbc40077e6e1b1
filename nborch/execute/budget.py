"""Budgets: what an attempt has cost, in dollars, and whether a run (or one task) may spend more.

An agent that reports its cost (Claude Code, Cline…) is taken at its word. One that reports only
tokens is counted at a price per million tokens: :data:`PRICES` (list prices of each tool's
default model) unless the run's ``prices`` say otherwise; an agent in neither is counted at
:data:`DEFAULT_PRICE`, a frontier model's price, so a budget errs towards stopping early. The demo
agents' tokens are invented and cost nothing. A result reused from the cache costs nothing.

>>> Prices({"mine": (1.0, 2.0)}).cost("mine", 1_000_000, 500_000)
2.0
>>> Prices().cost("claude", 1_000_000, 0, reported=0.25)
0.25
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import agents as registry
from ..errors import NborchError
from ..events import UsageTally
from ..plan.build import parse_budget

__all__ = ["DEFAULT_PRICE", "PRICES", "Budget", "Prices", "parse_price"]

# USD per million (input, output) tokens of each tool's default model; set your own with prices=.
PRICES: Mapping[str, tuple[float, float]] = {
    "claude": (3.0, 15.0), "codex": (1.25, 10.0), "gemini": (1.25, 10.0), "aider": (3.0, 15.0),
    "copilot": (3.0, 15.0), "cursor": (3.0, 15.0), "cline": (3.0, 15.0), "opencode": (3.0, 15.0),
    "qwen": (0.4, 1.2),
}  # fmt: skip
DEFAULT_PRICE = (3.0, 15.0)


@dataclass(frozen=True, slots=True)
class Prices:
    """The price table: the user's entries over :data:`PRICES`."""

    table: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked = {}
        for agent, pair in dict(self.table or {}).items():
            try:
                inp, out = (float(v) for v in pair)
            except (TypeError, ValueError):
                raise NborchError(f"price for {agent!r} must be (input, output) dollars per "
                                  f"million tokens, got {pair!r}") from None  # fmt: skip
            if inp < 0 or out < 0:
                raise NborchError(f"price for {agent!r} cannot be negative: {pair!r}")
            checked[str(agent)] = (inp, out)
        object.__setattr__(self, "table", checked)

    def of(self, agent: str) -> tuple[float, float]:
        return self.table.get(agent) or PRICES.get(agent) or DEFAULT_PRICE

    def is_priced(self, agent: str) -> bool:
        """Whether the agent has a price of its own (not :data:`DEFAULT_PRICE`)."""
        return agent in self.table or agent in PRICES

    def cost(self, agent: str, input_tokens: int, output_tokens: int,
             reported: float | None = None, is_demo: bool = False) -> float:  # fmt: skip
        """Dollars: the ``reported`` cost when the agent gave one, else the tokens at its price."""
        if reported is not None:
            return reported
        if is_demo:
            return 0.0
        inp, out = self.of(agent)
        return (input_tokens * inp + output_tokens * out) / 1e6

    def of_attempt(self, ex: Any) -> float:
        """What an attempt's recorded tokens and cost come to (:meth:`cost`)."""
        return self.cost(ex.agent, ex.input_tokens, ex.output_tokens, ex.cost_usd, ex.is_demo)


@dataclass(slots=True)
class Budget:
    """A run's budgets and what its attempts have spent against them (the coordinator owns it
    and stops what :meth:`over` names; it never starts what :meth:`refusal` refuses).

    ``live`` holds what each running try has reported so far, by ``(task, agent)``.
    """

    run_usd: float | None = None
    task_usd: Mapping[str, float] = field(default_factory=dict)
    prices: Prices = field(default_factory=Prices)
    live: dict[tuple[str, str], UsageTally] = field(default_factory=dict)

    def spent_by(self, ex: Any) -> float:
        """Dollars an attempt has spent so far; a result reused from the cache cost nothing."""
        if ex.cached_from:
            return 0.0
        cost = self.prices.of_attempt(ex)
        live = self.live.get((ex.task, ex.agent))
        if live is not None:
            cost += self.prices.cost(ex.agent, live.input_tokens, live.output_tokens,
                                     live.cost_usd, ex.is_demo)  # fmt: skip
        return cost

    def over(self, executions: Mapping[tuple[str, str], Any], task_keys: Iterable[tuple[str, str]],
             task: str) -> tuple[list[tuple[str, str]], str]:  # fmt: skip
        """The attempts a spent budget stops (the run's, else ``task``'s) and what to say; none
        while there is money left."""
        if self.run_usd is not None:
            total = sum(self.spent_by(e) for e in executions.values())
            if total >= self.run_usd:
                return list(executions), f"budget: the run's ${self.run_usd:.2f} is spent (${total:.4f})"
        limit = self.task_usd.get(task)
        if limit is not None:
            keys = list(task_keys)
            total = sum(self.spent_by(executions[k]) for k in keys)
            if total >= limit:
                return keys, f"budget: task {task}'s ${limit:.2f} is spent (${total:.4f})"
        return [], ""

    def estimate(self, agent: str, is_free: bool, executions: Iterable[Any]) -> float:
        """What an attempt by ``agent`` will likely cost: the mean of the attempts by it that ran
        to their end, else of all that did; 0 before any did, and for agents that cost nothing."""
        if is_free:
            return 0.0
        ended = [e for e in executions if str(e.status) in ("completed", "failed")
                 and not e.cached_from and not e.reason and e.started_at is not None]  # fmt: skip
        own = [e for e in ended if e.agent == agent] or ended
        return sum(self.spent_by(e) for e in own) / len(own) if own else 0.0

    def refusal(self, ex: Any, executions: Mapping[tuple[str, str], Any]) -> str:
        """Why attempt ``ex`` must not start: what is spent, plus what the running attempts will
        likely spend, plus what it will likely spend would exceed a budget. "" when it may."""
        def free(agent: str) -> bool:
            spec = registry.get(agent)
            return spec.is_demo or spec.kind == "manual"

        scopes = []
        if self.run_usd is not None:
            scopes.append((self.run_usd, list(executions.values()), "the run's"))
        if ex.task in self.task_usd:
            mine = [e for (t, _), e in executions.items() if t == ex.task]
            scopes.append((self.task_usd[ex.task], mine, f"task {ex.task}'s"))
        for limit, group, whose in scopes:
            everyone = list(executions.values())
            own = self.estimate(ex.agent, free(ex.agent), everyone)
            spent = sum(self.spent_by(e) for e in group if str(e.status) != "running")
            running = sum(max(self.spent_by(e), self.estimate(e.agent, free(e.agent), everyone))
                          for e in group if str(e.status) == "running")  # fmt: skip
            if spent + running + own > limit:
                return (f"budget: starting it would exceed {whose} ${limit:.2f} (spent "
                        f"${spent:.4f}, running about ${running:.4f}, this attempt about "
                        f"${own:.4f} by the attempts that ran to their end)")  # fmt: skip
        return ""


def parse_price(text: str) -> tuple[str, tuple[float, float]]:
    """``AGENT=IN/OUT`` (dollars per million tokens) from the command line.

    >>> parse_price("mine=0.5/2")
    ('mine', (0.5, 2.0))
    """
    agent, sep, value = text.partition("=")
    inp, slash, out = value.partition("/")
    try:
        if not (sep and slash and agent.strip()):
            raise ValueError
        return agent.strip(), (float(inp), float(out))
    except ValueError:
        raise NborchError(f"price {text!r}: write AGENT=IN/OUT, dollars per million input and "
                          "output tokens, e.g. claude=3/15") from None  # fmt: skip


def task_budgets(values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> dict[str, float]:
    """Per-task budgets, checked: ``{task id: dollars}``."""
    pairs = values.items() if isinstance(values, Mapping) else (values or ())
    out = {}
    for task, value in pairs:
        out[str(task)] = dollars(f"budget for task {task}", value)
    return out


def dollars(what: str, value: Any) -> float:
    """A budget in dollars: a positive number (``"$5"`` and ``"5"`` are read too), as a plan's
    ``Budget:`` line is read (:func:`~nborch.plan.build.parse_budget`)."""
    try:
        return parse_budget(value)
    except ValueError:
        raise NborchError(f"{what} must be a positive number of dollars, got {value!r}") from None
