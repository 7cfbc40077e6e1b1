import pytest

from todo import TodoStore


def test_add_assigns_increasing_ids(store):
    assert [t.id for t in store.list()] == [1, 2, 3]
    assert store.add("Water plants").id == 4


def test_get_returns_the_todo(store):
    assert store.get(2).title == "File taxes"


def test_get_missing_raises(store):
    with pytest.raises(KeyError):
        store.get(99)


def test_complete_marks_done(store):
    assert store.complete(1).done
    assert [t.id for t in store.list(include_done=False)] == [2, 3]
    assert len(store.list()) == 3


def test_remove_deletes_and_ids_are_not_reused(store):
    removed = store.remove(3)
    assert removed.title == "Call mum"
    assert 3 not in store and len(store) == 2
    assert store.add("Water plants").id == 4


def test_empty_store():
    store = TodoStore()
    assert store.list() == [] and len(store) == 0 and list(store) == []
