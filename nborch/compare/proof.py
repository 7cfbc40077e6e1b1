"""What judges one attempt: its pinned run, its named tests proven per test, its held-out tests.

:func:`prove` runs after the attempt's own-tree run. When the attempt touched no test, conftest or
test setting (:mod:`.pinned`), that run already *is* the pinned run and is reused; named tests found
in it are read from it — the common case runs nothing more. Otherwise a temporary checkout of the
attempt gets the start's tests back and runs the suite again; the task's named tests (and the
plan's held-out tests, copied into that checkout only) run by id, the test command's paths replaced
(:func:`nborch.testids.with_test_ids`); the task's validation commands run there again too.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PlanError
from ..execute.validate import argv_of
from ..gitcmd import Git
from ..testids import NamedTest, named_results, with_test_ids
from .checkout import temporary_checkout
from .pinned import PinPlan, apply_pins
from .tests import TestRun

__all__ = ["HOLDOUT_DIR", "Proof", "holdout_folder", "prove"]

HOLDOUT_DIR = "nborch_holdout"  # where held-out tests from outside the repository go in a checkout
Runner = Callable[[Path, str, Path], TestRun]  # (where, command, log file) → the run


@dataclass(frozen=True, slots=True)
class Proof:
    """The runs that judge one attempt (see the module docs)."""

    pinned: TestRun | None = None  # None: the attempt's own tree is its pinned tree
    named: tuple[NamedTest, ...] = ()
    named_run: TestRun | None = None
    # the validation commands run again on the pinned tree (None: not run again; empty: the task
    # has only test-id criteria, which ``named`` proves)
    checks: tuple[dict[str, Any], ...] | None = None
    notes: tuple[str, ...] = ()


def holdout_folder(repo: str | Path, plan_path: Path | None, value: str) -> Path | None:
    """The held-out tests' folder named by ``holdout:`` (relative to the plan's folder, else the
    repository), checked: it exists and the agents cannot see it (outside the repository, or not
    tracked by it)."""
    if not value:
        return None
    root = Path(repo).resolve()
    folder = Path(value).expanduser()
    if not folder.is_absolute():
        folder = (plan_path.resolve().parent if plan_path is not None else root) / folder
    folder = folder.resolve()
    if not folder.exists():
        raise PlanError(f"holdout: {value!r} — {folder} does not exist",
                        "name the folder of held-out tests, relative to the plan")  # fmt: skip
    if folder.is_relative_to(root):
        rel = folder.relative_to(root).as_posix()
        tracked = Git(root).out("ls-files", "--", rel)
        if tracked:
            raise PlanError(f"holdout: {value!r} is tracked by the repository, so every agent's "
                            "worktree has it", "move it outside the repository, or remove it "
                            f"from git and ignore it (git rm -r --cached {rel}; add it to "
                            ".gitignore)")  # fmt: skip
    return folder


def _holdout_dest(repo: Path, folder: Path) -> str:
    root = repo.resolve()
    if folder.is_relative_to(root):  # an ignored folder keeps its place: its imports still work
        return folder.relative_to(root).as_posix()
    return f"{HOLDOUT_DIR}/{folder.name}"


def _copy_holdout(folder: Path, where: Path, dest: str) -> None:
    target = where / dest
    if folder.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder, target)
    else:
        shutil.copytree(folder, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))  # fmt: skip


def _resolved(run: TestRun | None, ids: Sequence[str]) -> bool:
    """Whether every named id has a per-test result in ``run``."""
    if run is None or run.runner != "pytest" or run.timed_out:
        return False
    return all(t.outcome != "missing" for t in named_results(run.outcomes, ids))


def _check_command(command: str) -> str:
    argv = argv_of(command)
    return shlex.join(argv)


def prove(git: Git, repo: Path, start: str, commit: str, pin: PinPlan, own: TestRun,
          command: str, named_ids: Sequence[str], holdout: Path | None,
          validation_commands: Sequence[str] | None, run: Runner, log_dir: Path) -> Proof:  # fmt: skip
    """Run what judges one attempt and return it (see the module docs).

    Parameters
    ----------
    own: the attempt's own-tree run of ``command``.
    named_ids: the test ids the task names; each must be collected, run and passed.
    holdout: the held-out tests' folder (:func:`holdout_folder`), or None.
    validation_commands: the task's check commands, run again on the pinned tree when it differs
        (None: the task was not validated while it ran, so neither is it here).
    run: runs a command in a folder with its log at a path (the caller's timeout, env, pool).
    """
    notes: list[str] = list(pin.notes)
    named_ids = list(named_ids)
    needs_named = bool(holdout) or (bool(named_ids) and not _resolved(
        own if pin.empty else None, named_ids))  # fmt: skip
    if pin.empty and not needs_named:
        named = tuple(named_results(own.outcomes, named_ids)) if named_ids else ()
        return Proof(None, named, None, None, tuple(notes))
    with ExitStack() as stack:
        where = stack.enter_context(temporary_checkout(git, commit, "nborch-pinned-"))
        pinned: TestRun | None = None
        checks: tuple[dict[str, Any], ...] | None = None
        if not pin.empty:
            apply_pins(where, git, start, pin)
            pinned = run(where, command, log_dir / "pinned-tests.log")
            if named_ids and not holdout and _resolved(pinned, named_ids):
                needs_named = False
            if validation_commands is not None:
                checks = tuple(_check(where, c, n, run, log_dir)
                               for n, c in enumerate(validation_commands, 1))  # fmt: skip
        named: tuple[NamedTest, ...] = ()
        named_run: TestRun | None = None
        targets = list(named_ids)
        if holdout is not None:
            dest = _holdout_dest(repo, holdout)
            _copy_holdout(holdout, where, dest)
            targets.append(dest)
        if needs_named:
            named_run = run(where, with_test_ids(command, targets), log_dir / "named-tests.log")
            named = tuple(named_results(named_run.outcomes, targets))
            if named_run.timed_out:
                notes.append("the named tests did not finish in time")
        elif named_ids:
            judged = pinned if pinned is not None else own
            named = tuple(named_results(judged.outcomes, named_ids))
        return Proof(pinned, named, named_run, checks, tuple(notes))


def _check(where: Path, command: str, n: int, run: Runner, log_dir: Path) -> dict[str, Any]:
    result = run(where, _check_command(command), log_dir / f"pinned-check-{n}.log")
    return {"criterion": command, "command": command, "passed": result.ok,
            "return_code": result.return_code, "duration_s": result.duration_s,
            "reason": "" if result.ok else (f"exit code {result.return_code} with the start's tests"
                                            if not result.timed_out else "did not finish"),
            "pinned": True}  # fmt: skip
