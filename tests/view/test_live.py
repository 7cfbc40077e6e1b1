"""The notebook run view: its pure HTML, the throttle, the widget tree, the controls, and what a
saved notebook keeps of it (executed for real by nbclient in a kernel)."""

from __future__ import annotations

import asyncio
import copy
import inspect
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbclient
import nbformat
import psutil
import pytest

# Widget.widgets is deprecated (a warning, so an error here); the registry itself is not.
from ipywidgets.widgets.widget import _instances

import nborch
from nborch import AttemptState, Coordinator, RunEvent
from nborch.demo import make_sample_repo
from nborch.execute.results import AgentExecution
from nborch.execute.table import COLOURS, CSS, row_html, table_html
from nborch.view.html import detail_html
from nborch.view.live import RunView, Throttle, show

S = AttemptState


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch):
    """Fast demo agents and a clean agent registry."""
    monkeypatch.setenv("NBORCH_DEMO_SPEED", "0")
    yield
    nborch.agents.reset()


def fake_run(root: Path, tasks: int, agents: tuple[str, ...] = ("demo", "demo-hasty")):
    """A run of ``tasks`` × ``len(agents)`` attempts that is never started (no git, no process)."""
    import nborch

    text = "# Fake\n" + "".join(f"## Task {i}: Step {i}\n" for i in range(1, tasks + 1))
    team = nborch.assign(nborch.parse_plan(text), agents=list(agents), per_task=len(agents))
    return nborch.Coordinator(root, team)


def finish_all(run) -> None:
    """Give every attempt a final state and about the longest values its cells can show."""
    from datetime import UTC, datetime, timedelta

    from nborch.events import AttemptState as S

    now = datetime.now(UTC)
    for i, ex in enumerate(run.executions.values()):
        ex.status = (S.COMPLETED, S.FAILED, S.TIMEOUT, S.CANCELLED)[i % 4]
        ex.started_at, ex.ended_at = now - timedelta(seconds=3600 + i), now
        ex.input_tokens, ex.output_tokens, ex.cost_usd = 1_234_567, 89_012, 12.3456
        ex.files_changed, ex.insertions, ex.deletions = 123, 45_678, 9_012
        ex.commit, ex.branch = "f" * 40, f"nborch/20250101-000000-abcd/{ex.task}/{ex.agent}"
        ex.validation = ("passed", "failed", "none", "")[i % 4]
        ex.last_line = "a very long last line of agent output " * 20
        ex.error = "" if i % 4 == 0 else "<script>alert('x')</script> " + "error text " * 100
        ex.tail = ["log line " * 30] * 20


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def in_loop_thread(body: Callable[[], object], settle: float = 0.7) -> None:
    """Run ``body`` inside an asyncio loop on another thread, as the run's helper loop does,
    then keep that loop running ``settle`` seconds so that scheduled renders happen."""

    async def main() -> None:
        body()
        await asyncio.sleep(settle)

    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    thread.join(30)


