"""One attempt in detail, and how far a run is, as HTML (the table itself is
:mod:`nborch.execute.table`, shared by every view)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..durations import format_duration
from ..events import AttemptState
from ..execute.results import AgentExecution
from ..execute.table import (
    CLASS,
    CSS,
    LOG_LINE_CHARS,
    agent_label,
    clip,
    elapsed,
    esc,
    status_html,
)

__all__ = ["counts_text", "detail_html"]

S = AttemptState


def counts_text(executions: Sequence[AgentExecution]) -> str:
    """``'3/5 done · 1 running · 1 failed'``: how far the run is."""
    done = sum(ex.status.is_final for ex in executions)
    by_state: dict[str, int] = {}
    for ex in executions:
        if ex.status not in (S.COMPLETED, S.PENDING):
            by_state[str(ex.status)] = by_state.get(str(ex.status), 0) + 1
    parts = [f"{done}/{len(executions)} done", *(f"{n} {s}" for s, n in by_state.items())]
    return " · ".join(parts)


def detail_html(ex: AgentExecution | None, log: str = "", now: datetime | None = None,
                lines: int = 30) -> str:  # fmt: skip
    """One attempt in detail: status, time, tokens, diffstat, branch, error and its log tail."""
    if ex is None:
        return f'<div class="{CLASS}"><i>no attempt picked</i></div>'
    seconds = elapsed(ex, now)
    facts = [format_duration(seconds) if seconds is not None else "not started"]
    if ex.input_tokens or ex.output_tokens:
        facts.append(f"{ex.input_tokens:,} in / {ex.output_tokens:,} out tokens")
    if ex.cost_usd is not None:
        facts.append(f"${ex.cost_usd:.4f}")
    if ex.tries > 1:
        facts.append(f"{ex.tries} tries")
    head = (f"<b>{esc(ex.task)} · {esc(agent_label(ex))}</b> {status_html(ex.status)} · "
            + " · ".join(esc(f) for f in facts))  # fmt: skip
    change = []
    if ex.files_changed or ex.commit:
        change.append(f"{ex.files_changed} files changed, +{ex.insertions} −{ex.deletions}")
    elif not ex.status.is_final:
        change.append("diffstat when the attempt ends")
    if ex.commit:
        change.append(f"commit {ex.commit[:10]}")
    if ex.branch:
        change.append(f"branch {ex.branch}")
    if ex.validation:
        change.append(f"checks {ex.validation}")
    parts = [f"<div>{head}</div>"]
    if change:
        parts.append(f"<div>{' · '.join(esc(c) for c in change)}</div>")
    if ex.error:
        parts.append(f'<div class="nb-error">{esc(clip(ex.error, 2000))}</div>')
    if ex.note:  # a result reused from the cache: what ran, and where, was another run
        parts.append(f'<div class="nb-brand">{esc(ex.note)}</div>')
    tail = [ln if len(ln) <= LOG_LINE_CHARS else ln[: LOG_LINE_CHARS - 1] + "…"
            for ln in log.splitlines()[-lines:]]  # fmt: skip
    parts.append(f"<pre>{esc(chr(10).join(tail))}</pre>" if tail else "<pre>(no log yet)</pre>")
    return f'<div class="{CLASS}"><style>{CSS}</style>{"".join(parts)}</div>'
