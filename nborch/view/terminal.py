"""Live progress of a run in a terminal: a rich table redrawn a few times a second on a TTY,
one plain line per state change otherwise (CI logs, pipes). Messages go to stderr."""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

from ..display import printable
from ..events import RunEvent
from ..execute.table import COLUMNS, rows

if TYPE_CHECKING:
    from ..execute.coordinator import Coordinator


class _Table:
    """Rebuilt from the run's records each time rich draws it, so it is never stale."""

    def __init__(self, run: Coordinator):
        self.run = run

    def __rich__(self) -> Any:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=escape(repr(self.run)), title_justify="left")
        for col in COLUMNS:
            table.add_column(col, overflow="ellipsis", no_wrap=col.startswith("last"))
        for row in rows(self.run.executions.values()):
            table.add_row(*(escape(printable(str(v))) for v in row))
        return table


class TerminalProgress:
    """Use as ``with TerminalProgress(run): run.run_sync()``."""

    def __init__(self, run: Coordinator, stream: IO[str] | None = None, live: bool | None = None):
        self.run = run
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._live: Any = None
        self._unsubscribe: Any = None
        self._t0 = time.monotonic()

    def __enter__(self) -> TerminalProgress:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(_Table(self.run), console=Console(file=self.stream),
                              refresh_per_second=4, transient=False)  # fmt: skip
            self._live.start()
        self._unsubscribe = self.run.subscribe(self.on_event)
        return self

    def on_event(self, event: RunEvent) -> None:
        if event.kind == "run" and event.text == "started":
            self.warn()
            return
        if self.live or event.kind != "state" or event.state is None:
            return
        note = f" — {event.text}" if event.text else ""
        elapsed = time.monotonic() - self._t0
        print(printable(f"[{elapsed:7.1f}s] {event.task_id} {event.agent}: {event.state}{note}"),
              file=self.stream, flush=True)  # fmt: skip

    def warn(self) -> None:
        """What preparing the run found (uncommitted changes the attempts will not see, agents
        not installed), once, as ``nborch prepare`` shows it."""
        prepared = getattr(self.run, "prepared", None)
        for warning in getattr(prepared, "warnings", ()):
            line = printable(f"warning: {warning}")
            if self._live is not None:
                self._live.console.print(line, markup=False, highlight=False)
            else:
                print(line, file=self.stream, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
