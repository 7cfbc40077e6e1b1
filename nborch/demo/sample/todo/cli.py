"""A tiny command line: ``python -m todo add "Buy milk"``, ``python -m todo list``.

The store lives in memory, so every invocation starts empty.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from typing import TextIO

from .models import PRIORITIES
from .store import TodoStore


def _parse_due(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (want YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the ``add``, ``list`` and ``done`` commands."""
    parser = argparse.ArgumentParser(prog="todo", description="Keep a list of things to do.")
    commands = parser.add_subparsers(dest="command", required=True)

    add = commands.add_parser("add", help="add a todo")
    add.add_argument("title", help="what to do")
    add.add_argument("--priority", choices=PRIORITIES, default="medium")
    add.add_argument("--tag", dest="tags", action="append", default=[], help="repeatable")
    add.add_argument("--due", type=_parse_due, help="due date, YYYY-MM-DD")

    show = commands.add_parser("list", help="list todos")
    show.add_argument("--all", action="store_true", help="include finished todos")

    done = commands.add_parser("done", help="mark a todo as done")
    done.add_argument("id", type=int)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    store: TodoStore | None = None,
    out: TextIO | None = None,
) -> int:
    """Run one command and return the exit code."""
    args = build_parser().parse_args(argv)
    store = TodoStore() if store is None else store
    out = sys.stdout if out is None else out

    if args.command == "add":
        todo = store.add(args.title, priority=args.priority, tags=args.tags, due=args.due)
        print(f"Added #{todo.id}: {todo.title}", file=out)
    elif args.command == "list":
        todos = store.list(include_done=args.all)
        if not todos:
            print("No todos.", file=out)
        for todo in todos:
            print(todo, file=out)
    elif args.command == "done":
        store.complete(args.id)
        print(f"Completed #{args.id}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
