from datetime import date

import pytest

from todo import TodoStore


@pytest.fixture
def store() -> TodoStore:
    """A store with three todos: #1 milk (errands), #2 taxes (high, due), #3 call mum."""
    s = TodoStore()
    s.add("Buy milk", tags=["errands"])
    s.add("File taxes", priority="high", tags=["admin", "money"], due=date(2030, 4, 15))
    s.add("Call mum", priority="low")
    return s
