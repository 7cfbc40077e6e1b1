"""Read a hand-written plan (``PLAN.md``, ``IMPLEMENTATION_PLAN.md``, ``TODO.md``) as it is.

What is read:

- optional YAML front matter → settings; ``# Title`` → the title; text before the first phase or
  ``##`` section → the overview;
- ``## Phase N: Name (...)`` (also Stage, Milestone, Sprint, Step, Part, Week; at any heading level)
  → a phase; numbers may repeat. A ``##`` heading that is not a phase groups tasks like a phase
  when it holds checklist items, unless it is a plan section (Overview, Notes, Risks, …);
- top-level ``- [ ]`` items → tasks (``[x]`` → done, ``[-]``/``[~]`` → a ``Status`` section);
  nested ``- [ ]`` items → their sub-tasks; plain bullets and text under a task → its technical
  implementation; ``Depends on: 1.2`` under a task, or ``(depends on 1.2)`` in its title → dependencies;
- items under a heading or a bare bold line such as Deliverables, Exit criteria, Acceptance
  criteria, Goals, Risks or Notes are not tasks: they stay in the phase's description;
- ids: the one an item starts with (``- [ ] 2.1 Title``, ``- [ ] Task 2.1: Title``), else its
  position: ``N.k`` in phase N (counting on across phases that repeat a number), ``k`` outside
  phases; sub-tasks ``<task>.k``. Positions skip ids written elsewhere in the file.

Order: phases run in order (every task of a phase depends on every task of the task-holding phase
before it); tasks inside a phase are independent unless they say otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...errors import PlanError
from ..build import build_plan, split_ids
from ..model import Phase, Plan
from ._draft import Draft, chain, to_tasks
from ._lines import Line, end_line, fallback_title, front_matter, marker, raw_text, scan, title_of

PHASE = re.compile(
    r"^(?:(?P<final>final)\s+)?(?:phase|stage|milestone|sprint|step|part|week)\s*"
    r"(?P<num>\d[\w.]*|[A-Za-z])?\s*(?:[:.\-–—)]\s*|$)(?P<title>.*)$", re.IGNORECASE,
)  # fmt: skip
_WRITTEN_ID = re.compile(
    r"^(?:\*\*|__)?(?P<task>task\s+)?(?P<id>[A-Za-z]?\d+(?:\.\d+)*)(?:\*\*|__)?"
    r"(?P<sep>[.:)]|\s+[-–—])?\s+(?P<title>\S.*)$", re.IGNORECASE,
)  # fmt: skip
_DEPENDS_LINE = re.compile(r"^(?:\*\*|__)?depends\s+on(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(?P<ids>.*)$",
                           re.IGNORECASE)  # fmt: skip
_DEPENDS_TITLE = re.compile(r"\s*\(depends\s+on\s+(?P<ids>[^)]*)\)", re.IGNORECASE)
NOT_TASKS = frozenset({
    "deliverables", "deliverable", "exit criteria", "entry criteria", "acceptance criteria",
    "success criteria", "definition of done", "done when", "validation", "validation criteria",
    "goals", "goal", "objectives", "outcomes", "risks", "notes", "open questions", "out of scope",
    "non-goals", "prerequisites", "resources", "references", "success metrics", "metrics",
    "assumptions", "overview", "summary", "context", "background", "timeline", "estimate",
    "dependencies", "requirements", "architecture", "appendix", "glossary", "scope",
})  # fmt: skip
TASK_NAMES = frozenset({"tasks", "task list", "todo", "to do", "to-do", "checklist", "work items",
                         "steps", "action items", "implementation", "work"})  # fmt: skip
_NO_TASKS_FIX = "add '- [ ] Title' checklist items, e.g. under a '## Phase 1: Name' heading"


@dataclass(slots=True)
class _Group:
    """A phase, or a ``##`` section that becomes one when it holds tasks."""

    heading: str
    line: int
    level: int
    title: str
    number: str | None = None
    phase: bool = False
    key: str = ""  # what positional ids count under: the phase number, else the position
    tasks_here: bool = True  # whether checklist items here are tasks (not deliverables…)
    text: list[Line] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)


