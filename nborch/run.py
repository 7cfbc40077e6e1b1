"""A run as people use it: the coordinator, plus its comparison and its view in a notebook.

:class:`Run` adds to :class:`~nborch.execute.coordinator.Coordinator` what lives above the
engine: ``compare()`` (:mod:`nborch.compare`) and the live view a notebook shows
(:mod:`nborch.view.live`). ``nborch.Coordinator`` is this class too.

>>> run = nborch.Run("path/to/repo", team, timeout="20m")   # doctest: +SKIP
>>> await run                                                # doctest: +SKIP
>>> run.compare().recommend()                                # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .execute.coordinator import Coordinator

if TYPE_CHECKING:
    from .compare.comparison import Comparison

__all__ = ["Run"]


class Run(Coordinator):
    """A run of a plan's attempts; see :class:`~nborch.execute.coordinator.Coordinator`."""

    def compare(self, **options: Any) -> Comparison:
        """Compare this run's attempts with evidence; options as for :func:`nborch.compare`.
        A run whose agents ran on Dask runs its test suites there too (``executor="local"``
        keeps them here)."""
        # The comparison engine loads on first use, keeping `import nborch` fast.
        from .compare.comparison import compare_run
        from .compare.gather import CompareOptions
        from .execute.cluster import DaskExecutor

        if "executor" not in options and isinstance(self.executor, DaskExecutor):
            # a cluster this run made (and closed) is made again for the comparison, then closed
            options["executor"] = "dask" if self._owns_executor else self.executor
        judge, progress = options.pop("judge", None), options.pop("progress", None)
        save = options.pop("save", True)
        return compare_run(self, CompareOptions(**options), judge, progress, save)

    def _ipython_display_(self) -> None:
        """In a notebook, a run shows itself as its live view (see :mod:`nborch.view.live`)."""
        from .view.live import show

        show(self)