def execute(cells: list[str], cwd: Path) -> nbformat.NotebookNode:
    """Run ``cells`` in a real kernel, as nbmake does; returns the executed notebook."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()  # fmt: skip
    return nb


def stderr_of(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.outputs
                   if o.output_type == "stream" and o.name == "stderr")  # fmt: skip


# -- the pure HTML ---------------------------------------------------------------------------


class TestTableHtml:
    """The table and detail HTML are pure strings: escaped, coloured by --jp-* variables."""

    def test_values_are_escaped(self):
        """Task ids, agent names, errors and log lines with markup appear escaped, never as tags."""
        ex = AgentExecution("<script>alert(1)</script>", 'a"gent', status=S.FAILED,
                            error="<img src=x onerror=alert(2)>",
                            last_line="<b>bold</b>")  # fmt: skip
        page = table_html([ex], caption="<Run x>") + detail_html(ex, log="<script>x</script>\n")
        assert "<script>alert" not in page and "<img" not in page and "<b>bold" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(2)&gt;" in page and "a&quot;gent" in page
        assert "&lt;Run x&gt;" in page and "&lt;script&gt;x&lt;/script&gt;" in page

    def test_status_colours_are_jupyterlab_variables(self):
        """Each status has an icon, a word and a colour class whose colour is a --jp-* variable."""
        expected = {S.COMPLETED: "ok", S.FAILED: "error", S.TIMEOUT: "warn", S.RUNNING: "brand",
                    S.CANCELLED: "warn", S.PENDING: "muted"}  # fmt: skip
        for state, colour in expected.items():
            assert f'<td class="nb-{colour}">' in row_html(AgentExecution("1", "a", status=state))
        pairs = (("ok", "success"), ("error", "error"), ("warn", "warn"), ("brand", "brand"))
        for name, var in pairs:
            assert COLOURS[name].startswith(f"var(--jp-{var}-color1,")
        assert all(m.startswith("var(--jp-") for m in re.findall(r"color:([^;}]+)", CSS))
        assert "✓ completed" in row_html(AgentExecution("1", "a", status=S.COMPLETED))

    def test_running_attempt_shows_elapsed_time(self):
        """A running attempt's time counts up to now; a pending one shows none; a finished one
        shows its own duration."""
        now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
        running = AgentExecution("1", "a", status=S.RUNNING, started_at=now - timedelta(seconds=65))
        assert "<td class=\"n\">1m05s</td>" in row_html(running, now)
        assert "1m10s" in row_html(running, now + timedelta(seconds=5))
        done = AgentExecution("1", "a", status=S.COMPLETED, started_at=now - timedelta(seconds=65),
                              ended_at=now - timedelta(seconds=30))  # fmt: skip
        assert "35s" in row_html(done, now + timedelta(hours=1))
        assert '<td class="n"></td>' in row_html(AgentExecution("1", "a"), now)

    def test_demo_agents_are_labelled(self):
        """A demo agent whose name does not say so is labelled (demo)."""
        assert "<td>mine (demo)</td>" in row_html(AgentExecution("1", "mine", is_demo=True))
        assert "<td>demo-slow</td>" in row_html(AgentExecution("1", "demo-slow", is_demo=True))

    def test_long_lines_are_clipped_and_rows_capped(self):
        """The last line is clipped to one short line; past max_rows the rest are counted."""
        ex = AgentExecution("1", "a", last_line="word " * 100)
        assert re.search(r"<td>(word ){15,}word…</td>", row_html(ex))
        page = table_html([ex] * 250, max_rows=200)
        assert page.count("<tr>") == 1 + 200 + 1 and "… 50 more attempts" in page

    def test_detail_shows_diffstat_and_log_tail(self):
        """The detail pane shows the diffstat, the commit, the error and the last lines of log."""
        ex = AgentExecution("1.2", "codex", status=S.FAILED, files_changed=3, insertions=40,
                            deletions=2, commit="abc1234def5678",
                            error="exit code 1: boom")  # fmt: skip
        log = "\n".join(f"line {i}" for i in range(100))
        page = detail_html(ex, log, lines=30)
        assert "3 files changed, +40 −2" in page and "commit abc1234def" in page
        assert 'class="nb-error">exit code 1: boom' in page
        assert "line 99" in page and "line 70" in page and "line 69" not in page
        running = AgentExecution("1", "a", status=S.RUNNING)
        assert "diffstat when the attempt ends" in detail_html(running)
        reused = AgentExecution("1", "a", status=S.COMPLETED, cached_from="20261207-r0")
        assert 'class="nb-brand">cached from 20261207-r0 — --no-cache runs it again' in detail_html(reused)
        assert "cached from 20261207-r0" in row_html(reused)


# -- the throttle ----------------------------------------------------------------------------


class TestThrottle:
    """However many events arrive, from whichever thread, a few renders show the latest state."""

    def test_burst_on_a_loop_thread_renders_a_few_times_then_the_last_state(self, tmp_path):
        """1,000 events in a burst from the run's loop thread cause only a few renders, and the
        last of them shows the state after the last event."""
        run = fake_run(tmp_path, 2, agents=("demo",))
        view = RunView(run)
        ex = run.executions[("1", "demo")]
        before = view.renders

        def burst() -> None:
            for i in range(1000):
                ex.last_line = f"line {i}"
                run.emit(RunEvent("agent", "r", "1", "demo"))

        in_loop_thread(burst)
        assert view.renders - before <= 3
        assert "line 999" in view.table.value
        view.close()

    def test_burst_without_a_loop_uses_a_timer(self, tmp_path):
        """Events from a thread with no event loop are throttled the same way, on a timer."""
        run = fake_run(tmp_path, 2, agents=("demo",))
        view = RunView(run)
        ex = run.executions[("2", "demo")]
        before = view.renders
        for i in range(1000):
            ex.last_line = f"line {i}"
            run.emit(RunEvent("agent", "r", "2", "demo"))
        wait_for(lambda: "line 999" in view.table.value, 3, "the last state")
        assert view.renders - before <= 3
        view.close()

    def test_steady_stream_renders_at_most_four_times_a_second(self, tmp_path):
        """A second of events as fast as they come renders about four times, not once per event."""
        run = fake_run(tmp_path, 1, agents=("demo",))
        view = RunView(run, tick=0)
        ex = run.executions[("1", "demo")]
        before, sent = view.renders, [0]

        async def stream() -> None:
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                ex.last_line = f"line {sent[0]}"
                run.emit(RunEvent("agent", "r", "1", "demo"))
                sent[0] += 1
                if sent[0] % 50 == 0:
                    await asyncio.sleep(0)  # let due renders run, as a real loop would
            await asyncio.sleep(0.5)

        thread = threading.Thread(target=asyncio.run, args=(stream(),))
        thread.start()
        thread.join(30)
        assert sent[0] > 1000
        assert 2 <= view.renders - before <= 6
        assert f"line {sent[0] - 1}" in view.table.value
        view.close()

    def test_final_state_is_rendered_at_once(self, tmp_path):
        """The run's 'finished' event renders the final state immediately, whatever the throttle."""
        run = fake_run(tmp_path, 3, agents=("demo",))
        view = RunView(run, interval=60)
        finish_all(run)
        run.emit(RunEvent("run", "r", text="finished"))
        assert view.table.value.count("<tr>") == 1 + 3
        assert view.progress.value == 3 and view.progress.description == "3/3"
        assert view.progress.bar_style == "warning"  # some attempts did not complete
        assert view.cancel_all_button.disabled
        view.close()

    def test_throttle_serves_the_trailing_request(self):
        """Requests during the quiet interval are merged into one call after it."""
        calls: list[float] = []
        throttle = Throttle(lambda: calls.append(time.monotonic()), interval=0.2)
        throttle.request()
        wait_for(lambda: len(calls) == 1, 2)
        for _ in range(100):
            throttle.request()
        wait_for(lambda: len(calls) == 2, 2)
        time.sleep(0.3)
        assert len(calls) == 2 and calls[1] - calls[0] >= 0.19


