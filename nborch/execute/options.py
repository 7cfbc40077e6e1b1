"""How a run executes: its options, checked once when the run is made and saved with it.

:class:`RunOptions` is frozen; durations are seconds (``None``: no limit) by the time it exists,
so nothing later parses text. A run saves its options, and :meth:`RunOptions.updated` applies
what a resume changes: ``None`` keeps the saved value (as httpx's ``USE_CLIENT_DEFAULT`` keeps
the client's), and "no limit" is said with :data:`~nborch.durations.NO_LIMIT` or ``"none"``.

>>> RunOptions.of(timeout="1h").updated(max_concurrent=2, timeout=None).timeout
3600.0
>>> RunOptions.of(timeout="1h").updated(timeout="none").timeout is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..durations import parse_duration
from ..errors import NborchError
from .budget import Prices, dollars, task_budgets

__all__ = ["RunOptions"]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The options of a run's execution (the ones a resume can keep or change)."""

    max_concurrent: int = 5
    timeout: float | None = 1200.0  # per attempt
    retries: int = 0
    model: str | None = None
    validate: bool = True
    check_timeout: float | None = 600.0  # per validation command
    backoff: float = 2.0  # seconds before the first retry; doubles each time
    race: bool = False  # stop a task's other attempts once one completes and passes its checks
    cache: bool = True  # reuse a recorded result of exactly the same attempt instead of running it
    budget_usd: float | None = None  # the most the run may spend, in dollars (None: no limit)
    task_budget_usd: Mapping[str, float] = field(default_factory=dict)  # the most per task
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # $ per M tokens

    def __post_init__(self) -> None:
        for name in ("timeout", "check_timeout"):
            object.__setattr__(self, name, _duration(name, getattr(self, name)))
        for name, least in (("max_concurrent", 1), ("retries", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise NborchError(f"{name}={value!r} must be a whole number of at least {least}")
        if not isinstance(self.backoff, int | float) or self.backoff < 0:
            raise NborchError(f"backoff={self.backoff!r} must be a number of seconds, 0 or more")
        if self.budget_usd is not None:
            object.__setattr__(self, "budget_usd", dollars("budget_usd", self.budget_usd))
        object.__setattr__(self, "task_budget_usd", task_budgets(self.task_budget_usd))
        object.__setattr__(self, "prices", dict(Prices(self.prices).table))
        if self.race and not self.validate:
            raise NborchError("race=True needs the tasks' checks to pick a winner: keep "
                              "validate=True (drop --no-validate)")  # fmt: skip

    @classmethod
    def of(cls, **values: Any) -> RunOptions:
        """Options from keyword values; a value of ``None`` takes the default, except for the
        durations, where ``None`` means no limit (as in ``Coordinator(timeout=None)``)."""
        unknown = set(values) - set(cls.names())
        if unknown:
            raise NborchError(f"unknown run option(s) {', '.join(sorted(unknown))}; known: "
                              f"{', '.join(cls.names())}")  # fmt: skip
        kept = {k: v for k, v in values.items()
                if v is not None or k in ("timeout", "check_timeout", "model", "budget_usd")}
        return cls(**kept)

    @classmethod
    def saved(cls, data: Mapping[str, Any]) -> RunOptions:
        """The options a run was saved with (keys this version does not know are ignored)."""
        return cls(**{k: v for k, v in data.items() if k in cls.names()})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def updated(self, **changes: Any) -> RunOptions:
        """These options with ``changes`` applied; a change of ``None`` keeps the value."""
        unknown = set(changes) - set(self.names())
        if unknown:
            raise NborchError(f"unknown run option(s) {', '.join(sorted(unknown))}; known: "
                              f"{', '.join(self.names())}")  # fmt: skip
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _duration(name: str, value: Any) -> float | None:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise NborchError(f"{name}: {exc}") from None
