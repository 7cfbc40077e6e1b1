"""A run drawn as text and HTML from its executions: pure functions, values escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..display import html_table, text_table
from ..durations import format_duration

if TYPE_CHECKING:
    from .coordinator import Coordinator

COLUMNS = ("task", "agent", "status", "time", "tokens", "cost", "files", "+/-", "validation",
           "last line / error")  # fmt: skip


def rows(run: Coordinator) -> list[tuple[object, ...]]:
    out = []
    for ex in run.executions.values():
        agent = f"{ex.agent} (demo)" if ex.is_demo and "demo" not in ex.agent else ex.agent
        tokens = f"{ex.input_tokens:,}/{ex.output_tokens:,}" if ex.input_tokens or ex.output_tokens else ""
        cost = f"${ex.cost_usd:.4f}" if ex.cost_usd else ""
        diff = f"+{ex.insertions}/-{ex.deletions}" if ex.files_changed else ""
        note = ex.error or ex.last_line
        out.append((ex.task, agent, str(ex.status), format_duration(ex.duration_s)
                    if ex.started_at else "", tokens, cost, ex.files_changed or "", diff,
                    ex.validation, note))  # fmt: skip
    return out


def run_text(run: Coordinator) -> str:
    return repr(run) + "\n" + text_table(COLUMNS, rows(run), limit=50)


def run_html(run: Coordinator) -> str:
    return html_table(COLUMNS, rows(run), caption=repr(run).strip("<>"))
