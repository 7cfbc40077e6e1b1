"""Read a markdown plan into tasks, using markdown-it-py's token line maps for every line number.

Accepted shapes (each one documented with an example in the README):

1. ``## Phase N: Name`` then ``### Task N.M: Title`` (the canonical shape);
2. ``## Task N: Title`` with no phases;
3. ``### Title`` (or ``### 2.1 Title``) under any phase heading, without the word Task;
4. ``- [ ] Title`` checklist items under a phase heading that has no task headings, or in a
   plan with no headings below the title.

Inside a task: ``Depends on:``, ``Agents:``, ``Priority:`` lines, and sections started by a bold
line (``**Objectives**``) or a level-4 heading, in any order. Unknown sections are kept verbatim.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import PlanError
from ..names import slugify
from .build import build_plan
from .data import end_line, front_matter
from .model import Phase, Plan, Task
from .sections import ALIAS, SECTION_ALIASES, Fields, item_text, join  # noqa: F401

# Level-2 headings that describe the plan rather than group tasks.
PLAN_SECTIONS = frozenset({
    "overview", "background", "context", "introduction", "summary", "goals", "non-goals", "notes",
    "references", "appendix", "risks", "glossary", "assumptions", "timeline", "architecture",
    "requirements", "scope", "out-of-scope", "open-questions", "success-criteria", "dependencies",
    "conventions",
})  # fmt: skip

_BOLD_LINE = re.compile(r"^(?:\*\*|__)(?P<name>[^*_\n]+?)(?:\*\*|__)\s*:?\s*(?P<rest>.*)$")
_PLAIN_MARKER = re.compile(r"^(?P<name>[A-Za-z][A-Za-z -]{1,40}):\s*$")
_META = re.compile(
    r"^(?:[-*+]\s+)?(?:\*\*|__)?(?P<key>depends on|dependencies|depends|requires|agents?|priority|changes tests|holdout|budget)"
    r"(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(?P<value>.*?)\s*$",
    re.IGNORECASE,
)
_TASK_COLON = re.compile(r"^task\s+(?P<id>[^:]+?)\s*:\s*(?P<title>.*)$", re.IGNORECASE)
_TASK_DASH = re.compile(
    r"^task\s+(?P<id>[^\s\d]*\d\S*?)\s*(?:[-–—.)]\s+|\s*$)(?P<title>.*)$", re.IGNORECASE
)
_NUMBERED = re.compile(r"^(?P<id>[A-Za-z]?\d+(?:\.\d+)*)[.:)]?\s+(?P<title>\S.*)$")
_PHASE = re.compile(
    r"^(?:(?P<final>final)\s+)?(?:phase|stage|milestone|sprint|part)\b\s*(?P<num>[\w.]*)\s*"
    r"(?:[:.\-–—)]\s*|$)(?P<title>.*)$",
    re.IGNORECASE,
)
_ITEM_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_CHECKBOX = re.compile(r"^\[(?P<mark>[ xX])\]\s+")
_SUB_CHECK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[(?P<mark>[ xX])\]\s+(?P<text>.*)$")


@dataclass(slots=True)
class _Block:
    """A top-level markdown block: its kind, heading level, line range and inline text."""

    kind: str
    start: int
    end: int
    level: int = 0
    text: str = ""
    items: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class _Container:
    """A heading and the blocks under it until the next heading of its rank."""

    kind: str  # "task" | "phase" | "section"
    heading: str
    line: int
    blocks: list[_Block] = field(default_factory=list)
    phase: _Container | None = None
    tasks: list[_Container] = field(default_factory=list)
    sub_level: int = 4  # headings at or below this level inside a task open sections


def parse_markdown(text: str, path: str | Path | None = None) -> Plan:
    """Parse markdown plan text (already decoded) into a checked :class:`Plan`."""
    where = str(path) if path is not None else None
    lines = text.split("\n")
    settings, fm_end = front_matter(lines, where)
    body = lines if not fm_end else [""] * fm_end + lines[fm_end:]
    blocks = _blocks("\n".join(body))
    title, intro, containers = _structure(blocks, lines)
    title = str(settings.get("title") or title or (Path(path).stem if path else "Untitled plan"))
    reader = MarkdownReader(lines, where)
    phases: list[Phase] = []
    tasks: list[Task] = []
    sections: list[tuple[str, str]] = []
    loose = [c for c in containers if c.kind == "task" and c.phase is None]
    for cont in containers:
        if cont.kind == "section":
            sections.append((cont.heading, reader.raw(cont.blocks)))
        elif cont.kind == "phase":
            phase = reader.phase(cont, len(phases) + 1, tasks)
            phases.append(phase)
        elif cont.phase is None:
            tasks.append(reader.task(cont, None))
    if not tasks and not loose and not phases:
        # A plan that is only a checklist: its items are the tasks, not the plan's overview.
        tasks.extend(reader.checklist(intro, None, None))
        intro = [b for b in intro if not _is_checklist(b, lines)]
    return build_plan(
        title, tasks, phases=phases, settings=settings, path=path, overview=reader.raw(intro),
        sections=sections, format="markdown", end_line=end_line(lines),
    )  # fmt: skip


# ---- tokens → blocks → containers ---------------------------------------------------------


@functools.cache
def _markdown():  # -> MarkdownIt
    """Block-level parsing only: nborch reads inline text from the source lines, so markdown-it's
    inline pass (most of its time) is skipped."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").disable(["inline", "text_join"])


