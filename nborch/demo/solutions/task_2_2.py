"""Task 2.2 — the command line keeps its todos in a JSON file between runs.

The hasty solution saves after every changing command even when ``main()`` was handed a
``store=`` (as the tests do), into ``todos.json`` in the current directory. Its own tests use
``--file`` and pass, but ``test_add_prints_the_new_id`` then leaves a ``todos.json`` in the
project and the existing ``test_list_empty`` reads it and fails.
"""

from __future__ import annotations

from .edits import Solution, append, replace, write

_CLI_TOP = '''
"""The command line: ``python -m todo add "Buy milk"``, ``python -m todo list``.

Todos are kept in a JSON file between runs (see :mod:`todo.storage`): ``--file PATH``, else the
``TODO_FILE`` environment variable, else ``todos.json`` in the current directory. A missing file
is an empty list; only ``add``, ``done`` and ``remove`` write the file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

from . import storage
from .models import PRIORITIES
from .store import TodoStore

DEFAULT_FILE = "todos.json"
CHANGING_COMMANDS = frozenset({"add", "done", "remove"})


def _parse_due(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (want YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: ``--file`` and the commands add, list, done, search and remove."""
    parser = argparse.ArgumentParser(prog="todo", description="Keep a list of things to do.")
    parser.add_argument(
        "--file", type=Path, help=f"the todo file (default: $TODO_FILE, else ./{DEFAULT_FILE})"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    add = commands.add_parser("add", help="add a todo")
    add.add_argument("title", help="what to do")
    add.add_argument("--priority", choices=PRIORITIES, default="medium")
    add.add_argument("--tag", dest="tags", action="append", default=[], help="repeatable")
    add.add_argument("--due", type=_parse_due, help="due date, YYYY-MM-DD")

    show = commands.add_parser("list", help="list todos")
    show.add_argument("--all", action="store_true", help="include finished todos")
    show.add_argument("--tag", help="only todos with this tag")

    done = commands.add_parser("done", help="mark a todo as done")
    done.add_argument("id", type=int)

    search = commands.add_parser("search", help="find todos whose title contains TEXT")
    search.add_argument("text", help="any part of the title, in any case")

    remove = commands.add_parser("remove", help="delete a todo")
    remove.add_argument("id", type=int)
    return parser


def todo_file(given: Path | None = None) -> Path:
    """The file to use: ``given`` (``--file``), else ``$TODO_FILE``, else ``./todos.json``."""
    if given is not None:
        return given
    return Path(os.environ.get("TODO_FILE") or DEFAULT_FILE)
'''

_CAREFUL_MAIN = '''

def main(
    argv: Sequence[str] | None = None,
    *,
    store: TodoStore | None = None,
    out: TextIO | None = None,
) -> int:
    """Run one command and return the exit code.

    With ``store`` given (the tests do this) that store is used and no file is read or written.
    """
    args = build_parser().parse_args(argv)
    out = sys.stdout if out is None else out
    path = None
    if store is None:
        path = todo_file(args.file)
        try:
            store = storage.load(path) if path.exists() else TodoStore()
        except (OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    code = _run(args, store, out)
    if code == 0 and path is not None and args.command in CHANGING_COMMANDS:
        storage.dump(store, path)
    return code
'''

_HASTY_MAIN = '''

def main(
    argv: Sequence[str] | None = None,
    *,
    store: TodoStore | None = None,
    out: TextIO | None = None,
) -> int:
    """Run one command and return the exit code."""
    args = build_parser().parse_args(argv)
    out = sys.stdout if out is None else out
    path = todo_file(args.file)
    if store is None:
        store = storage.load(path) if path.exists() else TodoStore()
    code = _run(args, store, out)
    if code == 0 and args.command in CHANGING_COMMANDS:
        storage.dump(store, path)
    return code
'''

