"""What judges one attempt: its pinned run, its named tests proven per test, its held-out tests.

:func:`prove` runs after the attempt's own-tree run. When the attempt touched no test, conftest or
test setting (:mod:`.pinned`), that run already *is* the pinned run and is reused; named tests found
in it are read from it — the common case runs nothing more. Otherwise a temporary checkout of the
attempt gets the start's tests back and runs the suite again; the task's named tests (and the
plan's held-out tests, copied into that checkout only) run by id, the test command's paths replaced
(:func:`nborch.plan.testids.with_test_ids`); the task's validation commands run there again too.

A named test that did not exist at the start commit is one the task asks the agent to write: there
is no start version to pin, so it is proven in the attempt's own tree — and only held-out tests
guard against a test written to pass.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..execute.validate import argv_of
from ..gitcmd import Git
from ..plan.testids import NamedTest, named_results, pytest_ids_in, with_test_ids
from .checkout import temporary_checkout
from .diffs import source_at
from .pinned import PinPlan, apply_pins, test_modules
from .tests import TestRun

__all__ = ["HOLDOUT_DIR", "Proof", "prove", "split_named"]

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


def _holdout_dest(repo: Path, folder: Path) -> str:
    root = repo.resolve()
    if folder.is_relative_to(root):  # an ignored folder keeps its place: its imports still work
        return folder.relative_to(root).as_posix()
    # a name pytest's JUnit ids can carry: dots would read as packages ("accept.v2")
    name = re.sub(r"[^A-Za-z0-9_]", "_", folder.stem if folder.is_file() else folder.name)
    return f"{HOLDOUT_DIR}/{name}{'.py' if folder.is_file() else ''}"


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


def _names_new_paths(git: Git, start: str, command: str) -> bool:
    """Whether ``command`` names a file the start commit does not have — a test file the task asks
    the agent to write: that check can only run in the attempt's own tree, as it did."""
    words = argv_of(command)
    if words[:2] == ["sh", "-c"]:
        return False
    for word in words[1:]:
        path = word.split("::", 1)[0].rstrip("/")
        if word.startswith("-") or not ("/" in path or path.endswith(".py")):
            continue
        if not git.run("cat-file", "-e", f"{start}:{path}", check=False).ok:
            return True
    return False


def _check_command(command: str) -> str:
    argv = argv_of(command)
    return shlex.join(argv)


def split_named(git: Git, start: str, ids: Sequence[str],
                base: Mapping[str, str]) -> tuple[list[str], list[str]]:  # fmt: skip
    """Named ids that existed at the start commit (judged with the start's tests) and ids the
    task asks the agent to write (judged in the attempt's own tree: there is nothing to pin)."""
    collected = test_modules(base)
    existing, new = [], []
    for tid in ids:
        if named_results(base, [tid])[0].outcome != "missing":
            existing.append(tid)
            continue
        path, _, rest = tid.partition("::")
        name = rest.rsplit("::", 1)[-1].split("[", 1)[0]
        if path in collected:  # the start's run collected that file, and not this test
            new.append(tid)
            continue
        text = source_at(git, start, path) or ""
        (existing if re.search(rf"\bdef {re.escape(name)}\b", text) else new).append(tid)
    return existing, new