def _blocks(text: str) -> list[_Block]:
    tokens = _markdown().parse(text)
    out: list[_Block] = []
    list_stack: list[_Block] = []
    for i, tok in enumerate(tokens):
        if tok.level == 0 and tok.map is not None and tok.nesting >= 0:
            kind = tok.type.removesuffix("_open")
            block = _Block(kind, tok.map[0], tok.map[1])
            if kind == "heading":
                block.level = int(tok.tag[1])
                block.text = tokens[i + 1].content.strip()
            out.append(block)
            if kind in ("bullet_list", "ordered_list"):
                list_stack = [block]
        elif tok.type == "list_item_open" and tok.level == 1 and list_stack:
            list_stack[0].items.append((tok.map[0], tok.map[1]))
    return out


def _structure(
    blocks: list[_Block], lines: list[str]
) -> tuple[str, list[_Block], list[_Container]]:
    """The title, the blocks before the first level-2/3 heading, and the containers."""
    title = ""
    intro: list[_Block] = []
    containers: list[_Container] = []
    phase: _Container | None = None
    current: _Container | None = None
    for block in blocks:
        if block.kind == "heading" and block.level == 1 and not title:
            title = block.text
            continue
        if block.kind == "heading" and block.level == 2:
            current = _level2(block)
            phase = current if current.kind == "phase" else None
            containers.append(current)
            continue
        if block.kind == "heading" and block.level == 3 and _opens_task(current):
            if current is not None and current.kind == "section":
                current.kind = "phase"  # a group heading that is not "Phase N" but holds tasks
                phase = current
            current = _Container("task", block.text, block.start + 1, phase=phase)
            if phase is not None:
                phase.tasks.append(current)
            containers.append(current)
            continue
        if current is None:
            if block.kind != "heading":
                intro.append(block)
            continue
        current.blocks.append(block)
    # A level-2 heading that is neither "Phase"/"Task" nor a known plan section groups tasks when
    # it holds checklist items; otherwise it is kept as a plan section.
    for cont in containers:
        if (cont.kind == "section" and not _reserved(cont.heading)
                and any(_is_checklist(b, lines) for b in cont.blocks)):  # fmt: skip
            cont.kind = "phase"
    return title, intro, containers


def _opens_task(current: _Container | None) -> bool:
    """Whether a level-3 heading under ``current`` starts a task (not a section of one)."""
    if current is None or current.kind == "phase":
        return True
    if current.kind == "task":
        return current.sub_level != 3
    return not _reserved(current.heading)


def _reserved(heading: str) -> bool:
    return heading.strip().lower().replace(" ", "-").rstrip(":") in PLAN_SECTIONS


