"""Where JSON objects and their keys start, so errors in a JSON plan can name a line.

``json`` keeps no positions, so the text is tokenised once more (strings and brackets only) and
every object found is matched, in document order, with the dicts ``json.loads`` built.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"(?P<key>\s*:)?|[{}\[\]]')


def object_lines(text: str, data: Any) -> dict[int, tuple[int, dict[str, int]]]:
    """``id(obj)`` → (line of its ``{``, line of each of its keys) for every dict in ``data``."""
    records: list[tuple[int, dict[str, int]]] = []
    stack: list[dict[str, int] | None] = []  # keys of each open object; None for an array
    line, pos = 1, 0
    for tok in _TOKEN.finditer(text):
        line += text.count("\n", pos, tok.start())
        pos = tok.start()
        s = tok.group(0)
        if s == "{":
            keys: dict[str, int] = {}
            records.append((line, keys))
            stack.append(keys)
        elif s == "[":
            stack.append(None)
        elif s in "}]":
            if stack:
                stack.pop()
        elif tok.group("key") and stack and stack[-1] is not None:
            with contextlib.suppress(ValueError):  # an odd escape: the key gets no line of its own
                stack[-1].setdefault(json.loads(s[: s.rindex('"') + 1]), line)
    return {id(obj): rec for obj, rec in zip(_dicts(data), records, strict=False)}


def _dicts(value: Any) -> Iterator[dict]:
    """Every dict in ``value``, in the order their ``{`` appears in the text."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)