def prove(git: Git, repo: Path, start: str, commit: str, pin: PinPlan, own: TestRun,
          base: TestRun, command: str, named_ids: Sequence[str], holdout: Path | None,
          validation_commands: Sequence[str] | None, run: Runner, log_dir: Path,
          allowed: bool = False, pinned_run: TestRun | None = None) -> Proof:  # fmt: skip
    """Run what judges one attempt and return it (see the module docs).

    Parameters
    ----------
    own, base: the attempt's own-tree run of ``command``, and its start commit's.
    named_ids: the test ids the task names; each must be collected, run and passed — with the
        start's tests when it existed there, in the attempt's own tree when the task asks for a
        new test.
    holdout: the held-out tests' folder (:func:`nborch.plan.holdout.holdout_folder`), or None.
    validation_commands: the task's check commands, run again on the pinned tree when it differs
        (None: the task was not validated while it ran, so neither is it here). Commands that
        name test ids are left to ``named_ids``; commands that name files the start commit does
        not have (tests the task asks for) keep their verdict from the attempt's own tree.
    run: runs a command in a folder with its log at a path (the caller's timeout, env, pool).
    allowed: the task must change existing tests (``Changes tests: yes``): its own tree judges
        its named tests and checks; the pinned run only shows what its test changes do.
    pinned_run: the pinned run when the caller made it already (an attempt that only added test
        files: its suite with those files ignored).
    """
    notes: list[str] = list(pin.notes)
    existing, new = split_named(git, start, named_ids, base.outcomes)
    if allowed:
        existing, new, validation_commands = [], [*existing, *new], None
    named: dict[str, NamedTest] = {}
    named_run: TestRun | None = None
    if new:  # the agent's own tests, as the task asked: its own tree has them
        if _resolved(own, new):
            named.update((t.id, t) for t in named_results(own.outcomes, new))
        else:
            with temporary_checkout(git, commit, "nborch-named-") as where:
                named_run = run(where, with_test_ids(command, new), log_dir / "new-named.log")
            named.update((t.id, t) for t in named_results(named_run.outcomes, new))
    pinned: TestRun | None = pinned_run
    checks: tuple[dict[str, Any], ...] | None = None
    judge = own if pin.empty else pinned
    needs = bool(holdout) or (bool(existing) and not _resolved(judge, existing))
    plain = [c for c in validation_commands or () if not pytest_ids_in(c)
             and not _names_new_paths(git, start, c)]  # fmt: skip
    recheck = not pin.empty and validation_commands is not None
    if not needs and pinned is None and pin.empty:
        named.update((t.id, t) for t in named_results(own.outcomes, existing))
    elif not needs and not recheck and pinned is not None:
        named.update((t.id, t) for t in named_results(pinned.outcomes, existing))
    else:
        with temporary_checkout(git, commit, "nborch-pinned-") as where:
            if not pin.empty:
                apply_pins(where, git, start, pin)
                if pinned is None:
                    pinned = run(where, command, log_dir / "pinned-tests.log")
                if recheck:
                    checks = tuple(_check(where, c, n, run, log_dir)
                                   for n, c in enumerate(plain, 1))  # fmt: skip
            judged = pinned if pinned is not None else own
            if existing and not _resolved(judged, existing):
                named_run = run(where, with_test_ids(command, existing),
                                log_dir / "named-tests.log")  # fmt: skip
                named.update((t.id, t) for t in named_results(named_run.outcomes, existing))
                if named_run.timed_out:
                    notes.append("the named tests did not finish in time")
            elif existing:
                named.update((t.id, t) for t in named_results(judged.outcomes, existing))
            if holdout is not None:
                # a run of their own: a held-out test_calc.py beside tests/test_calc.py in one
                # session would stop pytest's collection ("import file mismatch")
                dest = _holdout_dest(repo, holdout)
                _copy_holdout(holdout, where, dest)
                held = run(where, with_test_ids(command, [dest]), log_dir / "holdout-tests.log")
                named.update((t.id, t) for t in named_results(held.outcomes, [dest]))
                if held.timed_out:
                    notes.append("the held-out tests did not finish in time")
    order = [*named_ids, *(k for k in named if k not in named_ids)]
    return Proof(pinned, tuple(named[k] for k in order if k in named), named_run, checks,
                 tuple(notes))


def _check(where: Path, command: str, n: int, run: Runner, log_dir: Path) -> dict[str, Any]:
    result = run(where, _check_command(command), log_dir / f"pinned-check-{n}.log")
    return {"criterion": command, "command": command, "passed": result.ok,
            "return_code": result.return_code, "duration_s": result.duration_s,
            "reason": "" if result.ok else (f"exit code {result.return_code} with the start's tests"
                                            if not result.timed_out else "did not finish"),
            "pinned": True}  # fmt: skip
