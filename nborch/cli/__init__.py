"""The ``nborch`` command line: one module per group of commands, registered in :mod:`.main`."""

from .main import main

__all__ = ["main"]
