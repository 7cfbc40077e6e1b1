"""What the run view and the dashboard share to show themselves in any frontend.

:class:`Displayable` gives an object with a ``widget``, ``html()`` and ``text()`` the IPython
display hooks: a bundle of the widget plus HTML and text (a frontend picks the richest type it can
show, so nbconvert, GitHub and a terminal still see the truth). :func:`call_later` and
:func:`in_current_cell` schedule work from events and timers. IPython is imported only when
something is shown.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["Displayable", "call_later", "in_current_cell"]


def call_later(delay: float, fn: Callable[..., object], *args: Any) -> None:
    """Call ``fn(*args)`` in ``delay`` s on this thread's running loop, else on a timer thread."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        timer = threading.Timer(delay, fn, args)
        timer.daemon = True
        timer.start()
    else:
        loop.call_later(delay, fn, *args)


def in_current_cell(fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Call ``fn`` so that the messages it sends belong to the cell executing now.

    ipykernel keeps the parent message of outputs in context variables. A render runs in the
    context of whatever started the run — maybe a cell that ended long ago, whose messages
    nbclient (nbconvert, nbmake) no longer records. In an empty context ipykernel falls back to
    the cell executing now, so the final table and widget state land in the saved notebook.
    """
    contextvars.Context().run(fn, *args, **kwargs)


class Displayable:
    """IPython display hooks for an object with ``widget``, ``html()`` and ``text()``."""

    widget: Any
    _display_id: str | None

    def html(self) -> str:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    def text(self) -> str:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    def bundle(self) -> dict[str, Any]:
        """The display data: the widget, plus HTML and text for where it cannot render."""
        data = dict(self.widget._repr_mimebundle_())
        data["text/html"] = self.html()
        data["text/plain"] = self.text()
        return data

    def _show(self) -> bool:
        """Display :meth:`bundle` under this object's display id; in a plain interpreter print
        :meth:`text` instead and return False."""
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.display import display

        if not InteractiveShell.initialized():
            print(self.text(), flush=True)
            return False
        self._display_id = self._display_id or uuid.uuid4().hex
        display(self.bundle(), raw=True, display_id=self._display_id)
        return True

    def display(self) -> None:
        """Show it in the current output."""
        self._show()

    def _ipython_display_(self) -> None:
        self.display()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return self.bundle()

    def _repr_html_(self) -> str:
        return self.html()
