"""A demo agent: a scripted stand-in for a coding agent, run as ``python -m nborch.demo.agent``.

No AI model runs and the token counts it reports are invented; it says so in its first message.
It edits the worktree it is given the way a real agent would (never committing, never writing
outside it) with the solutions in :mod:`nborch.demo.solutions`, and streams JSON lines on stdout
in the demo format documented in :mod:`nborch.agents.parsers`. Behaviours (``--behaviour``, or a
``--model`` that names one):

``careful``
    the careful solution: every validation criterion of the task passes.
``hasty``
    the hasty solution: plausible, its own tests pass, subtly wrong (each says how in its
    ``flaw``); it also works faster.
``slow``
    makes the careful solution's first edit, then reports progress every second for
    ``--duration`` seconds (600 by default) so that a timeout stops it, then finishes the job.
    SIGTERM stops it at once, unless ``--ignore-sigterm`` is given: then only SIGKILL does.
``broken``
    makes one edit, then crashes with a traceback on stderr.

A task the sample plan does not have (or a worktree that is not the sample project) gets a
clearly labelled ``NBORCH_DEMO_NOTES.md`` saying so, and a result that is not an error.

Exit status: 0 done; 1 some edits could not be made, or a crash; 2 no prompt file or worktree;
128 + the signal number when stopped by SIGTERM or SIGINT. ``--speed`` (or the
``NBORCH_DEMO_SPEED`` environment variable) scales the short pauses: 0 for tests, 1 (default)
for a realistic 0.2 to 1 second run; it does not shorten ``slow``'s ``--duration``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .solutions import (
    TASK_IDS,
    Change,
    ChangeFailed,
    UnsafePath,
    apply,
    is_sample_project,
    solution_for,
)
from .solutions.edits import write

BEHAVIOURS = ("careful", "hasty", "slow", "broken")
SPEED_ENV = "NBORCH_DEMO_SPEED"
NOTES_FILE = "NBORCH_DEMO_NOTES.md"
_TASK_IN_PROMPT = re.compile(r"\bTask\s+(\d+(?:\.\d+)+)\b", re.IGNORECASE)


class Stopped(Exception):
    """A signal asked the agent to stop; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Events:
    """Writes the agent's events as JSON lines and keeps its (invented) token totals."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.input_tokens = 0
        self.output_tokens = 0

    def emit(self, kind: str, **fields: Any) -> None:
        # One write per line, so a signal between two statements never splits a line.
        sys.stdout.write(json.dumps({"type": kind, **fields}, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def message(self, text: str) -> None:
        self.emit("message", text=text)

    def usage(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.emit("usage", input_tokens=input_tokens, output_tokens=output_tokens)

    def result(self, text: str, is_error: bool = False) -> None:
        self.emit("result", text=text, is_error=is_error, input_tokens=self.input_tokens,
                  output_tokens=self.output_tokens, cost_usd=0.0)  # fmt: skip

    def pause(self, seconds: float) -> None:
        if self.speed > 0:
            time.sleep(seconds * self.speed)


def normalise_task_id(raw: str) -> str:
    """``"Task 1.1"``, ``"task-1-1"`` and ``"1_1"`` all become ``"1.1"``."""
    text = re.sub(r"^task[\s_-]*", "", raw.strip().lower())
    return re.sub(r"[-_]", ".", text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one demo agent; return its exit status (see the module docstring)."""
    args = _parser().parse_args(argv)
    behaviour = args.behaviour or (args.model if args.model in BEHAVIOURS else "careful")
    speed = args.speed if args.speed is not None else _env_speed()
    events = Events(speed * (0.5 if behaviour == "hasty" else 1.0))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        return _run(args, behaviour, events)
    except Stopped as stop:
        events.message(f"Received {stop}: stopping now. What was written stays in the worktree.")
        events.result(f"Demo agent ({behaviour}): stopped by {stop} before finishing.", True)
        return 128 + stop.signum
    except BrokenPipeError:  # whoever read our output is gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(args: argparse.Namespace, behaviour: str, events: Events) -> int:
    model = f" (--model {args.model!r} is ignored: demo agents use no model)" if (
        args.model and args.model not in BEHAVIOURS) else ""  # fmt: skip
    events.message(
        f"nborch demo agent, {behaviour} behaviour: a scripted stand-in for a coding agent. No AI "
        f"model runs and the token counts below are invented.{model}"
    )
    try:
        prompt = Path(args.prompt_file).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        return _usage_error(events, f"cannot read the prompt file {args.prompt_file}: {err}")
    worktree = Path(args.worktree)
    if not worktree.is_dir():
        return _usage_error(events, f"the worktree {worktree} is not a directory")
    events.message(f"Read the prompt file {Path(args.prompt_file).name}: "
                   f"{len(prompt.encode()):,} bytes, {_count(prompt.splitlines(), 'line')}.")  # fmt: skip
    events.usage(900 + len(prompt) // 4, 60)
    events.pause(0.15)

    found = _TASK_IN_PROMPT.search(prompt)
    task_id = normalise_task_id(args.task_id) if args.task_id else (found[1] if found else "")
    sample = is_sample_project(worktree)
    kind = "hasty" if behaviour == "hasty" else "careful"
    solution = solution_for(task_id, kind, worktree) if sample else None
    if solution is None:
        changes: tuple[Change, ...] = (_notes(args, task_id, sample, len(prompt.encode())),)
    else:
        changes = solution.changes
        for note in solution.notes:
            events.message(note)
        events.pause(0.1)

    if behaviour == "broken":
        _make(events, worktree, changes[0], 0.1)
        events.message("Running the next step...")
        _crash(changes[0].path)
    if behaviour == "slow":
        _make(events, worktree, changes[0], 0.1)
        _dawdle(events, args.duration, args.ignore_sigterm)
        changes = changes[1:]
    step = 0.45 / max(1, len(changes))
    failures = [error for c in changes if (error := _make(events, worktree, c, step))]
    events.usage(1200, 150)
    events.pause(0.1)
    if solution is None:
        events.result(
            f"Demo agent ({behaviour}): task {task_id or '(none)'!r} is not one it knows, so it "
            f"changed nothing but {NOTES_FILE}, which explains why. Demo agents only know the "
            "tasks of nborch's sample plan on the sample project; use a real agent for this one."
        )
        return 0
    if failures:
        events.result(f"Demo agent ({behaviour}): {len(failures)} of {len(changes)} edits could "
                      f"not be made: {'; '.join(failures)}", is_error=True)  # fmt: skip
        return 1
    events.result(f"Demo agent ({behaviour}): {solution.summary}")
    return 0


def _make(events: Events, worktree: Path, change: Change, pause: float) -> str:
    """Make one change with its tool_call and file_edit events; return an error text or ""."""
    if change.why:
        events.message(f"{change.path}: {change.why}.")
    args: dict[str, str] = {"path": change.path}
    if change.kind == "replace":
        args.update(old_string=change.old, new_string=change.new)
    else:
        args["content"] = change.new
    events.emit("tool_call", name=change.tool, input=args)
    try:
        with _signals_held():  # a SIGTERM mid-write would leave a truncated file
            status = apply(worktree, change)
    except (UnsafePath, ChangeFailed, OSError) as err:
        events.emit("error", text=str(err), fatal=False)
        return str(err)
    if status == "unchanged":
        events.message(f"{change.path} already has this change; left as it is.")
    else:
        events.emit("file_edit", path=change.path, change="add" if status == "created" else "update")
    events.usage(700 + len(change.old) // 3, 40 + len(change.new) // 3)
    events.pause(min(pause, 0.1))
    return ""


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGTERM and SIGINT back while a file is written; they arrive right after."""
    held = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _dawdle(events: Events, duration: float, ignoring: bool) -> None:
    if ignoring:
        events.message("Ignoring SIGTERM on purpose (--ignore-sigterm): only SIGKILL stops me.")
    started = time.monotonic()
    while (left := started + duration - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        elapsed = min(duration, time.monotonic() - started)
        events.message(f"Still working ({elapsed:.0f} s of {duration:g} s): the 'slow' demo "
                       "agent takes long on purpose, so that a timeout can stop it.")  # fmt: skip
        events.usage(300, 25)


def _crash(path: str) -> None:
    raise RuntimeError(
        f"the 'broken' demo agent crashes on purpose after editing {path} (this is a demo of a "
        "failing agent, not a bug in nborch)"
    )


def _notes(args: argparse.Namespace, task_id: str, sample: bool, size: int) -> Change:
    if not task_id:
        why = "No task id was given and none was found in the prompt."
    elif task_id not in TASK_IDS:
        why = f"Task `{task_id}` is not one of them."
    elif not sample:
        why = (f"Task `{task_id}` is one of them, but this worktree is not the sample project "
               "(it has no todo/store.py with a TodoStore), so its edits would not fit.")  # fmt: skip
    else:
        why = f"Task `{task_id}` has no demo solution."
    return write(NOTES_FILE, f"""
# Notes from an nborch demo agent

This file was written by a **demo agent** bundled with nborch: a scripted stand-in for a coding
agent. No AI model ran, and nothing else in this worktree was changed.

Demo agents only know the tasks of nborch's sample plan ({", ".join(TASK_IDS)}), run by
`nborch demo` on the sample `todo` project. {why}

To get this task done, give it to a real agent (for example `--agents claude`) or to a script
agent of your own (`--script mine='python fix.py {{prompt_file}}'`).

- task id: `{task_id or "(none)"}`
- prompt file: `{Path(args.prompt_file).name}` ({size:,} bytes)
""", why="say why nothing else was done")


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _usage_error(events: Events, text: str) -> int:
    events.emit("error", text=text, fatal=True)
    events.result(f"Demo agent: {text}", is_error=True)
    return 2


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def _env_speed() -> float:
    try:
        return max(0.0, float(os.environ.get(SPEED_ENV, "1")))
    except ValueError:
        return 1.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nborch.demo.agent",
        description="A demo agent for nborch: scripted edits, no AI model, invented token counts.",
    )
    parser.add_argument("--prompt-file", required=True, help="the task prompt nborch wrote")
    parser.add_argument("--worktree", required=True, help="the directory to edit")
    parser.add_argument("--task-id", default="", help="the plan's task id, e.g. 1.1")
    parser.add_argument("--behaviour", choices=BEHAVIOURS, help="default: careful")
    parser.add_argument("--model", help="a behaviour name picks that behaviour; else ignored")
    parser.add_argument("--speed", type=float, help=f"pause factor (default ${SPEED_ENV} or 1)")
    parser.add_argument("--duration", type=float, default=600.0,
                        help="seconds the slow behaviour takes (default 600)")  # fmt: skip
    parser.add_argument("--ignore-sigterm", action="store_true",
                        help="ignore SIGTERM (slow behaviour: only SIGKILL stops it)")  # fmt: skip
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