# -- the widget tree -------------------------------------------------------------------------


class TestWidgetTree:
    """A view is a fixed handful of widget models, one per run, cheap to import."""

    def test_model_count_does_not_grow_with_attempts(self, tmp_path):
        """A view of 5 attempts and a view of 100 make the same small number of widget models,
        and closing a view closes them all."""
        made = []
        for tasks, agents in ((5, ("demo",)), (50, ("demo", "demo-hasty"))):
            run = fake_run(tmp_path, tasks, agents)
            assert len(run.executions) in (5, 100)
            before = len(_instances)
            view = RunView(run)
            made.append(len(_instances) - before)
            view.close()
            assert len(_instances) == before
        assert made[0] == made[1] <= 25

    def test_import_is_light(self):
        """Importing nborch.view.live imports neither ipywidgets nor IPython."""
        code = ("import sys, nborch.view.live; "
                "print(sorted({'ipywidgets', 'IPython'} & set(sys.modules)))")  # fmt: skip
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.strip()  # fmt: skip
        assert out == "[]"

    def test_one_view_per_run(self, tmp_path):
        """RunView.of gives the same view for the same run until it is closed."""
        run = fake_run(tmp_path, 1, agents=("demo",))
        view = RunView.of(run)
        assert RunView.of(run) is view
        view.close()
        again = RunView.of(run)
        assert again is not view
        again.close()

    def test_picker_lists_every_attempt_and_shows_its_log(self, tmp_path):
        """The dropdown lists every attempt; picking one shows its log tail in the detail pane."""
        run = fake_run(tmp_path, 2)
        finish_all(run)
        log = tmp_path / "2-demo-hasty.log"
        log.write_text("".join(f"<{i}> said something\n" for i in range(500)))
        run.executions[("2", "demo-hasty")].log_path = str(log)
        view = RunView(run)
        assert [label for label, _ in view.picker.options] == [
            "1 · demo", "1 · demo-hasty", "2 · demo", "2 · demo-hasty"]  # fmt: skip
        view.picker.value = ("2", "demo-hasty")
        view.render()
        assert "&lt;499&gt; said something" in view.detail.value
        assert "&lt;469&gt;" not in view.detail.value  # only the last 30 lines
        view.close()


# -- the controls, on a real run -------------------------------------------------------------


