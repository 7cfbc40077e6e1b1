"""Run a task's validation criteria in an attempt's worktree and say which passed.

Backticked commands run as written (through ``sh -c`` when they use shell syntax such as ``&&``);
backticked test ids run with the plan's ``test_command`` (default ``python -m pytest -q``). Prose
criteria are not run. Commands get the caller's environment with the folder of the Python running
nborch first on ``PATH``, so ``python -m pytest`` finds the same interpreter (and its packages).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan import DEFAULT_TEST_COMMAND, Plan, Task
from .process import run_process
from .spec import ProcessSpec

_SHELL_SYNTAX = set("|&;<>()$`*?~\n")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One validation command and how it ended."""

    criterion: str
    command: str
    passed: bool
    return_code: int | None
    duration_s: float
    tail: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "command": self.command, "passed": self.passed,
                "return_code": self.return_code, "duration_s": round(self.duration_s, 3),
                "tail": list(self.tail[-10:])}  # fmt: skip


def checks_of(task: Task, plan: Plan | None) -> list[tuple[str, str]]:
    """``(criterion text, command)`` for every runnable criterion of ``task``, in order."""
    return task.checks((plan.test_command if plan is not None else None) or DEFAULT_TEST_COMMAND)


def argv_of(command: str) -> list[str]:
    """The argv for a command: split like a shell would, or ``sh -c`` when it needs a shell."""
    if _SHELL_SYNTAX & set(command):
        return ["sh", "-c", command]
    return shlex.split(command)


def check_env(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    here = str(Path(sys.executable).parent)
    env["PATH"] = here + os.pathsep + env.get("PATH", os.defpath)
    env.pop("PYTHONPATH", None)  # the worktree's own code must win, not nborch's paths
    return env


async def run_checks(task: Task, plan: Plan | None, worktree: Path, log_dir: Path,
                     timeout: float | None = 600.0) -> list[CheckResult]:  # fmt: skip
    """Run every runnable criterion of ``task`` in ``worktree``; logs go to ``log_dir``."""
    results = []
    env = check_env()
    for n, (criterion, command) in enumerate(checks_of(task, plan), 1):
        spec = ProcessSpec(argv=tuple(argv_of(command)), cwd=worktree, env=env,
                           log_path=log_dir / f"check-{n}.log", timeout=timeout, grace=2.0,
                           tail_lines=40)  # fmt: skip
        res = await run_process(spec)
        passed = res.state == "exited" and res.return_code == 0
        results.append(CheckResult(criterion, command, passed, res.return_code, res.duration_s,
                                   res.tail))  # fmt: skip
    return results


def verdict(results: list[CheckResult]) -> str:
    """``passed``, ``failed``, or ``none`` when the task had nothing runnable."""
    if not results:
        return "none"
    return "passed" if all(r.passed for r in results) else "failed"
