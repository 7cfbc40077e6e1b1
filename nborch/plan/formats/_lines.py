"""Markdown read line by line for the checklist formats: headings, list items and text.

Lines inside fenced code blocks (```` ``` ```` or ``~~~``) and HTML comments are ``code`` and
``comment`` lines, never items or headings, so a ``- [ ] T001`` inside a fence is not a task.
Indented code blocks are not recognised: in a checklist, indentation means nesting.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..data import end_line, front_matter  # noqa: F401 - shared by the format readers

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(?P<rest>.*?))?[ \t]*$")
_BOX = re.compile(r"^\[(?P<mark>[ xX~/-])\](?P<star>\*)?(?:[ \t]+|$)")
_FENCE = re.compile(r"^[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?(?P<fence>`{3,}|~{3,})")
_BOLD = re.compile(r"^(?:\*\*|__)(?P<name>[^*_\n]{1,60}?)(?::)?(?:\*\*|__)\s*:?\s*(?P<rest>.*)$")
_LABEL = re.compile(r"^(?P<name>[A-Za-z][A-Za-z /-]{1,40}):\s*(?P<rest>.*)$")


@dataclass(frozen=True, slots=True)
class Line:
    """One source line: ``kind`` is heading, item, text, blank, code or comment."""

    n: int  # 1-based line number
    kind: str
    indent: int
    text: str  # heading text; item text after its marker and checkbox; stripped text otherwise
    raw: str
    level: int = 0  # heading level
    box: str | None = None  # the checkbox mark (" ", "x", "-", …) of a checklist item
    star: bool = False  # Kiro's optional marker: ``- [ ]* 1.2 Title``


def scan(lines: list[str], start: int = 0) -> list[Line]:
    """Classify ``lines[start:]`` (front matter already skipped)."""
    out: list[Line] = []
    fence = ""
    fence_indent = 0
    comment = False
    for i in range(start, len(lines)):
        raw = lines[i]
        n = i + 1
        if fence:
            m = _FENCE.match(raw)
            if m and m.group("fence")[0] == fence[0] and len(m.group("fence")) >= len(fence) \
                    and not raw.strip().lstrip(fence[0]):  # fmt: skip
                fence = ""
            out.append(Line(n, "code", fence_indent, raw.strip(), raw))
            continue
        if comment:
            comment = "-->" not in raw
            out.append(Line(n, "comment", 0, raw.strip(), raw))
            continue
        stripped = raw.strip()
        if not stripped:
            out.append(Line(n, "blank", 0, "", raw))
            continue
        m = _FENCE.match(raw)
        if m:
            fence = m.group("fence")
            fence_indent = len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())
            out.append(Line(n, "code", fence_indent, stripped, raw))
            continue
        if stripped.startswith("<!--"):
            comment = "-->" not in stripped[4:]
            out.append(Line(n, "comment", 0, stripped, raw))
            continue
        out.append(_classify(n, raw, stripped))
    return out


def _classify(n: int, raw: str, stripped: str) -> Line:
    expanded = raw.expandtabs(4)
    indent = len(expanded) - len(expanded.lstrip())
    heading = _HEADING.match(raw)
    if heading:
        return Line(n, "heading", 0, (heading.group(2) or "").strip(), raw, level=len(heading.group(1)))
    item = _ITEM.match(expanded)
    if item:
        rest = item.group("rest") or ""
        box = _BOX.match(rest)
        if box:
            return Line(n, "item", indent, rest[box.end():].strip(), raw, box=box.group("mark"),
                        star=bool(box.group("star")))  # fmt: skip
        return Line(n, "item", indent, rest.strip(), raw)
    return Line(n, "text", indent, stripped, raw)


def marker(text: str) -> tuple[str, str] | None:
    """A section marker line: ``**Deliverables**``, ``**Goal**: text`` or ``Exit criteria:``."""
    m = _BOLD.match(text) or _LABEL.match(text)
    if not m:
        return None
    return m.group("name").strip().rstrip(":").strip(), m.group("rest").strip()


def title_of(lines: list[Line]) -> tuple[str, int]:
    """The first level-1 heading and its line (``("", 0)`` when there is none)."""
    for line in lines:
        if line.kind == "heading" and line.level == 1:
            return line.text, line.n
    return "", 0


_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")


def raw_text(lines: list[Line]) -> str:
    """Source lines as written, dedented; thematic breaks (``---``) and repeated blank lines go."""
    kept: list[str] = []
    for line in lines:
        if line.kind == "text" and _RULE.match(line.raw):
            continue
        if line.kind == "blank" and (not kept or not kept[-1].strip()):
            continue
        kept.append(line.raw)
    return textwrap.dedent("\n".join(kept)).strip("\n").rstrip()





def fallback_title(where: str | None, default: str) -> str:
    """A title from the file name when the plan has none: ``specs/001-photos/tasks.md`` → ``001-photos``."""
    if where is None:
        return default
    path = Path(where)
    if path.stem.lower() == "tasks" and path.parent.name:
        return path.parent.name
    return path.stem
