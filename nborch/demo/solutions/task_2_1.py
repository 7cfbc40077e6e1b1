"""Task 2.1 — ``todo/storage.py``: a store to a JSON file and back, ids never reused.

The hasty solution's ``Todo.from_dict`` lists the fields by hand and forgets ``tags`` (so an
import drops every tag), and ``TodoStore.from_todos`` ignores the saved ``next_id`` (so the id of
a removed last todo is given out again). Its own round-trip test compares every field but tags
and its id test removes the first todo; the careful tests fail on it (cross-testing finds it).
"""

from __future__ import annotations

from .edits import Solution, append, insert_after, write

_MODELS_IMPORT = '''
from datetime import date
'''

_MODELS_IMPORT_NEW = '''
from typing import Any
'''

_TO_DICT = '''

    def to_dict(self) -> dict[str, Any]:
        """This todo as JSON-ready values: the due date as an ISO string or None."""
        return {
            "id": self.id,
            "title": self.title,
            "done": self.done,
            "priority": str(self.priority),
            "tags": list(self.tags),
            "due": self.due.isoformat() if self.due is not None else None,
        }
'''

_CAREFUL_FROM_DICT = _TO_DICT + '''
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Todo:
        """The todo :meth:`to_dict` described; ``KeyError`` for a missing key, ``ValueError``
        or ``TypeError`` for a bad value."""
        if not isinstance(data["id"], int) or isinstance(data["id"], bool):
            raise ValueError(f"a todo id must be an integer, not {data['id']!r}")
        return cls(
            id=data["id"],
            title=data["title"],
            done=bool(data["done"]),
            priority=data["priority"],
            tags=list(data["tags"]),
            due=None if data["due"] is None else date.fromisoformat(data["due"]),
        )
'''

_HASTY_FROM_DICT = _TO_DICT + '''
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Todo:
        """The todo :meth:`to_dict` described."""
        due = data.get("due")
        return cls(
            id=data["id"],
            title=data["title"],
            done=data.get("done", False),
            priority=data.get("priority", "medium"),
            due=date.fromisoformat(due) if due else None,
        )
'''

_INIT = '''
    def __init__(self) -> None:
        self._todos: dict[int, Todo] = {}
        self._next_id = 1
'''


def _from_todos(next_id: str) -> str:
    return f'''

    @classmethod
    def from_todos(cls, todos: Iterable[Todo], next_id: int | None = None) -> TodoStore:
        """A store holding ``todos`` (as given, not copied), for loading a saved one.

        ``next_id`` is the id the next added todo gets; it is raised past the largest id, so ids
        are never reused. Two todos with one id are a ``ValueError``.
        """
        store = cls()
        for todo in sorted(todos, key=lambda t: t.id):
            if todo.id in store._todos:
                raise ValueError(f"two todos have the id {{todo.id}}")
            store._todos[todo.id] = todo
        store._next_id = {next_id}
        return store

    @property
    def next_id(self) -> int:
        """The id the next added todo will get."""
        return self._next_id
'''


_STORAGE = '''
"""Save a :class:`~todo.store.TodoStore` to a JSON file and load it back.

A file looks like ``{"version": 1, "next_id": 4, "todos": [{"id": 1, "title": "Buy milk", ...}]}``:
dates are ISO strings (``"2030-04-15"``) or ``null``, tags are lists. It is written as UTF-8 to a
temporary file in the same directory and then moved over the old one, so a crash never leaves
half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .models import Todo
from .store import TodoStore

VERSION = 1


def dump(store: TodoStore, path: str | os.PathLike[str]) -> None:
    """Write every todo in ``store``, and the id it will give next, to ``path``."""
    path = Path(path)
    document = {
        "version": VERSION,
        "next_id": store.next_id,
        "todos": [todo.to_dict() for todo in store.list()],
    }
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
            handle.write("\\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike[str]) -> TodoStore:
    """Read a file written by :func:`dump`.

    Raises ``ValueError`` naming the file when it is not JSON, misses a key or has a
    ``version`` other than 1; ``OSError`` when it cannot be read.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a valid JSON todo file ({err})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object with version, next_id and todos")
    if document.get("version") != VERSION:
        raise ValueError(
            f"{path}: unsupported version {document.get('version')!r} (this library reads "
            f"version {VERSION})"
        )
    try:
        todos = [Todo.from_dict(item) for item in document["todos"]]
        return TodoStore.from_todos(todos, next_id=document["next_id"])
    except KeyError as err:
        raise ValueError(f"{path}: missing key {err}") from None
    except (TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"{path}: {err}") from None
'''