def _level2(block: _Block) -> _Container:
    text = block.text
    if _TASK_COLON.match(text) or _TASK_DASH.match(text):
        return _Container("task", text, block.start + 1, sub_level=3)
    if _PHASE.match(text):
        return _Container("phase", text, block.start + 1)
    return _Container("section", text, block.start + 1)


def _is_checklist(block: _Block, lines: list[str]) -> bool:
    return bool(block.items) and any(
        _CHECKBOX.match(_ITEM_MARK.sub("", lines[s], count=1)) for s, _ in block.items
    )


# ---- containers → tasks ------------------------------------------------------------------


class MarkdownReader:
    """Turns containers into :class:`Task` and :class:`Phase` records, with source lines."""

    def __init__(self, lines: list[str], where: str | None):
        self.lines = lines
        self.where = where
        self.auto_ids: set[str] = set()

    def error(self, line: int, problem: str, fix: str) -> PlanError:
        return PlanError(problem, fix, path=self.where, line=line)

    def raw(self, blocks: list[_Block]) -> str:
        return join([("\n".join(self.lines[b.start:b.end]), b.start, b.end) for b in blocks])

    def phase(self, cont: _Container, index: int, tasks: list[Task]) -> Phase:
        m = _PHASE.match(cont.heading)
        number = (m.group("num") or None) if m else None
        title = ((m.group("title") or "").strip() if m else "") or cont.heading
        found: list[Task] = []
        intro = cont.blocks  # blocks after the first task heading belong to the tasks
        if cont.tasks:
            found.extend(self.task(task_cont, title) for task_cont in cont.tasks)
        else:
            intro = [b for b in cont.blocks if not _is_checklist(b, self.lines)]
            checklists = [b for b in cont.blocks if _is_checklist(b, self.lines)]
            found.extend(self.checklist(checklists, title, number or str(index)))
        tasks.extend(found)
        return Phase(index, title, number, cont.line, self.raw(intro), tuple(t.id for t in found))

    def task(self, cont: _Container, phase: str | None) -> Task:
        task_id, title = self.heading_id(cont.heading, cont.line)
        fields = Fields()
        self.fill(fields, cont.blocks, cont.sub_level)
        return fields.task(self, task_id, title, phase, cont.line)

    def heading_id(self, heading: str, line: int) -> tuple[str, str]:
        m = _TASK_COLON.match(heading) or _TASK_DASH.match(heading)
        if m:
            task_id, title = m.group("id").strip(), m.group("title").strip()
            if not title:
                raise self.error(line, f"task {task_id!r} has no title",
                                 f"write one after the id, e.g. 'Task {task_id}: Add a store'")
            return task_id, title
        m = _NUMBERED.match(heading)
        if m:
            return m.group("id"), m.group("title").strip()
        if not heading.strip():
            raise self.error(line, "task heading has no title", "write a title in the heading")
        return self.auto_id(slugify(heading, 40)), heading.strip()

    def auto_id(self, base: str) -> str:
        """An id for a task that names none; unique among generated ids."""
        task_id, n = base, 1
        while task_id in self.auto_ids:
            n += 1
            task_id = f"{base}-{n}"
        self.auto_ids.add(task_id)
        return task_id

    def fill(self, fields: Fields, blocks: list[_Block], sub_level: int) -> None:
        for block in blocks:
            if block.kind == "heading":
                if block.level >= sub_level:
                    fields.open(block.text, block.start + 1)
                else:
                    fields.add(self.lines[block.start:block.end], block.start)
            elif block.kind == "paragraph":
                self.paragraph(fields, block.start, block.end)
            elif block.items:
                for start, end in block.items:
                    self.item(fields, start, end)
            else:
                fields.add(self.lines[block.start:block.end], block.start)

    def paragraph(self, fields: Fields, start: int, end: int) -> None:
        first = start
        for n in range(start, end):
            if self.directive(fields, self.lines[n], n + 1):
                if n > first:
                    fields.add(self.lines[first:n], first)
                first = n + 1
        if end > first:
            fields.add(self.lines[first:end], first)

    def directive(self, fields: Fields, line: str, lineno: int, strict: bool = False) -> bool:
        """Handle a metadata line or a section marker; False when the line is plain content.

        ``strict`` is for the first line of a list item: it opens only known sections (a bullet
        that is just ``**Note**`` is content), and reads metadata only before the task's first
        section (``- Agents: write the registry`` under Key activities is an activity).
        Paragraph lines ``Depends on:``, ``Agents:``, ``Priority:`` are metadata anywhere;
        ``Requires:`` only before the first section.
        """
        meta = _META.match(line)
        before_sections = fields.section == "overview" and not fields.opened
        if meta and (before_sections or (not strict and meta.group("key").lower() != "requires")):
            fields.meta(self, meta.group("key").lower(), meta.group("value"), lineno)
            return True
        bold = _BOLD_LINE.match(line)
        if bold:
            name = bold.group("name").strip().rstrip(":")
            rest = bold.group("rest").strip()
            if ALIAS.get(name.lower()) or not (rest or strict):
                fields.open(name, lineno)
                if rest:
                    fields.add([rest], lineno - 1)
                return True
            return False
        plain = _PLAIN_MARKER.match(line)
        if plain and plain.group("name").strip().lower() in ALIAS:
            fields.open(plain.group("name"), lineno)
            return True
        return False

    def item(self, fields: Fields, start: int, end: int) -> None:
        lines = self.lines[start:end]
        first = _ITEM_MARK.sub("", lines[0], count=1)
        if self.directive(fields, first, start + 1, strict=True):
            return
        box = _CHECKBOX.match(first)
        if box:  # a checklist inside a task lists its steps
            first = first[box.end():]
            if fields.section == "overview":
                fields.section = "key_activities"
        body = [first]
        for k in range(1, len(lines)):
            line = lines[k]
            # A non-indented line inside an item is a lazy continuation; a section marker there
            # ends the item (plans often put "**Validation criteria**" right after a list).
            if line[:1] not in ("", " ", "\t") and (
                _META.match(line) or _BOLD_LINE.match(line) or _PLAIN_MARKER.match(line)
            ):
                fields.add(lines[:k], start, item_text(body))
                self.paragraph(fields, start + k, end)
                return
            body.append(line)
        fields.add(lines, start, item_text(body))

    def checklist(self, blocks: list[_Block], phase: str | None, prefix: str | None) -> list[Task]:
        items = []
        for block in blocks:
            for start, end in block.items:
                first = _ITEM_MARK.sub("", self.lines[start], count=1)
                box = _CHECKBOX.match(first)
                if box:
                    items.append((start, end, box, first))
        # Items without an id take their position, skipping ids other items wrote themselves.
        written = {m.group("id") for *_, box, first in items
                   if (m := _NUMBERED.match(first[box.end():].strip()))}  # fmt: skip
        tasks, n = [], 0
        for start, end, box, first in items:
            n += 1
            position = f"{prefix}.{n}" if prefix else str(n)
            while position in written:
                n += 1
                position = f"{prefix}.{n}" if prefix else str(n)
            tasks.append(self.checklist_task(start, end, box, first, phase, position))
        return tasks

    def checklist_task(
        self, start: int, end: int, box: re.Match[str], first: str, phase: str | None, position: str
    ) -> Task:
        heading = first[box.end():].strip()
        m = _NUMBERED.match(heading)
        task_id, title = (m.group("id"), m.group("title").strip()) if m else (position, heading)
        if not title:
            raise self.error(start + 1, "checklist task has no title", "write text after '- [ ]'")
        fields = Fields()
        for n in range(start + 1, end):
            line = self.lines[n]
            sub = _SUB_CHECK.match(line)
            if sub:
                fields.key_activities.append(sub.group("text").strip())
            elif line.strip() and not self.directive(
                fields, _ITEM_MARK.sub("", line.strip(), count=1), n + 1
            ):
                fields.details.append(line.strip())
        task = fields.task(self, task_id, title, phase, start + 1)
        return replace(task, done=box.group("mark") in "xX")
