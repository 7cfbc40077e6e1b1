"""The runs dashboard; kept here because ``nborch.dashboard`` is public.

The code lives in :mod:`nborch.view.dashboard`.
"""

from .view.dashboard import Dashboard, dashboard, runs_html, runs_text

__all__ = ["Dashboard", "dashboard", "runs_html", "runs_text"]
