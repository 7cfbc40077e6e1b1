"""The live view of a run in a notebook; kept here because ``nborch.widgets`` is public.

The code lives in :mod:`nborch.view.live`.
"""

from .view.live import RunView, Throttle, show

__all__ = ["RunView", "Throttle", "show"]
