"""Tell which format a plan is written in, from its file name and its content.

Rules, in order (the first that holds wins):

1. ``.yaml``/``.yml`` → yaml, ``.toml`` → toml, ``.json`` → taskmaster; text that starts with ``{``
   and has no suffix (or ``.txt``) → taskmaster.
2. Markdown with nborch task headings (``## Task 1: …``, ``### Task 1.1: …``) or without any
   checklist item → markdown, nborch's own format.
3. Checklist items that start with a spec-kit id (``- [ ] T001 …``, three digits or more): half of
   the checklist items or more, or five such items, or a file named ``tasks.md`` → speckit.
4. Checklist items numbered Kiro's way (``- [ ] 1. Title``, ``- [ ] 1.1 Title``) for half of the
   items or more, no phase headings, and either the file is under ``.kiro/``, or a Kiro mark
   (``_Requirements: …_``, ``**Validates: …**``, ``- [ ]*``, ``- [-]``), or a file named
   ``tasks.md`` with both ``1.`` and ``1.1`` items → kiro. Any numbered item under ``.kiro/`` → kiro.
5. A file named ``PLAN.md``, ``IMPLEMENTATION_PLAN.md`` (or ``implementation-plan.md``) or
   ``TODO.md`` → handwritten.
6. No ``Depends on:``/``Agents:`` lines (nborch's own), and a hand-written sign: a phase number
   used twice, a phase heading ending in ``(...)`` (``## Phase 1: Setup (Week 1)``), or headings
   inside phases that name kinds of content (Tasks, Deliverables, Exit criteria…) and never tasks
   → handwritten.
7. Anything else → markdown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ._lines import marker, scan
from .handwritten import NOT_TASKS, PHASE, TASK_NAMES
from .kiro import KIRO_ID

_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "taskmaster"}
HANDWRITTEN_NAMES = frozenset({"plan.md", "implementation_plan.md", "implementation-plan.md",
                               "todo.md"})  # fmt: skip
_NATIVE_TASK = re.compile(r"^task\s+[^:\s]+\s*(?::|[-–—.)](?:\s|$))", re.IGNORECASE)
_NATIVE_META = re.compile(r"^(?:[-*+]\s+)?(?:\*\*|__)?(?:depends on|agents?)(?:\*\*|__)?\s*:",
                          re.IGNORECASE)  # fmt: skip
_SPECKIT_ID = re.compile(r"^(?:\*\*|__)?T\d{3,}")
_KIRO_MARK = re.compile(r"^[-*+\s]*[_*]*\s*(?:requirements?\s*[_*]*\s*:|validates\s*:)", re.IGNORECASE)
_SECTION_NAMES = NOT_TASKS | TASK_NAMES
_ANY_BOX = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+\[[^\]\n]?\]", re.MULTILINE)
_FAST_NATIVE = re.compile(r"^#{2,3}[ \t]+task[ \t]+[^:\s]+[ \t]*(?::|[-–—.)](?:\s|$))",
                          re.IGNORECASE | re.MULTILINE)  # fmt: skip
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)


def detect_format(text: str, source: str | Path | None = None) -> str:
    """The format of plan ``text`` read from ``source``: one of :data:`nborch.plan.load.FORMATS`.

    >>> detect_format("- [ ] T001 [P] Create the project structure\\n")
    'speckit'
    >>> detect_format("# P\\n## Task 1: Write the README\\n")
    'markdown'
    """
    path = Path(source) if source is not None else None
    suffix = path.suffix.lower() if path else ""
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix in ("", ".txt") and text.lstrip().startswith("{"):
        return "taskmaster"
    # Rule 2 without reading every line: most plans are nborch's own, and a 5,000-task plan
    # should not pay for a full scan. Fences could hide a heading, so they take the long way.
    if not _ANY_BOX.search(text) or (_FAST_NATIVE.search(text) and not _FENCE.search(text)):
        return "markdown"
    return _markdown_kind(_Signs.of(text), path)


@dataclass(slots=True)
class _Signs:
    """What one pass over the lines found."""

    boxes: int = 0
    speckit_ids: int = 0
    kiro_ids: int = 0
    kiro_top: bool = False
    kiro_dotted: bool = False
    kiro_marks: int = 0
    native_tasks: bool = False
    native_meta: bool = False
    phases: int = 0
    repeated_phase: bool = False
    paren_phase: bool = False
    section_headings: bool = False
    task_headings: bool = False  # a heading inside a phase that names a task, nborch-style

    @classmethod
    def of(cls, text: str) -> _Signs:
        signs = cls()
        numbers: set[str] = set()
        phase_level = 0
        for line in scan(text.split("\n")):
            if line.kind == "heading":
                if line.level in (2, 3) and _NATIVE_TASK.match(line.text):
                    signs.native_tasks = True
                m = PHASE.match(line.text)
                if m and line.level >= 2:
                    signs.phases += 1
                    phase_level = line.level
                    num = m.group("num")
                    signs.repeated_phase |= bool(num) and num in numbers
                    numbers.add(num or "")
                    signs.paren_phase |= line.text.rstrip().endswith(")")
                elif phase_level and line.level > phase_level:
                    name = line.text.lower().rstrip(":").strip()
                    if name in _SECTION_NAMES:
                        signs.section_headings = True
                    else:
                        signs.task_headings = True
                else:
                    phase_level = 0
            elif line.kind == "item" and line.box is not None:
                signs.boxes += 1
                signs.speckit_ids += bool(_SPECKIT_ID.match(line.text))
                kiro = KIRO_ID.match(line.text)
                if kiro:
                    signs.kiro_ids += 1
                    dotted = "." in kiro.group("id")
                    signs.kiro_dotted |= dotted
                    after = len(kiro.group("id"))
                    signs.kiro_top |= not dotted and line.text[after:after + 1] == "."
                signs.kiro_marks += line.star or line.box in "-~"
            if line.kind in ("item", "text"):
                signs.native_meta |= bool(_NATIVE_META.match(line.text))
                signs.kiro_marks += bool(_KIRO_MARK.match(line.text))
                if phase_level and line.kind == "text" and line.indent == 0:
                    found = marker(line.text)
                    signs.section_headings |= bool(found and not found[1]
                                                   and found[0].lower() in _SECTION_NAMES)
        return signs


def _markdown_kind(signs: _Signs, path: Path | None) -> str:
    name = path.name.lower() if path else ""
    if signs.native_tasks or not signs.boxes:
        return "markdown"
    if signs.speckit_ids and (signs.speckit_ids * 2 >= signs.boxes or signs.speckit_ids >= 5
                              or name == "tasks.md"):  # fmt: skip
        return "speckit"
    under_kiro = path is not None and ".kiro" in path.parts
    if signs.kiro_ids * 2 >= signs.boxes and not signs.phases and (
        under_kiro or signs.kiro_marks
        or (name == "tasks.md" and signs.kiro_top and signs.kiro_dotted)
    ):
        return "kiro"
    if under_kiro and signs.kiro_ids:
        return "kiro"
    if name in HANDWRITTEN_NAMES:
        return "handwritten"
    hand_signs = signs.repeated_phase or signs.paren_phase or (
        signs.section_headings and not signs.task_headings)
    if not signs.native_meta and hand_signs:
        return "handwritten"
    return "markdown"
