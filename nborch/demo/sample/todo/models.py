"""The data model: one :class:`Todo` item."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

PRIORITIES = ("low", "medium", "high")


@dataclass
class Todo:
    """One thing to do.

    ``id`` is given by the store; ``tags`` are kept lowercase, in order, without duplicates.
    """

    id: int
    title: str
    done: bool = False
    priority: str = "medium"
    tags: list[str] = field(default_factory=list)
    due: date | None = None

    def __post_init__(self) -> None:
        self.title = self.title.strip()
        if not self.title:
            raise ValueError("a todo needs a non-empty title")
        if self.priority not in PRIORITIES:
            raise ValueError(
                f"priority must be one of {', '.join(PRIORITIES)}, not {self.priority!r}"
            )
        self.tags = list(dict.fromkeys(t.strip().lower() for t in self.tags if t.strip()))

    def mark_done(self) -> None:
        """Mark this todo as done (doing it twice is harmless)."""
        self.done = True

    def __str__(self) -> str:
        box = "[x]" if self.done else "[ ]"
        parts = [f"{box} #{self.id} {self.title}"]
        if self.priority != "medium":
            parts.append(f"({self.priority})")
        if self.tags:
            parts.append(" ".join(f"#{t}" for t in self.tags))
        if self.due is not None:
            parts.append(f"due {self.due.isoformat()}")
        return " ".join(parts)
