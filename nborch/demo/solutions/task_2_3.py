"""Task 2.3 — ``Priority``, an enum that knows the priorities and their order; no behaviour change.

The hasty solution writes ``class Priority(str, enum.Enum)`` instead of ``enum.StrEnum``. Members
still compare equal to strings, so its own tests pass, but since Python 3.11 formatting such a
member gives ``Priority.HIGH``, not ``high``: ``str(todo)`` changes and the existing
``tests/test_models.py::test_str_shows_state_priority_tags_and_due`` fails.
"""

from __future__ import annotations

from .edits import Solution, append, insert_after, replace

_FUTURE = '''
from __future__ import annotations

'''

_PRIORITIES = '''
PRIORITIES = ("low", "medium", "high")
'''


def _priority_class(base: str) -> str:
    return f'''

class Priority({base}):
    """How urgent a todo is, from ``LOW`` to ``HIGH``; a member equals its value (``"high"``)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @classmethod
    def parse(cls, value: str) -> Priority:
        """The member for ``value`` (a member or its string); ``ValueError`` naming the choices."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"priority must be one of {{', '.join(PRIORITIES)}}, not {{value!r}}"
            ) from None

    @property
    def rank(self) -> int:
        """The position in ``LOW < MEDIUM < HIGH``: sort by this, never alphabetically."""
        return list(Priority).index(self)


PRIORITIES = tuple(p.value for p in Priority)
'''


_FIELD = '''
    priority: str = "medium"
'''

_FIELD_NEW = '''
    priority: Priority = Priority.MEDIUM
'''

_CHECK = '''
        if self.priority not in PRIORITIES:
            raise ValueError(
                f"priority must be one of {', '.join(PRIORITIES)}, not {self.priority!r}"
            )
'''

_CHECK_NEW = '''
        self.priority = Priority.parse(self.priority)
'''

_DOC = '''
    ``id`` is given by the store; ``tags`` are kept lowercase, in order, without duplicates.
'''

_DOC_NEW = '''
    ``id`` is given by the store; ``tags`` are kept lowercase, in order, without duplicates;
    ``priority`` may be given as a string and is kept as a :class:`Priority`.
'''

_STORE_IMPORT = "from .models import PRIORITIES, Todo\n"
_STORE_IMPORT_NEW = "from .models import Priority, Todo\n"
_STORE_PARAM = "        priority: str | None = None,\n"
_STORE_PARAM_NEW = "        priority: Priority | str | None = None,\n"
_STORE_CHECK = '''
        if priority is not None and priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
'''
_STORE_CHECK_NEW = '''
        wanted_priority = Priority.parse(priority) if priority is not None else None
'''
_STORE_TEST = "            and (priority is None or t.priority == priority)\n"
_STORE_TEST_NEW = "            and (wanted_priority is None or t.priority == wanted_priority)\n"

_INIT = '''
from .models import PRIORITIES, Todo
from .store import TodoStore

__all__ = ["PRIORITIES", "Todo", "TodoStore", "__version__"]
'''

_INIT_NEW = '''
from .models import PRIORITIES, Priority, Todo
from .store import TodoStore

__all__ = ["PRIORITIES", "Priority", "Todo", "TodoStore", "__version__"]
'''

_TEST_IMPORT = "from todo import Todo\n"
_TEST_IMPORT_NEW = "from todo import PRIORITIES, Priority, Todo, TodoStore\n"

