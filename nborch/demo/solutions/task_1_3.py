"""Task 1.3 — ``Todo.is_overdue(today)`` and ``TodoStore.overdue(today)``, most overdue first.

The hasty solution is off by one day (``due <= today``: a todo due today counts as overdue) and
never writes the edge-case test ``test_not_overdue_when_done_due_today_or_undated``; it writes
``test_not_overdue_when_done_or_undated`` instead, so that validation test id is missing.
"""

from __future__ import annotations

from .edits import Solution, insert_after, write

_MARK_DONE = '''
    def mark_done(self) -> None:
        """Mark this todo as done (doing it twice is harmless)."""
        self.done = True
'''

_REMOVE = '''
    def remove(self, todo_id: int) -> Todo:
        """Delete a todo and return it; ``KeyError`` if there is none."""
        todo = self.get(todo_id)
        del self._todos[todo_id]
        return todo
'''

_OVERDUE = '''

    def overdue(self, today: date | None = None) -> list[Todo]:
        """The overdue todos (see :meth:`Todo.is_overdue`), most overdue first, then by id."""
        today = date.today() if today is None else today
        late = [t for t in self._todos.values() if t.is_overdue(today)]
        return sorted(late, key=lambda t: (t.due or today, t.id))
'''


def _is_overdue(compare: str) -> str:
    return f'''

    def is_overdue(self, today: date | None = None) -> bool:
        """True when this todo is not done and its due date is before ``today`` (default: today).

        A todo due today is not overdue yet, and one without a due date never is.
        """
        if self.done or self.due is None:
            return False
        return self.due {compare} (date.today() if today is None else today)
'''


_CAREFUL_TESTS = '''
from datetime import date

from todo import Todo, TodoStore

TODAY = date(2030, 1, 31)


def test_overdue_when_due_before_today():
    assert Todo(1, "Pay rent", due=date(2030, 1, 30)).is_overdue(TODAY)
    assert Todo(2, "Renew passport", due=date(2029, 6, 1)).is_overdue(TODAY)


def test_not_overdue_when_done_due_today_or_undated():
    done = Todo(1, "Pay rent", due=date(2030, 1, 1))
    done.mark_done()
    assert not done.is_overdue(TODAY)
    assert not Todo(2, "Water plants", due=TODAY).is_overdue(TODAY)
    assert not Todo(3, "Call mum").is_overdue(TODAY)
    assert not Todo(4, "Book flights", due=date(2030, 2, 1)).is_overdue(TODAY)


def test_store_overdue_sorted_by_due_date():
    store = TodoStore()
    store.add("Pay rent", due=date(2030, 1, 15))
    store.add("Renew passport", due=date(2029, 12, 1))
    store.add("Water plants", due=TODAY)
    store.add("Call mum")
    store.add("File taxes", due=date(2029, 12, 1))
    store.add("Book flights", due=date(2030, 1, 2)).mark_done()
    assert [t.id for t in store.overdue(TODAY)] == [2, 5, 1]
    assert store.overdue(date(2029, 1, 1)) == []
'''

_HASTY_TESTS = '''
from datetime import date

from todo import Todo, TodoStore

TODAY = date(2030, 1, 31)


def test_overdue_when_due_before_today():
    assert Todo(1, "Pay rent", due=date(2030, 1, 30)).is_overdue(TODAY)
    assert Todo(2, "Renew passport", due=date(2029, 6, 1)).is_overdue(TODAY)


def test_not_overdue_when_done_or_undated():
    done = Todo(1, "Pay rent", due=date(2030, 1, 1))
    done.mark_done()
    assert not done.is_overdue(TODAY)
    assert not Todo(3, "Call mum").is_overdue(TODAY)


def test_store_overdue_sorted_by_due_date():
    store = TodoStore()
    store.add("Pay rent", due=date(2030, 1, 15))
    store.add("Renew passport", due=date(2029, 12, 1))
    store.add("Call mum")
    assert [t.id for t in store.overdue(TODAY)] == [2, 1]
'''

CAREFUL = Solution(
    task_id="1.3",
    behaviour="careful",
    summary="Added Todo.is_overdue(today=None) (not done and due strictly before today; a todo "
    "due today or without a date is not overdue) and TodoStore.overdue(today=None), sorted by "
    "due date then id. tests/test_due.py passes fixed dates everywhere.",
    notes=("Edge cases first: due today, done, and no due date are all not overdue.",),
    changes=(
        insert_after("todo/models.py", _MARK_DONE, _is_overdue("<"), why="Todo.is_overdue()"),
        insert_after("todo/store.py", _REMOVE, _OVERDUE, why="TodoStore.overdue()"),
        write("tests/test_due.py", _CAREFUL_TESTS, why="tests with fixed dates"),
    ),
)

HASTY = Solution(
    task_id="1.3",
    behaviour="hasty",
    summary="Added Todo.is_overdue() and TodoStore.overdue(), sorted by due date. Tests in "
    "tests/test_due.py.",
    flaw="is_overdue() uses `due <= today`, so a todo due today is overdue; the validation test "
    "test_not_overdue_when_done_due_today_or_undated was never written (its test is named "
    "test_not_overdue_when_done_or_undated and skips the due-today case)",
    changes=(
        insert_after("todo/models.py", _MARK_DONE, _is_overdue("<="), why="Todo.is_overdue()"),
        insert_after("todo/store.py", _REMOVE, _OVERDUE, why="TodoStore.overdue()"),
        write("tests/test_due.py", _HASTY_TESTS, why="tests"),
    ),
)