_RUN = '''

def _run(args: argparse.Namespace, store: TodoStore, out: TextIO) -> int:
    if args.command == "add":
        todo = store.add(args.title, priority=args.priority, tags=args.tags, due=args.due)
        print(f"Added #{todo.id}: {todo.title}", file=out)
    elif args.command in ("list", "search"):
        if args.command == "list":
            todos = store.list(include_done=args.all, tag=args.tag)
        else:
            todos = store.search(args.text)
        if not todos:
            print("No todos." if args.command == "list" else f"No todo matches {args.text!r}.",
                  file=out)
        for todo in todos:
            print(todo, file=out)
    else:
        try:
            if args.command == "done":
                store.complete(args.id)
                print(f"Completed #{args.id}", file=out)
            else:
                todo = store.remove(args.id)
                print(f"Removed #{todo.id}: {todo.title}", file=out)
        except KeyError:
            print(f"error: no todo with id {args.id}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''

_DASH_M_DEF = "def test_python_dash_m_runs_the_cli():\n"
_DASH_M_DEF_NEW = "def test_python_dash_m_runs_the_cli(tmp_path):\n"
_DASH_M_ARGV = '        [sys.executable, "-m", "todo", "add", "Buy milk"],\n'
_DASH_M_ARGV_NEW = (
    '        [sys.executable, "-m", "todo", "--file", str(tmp_path / "todos.json"), "add",\n'
    '         "Buy milk"],\n'
)

_CLI_TESTS = '''

def test_add_then_list_across_runs(tmp_path):
    file = str(tmp_path / "todos.json")
    assert run("--file", file, "add", "Buy milk", "--tag", "errands") == (0, "Added #1: Buy milk\\n")
    assert run("--file", file, "add", "Call mum", "--priority", "low") == (0, "Added #2: Call mum\\n")
    assert run("--file", file, "done", "1") == (0, "Completed #1\\n")
    assert run("--file", file, "list") == (0, "[ ] #2 Call mum (low)\\n")
    assert run("--file", file, "list", "--all")[1].splitlines() == [
        "[x] #1 Buy milk #errands",
        "[ ] #2 Call mum (low)",
    ]


def test_search_command(tmp_path):
    file = tmp_path / "todos.json"
    for title in ("Buy milk", "Call mum", "buy bread"):
        run("--file", str(file), "add", title)
    saved = file.read_bytes()
    assert run("--file", str(file), "search", "BUY") == (0, "[ ] #1 Buy milk\\n[ ] #3 buy bread\\n")
    assert run("--file", str(file), "search", "taxes") == (0, "No todo matches 'taxes'.\\n")
    assert file.read_bytes() == saved


def test_todo_file_env_var(tmp_path, monkeypatch):
    file = tmp_path / "from-env.json"
    monkeypatch.setenv("TODO_FILE", str(file))
    assert run("add", "Buy milk") == (0, "Added #1: Buy milk\\n")
    assert file.is_file()
    assert run("list") == (0, "[ ] #1 Buy milk\\n")
    assert run("--file", str(tmp_path / "other.json"), "list") == (0, "No todos.\\n")


def test_remove_command_and_unknown_ids(tmp_path, capsys):
    file = str(tmp_path / "todos.json")
    run("--file", file, "add", "Buy milk")
    run("--file", file, "add", "Call mum")
    assert run("--file", file, "remove", "1") == (0, "Removed #1: Buy milk\\n")
    assert run("--file", file, "remove", "1") == (1, "")
    assert run("--file", file, "done", "7") == (1, "")
    assert capsys.readouterr().err == "error: no todo with id 1\\nerror: no todo with id 7\\n"
    assert run("--file", file, "add", "Water plants") == (0, "Added #3: Water plants\\n")


def test_list_by_tag(tmp_path):
    file = str(tmp_path / "todos.json")
    run("--file", file, "add", "Buy milk", "--tag", "Errands")
    run("--file", file, "add", "Call mum")
    assert run("--file", file, "list", "--tag", "errands") == (0, "[ ] #1 Buy milk #errands\\n")


