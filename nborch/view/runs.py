"""The runs of a repository as a table, in HTML and text: pure functions over the frame
:func:`nborch.history` returns (the dashboard's top table)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..execute.table import CLASS, CSS, esc

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RUN_COLUMNS", "empty_message", "runs_html", "runs_text"]

RUN_COLUMNS = ("run", "created", "status", "plan", "base", "attempts", "completed", "failed",
               "timeout", "cancelled", "interrupted", "running")  # fmt: skip
_COUNTS = RUN_COLUMNS[5:]
_RUN_STATUS = {"finished": "ok", "completed": "ok", "running": "brand", "failed": "error",
               "interrupted": "warn", "cancelled": "warn"}  # fmt: skip
_EMPTY = ("No runs yet in {repo}. Start one with nborch.Coordinator(repo, plan) "
          "(await run, or run.start()), then press Refresh.")  # fmt: skip


def empty_message(repo: str | Path) -> str:
    """The friendly line shown when a repository has no recorded run."""
    return _EMPTY.format(repo=repo)


def _cells(row: Any) -> list[str]:
    created = row["created_at"]
    created = created.strftime("%Y-%m-%d %H:%M:%S") if hasattr(created, "strftime") else created
    return [str(row["run"]), str(created), str(row["status"]), str(row["plan"] or ""),
            str(row["base_commit"] or ""), *(str(int(row[c])) for c in _COUNTS)]  # fmt: skip


def runs_html(frame: pd.DataFrame, selected: str | None = None, repo: str | Path = "",
              max_rows: int = 200, message: str = "") -> str:  # fmt: skip
    """The runs table (rows as :func:`nborch.history` orders them), the selected one in bold;
    with no run, ``message`` or the friendly empty line."""
    if frame.empty:
        return f'<div class="{CLASS}"><i>{esc(message or empty_message(repo))}</i></div>'
    head = "".join(f"<th>{esc(c)}</th>" for c in RUN_COLUMNS)
    rows = []
    for _, row in frame.head(max_rows).iterrows():
        cells = _cells(row)
        colour = _RUN_STATUS.get(cells[2], "muted")
        tds = [f"<td>{esc(c)}</td>" for c in cells]
        tds[2] = f'<td class="nb-{colour}">{esc(cells[2])}</td>'
        for i in range(5, len(tds)):
            tds[i] = f'<td class="n">{esc(cells[i])}</td>'
        style = ' style="font-weight:bold"' if cells[0] == selected else ""
        rows.append(f"<tr{style}>{''.join(tds)}</tr>")
    if len(frame) > max_rows:
        rows.append(f'<tr><td colspan="{len(RUN_COLUMNS)}">… {len(frame) - max_rows} more runs'
                    "</td></tr>")  # fmt: skip
    count = f"{len(frame)} run{'' if len(frame) == 1 else 's'}"
    caption = f"<caption>{esc(f'{count} in {repo}' if repo else count)}"
    return (f'<div class="{CLASS}"><style>{CSS}</style><table>{caption}</caption><thead><tr>'
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")  # fmt: skip


def runs_text(frame: pd.DataFrame, repo: str | Path = "", max_rows: int = 50,
              message: str = "") -> str:  # fmt: skip
    """The runs table as fixed-width text (or ``message``, or the friendly line, when there is
    none)."""
    if frame.empty:
        return message or empty_message(repo)
    rows = [list(RUN_COLUMNS), *(_cells(row) for _, row in frame.head(max_rows).iterrows())]
    widths = [max(len(r[i]) for r in rows) for i in range(len(RUN_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if len(frame) > max_rows:
        lines.append(f"… {len(frame) - max_rows} more runs")
    return "\n".join(lines)
