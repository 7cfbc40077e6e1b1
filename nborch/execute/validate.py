"""Run a task's validation criteria in an attempt's worktree and say which passed.

Backticked commands run as written (through ``sh -c`` when they use shell syntax such as ``&&``);
backticked test ids run with the plan's ``test_command`` (default ``python -m pytest -q``), its
positional paths replaced by the ids. A check that names test ids passes only when pytest's JUnit
results show every named test collected, run and passed: an exit code of 0 also comes from a run
that never collected a deleted or deselected test, and from a skipped one. Prose criteria are not
run. Commands get the caller's environment with the folder of the Python running
nborch first on ``PATH``, so ``python -m pytest`` finds the same interpreter (and its packages).
"""

from __future__ import annotations

import os
import shlex
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan.model import DEFAULT_TEST_COMMAND, Plan, Task
from ..plan.testids import NamedTest, named_results, parse_junit
from ..proc.env import checks_env, secrets_of
from ..proc.runner import run_process
from ..proc.spec import ProcessSpec

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
    named: tuple[NamedTest, ...] = ()  # per named test id: what JUnit said

    @property
    def reason(self) -> str:
        """Why the check failed, in words ("" when it passed)."""
        if self.passed:
            return ""
        bad = [f"{t.id}: {t.reason}" for t in self.named if not t.passed]
        if bad:
            return "; ".join(bad)
        return f"exit code {self.return_code}" if self.return_code is not None else "did not finish"

    def to_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "command": self.command, "passed": self.passed,
                "return_code": self.return_code, "duration_s": round(self.duration_s, 3),
                "tail": list(self.tail[-10:]), "reason": self.reason,
                "named": [t.to_dict() for t in self.named]}  # fmt: skip


def checks_of(task: Task, plan: Plan | None) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(criterion text, command, named test ids)`` for every runnable criterion of ``task``."""
    return task.check_runs((plan.test_command if plan is not None else None) or DEFAULT_TEST_COMMAND)


def test_env_of(plan: Plan | None) -> tuple[str, ...]:
    """The plan's ``test_env``: names or globs of variables its tests need (``DATABASE_URL``)."""
    value = plan.settings.get("test_env") if plan is not None else None
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


test_env_of.__test__ = False  # type: ignore[attr-defined]  # a library function, not a test


def junit_argv(argv: list[str], xml: Path) -> list[str]:
    """``argv`` of a pytest command with a JUnit report to ``xml`` (``sh -c`` ones stay as they
    are: the report then is missing and every named test counts as not proven)."""
    if argv[:2] == ["sh", "-c"]:
        return argv
    return [*argv, f"--junitxml={xml}"]


def prove(ids: tuple[str, ...], xml: Path, root: Path) -> tuple[NamedTest, ...]:
    """The named tests judged by the JUnit report at ``xml`` (none proven when it is missing)."""
    if not ids:
        return ()
    try:
        outcomes = parse_junit(xml.read_text(errors="replace"), root)
    except (OSError, ET.ParseError):
        return tuple(NamedTest(i, "missing", "no per-test results: the run wrote no JUnit "
                                            "report") for i in ids)  # fmt: skip
    return tuple(named_results(outcomes, ids))


def argv_of(command: str) -> list[str]:
    """The argv for a command: split like a shell would, or ``sh -c`` when it needs a shell."""
    if _SHELL_SYNTAX & set(command):
        return ["sh", "-c", command]
    return shlex.split(command)


def check_env(base: dict[str, str] | None = None, allow: Iterable[str] = ()) -> dict[str, str]:
    """The environment of a validation check or a test run: allow-listed like an agent's
    (:func:`~nborch.proc.env.checks_env`: no credentials, unless ``allow`` — the plan's
    ``test_env`` — names them), with the folder of the Python running nborch first on ``PATH``."""
    env = checks_env(base, allow)
    here = str(Path(sys.executable).parent)
    env["PATH"] = here + os.pathsep + env.get("PATH", os.defpath)
    env.pop("PYTHONPATH", None)  # the worktree's own code must win, not nborch's paths
    return env


async def run_checks(task: Task, plan: Plan | None, worktree: Path, log_dir: Path,
                     timeout: float | None = 600.0) -> list[CheckResult]:  # fmt: skip
    """Run every runnable criterion of ``task`` in ``worktree``; logs go to ``log_dir``."""
    results = []
    env = check_env(allow=test_env_of(plan))
    # a test written by an agent can read nborch's own environment (/proc/<ppid>/environ)
    secrets = secrets_of(os.environ)
    for n, (criterion, command, ids) in enumerate(checks_of(task, plan), 1):
        xml = log_dir / f"check-{n}.xml"
        xml.unlink(missing_ok=True)
        argv = argv_of(command)
        spec = ProcessSpec(argv=tuple(junit_argv(argv, xml) if ids else argv), cwd=worktree,
                           env=env, log_path=log_dir / f"check-{n}.log", timeout=timeout,
                           grace=2.0, tail_lines=40, redact=secrets)  # fmt: skip
        res = await run_process(spec)
        named = prove(ids, xml, worktree)
        passed = (res.state == "exited" and res.return_code == 0
                  and all(t.passed for t in named))  # fmt: skip
        results.append(CheckResult(criterion, command, passed, res.return_code, res.duration_s,
                                   res.tail, named))  # fmt: skip
    return results


def verdict(results: list[CheckResult]) -> str:
    """``passed``, ``failed``, or ``none`` when the task had nothing runnable."""
    if not results:
        return "none"
    return "passed" if all(r.passed for r in results) else "failed"