def test_a_passed_store_is_never_saved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TODO_FILE")
    assert run("add", "Buy milk", store=TodoStore()) == (0, "Added #1: Buy milk\\n")
    assert list(tmp_path.iterdir()) == []


def test_a_broken_file_is_reported(tmp_path, capsys):
    file = tmp_path / "todos.json"
    file.write_text("{not json", encoding="utf-8")
    assert run("--file", str(file), "list") == (1, "")
    assert "not a valid JSON todo file" in capsys.readouterr().err
'''

_HASTY_CLI_TESTS = '''

def test_add_then_list_across_runs(tmp_path):
    file = str(tmp_path / "todos.json")
    assert run("--file", file, "add", "Buy milk") == (0, "Added #1: Buy milk\\n")
    assert run("--file", file, "list") == (0, "[ ] #1 Buy milk\\n")


def test_search_command(tmp_path):
    file = str(tmp_path / "todos.json")
    run("--file", file, "add", "Buy milk")
    run("--file", file, "add", "Call mum")
    assert run("--file", file, "search", "milk") == (0, "[ ] #1 Buy milk\\n")


def test_todo_file_env_var(tmp_path, monkeypatch):
    file = tmp_path / "from-env.json"
    monkeypatch.setenv("TODO_FILE", str(file))
    assert run("add", "Buy milk") == (0, "Added #1: Buy milk\\n")
    assert file.is_file()
'''

_CONFTEST_FIXTURE = '''

@pytest.fixture(autouse=True)
def _todo_file(tmp_path, monkeypatch):
    """Point TODO_FILE into tmp_path, so no test reads or writes a todos.json of the project."""
    monkeypatch.setenv("TODO_FILE", str(tmp_path / "todos.json"))
'''


def _changes(main: str, tests: str) -> tuple:
    return (
        write("todo/cli.py", _CLI_TOP + main + _RUN,
              why="load the todo file, run the command, save after add/done/remove"),
        replace("tests/test_cli.py", _DASH_M_DEF, _DASH_M_DEF_NEW),
        replace("tests/test_cli.py", _DASH_M_ARGV, _DASH_M_ARGV_NEW,
                why="the python -m test writes into tmp_path, never into the project"),
        append("tests/test_cli.py", tests, why="tests for saving, search, remove, TODO_FILE"),
        append(".gitignore", "todos.json\n", why="a todos.json of your own is never committed"),
    )


CAREFUL = Solution(
    task_id="2.2",
    behaviour="careful",
    summary="The command line now loads todos from --file, else $TODO_FILE, else ./todos.json "
    "(a missing file is an empty list) and saves after add, done and remove; list and search "
    "never write. New commands search TEXT and remove ID, and list --tag TAG. A store passed to "
    "main(store=...) is neither loaded nor saved; an autouse fixture points TODO_FILE into "
    "tmp_path so the suite leaves no todos.json behind. todos.json is in .gitignore.",
    notes=((
        "Keeping main(store=...) file-free matters: the existing tests pass a store and must "
        "not write into the project directory."
    ),),
    changes=(
        *_changes(_CAREFUL_MAIN, _CLI_TESTS),
        append("tests/conftest.py", _CONFTEST_FIXTURE, why="no test touches a real todos.json"),
    ),
)

HASTY = Solution(
    task_id="2.2",
    behaviour="hasty",
    summary="The command line loads and saves todos.json (--file, TODO_FILE) and has search, "
    "remove and list --tag. Tests in tests/test_cli.py.",
    flaw="main() saves after add/done/remove even when a store= was passed in, into ./todos.json: "
    "the existing test_add_prints_the_new_id leaves that file in the project and the existing "
    "tests/test_cli.py::test_list_empty then reads it and fails",
    changes=_changes(_HASTY_MAIN, _HASTY_CLI_TESTS),
)
