"""What every source format shares: a task as the source wrote it, and how it becomes a Task.

A :class:`Draft` keeps a source task with its sub-tasks. :func:`to_tasks` turns drafts into
:class:`~nborch.plan.model.Task` records:

- without ``split``, a draft's sub-tasks become its key activities (``"1.2 Title"``, with
  ``(done)`` and ``(after 1.1)`` notes), their validation criteria join the parent's, and a
  dependency of a sub-task on another task becomes a dependency of its parent;
- with ``split``, every sub-task is a task of its own that depends on its parent's predecessors,
  and the parent depends on its sub-tasks: whatever waited for the parent waits for all of them,
  and the parent's own work (integration, or the details it had) comes last.

Every task gets a ``Source`` section, ``line 42, spec-kit task T012``, so its prompt can say where it
came from (``plan.path`` names the file; the section leaves the path out so that words like
``tasks.md`` do not sway the classifier).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..model import Criterion, Task


@dataclass(slots=True)
class Draft:
    """A task as a source format wrote it, before it becomes a :class:`~nborch.plan.model.Task`."""

    id: str
    title: str
    line: int
    phase: str | None = None
    done: bool = False
    overview: str = ""
    details: list[str] = field(default_factory=list)
    validation: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    depends_line: int = 0
    priority: str = "medium"
    extra: list[tuple[str, str]] = field(default_factory=list)
    subtasks: list[Draft] = field(default_factory=list)

    def depend(self, ids: Iterable[str], line: int = 0) -> None:
        """Add dependencies (kept once each, in order); ``line`` is where the source wrote them."""
        new = [i for i in ids if i not in self.depends_on]
        if new:
            self.depends_on.extend(new)
            if line and not self.depends_line:
                self.depends_line = line


def chain(groups: Sequence[Sequence[Draft]]) -> None:
    """Make every draft of a group depend on every draft of the previous non-empty group.

    Groups run in order; drafts inside one group are independent. Ordering is transitive, so
    each group needs edges only to the group before it.
    """
    previous: list[str] = []
    for group in groups:
        if not group:
            continue
        for draft in group:
            draft.depends_on[:0] = [i for i in previous if i not in draft.depends_on]
        previous = [d.id for d in group]


def to_tasks(drafts: Sequence[Draft], *, split: bool, kind: str) -> list[Task]:
    """Tasks from drafts: sub-tasks as key activities, or (``split``) as tasks of their own."""
    owner = {sub.id: d.id for d in drafts for sub in d.subtasks}
    tasks: list[Task] = []
    for draft in drafts:
        if split and draft.subtasks:
            sub_ids = [s.id for s in draft.subtasks]
            own = list(draft.depends_on)
            draft.depend(sub_ids)
            draft.overview = _join(draft.overview, (
                f"Its sub-tasks {', '.join(sub_ids)} run as tasks of their own before it; "
                "finish what they leave and check that together they complete this task."))
            tasks.append(_task(draft, kind))
            for sub in draft.subtasks:
                sub.phase = draft.phase
                deps = [d for d in own + sub.depends_on if d != draft.id]
                sub.depends_on = list(dict.fromkeys(deps))
                sub.depends_line = sub.depends_line or draft.depends_line
                tasks.append(_task(sub, kind, parent=draft.id))
            continue
        siblings = {s.id for s in draft.subtasks}
        # A dependency on another task's sub-task is a dependency on that task.
        mapped = (owner.get(d, d) for d in draft.depends_on)
        draft.depends_on = list(dict.fromkeys(d for d in mapped if d != draft.id))
        for sub in draft.subtasks:
            outside = [owner.get(d, d) for d in sub.depends_on if d not in siblings]
            draft.depend([d for d in outside if d != draft.id], sub.depends_line)
            draft.validation.extend(v for v in sub.validation if v not in draft.validation)
        tasks.append(_task(draft, kind, activities=[activity(s) for s in draft.subtasks]))
    return tasks


def activity(sub: Draft) -> str:
    """A sub-task as one key activity: ``"1.2 Title (done) (after 1.1)"`` and its details."""
    notes = " (done)" if sub.done else ""
    if sub.depends_on:
        notes += f" (after {', '.join(sub.depends_on)})"
    head = f"{sub.id} {sub.title}{notes}"
    body = [sub.overview] if sub.overview else []
    details = textwrap.dedent("\n".join(sub.details)).strip()
    return "\n".join([head, *body, *([details] if details else [])])


def _task(draft: Draft, kind: str, parent: str | None = None,
          activities: Sequence[str] = ()) -> Task:  # fmt: skip
    source = f"line {draft.line}, {kind} task {draft.id}"
    if parent is not None:
        source += f", a sub-task of {parent}"
    return Task(
        id=draft.id, title=draft.title, phase=draft.phase, overview=draft.overview,
        key_activities=tuple(activities),
        validation=tuple(Criterion.parse(v) for v in draft.validation),
        technical_implementation=textwrap.dedent("\n".join(draft.details)).strip(),
        depends_on=tuple(dict.fromkeys(draft.depends_on)), priority=draft.priority,
        extra_sections=(("Source", source), *draft.extra), done=draft.done, line=draft.line,
        depends_line=draft.depends_line or draft.line,
    )  # fmt: skip


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)
