"""The sections of a markdown task body: which heading names mean which field, and how the
lines under them are gathered (verbatim for free text, item by item for lists)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import PlanError
from .build import normalize_priority, parse_budget, split_ids, split_names
from .model import YES_NO, Criterion, Task


class Reader(Protocol):
    """What a section needs from the markdown reader: an error that points at a line."""

    def error(self, line: int, problem: str, fix: str) -> PlanError: ...


SECTION_ALIASES = {
    "overview": ("overview", "description", "summary", "context", "background", "goal", "purpose"),
    "objectives": ("objectives", "objective", "goals", "aims"),
    "key_activities": ("key activities", "activities", "steps", "subtasks", "sub-tasks",
                       "implementation steps", "tasks", "work items", "todo"),
    "deliverables": ("deliverables", "deliverable", "outputs", "artifacts", "artefacts"),
    "validation": ("validation criteria", "validation", "acceptance criteria", "success criteria",
                   "done when", "definition of done", "tests", "testing", "verification",
                   "exit criteria"),
    "technical_implementation": ("technical implementation", "implementation",
                                 "technical details", "implementation notes", "approach",
                                 "technical notes", "design"),
}  # fmt: skip
ALIAS = {alias: key for key, aliases in SECTION_ALIASES.items() for alias in aliases}


def item_text(lines: list[str]) -> str:
    head, rest = lines[0].strip(), textwrap.dedent("\n".join(lines[1:])).strip()
    return f"{head}\n{rest}" if rest else head


Chunk = tuple[str, int, int]  # text, first source line (0-based), line after the last


def join(chunks: list[Chunk]) -> str:
    """Source chunks joined as they stood: adjacent lines by one newline, others by a blank line."""
    out: list[str] = []
    prev_end = -1
    for text, start, end in chunks:
        if out:
            out.append("\n" if start == prev_end else "\n\n")
        out.append(text.rstrip())
        prev_end = end
    return "".join(out).strip()


RAW_SECTIONS = ("overview", "technical_implementation", "extra")


@dataclass(slots=True)
class Fields:
    """What a task body has said so far; ``open`` switches the section content goes to."""

    section: str = "overview"
    opened: bool = False
    extra_name: str = ""
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    key_activities: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    extra: dict[str, list[Chunk]] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    depends_line: int = 0
    agents: tuple[str, ...] = ()
    priority: str = "medium"
    changes_tests: bool = False
    holdout: str = ""
    budget_usd: float | None = None

    def open(self, name: str, line: int) -> None:
        clean = name.strip().rstrip(":").strip()
        key = ALIAS.get(clean.lower())
        self.opened = True
        self.section = key or "extra"
        if not key:
            self.extra_name = clean
            self.extra.setdefault(clean, [])

    def add(self, raw: list[str], start: int, item: str | None = None) -> None:
        """Add source lines ``raw`` (starting at 0-based ``start``) to the open section.

        Free-text sections keep the lines verbatim; list sections keep ``item`` (a list item's
        text without its marker) or the prose joined into one line.
        """
        if self.section == "extra":
            target = self.extra[self.extra_name]
        else:
            target = self.chunks.setdefault(self.section, [])
        if self.section in RAW_SECTIONS:
            target.append(("\n".join(raw), start, start + len(raw)))
        else:
            text = item if item is not None else " ".join(line.strip() for line in raw)
            target.append((text.strip(), start, start + len(raw)))

    def items(self, section: str) -> tuple[str, ...]:
        extra = tuple(self.key_activities) if section == "key_activities" else ()
        return tuple(text for text, _, _ in self.chunks.get(section, ()) if text) + extra

    def meta(self, reader: Reader, key: str, value: str, line: int) -> None:
        if key.startswith("agent"):
            self.agents = split_names(value)
        elif key == "changes tests":
            word = value.strip().strip("*_").lower()
            if word not in YES_NO:
                raise reader.error(line, f"'Changes tests: {value}' is not yes or no",
                                   "write 'Changes tests: yes' for a task that must change "
                                   "existing tests")  # fmt: skip
            self.changes_tests = YES_NO[word]
        elif key == "holdout":
            self.holdout = value.strip().strip("`")
        elif key == "priority":
            try:
                self.priority = normalize_priority(value)
            except ValueError as exc:
                raise reader.error(line, str(exc), "write e.g. 'Priority: high'") from None
        elif key == "budget":
            try:
                self.budget_usd = parse_budget(value)
            except ValueError as exc:
                raise reader.error(line, str(exc), "write e.g. 'Budget: $2'") from None
        else:  # several dependency lines add up
            self.depends_on = tuple(dict.fromkeys(self.depends_on + split_ids(value)))
            self.depends_line = self.depends_line or line

    def task(self, reader: Reader, task_id: str, title: str, phase: str | None, line: int) -> Task:
        overview = join(self.chunks.get("overview", []))
        if self.details:
            overview = "\n\n".join(filter(None, [overview, "\n".join(self.details)]))
        return Task(
            id=task_id, title=title, phase=phase, overview=overview,
            objectives=self.items("objectives"), key_activities=self.items("key_activities"),
            deliverables=self.items("deliverables"),
            validation=tuple(Criterion.parse(v) for v in self.items("validation")),
            technical_implementation=join(self.chunks.get("technical_implementation", [])),
            depends_on=self.depends_on, agents=self.agents, priority=self.priority,
            changes_tests=self.changes_tests, holdout=self.holdout, budget_usd=self.budget_usd,
            extra_sections=tuple((k, join(v)) for k, v in self.extra.items()),
            line=line, depends_line=self.depends_line,
        )  # fmt: skip
