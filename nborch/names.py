"""Turn text from a plan (ids, titles, agent names) into safe names for paths and git refs.

Nothing from a plan becomes a path component or a branch name without passing through here.

>>> slugify("../../etc/passwd")
'etc-passwd'
>>> slugify("a b;c")
'a-b-c'
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable

# The kinds of work a task can be; classification, agent profiles and rules all name them.
TASK_TYPES = ("feature", "bugfix", "refactor", "test", "docs", "infra", "data", "ui", "research")

_UNSAFE = re.compile(r"[^a-z0-9._]+")
_EDGE = re.compile(r"^[._-]+|[._-]+$")


def slugify(text: str, max_len: int = 48, fallback: str = "x") -> str:
    """A lowercase ASCII name made of ``a-z 0-9 . _ -`` that is safe as a path part and a ref part.

    Dots never repeat and never lead or trail, so ``..`` and ``.lock`` endings cannot appear.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _UNSAFE.sub("-", ascii_text.lower())
    slug = re.sub(r"\.{2,}", ".", slug)
    slug = re.sub(r"-*\.-*", ".", slug)
    slug = re.sub(r"-{2,}", "-", slug)
    slug = _EDGE.sub("", slug[:max_len])
    if slug.endswith(".lock"):
        slug = slug[: -len(".lock")] + "-lock"
    return slug or fallback


def short_hash(text: str, n: int = 6) -> str:
    """A short stable hash used to keep two different ids apart after slugging."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


def unique_slugs(ids: list[str], max_len: int = 48) -> dict[str, str]:
    """Slug every id so that two different ids never share a slug.

    Ids whose slug is theirs alone keep it; the others get a hash of the id appended, lengthened
    until it is free.

    >>> unique_slugs(["a b", "a;b", "c"])
    {'a b': 'a-b-7dbde9', 'a;b': 'a-b-d1bade', 'c': 'c'}
    """
    plain = {i: slugify(i, max_len) for i in ids}
    counts: dict[str, int] = {}
    for slug in plain.values():
        counts[slug] = counts.get(slug, 0) + 1
    out = {i: s for i, s in plain.items() if counts[s] == 1}
    used = set(out.values())
    for i in ids:
        if i in out:
            continue
        n = 6
        slug = f"{slugify(i, max_len - n - 1)}-{short_hash(i, n)}"
        while slug in used:
            n += 2
            slug = f"{slugify(i, max_len - n - 1)}-{short_hash(i, n)}"
        out[i] = slug
        used.add(slug)
    return {i: out[i] for i in ids}


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice most like ``word`` (for "did you mean …?" hints), or None.

    >>> closest("cluade", ["claude", "codex"])
    'claude'
    """
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return found[0] if found else None
