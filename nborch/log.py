"""nborch's logger, ``logging.getLogger("nborch")``, and the switch the command line turns on.

nborch is quiet by default: its records (scheduling decisions and process starts and kills at
INFO, every git command with its timing at DEBUG) go nowhere until someone asks. A library user
configures the ``nborch`` logger as any other; ``nborch -v`` / ``-vv`` (or ``NBORCH_LOG=info`` /
``debug``) sends them to stderr.

>>> import logging
>>> logging.getLogger("nborch").handlers[0].__class__.__name__
'NullHandler'
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["ENV", "configure", "logger"]

ENV = "NBORCH_LOG"
logger = logging.getLogger("nborch")
logger.addHandler(logging.NullHandler())  # a library's manners: no "No handlers" warning

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}  # fmt: skip


def configure(verbosity: int = 0) -> int:
    """Send nborch's records to stderr: ``verbosity`` 1 for INFO, 2 for DEBUG; ``$NBORCH_LOG``
    (``info``, ``debug``…) when it asks for more. Returns the level set (WARNING: nothing
    added). Calling it again changes the level; it never adds a second handler."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    named = _LEVELS.get(os.environ.get(ENV, "").strip().lower())
    if named is not None:
        level = min(level, named)
    if level >= logging.WARNING:
        return level
    logger.setLevel(level)
    if not any(getattr(h, "_nborch", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)-5s "
                                               "%(name)s: %(message)s", "%H:%M:%S"))  # fmt: skip
        handler._nborch = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return level
