"""The timeline of a run, as SVG and as text, from attempts made by hand (pure functions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from nborch.events import AttemptState as S
from nborch.execute.results import AgentExecution
from nborch.view.timeline import timeline_svg, timeline_text

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ex(task: str, agent: str, status: S, start: float | None, end: float | None,
       commit: str | None = None) -> AgentExecution:  # fmt: skip
    return AgentExecution(task, agent, status=status,
                          started_at=None if start is None else T0 + timedelta(seconds=start),
                          ended_at=None if end is None else T0 + timedelta(seconds=end),
                          commit=commit)  # fmt: skip


RUN = [
    ex("2", "claude", S.COMPLETED, 10, 30, "c1"),  # waited for task 1
    ex("1", "claude", S.COMPLETED, 0, 10, "c2"),
    ex("1", "codex", S.CANCELLED, 0, 5, "c3"),  # stopped, its work kept as WIP
    ex("1", "aider", S.FAILED, 0, 2),  # failed with nothing written
    ex("3", "gemini", S.RUNNING, 20, None),
    ex("4", "qwen", S.PENDING, None, None),
]


class TimelineTests:
    def test_svg_bars_are_placed_by_time_grouped_by_task_and_coloured_by_state(self) -> None:
        svg = timeline_svg(RUN, now=T0 + timedelta(seconds=40), width=560)
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        labels = re.findall(r"<text x=\"2\" y=\"\d+\">([^<]*)</text>", svg)
        assert labels == ["1 · claude", "1 · codex", "1 · aider", "2 · claude", "3 · gemini", "4 · qwen"]
        bars = {m[0]: (float(m[1]), float(m[2])) for m in
                re.findall(r'<rect class="nb-(\w+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)}  # fmt: skip
        plot = 560 - 160 - 40  # over 40 s
        assert bars["running"] == (160 + plot * 20 / 40, plot * 20 / 40)  # grows to now
        assert ".nb-completed{fill:var(--jp-success-color1,#43a047)}" in svg  # the table's colour
        assert "var(--jp-error-color1" in svg
        assert svg.count(">WIP</text>") == 1 and svg.count(">×</text>") == 1
        assert svg.count('<line class="wait"') == 2  # task 2 waited 10 s, task 3 waited 20 s
        assert svg.count("<rect") == 5  # the one not started has a label and no bar

    def test_text_is_the_same_picture(self) -> None:
        text = timeline_text(RUN, now=T0 + timedelta(seconds=40), width=40).splitlines()
        assert text[0].startswith("1 · claude") and "|██████████" in text[0]
        assert text[1].endswith("cancelled WIP") and text[2].endswith("failed ×")
        assert text[3].split("|")[1].startswith("··········██")  # waited, then ran
        assert text[5].endswith("| pending")

    def test_a_result_reused_from_the_cache_says_so(self) -> None:
        reused = ex("1", "claude", S.COMPLETED, 3, 3, "c1")
        reused.cached_from = "20261207-r0"
        svg = timeline_svg([ex("2", "codex", S.COMPLETED, 0, 10, "c2"), reused])
        assert ">cached from 20261207-r0</text>" in svg
        assert timeline_text([reused]).endswith("completed cached from 20261207-r0")

    def test_a_hostile_label_is_escaped(self) -> None:
        svg = timeline_svg([ex("<script>", "a&b", S.FAILED, 0, 1)])
        assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg
