"""Read a Kiro spec's ``tasks.md`` (``.kiro/specs/<feature>/tasks.md``) as it is.

What is read:

- ``- [ ] 1. Title`` → top-level task ``1``; ``- [ ] 1.1 Title`` → a sub-task of ``1``, whether it is
  indented or not and wherever it stands: the parent comes from the id. A dotted id whose parent
  is not in the file is a task of its own. Words like ``Phase 1:`` in a title stay title text:
  Kiro has no phase headings, so the plan has no phases;
- ``[x]`` → done; ``[-]`` (Kiro's "in progress") → a ``Status`` section; ``- [ ]*`` → an optional
  task: an ``Optional`` section and priority ``low``;
- lines indented under a task (its ``- text`` bullets) → its technical implementation, except
  ``_Requirements: 1.2, 3.1_`` (→ a ``Requirements`` section and the validation criterion "Meets
  requirements 1.2, 3.1 (see requirements.md)"), ``**Validates: Requirements 1.1**`` and
  ``**Property 3: …**`` lines (→ validation criteria). These name requirement clauses, never
  tasks, so they make no dependencies;
- the title (``# Implementation Plan``), the text before the first ``##`` (the overview) and the
  other ``##`` sections (Overview, Notes) → the plan's title, overview and sections.

Kiro writes no dependencies and no phases, so the tasks have none: every top-level task is in the
first wave. Split sub-tasks (``split_subtasks=True``) run before their parent, as everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import PlanError
from ..build import build_plan
from ..model import Plan
from ._draft import Draft, to_tasks
from ._lines import Line, end_line, fallback_title, raw_text, scan, title_of

KIRO_ID = re.compile(r"^(?P<id>\d+(?:\.\d+)*)\.?(?:\s+|$)")
_REQUIREMENTS = re.compile(r"^[_*\s]*requirements?\s*[_*]*\s*:\s*[_*]*\s*(?P<refs>.*?)[_*\s]*$",
                           re.IGNORECASE)  # fmt: skip
_CLAIM = re.compile(r"^(?:\*\*|__|_|\*)?(?P<text>(?:validates|property\s+\d+)\b.*?)(?:\*\*|__|_|\*)?$",
                    re.IGNORECASE)  # fmt: skip
_NO_TASKS_FIX = "add Kiro tasks such as '- [ ] 1. Set up the project structure'"


def parse_kiro(text: str, where: str | None = None, split_subtasks: bool = False) -> Plan:
    """Parse a Kiro ``tasks.md`` into a checked plan (``format="kiro"``)."""
    lines = text.split("\n")
    scanned = scan(lines)
    title, title_line = title_of(scanned)
    entries: list[tuple[Draft, int]] = []  # every checklist task, with the indent of its line
    loose: list[tuple[Draft, int]] = []  # checklist items without an id
    intro: list[Line] = []
    sections: list[tuple[str, list[Line]]] = []
    current: tuple[Draft, int] | None = None
    for line in scanned:
        if line.n == title_line:
            continue
        if line.kind == "heading":
            current = None
            if line.level <= 2:
                sections.append((line.text, []))
            else:
                (sections[-1][1] if sections else intro).append(line)
            continue
        m = KIRO_ID.match(line.text) if line.kind == "item" and line.box is not None else None
        nested = current is not None and line.kind != "blank" and line.indent > current[1]
        if m or (line.kind == "item" and line.box is not None and not nested):
            draft = _draft(line, m, where)
            current = (draft, line.indent)
            (entries if m else loose).append(current)
            continue
        if current is not None and (nested or line.kind == "blank"):
            if line.kind != "blank":
                _detail(current[0], line)
            continue
        if line.kind not in ("comment",):
            current = None
        (sections[-1][1] if sections else intro).append(line)
    drafts = _tree([d for d, _ in entries], [d for d, _ in loose])
    tasks = to_tasks(drafts, split=split_subtasks, kind="Kiro")
    folder = Path(where).parent.name if where else ""
    if not title or (title.lower() == "implementation plan" and folder and folder != "."):
        title = f"{title or 'Implementation Plan'}: {folder}" if folder else fallback_title(where, "Tasks")
    kept = [(name, body) for name, body in ((n, raw_text(b)) for n, b in sections) if body]
    return build_plan(
        title, tasks, path=where, overview=raw_text(intro), sections=kept, format="kiro",
        end_line=end_line(lines), no_tasks_fix=_NO_TASKS_FIX,
    )  # fmt: skip


def _draft(line: Line, m: re.Match[str] | None, where: str | None) -> Draft:
    task_id = m.group("id") if m else ""
    title = (line.text[m.end():] if m else line.text).strip()
    if not title:
        example = task_id if "." in task_id else f"{task_id or '1'}."
        raise PlanError(f"Kiro task {task_id!r} has no title" if task_id else "checklist task has no title",
                        f"write a title after the id, e.g. '- [ ] {example} Add the store'",
                        path=where, line=line.n)  # fmt: skip
    draft = Draft(task_id, title, line.n, done=line.box in "xX")
    if line.box in "-~/":
        draft.extra.append(("Status", "in progress"))
    if line.star:
        draft.extra.append(("Optional", "yes (Kiro's '- [ ]*')"))
        draft.priority = "low"
    return draft


def _detail(draft: Draft, line: Line) -> None:
    text = line.text if line.kind == "item" else line.text.lstrip("-*+ ").strip()
    req = _REQUIREMENTS.match(text)
    if req and req.group("refs"):
        refs = req.group("refs").strip().rstrip(".")
        draft.extra.append(("Requirements", refs))
        draft.validation.append(f"Meets requirements {refs} (see requirements.md)")
        return
    claim = _CLAIM.match(text)
    if claim:
        draft.validation.append(claim.group("text").strip().rstrip("*_").strip())
        return
    draft.details.append(line.raw)


def _tree(entries: list[Draft], loose: list[Draft]) -> list[Draft]:
    """Top-level tasks with their sub-tasks attached by id; items without an id take a number."""
    tops = {d.id: d for d in entries if "." not in d.id}
    out: list[Draft] = []
    for draft in entries:
        parent = tops.get(draft.id.split(".")[0]) if "." in draft.id else None
        if parent is not None:
            parent.subtasks.append(draft)
        else:
            out.append(draft)
    used = {d.id for d in entries}
    n = 0
    for draft in loose:  # Kiro numbers every task; an unnumbered one takes the next free number
        n += 1
        while str(n) in used:
            n += 1
        draft.id = str(n)
        out.append(draft)
    out.sort(key=lambda d: d.line)
    return out
