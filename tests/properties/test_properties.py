"""Property tests (hypothesis): whatever a plan file, a task id or an agent's output holds, nborch
answers with a result or its own error — never another exception, a branch name git refuses, or
a path outside the worktree root."""

from __future__ import annotations

import contextlib
import json
import string
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nborch import PlanError, parse_plan
from nborch.agents.parsers import PARSERS, log_block, parse_stream
from nborch.events import AgentEvent
from nborch.gitcmd import ref_problem
from nborch.names import slugify, unique_slugs
from nborch.plan.load import FORMATS

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like plans: markdown headings, list items, YAML/TOML/JSON punctuation, unicode.
PIECES = st.sampled_from([
    "# ", "## ", "### ", "#### ", "Task ", "Phase ", "- [ ] ", "- [x] ", "* ", "1. ", "T001 ",
    "**Objectives**", "Depends on: ", "Agents: ", "Priority: ", "Validation: ", "`pytest -q`",
    "---\n", "title: ", "tasks:\n", "  - id: ", "    title: ", "[[tasks]]\n", 'id = "', '"\n',
    "{", "}", "[", "]", ":", ",", '"', "'", "&a ", "*a ", "!!python/object ", "\n", "  ", "\t",
    "1.1", "2", "é", "\u202e", "\x00", "\x1b[31m", "..", "/", "\\", "@{", "~", "^", "?", "*",
])  # fmt: skip
PLANS = st.one_of(st.text(max_size=300), st.lists(st.one_of(PIECES, st.text(max_size=8)),
                                                   max_size=60).map("".join))  # fmt: skip


class PlanReaderPropertyTests:
    @FAST
    @given(text=PLANS, fmt=st.sampled_from(FORMATS))
    def test_any_text_in_any_format_is_a_plan_or_a_plan_error(self, text: str, fmt: str) -> None:
        try:
            plan = parse_plan(text, source="plan", format=fmt)
        except PlanError as err:
            assert str(err).strip() and "\n" not in str(err).split(" — ")[0]
            return
        for task in plan:
            assert task.id.strip() and task.slug == slugify(task.slug, 64)

    @FAST
    @given(text=PLANS)
    def test_detected_format_too(self, text: str) -> None:
        with contextlib.suppress(PlanError):
            parse_plan(text, source="plan.md")


class NamePropertyTests:
    @FAST
    @given(ids=st.lists(st.text(min_size=0, max_size=80), min_size=1, max_size=12, unique=True),
           agent=st.text(max_size=40))  # fmt: skip
    def test_every_slug_makes_a_branch_git_accepts_and_a_path_inside_the_root(
            self, ids: list[str], agent: str) -> None:  # fmt: skip
        slugs = unique_slugs(ids)
        assert len(set(slugs.values())) == len(ids)  # two ids never share a slug
        agent_slug = slugify(agent, 32)
        root = PurePosixPath("/worktrees/run")
        for slug in slugs.values():
            assert set(slug) <= set(string.ascii_lowercase + string.digits + "._-")
            assert ref_problem(f"refs/heads/nborch/20260101-000000-ab12/{slug}/{agent_slug}") is None
            path = root / f"{slug}--{agent_slug}"
            assert path.parent == root and ".." not in path.parts

    @settings(max_examples=40, deadline=None)
    @given(text=st.text(min_size=1, max_size=60))
    def test_git_itself_accepts_the_branch(self, text: str) -> None:
        name = f"nborch/r/{slugify(text)}/a"
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["git", "init", "-q", tmp], check=True)
            ok = subprocess.run(["git", "check-ref-format", "--branch", name], cwd=tmp,
                                capture_output=True)  # fmt: skip
            assert ok.returncode == 0, name


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                       | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.sampled_from(["type", "content", "text", "usage",
                                                          "message", "delta", "tool", "name",
                                                          "input_tokens", "output_tokens",
                                                          "cost_usd", "total_cost_usd", "item",
                                                          "event", "result", "part"]), inner,
                                         max_size=5), max_leaves=12)  # fmt: skip
LINES = st.one_of(st.text(max_size=200), JSONISH.map(json.dumps))


class OutputParserPropertyTests:
    @FAST
    @given(lines=st.lists(LINES, max_size=8), name=st.sampled_from(sorted(PARSERS)))
    def test_any_output_gives_events_never_an_exception(self, lines: list[str], name: str) -> None:
        events = parse_stream(lines, name)
        assert all(isinstance(e, AgentEvent) for e in events)


    @FAST
    @given(lines=st.lists(st.text(max_size=3000), max_size=8))
    def test_a_batch_of_plain_lines_is_one_clean_event_holding_each_line(self, lines: list[str]) -> None:
        """As the per-line text parser would log them: each non-blank line, stripped and clipped,
        no control character but the newlines between them."""
        event = log_block(lines)
        each = [e.text for e in parse_stream([line.replace("\n", " ") for line in lines], "text")]
        if event is None:
            assert all(not line.strip() for line in lines)
            return
        assert event.kind == "log" and event.data["lines"] == len([x for x in lines if x.strip()])
        assert not any(ch < " " and ch not in "\n\t" for ch in event.text)
        if not any("\n" in line or "\r" in line or "\x1b" in line for line in lines):
            assert event.text.split("\n") == each


def test_the_examples_reach_real_files(tmp_path: Path) -> None:
    """The property tests run on text; one file-level check that load_plan agrees."""
    from nborch import load_plan

    plan = tmp_path / "plan.md"
    plan.write_bytes(b"# P\n## Task 1: A\n\xff\n")
    try:
        load_plan(plan)
    except PlanError as err:
        assert "UTF-8" in str(err)