def parse_handwritten(text: str, where: str | None = None, split_subtasks: bool = False) -> Plan:
    """Parse a hand-written checklist plan into a checked plan (``format="handwritten"``)."""
    lines = text.split("\n")
    settings, skip = front_matter(lines, where)
    scanned = scan(lines, skip)
    title, title_line = title_of(scanned)
    intro = _Group("", 0, 1, "")
    groups: list[_Group] = []
    group = intro
    task: Draft | None = None
    sub: Draft | None = None
    task_indent = sub_indent = 0
    auto: dict[int, str] = {}  # id(draft) → the key its positional id counts under
    for line in scanned:
        if line.n == title_line:
            continue
        if line.kind == "heading":
            task = sub = None
            group = _heading(line, group, groups)
            continue
        nested = task is not None and line.kind != "blank" and line.indent > task_indent
        if line.kind == "item" and line.box is not None and not nested and group.tasks_here:
            task, task_indent, sub = _task(line, group, where, auto), line.indent, None
            continue
        if task is not None and nested:
            if line.kind == "item" and line.box is not None and (sub is None or line.indent <= sub_indent):
                sub, sub_indent = _task(line, group, where, auto, parent=task), line.indent
            elif sub is not None and line.indent > sub_indent:
                _detail(sub, line)
            else:
                sub = None
                _detail(task, line)
            continue
        if line.kind not in ("blank", "comment"):
            task = sub = None
            if line.kind == "text" and line.indent == 0 and (found := marker(line.text)) \
                    and not found[1]:  # a bare "**Deliverables**" line starts a kind of section
                name = found[0].lower()
                if name in NOT_TASKS or name in TASK_NAMES:
                    group.tasks_here = name not in NOT_TASKS
        group.text.append(line)
    drafts = [d for g in [intro, *groups] for d in g.drafts]
    _number(drafts, auto)
    _check_order(groups, where)
    chain([g.drafts for g in groups])
    tasks = to_tasks(drafts, split=split_subtasks, kind="hand-written")
    phases = []
    for g in groups:
        if g.drafts:
            ids = {d.id for d in g.drafts} | {s.id for d in g.drafts for s in d.subtasks}
            phases.append(Phase(len(phases) + 1, g.title, g.number, g.line, raw_text(g.text),
                                tuple(t.id for t in tasks if t.id in ids)))  # fmt: skip
    sections = [(g.heading, raw_text(g.text)) for g in groups if not g.drafts and raw_text(g.text)]
    title = str(settings.get("title") or title or fallback_title(where, "Plan"))
    return build_plan(
        title, tasks, phases=phases, settings=settings, path=where, overview=raw_text(intro.text),
        sections=sections, format="handwritten", end_line=end_line(lines),
        no_tasks_fix=_NO_TASKS_FIX,
    )  # fmt: skip


def _heading(line: Line, group: _Group, groups: list[_Group]) -> _Group:
    m = PHASE.match(line.text)
    current = group if group.level > 1 else None
    if current is not None and current.phase and line.level > current.level and not m:
        name = line.text.lower().rstrip(":").strip()
        current.tasks_here = name not in NOT_TASKS
        current.text.append(line)
        return current
    if m or line.level <= 2 or current is None:
        new = _Group(line.text, line.n, line.level, line.text, key=str(len(groups) + 1))
        if m:
            new.phase, new.number = True, m.group("num") or None
            new.key = new.number or new.key
            new.title = m.group("title").strip() or line.text
        else:
            new.tasks_here = line.text.lower().rstrip(":").strip() not in NOT_TASKS
        groups.append(new)
        return new
    current.tasks_here = line.text.lower().rstrip(":").strip() not in NOT_TASKS
    current.text.append(line)
    return current


def _task(line: Line, group: _Group, where: str | None, auto: dict[int, str],
          parent: Draft | None = None) -> Draft:  # fmt: skip
    text = line.text
    m = _WRITTEN_ID.match(text)
    written = m and (m.group("task") or m.group("sep") or "." in m.group("id"))
    task_id, title = (m.group("id"), m.group("title").strip()) if written and m else ("", text)
    deps = _DEPENDS_TITLE.search(title)
    if deps:
        title = (title[:deps.start()] + title[deps.end():]).strip()
    if not title:
        raise PlanError("checklist task has no title", "write text after '- [ ]'", path=where,
                        line=line.n)  # fmt: skip
    draft = Draft(task_id, title, line.n, phase=group.title if group.level > 1 else None,
                  done=line.box in "xX")  # fmt: skip
    if deps:
        draft.depend(split_ids(deps.group("ids")), line.n)
    if line.box in "-~/":
        draft.extra.append(("Status", "in progress"))
    if not task_id and parent is None:
        auto[id(draft)] = group.key
    if parent is not None:
        parent.subtasks.append(draft)
    else:
        group.drafts.append(draft)
    return draft


def _detail(draft: Draft, line: Line) -> None:
    m = _DEPENDS_LINE.match(line.text)
    if m and line.kind in ("item", "text"):
        draft.depend(split_ids(m.group("ids")), line.n)
        return
    draft.details.append(line.raw)


def _check_order(groups: list[_Group], where: str | None) -> None:
    """A dependency on a task of a later phase would make a cycle: say so plainly."""
    rank = {t.id: n for n, g in enumerate(groups) for d in g.drafts for t in (d, *d.subtasks)}
    for n, g in enumerate(groups):
        for task in (t for d in g.drafts for t in (d, *d.subtasks)):
            later = next((dep for dep in task.depends_on if rank.get(dep, -1) > n), None)
            if later is not None:
                raise PlanError(f"task {task.id!r} depends on {later!r}, which is in a later phase",
                                f"phases run in order: move {task.id} to a phase after that of "
                                f"{later}, or drop the dependency", path=where,
                                line=task.depends_line or task.line)  # fmt: skip


def _number(drafts: list[Draft], auto: dict[int, str]) -> None:
    """Give positional ids to items that wrote none, skipping ids written anywhere."""
    taken = {d.id for d in drafts if d.id} | {s.id for d in drafts for s in d.subtasks if s.id}
    counters: dict[str, int] = {}

    def next_id(key: str) -> str:
        while True:
            counters[key] = counters.get(key, 0) + 1
            candidate = f"{key}.{counters[key]}" if key else str(counters[key])
            if candidate not in taken:
                taken.add(candidate)
                return candidate

    for draft in drafts:
        if not draft.id:
            draft.id = next_id(auto[id(draft)])
        for sub in draft.subtasks:
            if not sub.id:
                sub.id = next_id(draft.id)