_CAREFUL_TESTS = '''

def test_priority_accepts_strings_and_enum_members():
    assert Todo(1, "Buy milk", priority="high").priority is Priority.HIGH
    assert Todo(2, "Call mum", priority=Priority.LOW).priority is Priority.LOW
    assert Todo(3, "Water plants").priority is Priority.MEDIUM
    assert Priority.HIGH == "high" and f"{Priority.HIGH}" == "high" and str(Priority.LOW) == "low"
    store = TodoStore()
    store.add("File taxes", priority="high")
    assert [t.id for t in store.list(priority=Priority.HIGH)] == [1]
    assert [t.id for t in store.list(priority="high")] == [1]


def test_priorities_are_ordered():
    assert list(Priority) == [Priority.LOW, Priority.MEDIUM, Priority.HIGH]
    assert PRIORITIES == ("low", "medium", "high")
    assert Priority.LOW.rank < Priority.MEDIUM.rank < Priority.HIGH.rank
    ranked = sorted(["high", "low", "medium"], key=lambda p: Priority(p).rank)
    assert ranked == ["low", "medium", "high"]


def test_unknown_priority_message_is_unchanged():
    with pytest.raises(ValueError) as excinfo:
        Priority.parse("urgent")
    assert str(excinfo.value) == "priority must be one of low, medium, high, not 'urgent'"
'''

_HASTY_TESTS = '''

def test_priority_accepts_strings_and_enum_members():
    assert Todo(1, "Buy milk", priority="high").priority is Priority.HIGH
    assert Todo(2, "Call mum", priority=Priority.LOW).priority is Priority.LOW
    assert Priority.HIGH == "high"


def test_priorities_are_ordered():
    assert list(Priority) == [Priority.LOW, Priority.MEDIUM, Priority.HIGH]
    assert PRIORITIES == ("low", "medium", "high")
    assert Priority.LOW.rank < Priority.MEDIUM.rank < Priority.HIGH.rank
'''


def _changes(base: str, tests: str) -> tuple:
    return (
        insert_after("todo/models.py", _FUTURE, "import enum\n"),
        replace("todo/models.py", _PRIORITIES, _priority_class(base),
                why="one Priority type; PRIORITIES stays the tuple of its values"),
        replace("todo/models.py", _DOC, _DOC_NEW),
        replace("todo/models.py", _FIELD, _FIELD_NEW),
        replace("todo/models.py", _CHECK, _CHECK_NEW,
                why="a plain string becomes a Priority; an unknown one raises as before"),
        replace("todo/store.py", _STORE_IMPORT, _STORE_IMPORT_NEW),
        replace("todo/store.py", _STORE_PARAM, _STORE_PARAM_NEW),
        replace("todo/store.py", _STORE_CHECK, _STORE_CHECK_NEW,
                why="the store's priority= filter goes through Priority"),
        replace("todo/store.py", _STORE_TEST, _STORE_TEST_NEW),
        replace("todo/__init__.py", _INIT, _INIT_NEW, why="export Priority"),
        replace("tests/test_models.py", _TEST_IMPORT, _TEST_IMPORT_NEW),
        append("tests/test_models.py", tests, why="tests for the enum"),
    )


CAREFUL = Solution(
    task_id="2.3",
    behaviour="careful",
    summary="Added class Priority(StrEnum) with LOW, MEDIUM, HIGH, Priority.parse() (same "
    "ValueError message as before) and Priority.rank for ordering by position; Todo.priority is "
    "converted in __post_init__ (plain strings still work), the store's priority= filter uses "
    "it, PRIORITIES stays the tuple of values for the command line, and todo.Priority is "
    "exported. StrEnum keeps str(todo) and the command line's output unchanged; no existing "
    "test was edited.",
    notes=((
        "StrEnum, not (str, Enum): since Python 3.11 only StrEnum formats as its value, and "
        "str(todo) prints the priority."
    ),),
    changes=_changes("enum.StrEnum", _CAREFUL_TESTS),
)

HASTY = Solution(
    task_id="2.3",
    behaviour="hasty",
    summary="Added a Priority enum (LOW, MEDIUM, HIGH) with parse() and rank, used by Todo and "
    "the store's filter; PRIORITIES is kept and Priority is exported. Tests in "
    "tests/test_models.py.",
    flaw="Priority derives from (str, enum.Enum) instead of StrEnum, so str(todo) shows "
    "'(Priority.HIGH)': the existing tests/test_models.py::"
    "test_str_shows_state_priority_tags_and_due fails",
    changes=_changes("str, enum.Enum", _HASTY_TESTS),
)
