import io
import subprocess
import sys
from pathlib import Path

from todo import TodoStore
from todo.cli import main


def run(*argv, store=None):
    out = io.StringIO()
    code = main(list(argv), store=store, out=out)
    return code, out.getvalue()


def test_add_prints_the_new_id():
    store = TodoStore()
    assert run("add", "Buy milk", "--tag", "errands", "--priority", "high", store=store) == (
        0,
        "Added #1: Buy milk\n",
    )
    assert store.get(1).tags == ["errands"] and store.get(1).priority == "high"


def test_list_hides_done_unless_all():
    store = TodoStore()
    store.add("Buy milk")
    store.add("Call mum")
    store.complete(1)
    assert run("list", store=store) == (0, "[ ] #2 Call mum\n")
    assert run("list", "--all", store=store)[1].splitlines() == [
        "[x] #1 Buy milk",
        "[ ] #2 Call mum",
    ]


def test_list_empty():
    assert run("list") == (0, "No todos.\n")


def test_python_dash_m_runs_the_cli():
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "todo", "add", "Buy milk"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Added #1: Buy milk\n"
