"""The tutorials and the dashboard in a real JupyterLab and Voila, driven in Chromium.

Each test runs a notebook as a person would (Run All Cells), waits — bounded — for it to finish,
reads what the page shows through the ipywidgets 8 selectors (``.jp-OutputArea-output``,
``.widget-html-content``, ``.widget-hprogress .progress-bar``) and saves a screenshot to
``test-output/screenshots/``.
"""

from __future__ import annotations

import re
from typing import Any

from conftest import FOLLOW_NOTEBOOK, SCREENSHOTS, Lab, Server

NOTEBOOK_TIMEOUT = 240_000  # ms for a whole notebook to run
FINAL = ("✓ completed", "✗ failed", "⏱ timeout", "⊘ cancelled", "⚠ interrupted")
RUN_ID = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{4}\b")

# JupyterLab's own state, exposed by --LabApp.expose_app_in_browser.
_NOTEBOOK = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
_KERNEL_IDLE = f"""() => {{
    const nb = {_NOTEBOOK};
    const kernel = nb && nb.sessionContext && nb.sessionContext.session
        && nb.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle' && nb.content && nb.content.widgets.length > 0;
}}"""
_ALL_RAN = f"""() => {{
    const nb = {_NOTEBOOK};
    const code = nb.content.widgets.filter(c => c.model.type === 'code');
    const kernel = nb.sessionContext.session.kernel;
    return code.every(c => c.model.executionCount !== null) && kernel.status === 'idle';
}}"""
_ERRORS = f"""() => {{
    const nb = {_NOTEBOOK};
    return nb.content.widgets.filter(c => c.model.type === 'code')
        .flatMap(c => c.model.outputs.toJSON())
        .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue);
}}"""


def run_notebook(page: Any, lab: Lab, name: str) -> None:
    """Open ``name`` in JupyterLab, wait for its kernel, run all cells and wait until they ran."""
    page.goto(lab.server.page_url(f"/lab/tree/{name}?reset"))  # not the tabs of a past test
    page.wait_for_function(_KERNEL_IDLE, timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(_ALL_RAN, timeout=NOTEBOOK_TIMEOUT, polling=500)
    assert page.evaluate(_ERRORS) == []


def shown(page: Any) -> Any:
    """The notebook on screen (JupyterLab keeps other tabs in the page, hidden)."""
    return page.locator(".jp-NotebookPanel:visible")


def output_with(page: Any, text: str | re.Pattern[str]) -> Any:
    """The first cell output whose text contains ``text``."""
    output = shown(page).locator(".jp-OutputArea-output", has_text=text).first
    output.wait_for(state="attached")
    output.scroll_into_view_if_needed()
    return output


def test_tutorial_03_progress_table(page: Any, lab: Lab) -> None:
    """Notebook 03 run in JupyterLab: the live table ends with every attempt in a final state,
    and the progress bar at 100 %."""
    run_notebook(page, lab, "03_run_in_parallel.ipynb")
    view = output_with(page, "last line / error")
    table = view.locator(".widget-html-content", has_text="last line / error").first
    rows = table.locator("tbody tr")
    view.locator(".widget-hprogress").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "03-run-view.png"))
    # the timeline under the table: one bar per attempt, drawn in the page
    timeline = view.locator("svg.nborch-timeline").first
    timeline.scroll_into_view_if_needed()
    assert timeline.is_visible() and timeline.locator("rect").count() == 16
    page.screenshot(path=str(SCREENSHOTS / "03-run-timeline.png"))
    # the cell has ended, so a pick in the attempt drop-down reaches the kernel and the detail
    # pane below the table shows that attempt
    view.locator(".widget-dropdown select").first.select_option(label="1.3 · demo-broken")
    # (the timeline names the attempt too: the detail pane is the one without a picture)
    detail = view.locator(".widget-html-content:not(:has(svg))", has_text="1.3 · demo-broken").first
    detail.wait_for()
    assert "✗ failed" in detail.inner_text() and "exit code 1" in detail.inner_text()
    detail.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "03-run-view-picked.png"))
    statuses = rows.evaluate_all("rows => rows.map(r => r.cells[2].textContent)")
    assert len(statuses) == 16, statuses
    assert all(s in FINAL for s in statuses), statuses
    assert statuses.count("✓ completed") >= 8
    bar = view.locator(".widget-hprogress .progress-bar").first
    assert bar.evaluate("e => e.style.width") == "100%"
    assert view.locator(".widget-hprogress").first.text_content().strip().startswith("16/16")


