"""A run's table: one row per attempt, the same cells drawn as text and as HTML.

Every view of a run — the notebook's live view, the dashboard, ``repr``/``_repr_html_``, the
terminal's progress and the command line's summary — draws :func:`cells`, so they agree on
columns and formats. Pure functions over :class:`~nborch.execute.results.AgentExecution`, every
HTML value escaped.

Colours come from JupyterLab CSS variables (with fallbacks for other renderers), so dark themes
work. A status is an icon and a word as well as a colour, so the table still reads where styles
are stripped (GitHub, nbviewer). The HTML is compact — one scoped ``<style>`` block and short class
names instead of a style per cell — so a saved 100-attempt run stays far below 200 KB.

>>> "✓ completed" in table_html([AgentExecution("1", "demo", status=AttemptState.COMPLETED)])
True
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..display import text_table
from ..durations import format_duration
from ..events import AttemptState
from .results import AgentExecution

if TYPE_CHECKING:
    from .coordinator import Coordinator


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell's text, its colour name (a key of :data:`COLOURS`, or none) and alignment."""

    text: str
    colour: str = ""
    numeric: bool = False


S = AttemptState
CLASS = "nborch-run"
COLUMNS = ("task", "agent", "status", "time", "tokens", "cost", "files", "checks",
           "last line / error")  # fmt: skip

# Colour names used as CSS classes (``nb-ok``…), each a JupyterLab variable with a fallback that
# reads on light and dark backgrounds alike.
COLOURS = {
    "muted": "var(--jp-ui-font-color2,#888)",
    "brand": "var(--jp-brand-color1,#1e88e5)",
    "ok": "var(--jp-success-color1,#43a047)",
    "warn": "var(--jp-warn-color1,#fb8c00)",
    "error": "var(--jp-error-color1,#e53935)",
}
STATUS: dict[AttemptState, tuple[str, str]] = {
    S.PENDING: ("○", "muted"),
    S.BLOCKED: ("⋯", "muted"),
    S.RUNNING: ("▶", "brand"),
    S.COMPLETED: ("✓", "ok"),
    S.FAILED: ("✗", "error"),
    S.TIMEOUT: ("⏱", "warn"),
    S.CANCELLED: ("⊘", "warn"),
    S.INTERRUPTED: ("⚠", "warn"),
}
_CHECKS = {"passed": ("✓ passed", "ok"), "failed": ("✗ failed", "error"), "none": ("—", "muted")}

_C = f".{CLASS}"
CSS = (
    f"{_C} table{{border-collapse:collapse;font-size:var(--jp-ui-font-size1,13px);"
    "color:var(--jp-ui-font-color1,inherit)}"
    f"{_C} caption{{text-align:left;font-weight:bold;padding:2px 0}}"
    f"{_C} th,{_C} td{{padding:1px 8px;text-align:left;vertical-align:top;white-space:nowrap;"
    "border-bottom:1px solid var(--jp-border-color2,#ddd)}"
    f"{_C} td.n{{text-align:right}}"
    f"{_C} pre{{margin:4px 0;padding:4px;max-height:18em;overflow:auto;white-space:pre-wrap;"
    "line-height:1.3;word-break:break-all;font-size:var(--jp-code-font-size,12px);"
    "background:var(--jp-layout-color2,transparent);color:var(--jp-ui-font-color1,inherit)}"
    + "".join(f"{_C} .nb-{name}{{color:{value}}}" for name, value in COLOURS.items())
)
_NUMERIC = {"time", "tokens", "cost"}
LAST_LINE_CHARS = 80
LOG_LINE_CHARS = 240


def esc(value: object) -> str:
    """``value`` as escaped HTML text (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def clip(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, whitespace collapsed."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def agent_label(ex: AgentExecution) -> str:
    """The agent's name, marked ``(demo)`` when it is a demo agent whose name does not say so."""
    return f"{ex.agent} (demo)" if ex.is_demo and "demo" not in ex.agent else ex.agent


def elapsed(ex: AgentExecution, now: datetime | None = None) -> float | None:
    """Seconds the attempt ran, counted up to ``now`` while it is still running."""
    if ex.started_at is None:
        return None
    end = ex.ended_at or now or datetime.now(UTC)
    return max(0.0, (end - ex.started_at).total_seconds())


