"""Task 1.4 — tests for the validation and error paths the library already has (tests only).

The hasty solution also "improves" the shared ``store`` fixture in ``tests/conftest.py`` with a
fourth, finished todo. Its own tests pass, but existing tests that count on three todos
(``test_add_assigns_increasing_ids``, ``test_complete_marks_done``…) fail.
"""

from __future__ import annotations

from .edits import Solution, append, insert_after, replace

_CLI_IMPORTS = '''
from pathlib import Path

from todo import TodoStore
'''

_CLI_IMPORTS_NEW = '''
from pathlib import Path

import pytest

from todo import TodoStore
'''

_MODELS_IMPORTS = '''
from datetime import date

from todo import Todo
'''

_MODELS_IMPORTS_NEW = '''
from datetime import date

import pytest

from todo import Todo
'''

_AFTER_ADD_TEST = '''
    assert store.get(1).tags == ["errands"] and store.get(1).priority == "high"
'''

_CLI_TESTS = '''


def test_add_rejects_bad_due_date(capsys):
    store = TodoStore()
    with pytest.raises(SystemExit) as excinfo:
        run("add", "Buy milk", "--due", "31/01/2030", store=store)
    assert excinfo.value.code == 2
    assert "not a date (want YYYY-MM-DD): '31/01/2030'" in capsys.readouterr().err
    assert len(store) == 0


def test_add_rejects_unknown_priority(capsys):
    store = TodoStore()
    with pytest.raises(SystemExit) as excinfo:
        run("add", "Buy milk", "--priority", "urgent", store=store)
    assert excinfo.value.code == 2
    assert "invalid choice: 'urgent'" in capsys.readouterr().err
    assert len(store) == 0
'''

_MODELS_TESTS = '''

def test_blank_title_rejected():
    with pytest.raises(ValueError, match="non-empty title"):
        Todo(1, "   ")


def test_unknown_priority_rejected():
    with pytest.raises(ValueError, match="priority must be one of low, medium, high, not 'urgent'"):
        Todo(1, "Buy milk", priority="urgent")
'''

_STORE_TEST = '''

def test_remove_missing_raises(store):
    with pytest.raises(KeyError, match="no todo with id 99"):
        store.remove(99)
    assert len(store) == 3
'''

_HASTY_STORE_TEST = '''

def test_remove_missing_raises(store):
    with pytest.raises(KeyError, match="no todo with id 99"):
        store.remove(99)
    assert len(store) == 4
'''

_FIXTURE = '''
    """A store with three todos: #1 milk (errands), #2 taxes (high, due), #3 call mum."""
    s = TodoStore()
    s.add("Buy milk", tags=["errands"])
    s.add("File taxes", priority="high", tags=["admin", "money"], due=date(2030, 4, 15))
    s.add("Call mum", priority="low")
    return s
'''

_HASTY_FIXTURE = '''
    """A store with four todos: #1 milk (errands), #2 taxes (high, due), #3 call mum, #4 done."""
    s = TodoStore()
    s.add("Buy milk", tags=["errands"])
    s.add("File taxes", priority="high", tags=["admin", "money"], due=date(2030, 4, 15))
    s.add("Call mum", priority="low")
    s.add("Water plants").mark_done()
    return s
'''


def _changes(store_test: str) -> tuple:
    return (
        replace("tests/test_models.py", _MODELS_IMPORTS, _MODELS_IMPORTS_NEW),
        append("tests/test_models.py", _MODELS_TESTS, why="Todo rejects a blank title and an "
               "unknown priority"),
        append("tests/test_store.py", store_test, why="remove() raises KeyError for an unknown id"),
        replace("tests/test_cli.py", _CLI_IMPORTS, _CLI_IMPORTS_NEW),
        insert_after("tests/test_cli.py", _AFTER_ADD_TEST, _CLI_TESTS,
                     why="argparse exits with status 2 for a bad --due and --priority"),
    )


CAREFUL = Solution(
    task_id="1.4",
    behaviour="careful",
    summary="Added tests for a blank title and an unknown priority (tests/test_models.py), "
    "remove() of an unknown id (tests/test_store.py) and the command line rejecting a bad --due "
    "and --priority with exit status 2 (tests/test_cli.py). No file under todo/ changed.",
    notes=("argparse raises SystemExit(2) and writes to stderr: the tests read both.",),
    changes=_changes(_STORE_TEST),
)

HASTY = Solution(
    task_id="1.4",
    behaviour="hasty",
    summary="Added tests for the validation and error paths in tests/test_models.py, "
    "tests/test_store.py and tests/test_cli.py. No file under todo/ changed.",
    flaw="adds a fourth, finished todo to the shared `store` fixture in tests/conftest.py, "
    "breaking existing tests that count on three (tests/test_store.py::"
    "test_add_assigns_increasing_ids, test_complete_marks_done, "
    "test_remove_deletes_and_ids_are_not_reused, test_complete_missing_raises)",
    changes=(
        replace("tests/conftest.py", _FIXTURE, _HASTY_FIXTURE,
                why="the shared fixture gets a finished todo to test against"),
        *_changes(_HASTY_STORE_TEST),
    ),
)
