"""Comparing the attempts of a run with evidence — tests, gates, metrics — and merging the winners.

:func:`compare` gathers the evidence (:mod:`.gather`: diffs, test runs, cross-tests, coverage,
metrics), judges it (:mod:`.gates`, :mod:`.rank`) and returns a :class:`Comparison`, whose
``merge()`` takes the recommended attempts into an integration branch (:mod:`.merge`).

The modules load on first use, so ``import nborch`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .comparison import Comparison

__all__ = ["Comparison", "compare"]


def compare(repo: Any, run_id: str, **options: Any) -> Comparison:
    """Compare the attempts of run ``run_id`` in ``repo`` with evidence; returns a Comparison.

    Options (all keyword): ``test_command``, ``test_timeout`` (seconds), ``jobs``, ``cross``,
    ``metrics``, ``coverage``, ``env``, ``judge``, ``progress``, ``save`` — see
    :func:`nborch.compare.comparison.compare`.

    >>> cmp = nborch.compare("path/to/repo", "20261125-1200-ab12")  # doctest: +SKIP
    >>> cmp.recommend()["1.1"].action  # doctest: +SKIP
    'take'
    """
    from .comparison import compare as run_compare

    return run_compare(repo, run_id, **options)


def __getattr__(name: str) -> Any:
    if name == "Comparison":
        from .comparison import Comparison

        return Comparison
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