def status_html(state: AttemptState, tag: str = "span") -> str:
    """The status as icon and word in its colour: ``<span class="nb-ok">✓ completed</span>``."""
    icon, colour = STATUS.get(state, ("?", "muted"))
    return f'<{tag} class="nb-{colour}">{icon} {esc(state)}</{tag}>'


def _td(text: object, colour: str = "", numeric: bool = False) -> str:
    classes = " ".join(c for c in (f"nb-{colour}" if colour else "", "n" if numeric else "") if c)
    attr = f' class="{classes}"' if classes else ""
    return f"<td{attr}>{esc(text)}</td>"


def diffstat(ex: AgentExecution) -> str:
    """``'3 (+40/−2)'`` once the attempt's result is committed; ``''`` before."""
    if ex.files_changed:
        return f"{ex.files_changed} (+{ex.insertions}/−{ex.deletions})"
    return "0" if ex.commit or ex.status.is_final else ""


def cells(ex: AgentExecution, now: datetime | None = None) -> tuple[Cell, ...]:
    """One attempt's row, cell by cell (the time ticks while it runs): what both drawings show."""
    seconds = elapsed(ex, now)
    tokens = ex.input_tokens + ex.output_tokens
    icon, colour = STATUS.get(ex.status, ("?", "muted"))
    check, check_colour = _CHECKS.get(ex.validation, ("", ""))
    note, note_colour = ((ex.error, "error") if ex.error else (ex.problem, "error") if ex.problem
                         else (ex.note, "brand") if ex.note else (ex.last_line, ""))  # fmt: skip
    return (
        Cell(ex.task), Cell(agent_label(ex)), Cell(f"{icon} {ex.status}", colour),
        Cell(format_duration(seconds) if seconds is not None else "", numeric=True),
        Cell(f"{tokens:,}" if tokens else "", numeric=True),
        Cell(f"${ex.cost_usd:.4f}" if ex.cost_usd is not None else "", numeric=True),
        Cell(diffstat(ex)), Cell(check, check_colour),
        Cell(clip(note, LAST_LINE_CHARS), note_colour),
    )  # fmt: skip


def rows(executions: Iterable[AgentExecution], now: datetime | None = None) -> list[tuple[str, ...]]:
    """The table as text cells, for terminals and the command line."""
    now = now or datetime.now(UTC)
    return [tuple(c.text for c in cells(ex, now)) for ex in executions]


def row_html(ex: AgentExecution, now: datetime | None = None) -> str:
    """One attempt as an HTML table row."""
    return "<tr>" + "".join(_td(c.text, c.colour, c.numeric) for c in cells(ex, now)) + "</tr>"


def table_html(
    executions: Sequence[AgentExecution],
    caption: str = "",
    now: datetime | None = None,
    max_rows: int = 200,
    link: str = "",
) -> str:
    """The progress table: one row per attempt (past ``max_rows``, a count of the rest); ``link``
    (a Dask dashboard's address) is shown after the caption."""
    now = now or datetime.now(UTC)
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = "".join(row_html(ex, now) for ex in executions[:max_rows])
    if len(executions) > max_rows:
        more = len(executions) - max_rows
        body += f'<tr><td colspan="{len(COLUMNS)}">… {more} more attempts</td></tr>'
    more_cap = (f' · <a href="{esc(link)}" target="_blank" rel="noopener">Dask dashboard</a>'
                if link else "")  # fmt: skip
    cap = f"<caption>{esc(caption)}{more_cap}</caption>" if caption or link else ""
    return (f'<div class="{CLASS}"><style>{CSS}</style><table>{cap}<thead><tr>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table></div>")  # fmt: skip


def dashboard_link(run: Coordinator) -> str:
    """The address of the Dask dashboard of the cluster the run's agents run on, or ""."""
    return str(getattr(getattr(run, "executor", None), "dashboard_link", "") or "")


def run_text(run: Coordinator, limit: int = 50) -> str:
    """The run as plain text: its ``repr`` (and Dask dashboard) and the table."""
    link = dashboard_link(run)
    head = repr(run) + (f"  Dask dashboard: {link}" if link else "")
    return head + "\n" + text_table(COLUMNS, rows(run.executions.values()), limit=limit)


def run_html(run: Coordinator) -> str:
    """The run as HTML: the table with its ``repr`` as the caption."""
    return table_html(list(run.executions.values()), caption=repr(run).strip("<>"),
                      link=dashboard_link(run))  # fmt: skip