_CAREFUL_TESTS = '''
import json
from datetime import date

import pytest

from todo import TodoStore, storage


def test_roundtrip_preserves_every_field(store, tmp_path):
    store.complete(1)
    path = tmp_path / "todos.json"
    storage.dump(store, path)
    loaded = storage.load(path)
    assert loaded.list() == store.list()
    assert loaded.get(2).tags == ["admin", "money"]
    assert loaded.get(2).due == date(2030, 4, 15)
    assert loaded.get(1).done and loaded.next_id == store.next_id


def test_document_shape(store, tmp_path):
    path = tmp_path / "todos.json"
    storage.dump(store, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert (document["version"], document["next_id"], len(document["todos"])) == (1, 4, 3)
    assert document["todos"][1] == {
        "id": 2, "title": "File taxes", "done": False, "priority": "high",
        "tags": ["admin", "money"], "due": "2030-04-15",
    }
    assert document["todos"][0]["due"] is None


def test_ids_are_not_reused_after_load(store, tmp_path):
    store.remove(3)
    path = tmp_path / "todos.json"
    storage.dump(store, path)
    loaded = storage.load(path)
    assert [t.id for t in loaded] == [1, 2]
    assert loaded.add("Water plants").id == 4


def test_unicode_titles_survive(tmp_path):
    store = TodoStore()
    store.add("Café crème ☕ für Oma", tags=["Départ"])
    path = tmp_path / "todos.json"
    storage.dump(store, path)
    assert "Café crème ☕" in path.read_text(encoding="utf-8")
    loaded = storage.load(path)
    assert loaded.get(1).title == "Café crème ☕ für Oma"
    assert loaded.get(1).tags == ["départ"]


def test_load_rejects_unknown_version(tmp_path):
    path = tmp_path / "todos.json"
    path.write_text('{"version": 2, "next_id": 1, "todos": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported version 2") as excinfo:
        storage.load(path)
    assert str(path) in str(excinfo.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not a valid JSON todo file"),
        ('{"version": 1, "todos": []}', "missing key 'next_id'"),
        ('{"version": 1, "next_id": 2, "todos": [{"id": 1}]}', "missing key 'title'"),
        ("[]", "expected a JSON object"),
    ],
)
def test_load_rejects_bad_files(tmp_path, content, problem):
    path = tmp_path / "todos.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as excinfo:
        storage.load(path)
    assert str(path) in str(excinfo.value)


def test_dump_replaces_the_file_whole(store, tmp_path):
    path = tmp_path / "todos.json"
    path.write_text("old contents", encoding="utf-8")
    storage.dump(store, path)
    assert storage.load(path).list() == store.list()
    assert [p.name for p in tmp_path.iterdir()] == ["todos.json"]
'''

_HASTY_TESTS = '''
from todo import TodoStore, storage


def test_roundtrip_preserves_every_field(store, tmp_path):
    path = tmp_path / "todos.json"
    storage.dump(store, path)
    loaded = storage.load(path)
    fields = [(t.id, t.title, t.done, t.priority, t.due) for t in loaded]
    assert fields == [(t.id, t.title, t.done, t.priority, t.due) for t in store]


def test_ids_are_not_reused_after_load(store, tmp_path):
    store.remove(1)
    path = tmp_path / "todos.json"
    storage.dump(store, path)
    assert storage.load(path).add("Water plants").id == 4


def test_unicode_titles_survive(tmp_path):
    store = TodoStore()
    store.add("Café crème ☕ für Oma")
    path = tmp_path / "todos.json"
    storage.dump(store, path)
    assert storage.load(path).get(1).title == "Café crème ☕ für Oma"


def test_load_rejects_unknown_version(tmp_path):
    path = tmp_path / "todos.json"
    path.write_text('{"version": 2, "next_id": 1, "todos": []}', encoding="utf-8")
    try:
        storage.load(path)
    except ValueError as err:
        assert "version" in str(err)
    else:
        raise AssertionError("load() accepted version 2")
'''


def _changes(from_dict: str, next_id: str, tests: str, why: str) -> tuple:
    return (
        insert_after("todo/models.py", _MODELS_IMPORT, _MODELS_IMPORT_NEW),
        append("todo/models.py", from_dict, why="Todo.to_dict() and Todo.from_dict()"),
        insert_after("todo/store.py", _INIT, _from_todos(next_id),
                     why="TodoStore.from_todos() rebuilds a store; next_id tells what comes next"),
        write("todo/storage.py", _STORAGE, why="dump() and load(), written atomically"),
        write("tests/test_storage.py", tests, why=why),
    )


CAREFUL = Solution(
    task_id="2.1",
    behaviour="careful",
    summary="New todo/storage.py with dump(store, path) and load(path): version-1 JSON documents "
    "with next_id, ISO dates, tag lists, UTF-8 with ensure_ascii=False, written to a temporary "
    "file and os.replace'd; load() raises ValueError naming the file for bad JSON, a missing key "
    "or another version. Todo.to_dict()/from_dict() and TodoStore.from_todos(todos, next_id) "
    "keep ids unique across a save and a load. Tests in tests/test_storage.py.",
    notes=((
        "The saved next_id matters: without it, removing the last todo would let its id be "
        "given out again after a load."
    ),),
    changes=_changes(_CAREFUL_FROM_DICT, "max(next_id or 1, max(store._todos, default=0) + 1)",
                     _CAREFUL_TESTS, "round trip, document shape, ids, unicode, bad files"),
)

HASTY = Solution(
    task_id="2.1",
    behaviour="hasty",
    summary="New todo/storage.py with dump() and load() in the version-1 JSON format, "
    "Todo.to_dict()/from_dict() and TodoStore.from_todos(). Tests in tests/test_storage.py.",
    flaw="Todo.from_dict() forgets `tags`, so every import drops the tags, and from_todos() "
    "ignores the saved next_id (the id of a removed last todo is reused); its own tests never "
    "look at tags or remove the last todo, so only the careful tests (cross-testing) fail",
    changes=_changes(_HASTY_FROM_DICT, "max(store._todos, default=0) + 1", _HASTY_TESTS,
                     "tests for the round trip"),
)