class TestControls:
    """The Cancel buttons cancel through the run, on a real run of demo agents."""

    def test_cancel_buttons_cancel_the_picked_attempt_then_all(self, tmp_path):
        """'Cancel attempt' stops only the picked attempt; 'Cancel all' stops the rest; the view
        ends showing both cancelled, with its buttons disabled."""
        repo = make_sample_repo(tmp_path / "repo")
        team = nborch.assign(nborch.parse_plan("# P\n## Task 1: A\n## Task 2: B\n"),
                             agents=["demo-slow"])  # fmt: skip
        run = Coordinator(repo, team, root=tmp_path / "wt", timeout="60s", validate=False)
        view = RunView(run)
        run.start()
        try:
            first, second = run.executions[("1", "demo-slow")], run.executions[("2", "demo-slow")]
            wait_for(lambda: first.status == S.RUNNING and second.status == S.RUNNING,
                     what="both attempts running")  # fmt: skip
            view.picker.value = ("1", "demo-slow")
            view.cancel_button.click()
            wait_for(lambda: first.status == S.CANCELLED, what="the picked attempt cancelled")
            assert second.status == S.RUNNING
            view.cancel_all_button.click()
            run.wait(30)
        finally:
            run.cancel()
        assert second.status == S.CANCELLED
        assert view.table.value.count("⊘ cancelled") == 2
        assert view.progress.value == 2 and view.progress.bar_style == "warning"
        assert view.cancel_all_button.disabled and view.cancel_button.disabled
        view.close()
        left = [p.pid for p in psutil.process_iter(["cmdline"])
                if str(tmp_path) in " ".join(p.info["cmdline"] or ())]  # fmt: skip
        assert not left, "the cancelled agents left processes behind"


# -- what a saved notebook keeps -------------------------------------------------------------


class TestSavedNotebook:
    """An executed notebook keeps the final table, in less than 200 KB for 100 attempts."""

    def test_display_handle_ends_as_the_final_table(self, tmp_path):
        """Shown before the run starts, started in one cell and awaited in another, the view's
        output in the executed notebook holds the final HTML table and text (what nbconvert,
        GitHub and a terminal show), beside the widget."""
        setup = f"""\
            import os
            os.environ["NBORCH_DEMO_SPEED"] = "0"
            from pathlib import Path
            import nborch
            from nborch.demo import make_sample_repo
            from nborch.view.live import show
            tmp = Path({str(tmp_path)!r})
            team = nborch.assign(nborch.parse_plan("# P\\n## Task 1: A\\n## Task 2: B\\n"),
                                 agents=["demo"])
            run = nborch.Coordinator(make_sample_repo(tmp / "repo"), team, root=tmp / "wt",
                                     validate=False)
            show(run)"""
        nb = execute([textwrap.dedent(setup), "run.start(); None", "await run"], tmp_path)
        [output] = nb.cells[0].outputs
        assert output.output_type == "display_data"
        assert output.metadata == {} and "transient" not in output
        data = output.data
        assert "application/vnd.jupyter.widget-view+json" in data
        assert data["text/html"].count("✓ completed") == 2
        assert "2/2 done" in data["text/plain"] and data["text/plain"].count("completed") == 2
        # the stored widget state (what nbconvert renders when it has it) is the final one too
        state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        html = [m["state"]["value"] for m in state.values() if m["model_name"] == "HTMLModel"]
        tables = [value for value in html if "<table>" in value]
        assert tables and all(t.count("✓ completed") == 2 for t in tables)
        assert stderr_of(nb) == ""

    def test_hundred_attempt_run_adds_less_than_200_kb(self, tmp_path):
        """A finished 100-attempt run shown in a notebook adds under 200 KB to the .ipynb, widget
        state included (and its display bundle alone is under 100 KB)."""
        helpers = "\n\n".join(inspect.getsource(f) for f in (fake_run, finish_all))
        cells = ["from pathlib import Path\nfrom nborch.view.live import show\n\n" + helpers,
                 f"run = fake_run(Path({str(tmp_path)!r}), 50)\nfinish_all(run)\nshow(run)"]
        nb = execute(cells, tmp_path)
        blank = copy.deepcopy(nb)
        blank.metadata.pop("widgets", None)
        for cell in blank.cells:
            cell.outputs, cell.execution_count = [], None
        growth = len(nbformat.writes(nb).encode()) - len(nbformat.writes(blank).encode())
        print(f"a finished 100-attempt run adds {growth / 1000:.1f} kB to the notebook")
        assert 10_000 < growth < 200_000
        run = fake_run(tmp_path, 50)
        finish_all(run)
        view = RunView(run)
        assert len(str(view.bundle())) < 100_000
        view.close()

    def test_plain_interpreter_gets_text(self, tmp_path, capsys):
        """Without IPython, show() prints the run as a text table."""
        run = fake_run(tmp_path, 2, agents=("demo",))
        finish_all(run)
        show(run)
        out = capsys.readouterr().out
        assert out.startswith("<Run (not started): 2/2 done") and "failed" in out
        RunView.of(run).close()
