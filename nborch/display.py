"""Pure functions that draw tables as HTML and as text for notebooks and terminals.

Every value is escaped and colours come from JupyterLab CSS variables, so dark themes work. The
tables are plain HTML that read well even where styles are stripped (GitHub, nbviewer), so no
separate text fallback is embedded; every object also has a ``__str__`` text table.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

_STYLE = (
    "border-collapse:collapse;font-size:var(--jp-ui-font-size1,13px);"
    "color:var(--jp-ui-font-color1,inherit)"
)
_CELL = "padding:2px 8px;border-bottom:1px solid var(--jp-border-color2,#ddd);text-align:left"


def plural(n: int, noun: str) -> str:
    """``plural(1, "task")`` → ``'1 task'``; ``plural(2, "task")`` → ``'2 tasks'``."""
    return f"{n} {noun}{'s' * (n != 1)}"


def cell_text(value: object, limit: int = 80) -> str:
    """One table cell as a single short line of text."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, float):
        value = f"{value:.2f}"
    text = printable(" ".join(str(value).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def printable(text: str) -> str:
    """``text`` with what a terminal would act on written as ``\\x1b``-style escapes (control
    characters, bidi overrides), so text from a plan or an agent cannot retitle, clear, hide or
    reorder parts of a terminal; lines and tabs stay, other spaces become plain ones."""
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " if ch.isspace() else _escape(ch)
                   for ch in text)  # fmt: skip


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def text_table(columns: Sequence[str], rows: Iterable[Sequence[object]], limit: int = 40) -> str:
    """A plain, fixed-width table for ``print`` and for terminals without rich."""
    cells = [[cell_text(v, limit) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    rule = ["-" * w for w in widths]
    return "\n".join([line(list(columns)), line(rule), *(line(r) for r in cells)])


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    caption: str = "",
    max_rows: int = 200,
) -> str:
    """An escaped HTML table; rows past ``max_rows`` are summarised, not drawn."""
    rows = list(rows)
    shown = rows[:max_rows]
    head = "".join(f'<th style="{_CELL}">{html.escape(c)}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{html.escape(cell_text(v))}</td>' for v in row) + "</tr>"
        for row in shown
    )
    more = ""
    if len(rows) > max_rows:
        more = f"<tr><td colspan={len(columns)} style=\"{_CELL}\">… {len(rows) - max_rows} more rows</td></tr>"
    cap = f'<caption style="text-align:left;font-weight:bold">{html.escape(caption)}</caption>' if caption else ""
    return f'<table style="{_STYLE}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}{more}</tbody></table>'
