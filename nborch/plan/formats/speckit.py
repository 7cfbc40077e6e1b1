"""Read a GitHub spec-kit ``tasks.md`` (what ``/speckit.tasks`` writes) as it is.

What is read:

- optional YAML front matter → plan settings; ``# Tasks: Name`` → the title; text before the
  first ``##`` → the plan overview;
- ``## Phase N: Name`` and ``## Final Phase: Name`` → phases (so is any ``##`` section that holds
  tasks); ``(Priority: P1)`` in a phase heading → the priority of its tasks;
- ``- [ ] T001 [P] [US1] text`` → task ``T001`` titled ``text``: ``[x]``/``[X]`` → done, ``[P]`` →
  a ``Parallel`` section, ``[US1]`` → a ``User story`` section, other bracket tags → ``Labels``;
  the ``###`` heading it stands under → a ``Section`` section. A dotted id (``T007.1``) is a task
  of its own where it stands, even before ``T007``: spec-kit has no sub-tasks, dotted ids are
  tasks inserted later;
- ``- [ ]`` items indented under a task → its sub-tasks (their written id, or ``T001.1``…); other
  indented lines → its technical implementation;
- the other ``##`` sections (Format, Path Conventions, Dependencies & Execution Order, Parallel
  Example with its fenced ``Task: "..."`` lines, Implementation Strategy, Notes) → plan sections,
  never tasks; a checkbox without a ``T`` id (a checklist gate) is text, not a task.

Order, from spec-kit's own rules for ``/speckit.implement`` ("phase-by-phase execution"; "run
sequential tasks in order, parallel tasks [P] can run together"):

- phases run in order;
- inside a phase, tasks run in file order, except that a run of consecutive ``[P]`` tasks is one
  group that runs together; a ``###`` heading (``Tests for User Story 1`` then ``Implementation
  for User Story 1``) ends a group. A task without ``[P]`` is a group of its own;
- encoded as dependencies between neighbouring groups only: each group depends on every task of
  the group before it (the previous task, or the whole previous ``[P]`` run), and the first group
  of a phase on the last group of the phase before. Ordering is transitive, so every task of phase
  N still comes after every task of phase N-1, with few edges even in very long files;
- ``depends on T012, T013`` (also ``after``, ``requires``, ``needs``, ``blocked by``; ranges
  ``T012–T015``) inside a task line, and ``T014 depends on T012`` lines in a non-phase section,
  add dependencies. One on a task that runs later by the rules above would make a cycle and is an
  error naming the line.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field

from ...errors import PlanError
from ...names import closest
from ..build import build_plan, normalize_priority
from ..model import Phase, Plan
from ._draft import Draft, chain, to_tasks
from ._lines import Line, end_line, fallback_title, front_matter, raw_text, scan, title_of

_PHASE = re.compile(
    r"^(?:(?P<final>final)\s+)?phase\b\s*(?P<num>\d[\w.]*|[A-Za-z])?\s*(?:[:.\-–—)]\s*|$)"
    r"(?P<title>.*)$", re.IGNORECASE,
)  # fmt: skip
TASK_ID = re.compile(r"^(?:\*\*|__)?(?P<id>T\d+(?:\.\d+)*[a-z]?)(?:\*\*|__)?(?:[:.]?\s+|[:.]?$)")
_TAG = re.compile(r"^\[(?P<tag>[^\[\]\n]{1,40})\]\s*")
_STORY = re.compile(r"^(?:US|story\s*)\d+$", re.IGNORECASE)
_PRIORITY = re.compile(r"\(\s*priority\s*:\s*(?P<p>\w+)\s*\)", re.IGNORECASE)
_DEP_WORD = re.compile(
    r"\b(?:depends?\s+(?:on|upon)|dependent\s+on|blocked\s+by|requires|needs|after)\b[:\s]*",
    re.IGNORECASE,
)
_ID = r"T\d+(?:\.\d+)*[a-z]?"
_RANGE_SEP = r"\s*(?:-|–|—|\.\.|to|through)\s*"
_DEP_RUN = re.compile(rf"(?:\s*(?:,|&|/|\band\b)?\s*{_ID}(?:{_RANGE_SEP}{_ID})?)+", re.IGNORECASE)
_RANGE = re.compile(rf"\bT(?P<a>\d+){_RANGE_SEP}T(?P<b>\d+)\b", re.IGNORECASE)
_SUBJECT = re.compile(rf"^(?:\*\*|__)?(?P<id>{_ID})(?:\*\*|__)?\s*[:—–-]?\s*(?=[a-z])", re.IGNORECASE)
_NO_TASKS_FIX = ("add spec-kit tasks such as '- [ ] T001 Create the project structure' under a "
                 "'## Phase 1: Setup' heading")  # fmt: skip


@dataclass(slots=True)
class _Group:
    """A ``##`` section: a phase when it holds tasks, else a plan section kept verbatim."""

    heading: str
    line: int
    number: str | None = None
    title: str = ""
    phase: bool = False
    priority: str = "medium"
    sub: str = ""  # the ``###`` heading the next tasks stand under
    text: list[Line] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)


