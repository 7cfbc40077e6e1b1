"""Task 2.4 — a README whose examples are doctests, a CHANGELOG, and a docs test.

What the README shows depends on the worktree: ``overdue()`` comes from task 1.3, which is not
one of this task's dependencies, so it is documented only when it is there.

The hasty README shows a todo's tag as it was typed (``#Errands``) where the library prints it
lowercase (``#errands``), and its docs test never runs the examples: its own tests pass, but the
validation command ``python -m doctest README.md`` fails, and so does the careful docs test
(cross-testing).
"""

from __future__ import annotations

from pathlib import Path

from .edits import Change, Solution, replace, write

_INTRO = '''
# todo

A small todo-list library with a command line. A `TodoStore` holds `Todo` items; the command
line keeps them in a JSON file between runs.

## Use it from Python

Every example below is checked: `python -m doctest README.md`.

```pycon
>>> from datetime import date
>>> from todo import Priority, TodoStore
>>> store = TodoStore()
>>> milk = store.add("Buy milk", priority="high", tags=["Errands"], due=date(2030, 1, 31))
>>> taxes = store.add("File taxes", tags=["admin"], due=date(2030, 4, 15))
>>> call = store.add("Call mum", priority=Priority.LOW)
>>> print(milk)
[ ] #1 Buy milk (high) #{tag} due 2030-01-31

```

Tags are kept lowercase. Priorities are `low`, `medium` (the default) and `high`, as plain
strings or as `Priority` members.

Complete a todo by id; an id that does not exist is a `KeyError`:

```pycon
>>> store.complete(milk.id).done
True
>>> store.complete(99)
Traceback (most recent call last):
...
KeyError: 'no todo with id 99'

```

List, filter and search (search ignores case):

```pycon
>>> [t.id for t in store.list(include_done=False)]
[2, 3]
>>> [t.title for t in store.list(tag="ADMIN", priority="medium")]
['File taxes']
>>> [t.title for t in store.search("MILK")]
['Buy milk']

```
'''

_OVERDUE = '''
Overdue todos, the most overdue first (a todo due today is not overdue yet):

```pycon
>>> [t.title for t in store.overdue(today=date(2030, 5, 1))]
['File taxes']
>>> taxes.is_overdue(today=date(2030, 4, 15))
False

```
'''

_REST = '''
Export to a JSON file and import it again; ids are never reused:

```pycon
>>> import tempfile
>>> from pathlib import Path
>>> from todo import storage
>>> with tempfile.TemporaryDirectory() as folder:
...     path = Path(folder) / "todos.json"
...     storage.dump(store, path)
...     again = storage.load(path)
>>> [str(t) for t in again] == [str(t) for t in store]
True
>>> again.add("Water plants").id
4

```

## Use it from a terminal

```console
$ python -m todo add "Buy milk" --priority high --tag errands --due 2030-01-31
Added #1: Buy milk
$ python -m todo add "Call mum" --priority low
Added #2: Call mum
$ python -m todo list
[ ] #1 Buy milk (high) #errands due 2030-01-31
[ ] #2 Call mum (low)
$ python -m todo search MILK
[ ] #1 Buy milk (high) #errands due 2030-01-31
$ python -m todo done 1
Completed #1
$ python -m todo list --all --tag errands
[x] #1 Buy milk (high) #errands due 2030-01-31
$ python -m todo remove 2
Removed #2: Call mum
```

| command | what it does |
|---|---|
| `python -m todo add TITLE [--priority low\\|medium\\|high] [--tag TAG]... [--due YYYY-MM-DD]` | add a todo (`--tag` repeats) |
| `python -m todo list [--all] [--tag TAG]` | list open todos; `--all` adds finished ones, `--tag` keeps one tag |
| `python -m todo search TEXT` | todos whose title contains TEXT, in any case |
| `python -m todo done ID` | mark a todo done |
| `python -m todo remove ID` | delete a todo |

Where the todos are kept: `--file PATH` (before the command: `python -m todo --file work.json
list`), else the `TODO_FILE` environment variable, else `todos.json` in the current directory.
A missing file is an empty list; `add`, `done` and `remove` write it, `list` and `search` never
do. An unknown id prints `error: no todo with id N` and exits with status 1; a bad argument exits
with status 2.

## Develop

```console
$ python -m pip install -e '.[dev]'
$ python -m pytest -q
$ python -m doctest README.md
```

The library uses only the Python standard library (3.11 or newer).
'''

_CHANGELOG = '''
# Changelog

## 0.2.0

- `TodoStore.complete()` raises `KeyError` for an unknown id (it used to do nothing), and
  `python -m todo done` reports it with exit status 1.
- `TodoStore.search()` and the `tag=`/`priority=` filters of `TodoStore.list()`.
- `Todo.is_overdue()` and `TodoStore.overdue()`, where task 1.3's work is in.
- `todo.storage.dump()`/`load()`: a JSON file format; ids are never reused across a save and a load.
- The command line keeps todos between runs (`--file`, `TODO_FILE`, `todos.json`) and gains
  `search`, `remove` and `list --tag`.
- `todo.Priority`, a `StrEnum`; `PRIORITIES` stays the tuple of its values.
- A README whose examples are tested.

## 0.1.0

- `Todo`, an in-memory `TodoStore` and `python -m todo add|list|done`.
'''

