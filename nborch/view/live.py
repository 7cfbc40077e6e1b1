"""The live view of a run in a notebook: progress table, progress bar, Cancel buttons, log tail.

>>> nborch.view.live.show(run)              # shows it; updates until the run ends  # doctest: +SKIP
>>> view = nborch.view.live.RunView.of(run)  # the same view, to click or inspect  # doctest: +SKIP

How it stays cheap, live and honest:

* A fixed handful of widget models whatever the number of attempts: an ``HTML`` table, an
  ``IntProgress``, a control bar (Cancel all; a ``Dropdown`` to pick an attempt and Cancel it) and
  an ``HTML`` log tail with the picked attempt's diffstat. The HTML comes from the pure functions
  of :mod:`nborch.execute.table` and :mod:`nborch.view.html`.
* It subscribes to the run's events (the engine never imports ipywidgets). An event only asks
  for a render; a :class:`Throttle` renders at most ``1 / interval`` times a second (4 by default)
  on whichever thread the events come from, batched with ``hold_sync()``. While attempts run, a
  tick each second keeps their elapsed times moving. The final state is always rendered.
* It is shown through a display id. When the run ends, that output is replaced by the final
  widget, HTML table and text, so where widgets cannot render (nbconvert, nbmake, GitHub, VS Code
  without the kernel, plain IPython) the saved output still tells the truth.
* ipywidgets and IPython are imported when a view is made, never by ``import nborch``.

Clicks reach the kernel only between cells: after ``run.start()`` they work at once; during
``await run`` or ``run.run_sync()`` they wait until the cell ends (the table keeps updating).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..events import AttemptState, RunEvent
from ..execute.table import agent_label, dashboard_link, run_html, table_html
from ..proc.lines import tail_of
from .hooks import Displayable, call_later, in_current_cell
from .html import counts_text, detail_html
from .timeline import timeline_svg

if TYPE_CHECKING:
    from ..execute.coordinator import Coordinator

__all__ = ["RunView", "Throttle", "show"]

S = AttemptState
_VIEWS: weakref.WeakKeyDictionary[Any, RunView] = weakref.WeakKeyDictionary()


def show(run: Coordinator, **options: Any) -> None:
    """Display the live view of ``run`` (one view per run, reused when shown again).

    Returns nothing, so that a cell ending in ``show(run)`` shows it once; use
    :meth:`RunView.of` for the view itself. ``options`` go to :class:`RunView` on first use.
    """
    RunView.of(run, **options).display()


class Throttle:
    """Call ``fn`` at most once per ``interval`` seconds however often :meth:`request` is called,
    and always once after the last request. Thread-safe.

    A request is served on the asyncio loop running in the requesting thread (the run's loop,
    wherever it is), or on a timer thread when there is none. ``calls`` counts the calls made.
    """

    def __init__(self, fn: Callable[[], object], interval: float = 0.25):
        self.fn, self.interval, self.calls = fn, interval, 0
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._due: float | None = None
        self._gen = 0  # only the newest scheduled call runs; older ones were superseded

    def request(self, delay: float = 0.0) -> None:
        """Ask for a call in ``delay`` seconds or, if that is too soon after the last, later."""
        now = time.monotonic()
        with self._lock:
            due = max(now + delay, self._last + self.interval)
            # A call is already coming in time — unless it is over a second late, as when the
            # loop it was scheduled on has stopped: then it is scheduled again.
            if self._due is not None and self._due <= due and now < self._due + 1.0:
                return
            self._gen += 1
            self._due, gen = due, self._gen
        call_later(max(0.0, due - now), self._fire, gen)

    def _fire(self, gen: int) -> None:
        with self._lock:
            if gen != self._gen:
                return
            self._due, self._last = None, time.monotonic()
        self.calls += 1
        self.fn()

    def flush(self) -> None:
        """Call now, in this thread, and drop the call that was scheduled."""
        self.cancel()
        with self._lock:
            self._last = time.monotonic()
        self.calls += 1
        self.fn()

    def cancel(self) -> None:
        """Drop the call that was scheduled, if any."""
        with self._lock:
            self._gen += 1
            self._due = None


def _tail(path: str, lines: int, max_bytes: int = 65536) -> str | None:
    """The last ``lines`` lines of a log, reading at most ``max_bytes``; None if unreadable."""
    try:
        return tail_of(path, lines, max_bytes=max_bytes)
    except OSError:
        return None


class RunView(Displayable):
    """The live view of one run; see the module docstring.

    Parameters
    ----------
    run:
        A :class:`~nborch.Coordinator`, running, finished or not yet started.
    interval:
        Least seconds between two renders (0.25: at most 4 a second).
    tick:
        Seconds between renders while attempts run and nothing happens, so elapsed times move.
    log_lines:
        Lines of the picked attempt's log shown in the log tail.
    """

    def __init__(self, run: Coordinator, *, interval: float = 0.25, tick: float = 1.0,
                 log_lines: int = 30):  # fmt: skip
        import ipywidgets as w

        self.run, self.tick, self.log_lines = run, tick, log_lines
        self.renders = 0
        self._lock = threading.RLock()  # one render at a time, whichever thread asks
        self._closed = False
        self._over = run.done or (bool(run.executions) and all(
            ex.status.is_final for ex in run.executions.values()))  # fmt: skip
        self._display_id: str | None = None
        self._print_at_end = False
        self._logs: dict[tuple[str, str], str] = {}
        self._stale: set[tuple[str, str]] = set()  # attempts with news since their log was read
        self._keys: tuple[tuple[str, str], ...] = ()

        self.table = w.HTML()
        self.progress = w.IntProgress(min=0, max=1, description="0/0")
        self.cancel_all_button = w.Button(description="Cancel all", icon="stop",
                                          tooltip="Stop every attempt that has not ended "
                                          "(what they wrote is committed as WIP)")  # fmt: skip
        self.picker = w.Dropdown(description="attempt")
        self.cancel_button = w.Button(description="Cancel attempt", icon="stop",
                                      tooltip="Stop the picked attempt")  # fmt: skip
        self.detail = w.HTML()
        self.timeline = w.HTML()
        self.buttons = w.HBox([self.cancel_all_button, self.picker, self.cancel_button])
        self.widget = w.VBox([self.progress, self.table, self.timeline, self.buttons, self.detail])
        self.cancel_all_button.on_click(lambda _: self.cancel_all())
        self.cancel_button.on_click(lambda _: self.cancel_picked())

        self._throttle = Throttle(self._render_for_current_cell, interval)
        self._unsubscribe = run.subscribe(self._on_event)
        self.render()
        self.picker.observe(lambda _: self.refresh(), names="value")  # after the first pick

    @classmethod
    def of(cls, run: Coordinator, **options: Any) -> RunView:
        """The view of ``run``, made on first use (``options`` go to the constructor then)."""
        view = _VIEWS.get(run)
        if view is None or view._closed:
            view = _VIEWS[run] = cls(run, **options)
        return view

    # -- controls ------------------------------------------------------------------------

    def cancel_all(self) -> int:
        """Cancel every attempt that has not ended; returns how many were asked to stop."""
        n = self.run.cancel()
        self.refresh()
        return n

    def cancel_picked(self) -> int:
        """Cancel the attempt picked in the dropdown; returns 1 if it was asked to stop."""
        if self.picker.value is None:
            return 0
        task, agent = self.picker.value
        n = self.run.cancel(task=task, agent=agent)
        self.refresh()
        return n

    def refresh(self) -> None:
        """Ask for a render (throttled)."""
        self._throttle.request()

    def close(self) -> None:
        """Stop following the run and close every widget model of the view."""
        with self._lock:
            self._closed = True
        self._throttle.cancel()
        self._unsubscribe()
        if _VIEWS.get(self.run) is self:
            del _VIEWS[self.run]
        for widget in (*self.buttons.children, *self.widget.children, self.widget):
            for model in (getattr(widget, "style", None), widget.layout, widget):
                if model is not None:
                    model.close()

    # -- events and rendering ------------------------------------------------------------

    def _on_event(self, event: RunEvent) -> None:
        if event.kind == "run":
            if event.text == "finished":
                self._finish()
                return
            self._over = False  # started, or resumed after it had finished
        if event.task_id:
            self._stale.add((event.task_id, event.agent))
        self._throttle.request()

    def _finish(self) -> None:
        """The run ended: render its final state now and put it in the displayed output."""
        self._over = True
        self._throttle.flush()
        if self._display_id is not None:
            from IPython.display import update_display

            in_current_cell(update_display, self.bundle(), raw=True,
                             display_id=self._display_id)  # fmt: skip
        elif self._print_at_end:
            print(self.text(), flush=True)

    def _render_for_current_cell(self) -> None:
        in_current_cell(self.render)

    def render(self) -> None:
        """Draw the current state now (the throttle calls this; call it to force a render)."""
        with self._lock:
            if self._closed:
                return
            now = datetime.now(UTC)
            executions = list(self.run.executions.values())
            keys = tuple(self.run.executions)
            if keys != self._keys:
                self._keys = keys
                self.picker.options = [(f"{ex.task} · {agent_label(ex)}", (ex.task, ex.agent))
                                       for ex in executions]  # fmt: skip
                if self.picker.value is None and keys:
                    self.picker.value = keys[0]
            picked = self.run.executions.get(self.picker.value) if self.picker.value else None
            done = sum(ex.status.is_final for ex in executions)
            live = not self._over and any(ex.status == S.RUNNING for ex in executions)
            with contextlib.ExitStack() as batch:
                for widget in (self.table, self.timeline, self.progress, self.detail, self.cancel_all_button,
                               self.cancel_button):  # fmt: skip
                    batch.enter_context(widget.hold_sync())
                self.table.value = table_html(executions, repr(self.run).strip("<>"), now,
                                              link=dashboard_link(self.run))  # fmt: skip
                self.timeline.value = timeline_svg(executions, now)
                self.progress.max = max(1, len(executions))
                self.progress.value = done
                self.progress.description = f"{done}/{len(executions)}"
                self.progress.bar_style = self._bar_style(executions)
                self.detail.value = detail_html(picked, self._log(picked), now, self.log_lines)
                self.cancel_all_button.disabled = done == len(executions)
                self.cancel_button.disabled = picked is None or picked.status.is_final
            self.renders += 1
        if live and self.tick:
            self._throttle.request(self.tick)

    def _bar_style(self, executions: list[Any]) -> str:
        if not all(ex.status.is_final for ex in executions) and not self._over:
            return "info"
        if getattr(self.run, "error", None) is not None:
            return "danger"
        return "success" if all(ex.is_successful for ex in executions) else "warning"

    def _log(self, ex: Any) -> str:
        """The picked attempt's log tail, read again only when it has had news."""
        if ex is None:
            return ""
        key = (ex.task, ex.agent)
        if key in self._stale or key not in self._logs:
            self._stale.discard(key)
            text = _tail(ex.log_path, self.log_lines) if ex.log_path else None
            self._logs[key] = text if text is not None else "\n".join(ex.tail[-self.log_lines :])
        return self._logs[key]

    # -- display -------------------------------------------------------------------------

    def html(self) -> str:
        """The progress table and the timeline as HTML, as of now."""
        return run_html(self.run) + timeline_svg(list(self.run.executions.values()))

    def text(self) -> str:
        """The run as plain text: its summary line and a fixed-width table (the timeline's text
        form is :func:`~nborch.view.timeline.timeline_text`)."""
        from ..execute.table import run_text

        return run_text(self.run) + "\n" + counts_text(list(self.run.executions.values()))

    def display(self) -> None:
        """Show the view in the current output; that output becomes the final table at the end."""
        self.render()
        if not self._show():  # a plain interpreter: text now, and again at the end
            self._print_at_end = not self._over

    def __repr__(self) -> str:
        state = "closed" if self._closed else "final" if self._over else "live"
        return f"<RunView of {self.run!r}, {state}, {self.renders} renders>"

