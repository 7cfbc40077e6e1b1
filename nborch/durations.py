"""Durations as people write them: ``"20m"``, ``"1h30m"``, ``"90s"``, ``"1.5h"`` or seconds.

>>> parse_duration("1h30m")
5400.0
>>> parse_duration(45)
45.0
>>> format_duration(5400)
'1h30m'
"""

from __future__ import annotations

import math
import re

# "No limit", where ``None`` means something else (a resume keeps the saved value for ``None``).
NO_LIMIT = math.inf

_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|s|min|m|hr|h|d)", re.IGNORECASE)


def parse_duration(value: str | float | int | None) -> float | None:
    """Seconds from ``"20m"``-style text or a number; ``None``/``"none"``/``0``/:data:`NO_LIMIT`
    mean no limit.

    Raises ``ValueError`` with an example of what works.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"duration {value!r} is not a duration; write e.g. '20m' or '90s'")
    if isinstance(value, (int, float)):
        if value == NO_LIMIT:
            return None
        if value < 0 or math.isnan(value):
            raise ValueError(f"duration {value!r} is negative")
        return float(value) or None
    text = value.strip().lower().replace(" ", "")
    if text in ("", "none", "0", "never", "off"):
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts).lower() != text:
        raise ValueError(f"cannot read {value!r} as a duration; write e.g. '20m', '1h30m' or '90s'")
    return sum(float(n) * _UNITS[u.lower()] for n, u in parts) or None


def format_duration(seconds: float | None) -> str:
    """Short text for a number of seconds: ``'45s'``, ``'2m05s'``, ``'1h30m'``."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