def test_dashboard_lists_the_run(page: Any, lab: Lab) -> None:
    """The dashboard of the demo repository lists its run; picking the broken attempt shows
    its log tail (a real click in the attempt drop-down)."""
    run_notebook(page, lab, "runs.ipynb")
    board = output_with(page, "1 run in demo-repo")
    runs = board.locator(".widget-html-content", has_text="1 run in demo-repo").first
    assert lab.run_id in runs.inner_text()
    assert "finished" in runs.inner_text() or "completed" in runs.inner_text()
    attempts = board.locator(".widget-html-content", has_text="last line / error").first
    assert attempts.locator("tbody tr").count() == 4
    board.locator(".widget-dropdown select").nth(1).select_option(label="2 · demo-broken")
    detail = board.locator(".widget-html-content", has_text="2 · demo-broken").first
    detail.wait_for()
    assert "✗ failed" in detail.inner_text()
    board.screenshot(path=str(SCREENSHOTS / "dashboard-lab.png"))


def test_dashboard_follows_a_running_run(page: Any, lab: Lab) -> None:
    """A dashboard showing a run that is still going follows it with no cell running: the
    attempt shows running, then — read again from the store — its final state."""
    run_notebook(page, lab, FOLLOW_NOTEBOOK)
    board = output_with(page, "follow-repo")
    attempts = board.locator(".widget-html-content", has_text="last line / error").first
    assert "▶ running" in attempts.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "dashboard-following.png"))
    attempts.filter(has_text="⏱ timeout").wait_for(timeout=90_000)
    runs = board.locator(".widget-html-content", has_text=re.compile(r"1 run in \S*follow-repo"))
    runs.filter(has_text="finished").first.wait_for(timeout=10_000)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-followed.png"))


def test_dashboard_tutorial(page: Any, lab: Lab) -> None:
    """The dashboard tutorial runs in JupyterLab and its dashboard lists the run it made."""
    run_notebook(page, lab, "dashboard.ipynb")
    board = shown(page).locator(".jp-OutputArea-output", has_text="1 run in").last
    board.scroll_into_view_if_needed()
    text = board.locator(".widget-html-content", has_text="1 run in").first.inner_text()
    assert RUN_ID.search(text), text
    board.screenshot(path=str(SCREENSHOTS / "dashboard-tutorial.png"))


def test_voila_dashboard(page: Any, voila: Server) -> None:
    """`voila dashboard.ipynb` renders the dashboard: the runs table lists the run it made."""
    page.goto(voila.page_url("/"), wait_until="commit", timeout=NOTEBOOK_TIMEOUT)
    runs = page.locator(".widget-html-content", has_text="1 run in").first
    runs.wait_for(timeout=NOTEBOOK_TIMEOUT)
    assert RUN_ID.search(runs.inner_text())
    assert page.locator(".widget-dropdown select").count() >= 2
    runs.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "dashboard-voila.png"))


def test_voila_dashboard_app(page: Any, voila_app: Server, lab: Lab) -> None:
    """`NBORCH_REPO=repo voila dashboard_app.ipynb` shows that repository's runs, and Refresh
    reads them again (the app keeps its repository, unlike the tutorial, which removes its own)."""
    page.goto(voila_app.page_url("/"), wait_until="commit", timeout=NOTEBOOK_TIMEOUT)
    runs = page.locator(".widget-html-content", has_text="in ").filter(has_text=lab.run_id).first
    runs.wait_for(timeout=NOTEBOOK_TIMEOUT)
    page.get_by_role("button", name="Refresh").click()
    page.locator(".widget-html-content").filter(has_text=lab.run_id).first.wait_for(timeout=30_000)
    assert "Traceback" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "dashboard-voila-app.png"))
