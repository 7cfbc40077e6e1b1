"""Task 1.1 — ``complete()`` raises ``KeyError`` for an unknown id and ``done`` reports it.

The hasty solution drops ``return todo`` from ``complete()``: its own tests only check the error
path, and the existing ``tests/test_store.py::test_complete_marks_done`` fails.
"""

from __future__ import annotations

from .edits import Solution, append, replace

_COMPLETE = '''
    def complete(self, todo_id: int) -> Todo | None:
        """Mark a todo as done and return it."""
        todo = self._todos.get(todo_id)
        if todo is not None:
            todo.mark_done()
        return todo
'''

_DONE = '''
    elif args.command == "done":
        store.complete(args.id)
        print(f"Completed #{args.id}", file=out)
'''

_DONE_FIXED = '''
    elif args.command == "done":
        try:
            store.complete(args.id)
        except KeyError:
            print(f"error: no todo with id {args.id}", file=sys.stderr)
            return 1
        print(f"Completed #{args.id}", file=out)
'''

_STORE_TEST = '''

def test_complete_missing_raises(store):
    with pytest.raises(KeyError, match="no todo with id 99"):
        store.complete(99)
    assert [t.done for t in store.list()] == [False, False, False]
'''

_CLI_TEST = '''

def test_done_unknown_id_fails(capsys):
    store = TodoStore()
    store.add("Buy milk")
    assert run("done", "99", store=store) == (1, "")
    assert capsys.readouterr().err == "error: no todo with id 99\\n"
    assert not store.get(1).done
'''

CAREFUL = Solution(
    task_id="1.1",
    behaviour="careful",
    summary="complete() now looks the todo up with get(), so an unknown id raises KeyError, and "
    "returns the todo it marked done; `python -m todo done 99` prints 'error: no todo with id 99' "
    "to stderr and exits 1. Regression tests added for both.",
    notes=("Reproducing first: TodoStore().complete(99) returns None instead of raising.",),
    changes=(
        replace("todo/store.py", _COMPLETE, '''
    def complete(self, todo_id: int) -> Todo:
        """Mark a todo as done and return it; ``KeyError`` if there is none."""
        todo = self.get(todo_id)
        todo.mark_done()
        return todo
''', why="complete() looks the todo up with get(), which raises KeyError"),
        replace("todo/cli.py", _DONE, _DONE_FIXED,
                why="the done command reports an unknown id on stderr and exits 1"),
        append("tests/test_store.py", _STORE_TEST, why="regression test for the store"),
        append("tests/test_cli.py", _CLI_TEST, why="regression test for the command line"),
    ),
)

HASTY = Solution(
    task_id="1.1",
    behaviour="hasty",
    summary="complete() raises KeyError for an unknown id and the done command reports it. "
    "Tests added.",
    flaw="complete() no longer returns the todo (the `return` was dropped), so the existing "
    "tests/test_store.py::test_complete_marks_done fails",
    changes=(
        replace("todo/store.py", _COMPLETE, '''
    def complete(self, todo_id: int) -> Todo:
        """Mark a todo as done and return it; ``KeyError`` if there is none."""
        self.get(todo_id).mark_done()
''', why="complete() raises KeyError through get()"),
        replace("todo/cli.py", _DONE, _DONE_FIXED, why="the done command handles KeyError"),
        append("tests/test_store.py", _STORE_TEST, why="test for the store"),
        append("tests/test_cli.py", _CLI_TEST, why="test for the command line"),
    ),
)