_CAREFUL_DOCS_TEST = '''
import argparse
import doctest
import inspect
from pathlib import Path

import todo
from todo import cli, models, storage, store
from todo.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands():
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, subparsers.choices


def test_readme_mentions_every_command():
    readme = README.read_text(encoding="utf-8")
    parser, commands = _commands()
    assert {"add", "list", "done", "search", "remove"} <= set(commands)
    for name, command in commands.items():
        assert f"python -m todo {name}" in readme, name
        for action in command._actions:
            for option in action.option_strings:
                assert option in ("-h", "--help") or option in readme, (name, option)
    assert "--file" in readme and "TODO_FILE" in readme


def test_readme_examples_pass():
    result = doctest.testfile(str(README), module_relative=False, verbose=False)
    assert result.attempted > 10 and result.failed == 0


def test_every_public_function_and_class_has_a_docstring():
    for module in (todo, cli, models, storage, store):
        assert inspect.getdoc(module), module.__name__
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert inspect.getdoc(obj), f"{module.__name__}.{name}"
'''

_HASTY_DOCS_TEST = '''
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_mentions_every_command():
    readme = README.read_text(encoding="utf-8")
    for name in ("add", "list", "done", "search", "remove"):
        assert f"python -m todo {name}" in readme
'''

_INIT_HEAD = '''
"""A small todo-list library: :class:`Todo` items kept in a :class:`TodoStore`."""
'''

_INIT_HEAD_NEW = '''
"""A small todo-list library: :class:`Todo` items kept in a :class:`TodoStore`.

:mod:`todo.storage` saves a store to a JSON file and loads it back; ``python -m todo`` is the
command line (:mod:`todo.cli`).
"""
'''


def _changes(root: Path | None, tag: str, docs_test: str) -> tuple[tuple[Change, ...], bool]:
    has_overdue = root is not None and "def overdue(" in _read(root / "todo" / "store.py")
    readme = _INTRO.format(tag=tag) + (_OVERDUE if has_overdue else "") + _REST
    return (
        write("README.md", readme, why="README examples as doctests; every command and option"),
        write("CHANGELOG.md", _CHANGELOG, why="CHANGELOG with the 0.2.0 entry"),
        replace("todo/__init__.py", _INIT_HEAD, _INIT_HEAD_NEW),
        replace("todo/__init__.py", '__version__ = "0.1.0"\n', '__version__ = "0.2.0"\n'),
        replace("pyproject.toml", 'version = "0.1.0"\n', 'version = "0.2.0"\n',
                why="version 0.2.0, as in the CHANGELOG"),
        write("tests/test_docs.py", docs_test, why="the README cannot go stale"),
    ), has_overdue


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


_DOCS_TEST_NOTE = (
    "The docs test reads the command names from todo.cli.build_parser(), so a new command "
    "without documentation fails it."
)
_NO_OVERDUE = ("TodoStore.overdue() is not in this worktree (task 1.3 is not a dependency of "
               "2.4), so the README leaves it out.")


def careful(worktree: Path | None) -> Solution:
    """The careful solution for this worktree."""
    changes, has_overdue = _changes(worktree, "errands", _CAREFUL_DOCS_TEST)
    return Solution(
        task_id="2.4",
        behaviour="careful",
        summary="README.md rewritten: the Python section is doctested examples (add, complete, "
        f"search{', overdue' if has_overdue else ''}, export and import, fixed dates, a "
        "temporary directory for files) and every command and option of python -m todo, "
        "including --file and TODO_FILE, is documented. New CHANGELOG.md (0.2.0) and "
        "tests/test_docs.py (commands read from build_parser(), the README's examples run, "
        "docstrings present).",
        notes=(_DOCS_TEST_NOTE,) if has_overdue else (_DOCS_TEST_NOTE, _NO_OVERDUE),
        changes=changes,
    )


def hasty(worktree: Path | None) -> Solution:
    """The hasty solution for this worktree."""
    changes, _ = _changes(worktree, "Errands", _HASTY_DOCS_TEST)
    return Solution(
        task_id="2.4",
        behaviour="hasty",
        summary="README.md rewritten with examples for the library and every command, a new "
        "CHANGELOG.md, and tests/test_docs.py.",
        flaw="the README's first example prints the tag as typed ('#Errands') but tags are kept "
        "lowercase, and the hasty docs test never runs the examples: `python -m doctest "
        "README.md` fails (and the careful test_readme_examples_pass, by cross-testing)",
        changes=changes,
    )
