"""A picture of a run: one bar per attempt from its start to its end, as inline SVG or text.

Pure functions of the attempts (and the plan, for the waits on dependencies): no plotting
library, colours from JupyterLab's CSS variables (so dark themes work) with plain fallbacks.

- rows are grouped by task, in the order of the run; each row is ``task · agent``;
- a bar spans the attempt's running time, coloured by its state as in the table; a running one
  grows to now;
- an attempt that ended without completing has a mark at its end: ``WIP`` when its work was
  committed as work in progress, ``×`` when nothing was; a result reused from the cache is
  ``cached from RUN`` (and no bar: nothing ran);
- the time an attempt waited before it started (for the tasks it depends on, or for a slot) is a
  dotted line from the run's start to its bar.

>>> from nborch.execute.results import AgentExecution
>>> timeline_svg([]).startswith("<svg")
True
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from ..durations import format_duration
from ..events import AttemptState
from ..execute.results import AgentExecution
from ..execute.table import COLOURS, STATUS

__all__ = ["timeline_svg", "timeline_text"]

S = AttemptState
_ROW, _LABEL, _PAD = 18, 160, 4
# One style block per picture: the bars carry only a class (a 100-attempt run stays small);
# a state's colour is the one the table gives it.
_STYLE = ("<style>.nborch-timeline{font:11px var(--jp-ui-font-family,sans-serif);"
          "fill:var(--jp-ui-font-color1,#333)}.nborch-timeline rect{rx:2px;"
          "fill:var(--jp-ui-font-color3,#bbb)}"
          + "".join(f".nborch-timeline .nb-{s}{{fill:{COLOURS[colour]}}}" for s, (_, colour) in STATUS.items())
          + ".nborch-timeline .sep{stroke:var(--jp-border-color2,#ddd)}.nborch-timeline .wait"
          "{stroke:var(--jp-ui-font-color3,#bbb);stroke-dasharray:2 3}</style>")  # fmt: skip


def _span(executions: Sequence[AgentExecution], now: datetime) -> tuple[datetime, float]:
    starts = [ex.started_at for ex in executions if ex.started_at is not None]
    if not starts:
        return now, 1.0
    first = min(starts)
    last = max((ex.ended_at or now) for ex in executions if ex.started_at is not None)
    return first, max((last - first).total_seconds(), 1e-3)


def timeline_svg(executions: Sequence[AgentExecution], now: datetime | None = None,
                 width: int = 720) -> str:  # fmt: skip
    """The run as an SVG picture (see the module docs); ``now`` for running attempts."""
    now = now or datetime.now(UTC)
    rows = sorted(enumerate(executions), key=lambda p: (p[1].task, p[0]))  # grouped, stable
    first, total = _span(executions, now)
    plot = width - _LABEL - 40
    height = _ROW * len(rows) + 2 * _PAD + 14
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="nborch-timeline" width="{width}" '
            f'height="{height}" role="img" aria-label="timeline of {len(rows)} attempts">')  # fmt: skip
    parts = [head, _STYLE]
    previous_task = None
    for row, (_, ex) in enumerate(rows):
        y = _PAD + row * _ROW
        if previous_task is not None and ex.task != previous_task:  # a line between tasks
            parts.append(f'<line class="sep" x1="0" x2="{width}" y1="{y - 1}" y2="{y - 1}"/>')
        previous_task = ex.task
        label = f"{ex.task} · {ex.agent}"
        shown = escape(_clip(label, 26))
        tip = f"<title>{escape(label)}</title>" if len(label) > 26 else ""
        parts.append(f'<text x="2" y="{y + 12}">{tip}{shown}</text>')
        if ex.started_at is None:
            continue
        x0 = _LABEL + plot * (ex.started_at - first).total_seconds() / total
        end = ex.ended_at or now
        x1 = max(x0 + 2, _LABEL + plot * (end - first).total_seconds() / total)
        if x0 > _LABEL + 1:  # it waited (dependencies, a slot) before it started
            parts.append(f'<line class="wait" x1="{_LABEL}" x2="{x0:.1f}" y1="{y + 8}" y2="{y + 8}"/>')
        took = format_duration((end - ex.started_at).total_seconds())
        parts.append(f'<rect class="nb-{ex.status}" x="{x0:.1f}" y="{y + 3}" width="{x1 - x0:.1f}" '
                     f'height="{_ROW - 6}"><title>{escape(label)}: {ex.status}, {took}</title></rect>')  # fmt: skip
        mark = _mark(ex)
        if mark:
            parts.append(f'<text x="{x1 + 3:.1f}" y="{y + 12}">{escape(mark)}</text>')
    axis_y = _PAD + _ROW * len(rows) + 11
    parts.append(f'<text x="{_LABEL}" y="{axis_y}">0s</text>'
                 f'<text x="{_LABEL + plot}" y="{axis_y}" text-anchor="end">'
                 f"{escape(format_duration(total))}</text></svg>")  # fmt: skip
    return "".join(parts)


def timeline_text(executions: Sequence[AgentExecution], now: datetime | None = None,
                  width: int = 40) -> str:  # fmt: skip
    """The same picture in text: ``1 · demo   |   ████████    | 3.2s completed``."""
    now = now or datetime.now(UTC)
    first, total = _span(executions, now)
    lines = []
    for ex in sorted(executions, key=lambda e: e.task):
        label = _clip(f"{ex.task} · {ex.agent}", 24).ljust(24)
        if ex.started_at is None:
            lines.append(f"{label} |{' ' * width}| {ex.status}")
            continue
        a = round(width * (ex.started_at - first).total_seconds() / total)
        end = ex.ended_at or now
        b = max(a + 1, round(width * (end - first).total_seconds() / total))
        bar = ("·" * a + "█" * (b - a)).ljust(width)[:width]
        took = format_duration((end - ex.started_at).total_seconds())
        mark = f" {_mark(ex)}" if _mark(ex) else ""
        lines.append(f"{label} |{bar}| {took} {ex.status}{mark}")
    return "\n".join(lines)


def _mark(ex: AgentExecution) -> str:
    if ex.cached_from:
        return f"cached from {ex.cached_from}"  # no bar: nothing ran
    if not ex.status.is_final or ex.status == S.COMPLETED:
        return ""
    return "WIP" if ex.commit else "×"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
