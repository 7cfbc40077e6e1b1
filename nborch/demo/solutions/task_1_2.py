"""Task 1.2 — ``TodoStore.search()`` and ``tag=``/``priority=`` filters on ``TodoStore.list()``.

The hasty solution compares titles and tags case-sensitively. Its own test named
``test_search_is_case_insensitive`` only searches in the titles' own case, so it passes; the
careful tests fail on it (cross-testing finds it).
"""

from __future__ import annotations

from .edits import Solution, replace, write

_IMPORT = "from .models import Todo\n"
_IMPORT_NEW = "from .models import PRIORITIES, Todo\n"

_LIST = '''
    def list(self, *, include_done: bool = True) -> list[Todo]:
        """All todos in id order; ``include_done=False`` leaves out the finished ones."""
        return [t for t in self._todos.values() if include_done or not t.done]
'''

_LIST_HEAD = '''
    def list(
        self,
        *,
        include_done: bool = True,
        tag: str | None = None,
        priority: str | None = None,
    ) -> list[Todo]:
        """Todos in id order that meet every condition given.

        ``include_done=False`` leaves out finished todos, ``tag`` keeps those with that tag (in
        any case) and ``priority`` those with that priority (``ValueError`` if it is unknown).
        """
        if priority is not None and priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
'''

_CAREFUL_LIST = _LIST_HEAD + '''\
        wanted_tag = tag.strip().lower() if tag is not None else None
        return [
            t
            for t in self._todos.values()
            if (include_done or not t.done)
            and (wanted_tag is None or wanted_tag in t.tags)
            and (priority is None or t.priority == priority)
        ]
'''

_HASTY_LIST = _LIST_HEAD + '''\
        return [
            t
            for t in self._todos.values()
            if (include_done or not t.done)
            and (tag is None or tag in t.tags)
            and (priority is None or t.priority == priority)
        ]
'''

_CAREFUL_SEARCH = '''
    def search(self, text: str) -> list[Todo]:
        """Todos whose title contains ``text``, ignoring case, in id order ("" matches all)."""
        needle = text.casefold()
        return [t for t in self._todos.values() if needle in t.title.casefold()]
'''

_HASTY_SEARCH = '''
    def search(self, text: str) -> list[Todo]:
        """Todos whose title contains ``text``, in id order."""
        return [t for t in self._todos.values() if text in t.title]
'''

_CAREFUL_TESTS = '''
import pytest

from todo import TodoStore


def test_search_is_case_insensitive(store):
    assert [t.id for t in store.search("MILK")] == [1]
    assert [t.id for t in store.search("file TAX")] == [2]


def test_search_without_match_returns_empty_list(store):
    assert store.search("groceries") == []


def test_empty_search_matches_every_todo(store):
    assert [t.id for t in store.search("")] == [1, 2, 3]


def test_search_results_are_in_id_order():
    store = TodoStore()
    for title in ("Buy milk", "Call mum", "buy bread"):
        store.add(title)
    assert [t.title for t in store.search("Buy")] == ["Buy milk", "buy bread"]


def test_list_filters_by_tag_and_priority(store):
    store.add("Pay rent", priority="high", tags=["money"])
    store.complete(2)
    assert [t.id for t in store.list(tag="MONEY")] == [2, 4]
    assert [t.id for t in store.list(tag="money", priority="high", include_done=False)] == [4]
    assert [t.id for t in store.list(priority="low")] == [3]
    assert store.list(tag="nothing") == []


def test_unknown_priority_filter_is_rejected(store):
    with pytest.raises(ValueError, match="one of low, medium, high, not 'urgent'"):
        store.list(priority="urgent")
'''

_HASTY_TESTS = '''
from todo import TodoStore


def test_search_is_case_insensitive(store):
    assert [t.id for t in store.search("milk")] == [1]
    assert [t.id for t in store.search("taxes")] == [2]


def test_search_without_match_returns_empty_list(store):
    assert store.search("groceries") == []


def test_list_filters_by_tag_and_priority(store):
    store.add("Pay rent", priority="high", tags=["money"])
    assert [t.id for t in store.list(tag="money")] == [2, 4]
    assert [t.id for t in store.list(tag="money", priority="high")] == [2, 4]
    assert [t.id for t in store.list(priority="low")] == [3]
    assert TodoStore().list(tag="money") == []
'''

CAREFUL = Solution(
    task_id="1.2",
    behaviour="careful",
    summary="Added TodoStore.search(text) (casefold, id order, '' matches all) and keyword-only "
    "tag=/priority= filters on list(), combined with include_done; an unknown priority raises "
    "ValueError naming the allowed values. New tests in tests/test_search.py.",
    notes=("Tags are stored lowercase, so the tag argument is lowercased before comparing.",),
    changes=(
        replace("todo/store.py", _IMPORT, _IMPORT_NEW, why="the filter checks PRIORITIES"),
        replace("todo/store.py", _LIST, _CAREFUL_SEARCH + _CAREFUL_LIST,
                why="search() next to list(); list() gains tag= and priority="),
        write("tests/test_search.py", _CAREFUL_TESTS, why="tests for search and the filters"),
    ),
)

HASTY = Solution(
    task_id="1.2",
    behaviour="hasty",
    summary="Added TodoStore.search(text) and tag=/priority= filters on list(). Tests in "
    "tests/test_search.py pass.",
    flaw="search() and the tag filter are case-sensitive; the hasty test named "
    "test_search_is_case_insensitive never uses another case, so only the careful tests "
    "(cross-testing) fail",
    changes=(
        replace("todo/store.py", _IMPORT, _IMPORT_NEW, why="the filter checks PRIORITIES"),
        replace("todo/store.py", _LIST, _HASTY_SEARCH + _HASTY_LIST,
                why="search() and the list() filters"),
        write("tests/test_search.py", _HASTY_TESTS, why="tests for search and the filters"),
    ),
)
