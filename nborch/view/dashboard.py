"""A notebook dashboard of every run recorded in a repository: pick one to see its attempts and logs.

>>> from nborch.view.dashboard import dashboard
>>> dashboard(repo)                       # the last expression of a cell  # doctest: +SKIP

It is a handful of widget models whatever the number of runs or attempts: an ``HTML`` runs table,
a ``Dropdown`` to pick a run, a Refresh ``Button``, an ``HTML`` attempts table (drawn by
:func:`nborch.execute.table.table_html`, like the live run view), a ``Dropdown`` to pick an attempt
and an ``HTML`` detail with its log tail (:func:`nborch.view.html.detail_html`).

A selected run that is still running (in this kernel or in another process, such as ``nborch run``
in a terminal) is followed live: while the dashboard is on screen, its attempts are read again
from the store at most once a second (``poll``), until the run ends; then the runs table is read
again too. "On screen" is what the frontend reports: the number of views of the widget (JupyterLab
and Voila count them), so a dashboard in a closed tab, or in a notebook executed by nbclient, reads
nothing.

Where widgets cannot render (nbconvert, nbmake, GitHub, a terminal) the output still shows the
truth: the display data carries the same tables as HTML and text, and the display handle is
updated on every refresh. The tables are built by the pure functions :func:`runs_html` and
:func:`runs_text`. ipywidgets and IPython are imported when a dashboard is made, never on import.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..display import html_table
from ..errors import NborchError, WorktreeError
from ..execute.table import CLASS, agent_label, esc, table_html
from ..gitcmd import RepoLike, repo_path
from .hooks import Displayable, call_later, in_current_cell
from .html import detail_html
from .runs import runs_html, runs_text
from .timeline import timeline_svg

if TYPE_CHECKING:
    import pandas as pd

    from ..execute.coordinator import Coordinator

__all__ = ["Dashboard", "dashboard", "runs_html", "runs_text"]

def dashboard(repo: RepoLike, **options: Any) -> Dashboard:
    """The dashboard of ``repo``'s runs (show it as the last expression of a cell).

    Parameters
    ----------
    repo:
        A git repository (or a folder inside one) that nborch has run plans in.
    options:
        Passed to :class:`Dashboard` (``log_lines``, ``poll``).

    Returns
    -------
    Dashboard
        Newest run selected; ``select(run_id)`` and ``pick(task, agent)`` change what it shows.
    """
    return Dashboard(repo, **options)


class Dashboard(Displayable):
    """Every run of a repository, one selected with its attempts and a log tail; see the module.

    Parameters
    ----------
    repo:
        The repository whose runs are shown.
    log_lines:
        Lines of the picked attempt's log shown.
    poll:
        Least seconds between two reads of a running selected run from the store (0: never).
    """

    def __init__(self, repo: RepoLike, *, log_lines: int = 30, poll: float = 1.0):
        import ipywidgets as w

        self.repo, self.log_lines, self.poll = repo_path(repo), log_lines, poll
        self.polls = 0  # reads of a running run from the store, for tests and benchmarks
        self.runs: pd.DataFrame | None = None
        self.run: Coordinator | None = None
        self.error = ""  # why the selected run could not be loaded
        self.problem = ""  # why no run can be read at all (no repository there)
        self._display_id: str | None = None
        self._quiet = False  # no re-render while the pickers are set in code
        self._closed = False
        self._poll_lock = threading.Lock()
        self._draw_lock = threading.RLock()  # a poll (maybe on a timer thread) vs. a click
        self._poll_gen = 0  # only the newest scheduled poll runs; a new selection supersedes
        self._polling = False

        self.runs_table = w.HTML()
        self.run_picker = w.Dropdown(description="run")
        self.refresh_button = w.Button(description="Refresh", icon="refresh",
                                       tooltip="Read the runs again from the store")  # fmt: skip
        self.attempts_table = w.HTML()
        self.comparison_table = w.HTML()
        self.attempt_picker = w.Dropdown(description="attempt")
        self.detail = w.HTML()
        self.widget = w.VBox([self.runs_table, w.HBox([self.run_picker, self.refresh_button]),
                              self.attempts_table, self.comparison_table, self.attempt_picker,
                              self.detail])  # fmt: skip
        # Count the views the frontend shows (None would mean "do not track"): polling needs one.
        self.widget._view_count = 0
        self.widget.observe(lambda _: self._follow(), names="_view_count")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.run_picker.observe(lambda ch: self._picked_run(ch["new"]), names="value")
        self.attempt_picker.observe(lambda _: self._picked_attempt(), names="value")
        self.refresh()

    # -- state ---------------------------------------------------------------------------

    @property
    def selected(self) -> str | None:
        """The id of the selected run, or None when there is none."""
        return self.run_picker.value

    @property
    def visible(self) -> bool:
        """Whether a frontend shows the dashboard now (JupyterLab and Voila report their views)."""
        return not self._closed and bool(self.widget._view_count)

    @property
    def following(self) -> bool:
        """Whether the selected run is being followed live (a poll of the store is scheduled)."""
        return self._polling

    def close(self) -> None:
        """Stop following the selected run and close every widget model of the dashboard."""
        self._closed = True
        with self._poll_lock:
            self._poll_gen += 1
            self._polling = False
        for box in (self.widget.children[1], self.widget):
            for widget in (*box.children, box):
                for model in (getattr(widget, "style", None), widget.layout, widget):
                    if model is not None:
                        model.close()

    def refresh(self) -> Dashboard:
        """Read the runs again (keeping the selection while it exists) and redraw."""
        from ..execute.runs import history

        with self._poll_lock:  # a new read supersedes the scheduled poll
            self._poll_gen += 1
            self._polling = False
        try:
            self.runs, self.problem = history(self.repo), ""
        except WorktreeError as err:  # a copied notebook, a source archive: say what to do
            self.runs, self.problem = _no_runs(), (
                f"{err}. Point the dashboard at a repository: dashboard('path/to/repo'), or "
                "NBORCH_REPO=path/to/repo for notebooks/dashboard_app.ipynb.")
        ids = list(self.runs["run"])
        keep = self.selected if self.selected in ids else (ids[0] if ids else None)
        self._quiet = True
        try:
            self.run_picker.options = [(self._run_label(row), row["run"])
                                       for _, row in self.runs.iterrows()]  # fmt: skip
            self.run_picker.value = keep
        finally:
            self._quiet = False
        self._load(keep)
        return self

    def select(self, run_id: str) -> Dashboard:
        """Show the run ``run_id`` (one of ``self.runs["run"]``)."""
        if self.runs is None or run_id not in set(self.runs["run"]):
            raise NborchError(f"no run {run_id!r} in {self.repo} — pick one of "
                              "dashboard.runs['run'] (press Refresh for new runs)")  # fmt: skip
        self.run_picker.value = run_id  # the observer loads and draws it
        return self

    def pick(self, task: str, agent: str) -> Dashboard:
        """Show the log tail of the selected run's attempt ``(task, agent)``."""
        if self.run is None or (task, agent) not in self.run.executions:
            raise NborchError(f"no attempt ({task!r}, {agent!r}) in the selected run — see "
                              "dashboard.run.summary()")  # fmt: skip
        self.attempt_picker.value = (task, agent)
        return self

    def _picked_run(self, run_id: str | None) -> None:
        if not self._quiet:
            self._load(run_id)

    def _picked_attempt(self) -> None:
        if not self._quiet:
            self.render()

    def _load(self, run_id: str | None) -> None:
        from ..execute.coordinator import Coordinator

        self.run, self.error = None, ""
        if run_id is not None:
            try:
                self.run = Coordinator.load(self.repo, run_id)
            except NborchError as err:  # a run that was prepared but never executed
                self.error = str(err)
        keys = list(self.run.executions) if self.run is not None else []
        self._quiet = True
        try:
            self.attempt_picker.options = [(f"{t} · {agent_label(self.run.executions[(t, a)])}",
                                            (t, a)) for t, a in keys]  # fmt: skip
            self.attempt_picker.value = keys[0] if keys else None
        finally:
            self._quiet = False
        self.render()
        self._follow()

    # -- following a running run -----------------------------------------------------------

    def _running(self) -> bool:
        """Whether the runs table says the selected run is still running."""
        if self.run is None or self.runs is None or self.selected is None:
            return False
        rows = self.runs.loc[self.runs["run"] == self.selected, "status"]
        return bool(len(rows)) and rows.iloc[0] == "running"

    def _follow(self) -> None:
        """Schedule a poll if the selected run is running and on screen, and none is due."""
        if self._closed or not self.poll or not self.visible or not self._running():
            return
        with self._poll_lock:
            if self._polling:
                return
            self._polling, gen = True, self._poll_gen
        call_later(self.poll, self._poll_in_current_cell, gen, self.selected)

    def _poll_in_current_cell(self, gen: int, run_id: str | None) -> None:
        in_current_cell(self._poll, gen, run_id)

    def _poll(self, gen: int, run_id: str | None) -> None:
        """Read the selected run's attempts from the store and redraw; when it has ended, read
        the runs again (which redraws everything, display handle included) and stop."""
        with self._poll_lock:
            if gen != self._poll_gen:
                return
            self._polling = False
        if self._closed or run_id != self.selected or self.run is None or not self.visible:
            return
        self.polls += 1
        with self._draw_lock:
            running = self._read_attempts(self.run, run_id)
            if running:
                self.render(display=False)
        if running:
            self._follow()
        else:
            self.refresh()

    def _read_attempts(self, run: Coordinator, run_id: str) -> bool:
        """Copy the stored attempts into the selected run; returns whether it is still running."""
        from ..execute.runs import restore
        from ..store import run_alive
        from ..workspace.manager import WorktreeManager

        with WorktreeManager(self.repo).store() as store:  # read only: a view never writes
            record = store.get_run(run_id)
            attempts = store.attempts(run_id)
        alive = record is None or run_alive(record)
        for rec in attempts:
            ex = run.executions.get((rec.task_id, rec.agent))
            if ex is not None:
                restore(ex, rec, alive)
        return record is not None and record.status == "running" and alive

    def _run_label(self, row: Any) -> str:
        return f"{row['run']} · {row['status']} · {row['plan'] or ''}".rstrip(" ·")

    # -- drawing -------------------------------------------------------------------------

    def run_html(self) -> str:
        """The selected run's attempts table (or why there is none)."""
        if self.run is None:
            why = self.error or ("no run selected" if self.runs is not None and len(self.runs)
                                 else "")  # fmt: skip
            return f'<div class="{CLASS}"><i>{esc(why)}</i></div>' if why else ""
        executions = list(self.run.executions.values())
        return table_html(executions, repr(self.run).strip("<>")) + timeline_svg(executions)

    def comparison_html(self) -> str:
        """The selected run's saved comparison (``run.compare()``, ``nborch compare``), if any."""
        if self.run is None or self._running():
            return ""
        from ..compare.comparison import SAVED_COLUMNS, load_comparison, saved_rows

        try:
            data = load_comparison(self.repo, self.selected or "")
        except NborchError as err:
            return f'<div class="{CLASS}"><i>{esc(str(err))}</i></div>'
        if data is None:
            return (f'<div class="{CLASS}"><i>not compared yet — run.compare(), or nborch '
                    f'compare {esc(self.selected or "")} in a terminal</i></div>')  # fmt: skip
        return html_table(SAVED_COLUMNS, saved_rows(data),
                          caption=f"comparison of {data['created_at'][:19]} · "
                                  f"test command {data.get('test_command') or 'none'}")  # fmt: skip

    def detail_html(self) -> str:
        """The picked attempt: status, diffstat, branch and the end of its log."""
        if self.run is None:
            return ""
        picked = self.attempt_picker.value
        ex = self.run.executions.get(picked) if picked else None
        log = self.run.logs(*picked, tail=self.log_lines) if ex is not None else ""
        return detail_html(ex, log, lines=self.log_lines)

    def render(self, display: bool = True) -> None:
        """Redraw the widgets and, if shown (and ``display``), the display handle (for where
        widgets cannot render; a followed run updates it only when it ends, to keep it cheap)."""
        frame = self.runs if self.runs is not None else _no_runs()
        with (self._draw_lock, self.runs_table.hold_sync(), self.attempts_table.hold_sync(),
              self.comparison_table.hold_sync(), self.detail.hold_sync()):  # fmt: skip
            self.runs_table.value = runs_html(frame, self.selected, self.repo, message=self.problem)
            self.attempts_table.value = self.run_html()
            self.comparison_table.value = self.comparison_html()
            self.detail.value = self.detail_html()
        self.attempt_picker.disabled = self.run is None
        if display and self._display_id is not None:
            from IPython.display import update_display

            update_display(self.bundle(), raw=True, display_id=self._display_id)

    def html(self) -> str:
        """Everything the dashboard shows, as HTML: runs table, attempts table, picked log."""
        frame = self.runs if self.runs is not None else _no_runs()
        return (runs_html(frame, self.selected, self.repo, message=self.problem) + self.run_html()
                + self.comparison_html() + self.detail_html())  # fmt: skip

    def text(self) -> str:
        """The runs table and the selected run as plain text."""
        frame = self.runs if self.runs is not None else _no_runs()
        lines = [f"nborch dashboard of {self.repo}", runs_text(frame, self.repo, message=self.problem)]
        if self.run is not None:
            from ..execute.table import run_text

            lines += ["", f"selected: {run_text(self.run)}"]
        elif self.error:
            lines += ["", f"selected: {self.selected} — {self.error}"]
        return "\n".join(lines)

    # -- display -------------------------------------------------------------------------

    def display(self) -> None:
        """Show the dashboard in the current output (updated on every refresh)."""
        self._show()

    def __repr__(self) -> str:
        n = 0 if self.runs is None else len(self.runs)
        head = f"<Dashboard of {self.repo}: {n} runs, selected {self.selected or 'none'}>"
        frame = self.runs if self.runs is not None else _no_runs()
        return head + "\n" + runs_text(frame, self.repo, message=self.problem)


def _no_runs() -> pd.DataFrame:
    import pandas as pd

    from ..execute.runs import HISTORY_COLUMNS

    return pd.DataFrame(columns=list(HISTORY_COLUMNS))