def parse_speckit(text: str, where: str | None = None, split_subtasks: bool = False) -> Plan:
    """Parse spec-kit ``tasks.md`` text into a checked plan (``format="speckit"``)."""
    return _Reader(text, where).plan(split_subtasks)


class _Reader:
    def __init__(self, text: str, where: str | None):
        self.where = where
        self.lines = text.split("\n")
        self.settings, skip = front_matter(self.lines, where)
        self.scanned = scan(self.lines, skip)
        self.intro: list[Line] = []
        self.groups: list[_Group] = []
        self.order: list[list[Draft]] = []  # groups of drafts that run together, in order
        self.rank: dict[str, int] = {}  # task id → index of its order group
        self.open_p = False  # the last order group is a [P] run that may grow
        self.explicit: list[tuple[Draft, str, int]] = []  # (task, text naming deps, line)
        self.subjects: list[tuple[str, str, int]] = []  # (task id, text naming deps, line)

    def plan(self, split: bool) -> Plan:
        title, title_line = title_of(self.scanned)
        group: _Group | None = None
        task: Draft | None = None
        task_indent = sub_indent = 0
        sub: Draft | None = None
        for line in self.scanned:
            if line.n == title_line:
                continue
            if line.kind == "heading":
                task = sub = None
                group = self.heading(line, group)
                continue
            nested = task is not None and line.kind != "blank" and line.indent > task_indent
            if line.kind == "item" and line.box is not None and (m := TASK_ID.match(line.text)) \
                    and not nested:  # fmt: skip
                group = group or self.loose_group()
                task, task_indent, sub = self.task(line, m, group), line.indent, None
                continue
            if task is not None and nested:
                if line.kind == "item" and line.box is not None and (sub is None
                                                                     or line.indent <= sub_indent):
                    sub, sub_indent = self.subtask(line, task), line.indent
                elif sub is not None and line.indent > sub_indent:
                    sub.details.append(line.raw)
                else:
                    sub = None
                    task.details.append(line.raw)
                if line.kind in ("item", "text"):
                    self.explicit.append((task, line.text, line.n))
                continue
            if line.kind not in ("blank", "comment"):
                task = sub = None
            if group is None:
                self.intro.append(line)
            else:
                group.text.append(line)
                if not group.phase and line.kind in ("item", "text"):
                    self.subject(line)
        return self.finish(title, split)

    def heading(self, line: Line, group: _Group | None) -> _Group | None:
        self.open_p = False
        m = _PHASE.match(line.text)
        if line.level == 2 or (line.level == 3 and m and (group is None or not group.phase)):
            new = _Group(line.text, line.n)
            if m:
                new.phase, new.number = True, m.group("num") or None
                new.title = m.group("title").strip() or line.text
                found = _PRIORITY.search(line.text)
                # "(Priority: whenever)" is the author's prose, not ours to refuse.
                with contextlib.suppress(ValueError):
                    new.priority = normalize_priority(found.group("p")) if found else new.priority
            self.groups.append(new)
            return new
        if group is None:
            self.intro.append(line)
        else:
            group.text.append(line)
            group.sub = line.text
        return group

    def loose_group(self) -> _Group:
        group = _Group("", 0, phase=True)
        self.groups.append(group)
        return group

    def task(self, line: Line, m: re.Match[str], group: _Group) -> Draft:
        rest = line.text[m.end():]
        parallel, story, labels = False, [], []
        while tag := _TAG.match(rest):
            name = tag.group("tag").strip()
            if name.upper() == "P":
                parallel = True
            elif _STORY.match(name):
                story.append(name.upper())
            else:
                labels.append(name)
            rest = rest[tag.end():]
        task_id, title = m.group("id"), rest.strip()
        if not title:
            raise PlanError(f"spec-kit task {task_id!r} has no description",
                            f"write what to do after the id, e.g. '- [ ] {task_id} Create the "
                            "project structure'", path=self.where, line=line.n)  # fmt: skip
        if not group.phase:  # a section that holds tasks is a phase after all
            group.phase, group.title = True, group.heading
        draft = Draft(task_id, title, line.n, phase=group.title or None,
                      done=line.box in "xX", priority=group.priority)  # fmt: skip
        if parallel:
            draft.extra.append(("Parallel", "[P]: may run together with the [P] tasks next to it"))
        if story:
            draft.extra.append(("User story", ", ".join(story)))
        if labels:
            draft.extra.append(("Labels", ", ".join(labels)))
        if group.sub:
            draft.extra.append(("Section", group.sub))
        group.drafts.append(draft)
        if not (parallel and self.open_p):
            self.order.append([])
        self.order[-1].append(draft)
        self.rank[task_id] = len(self.order) - 1
        self.open_p = parallel
        self.explicit.append((draft, title, line.n))
        return draft

    def subtask(self, line: Line, task: Draft) -> Draft:
        m = TASK_ID.match(line.text)
        sub_id = m.group("id") if m else f"{task.id}.{len(task.subtasks) + 1}"
        title = (line.text[m.end():] if m else line.text).strip()
        if not title:
            raise PlanError(f"sub-task of {task.id!r} has no description",
                            "write what to do after '- [ ]'", path=self.where, line=line.n)
        sub = Draft(sub_id, title, line.n, done=line.box in "xX", priority=task.priority)
        task.subtasks.append(sub)
        return sub

    def subject(self, line: Line) -> None:
        m = _SUBJECT.match(line.text)
        if m and _DEP_WORD.match(line.text[m.end():]):
            self.subjects.append((m.group("id"), line.text[m.end():], line.n))

    def finish(self, title: str, split: bool) -> Plan:
        drafts = [d for g in self.groups for d in g.drafts]
        chain(self.order)
        known = {d.id for d in drafts} | {s.id for d in drafts for s in d.subtasks}
        by_id = {d.id: d for d in drafts}
        for task_id, text, n in self.subjects:
            if task_id not in by_id:
                close = closest(task_id, by_id)
                raise PlanError(f"this line says task {task_id!r} depends on others, but there is "
                                f"no task {task_id!r}",
                                f"did you mean {close!r}?" if close else "name a task id",
                                path=self.where, line=n)  # fmt: skip
            self.explicit.append((by_id[task_id], text, n))
        for draft, text, n in self.explicit:
            self.add_deps(draft, text, n, known)
        phases, index = [], 0
        tasks = to_tasks(drafts, split=split, kind="spec-kit")
        for group in self.groups:
            if group.phase and group.title:
                index += 1
                ids = {d.id for d in group.drafts} | (
                    {s.id for d in group.drafts for s in d.subtasks} if split else set())
                phases.append(Phase(index, group.title, group.number, group.line,
                                    raw_text(group.text), tuple(t.id for t in tasks if t.id in ids)))
        sections = [(g.heading, raw_text(g.text)) for g in self.groups if not g.phase]
        title = str(self.settings.get("title") or title or fallback_title(self.where, "Tasks"))
        return build_plan(
            title, tasks, phases=phases, settings=self.settings, path=self.where,
            overview=raw_text(self.intro), sections=sections, format="speckit",
            end_line=end_line(self.lines), no_tasks_fix=_NO_TASKS_FIX,
        )  # fmt: skip

    def add_deps(self, draft: Draft, text: str, n: int, known: set[str]) -> None:
        for word in _DEP_WORD.finditer(text):
            run = _DEP_RUN.match(text, word.end())
            if not run:
                continue
            chunk = run.group(0)
            ids = re.findall(_ID, chunk)
            for r in _RANGE.finditer(chunk):  # T012–T015: the ids between that exist
                width = len(r.group("a"))
                ids += [i for k in range(int(r.group("a")) + 1, int(r.group("b")))
                        if (i := f"T{k:0{width}d}") in known]  # fmt: skip
            ids = [i for i in dict.fromkeys(ids) if i != draft.id]
            owner = self.rank.get(draft.id)
            for dep in ids:
                later = self.rank.get(dep)
                if owner is not None and later is not None and later > owner:
                    raise PlanError(
                        f"task {draft.id!r} depends on {dep!r}, which runs after it",
                        f"move {draft.id} below {dep} (phases run in order, and tasks without [P] "
                        "in file order) or drop the dependency", path=self.where, line=n,
                    )  # fmt: skip
            draft.depend(ids, n)
