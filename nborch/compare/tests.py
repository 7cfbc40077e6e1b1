"""Run a project's test command in a worktree and compare per-test results with the base commit.

The edge (:func:`run_tests`) runs the command with :func:`nborch.proc.command.run_command`, which
kills it and every descendant when the timeout passes or when it ends, so a hanging test or a
server a test forgot leaves nothing behind. Everything else is pure:
:func:`parse_junit` reads pytest's JUnit XML, :func:`classify_tests` compares two runs, and
:class:`BaseCache` stores the base commit's run as JSON so it is computed once per commit.

Runners other than pytest are judged by exit code only: their run holds one synthetic outcome
keyed ``exit-code::<command>``, so :func:`classify_tests` treats both kinds alike.

Every run sets ``PYTHONDONTWRITEBYTECODE=1`` and disables pytest's cache, so a test run leaves no
``__pycache__`` or ``.pytest_cache`` in an attempt's worktree for a later WIP commit to sweep up.
A pytest command can run under coverage.py (``coverage_file=``), measuring only the files named in
``coverage_include`` so the overhead stays low; :mod:`nborch.compare.coverage_lines` reads the data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from ..execute.validate import check_env
from ..plan.testids import Outcome, is_pytest, parse_junit
from ..proc.command import run_command
from ..proc.env import Redactor, secrets_of
from ..proc.lines import tail_of

__all__ = [
    "BaseCache",
    "TestDelta",
    "TestRun",
    "classify_tests",
    "coverage_core",
    "is_pytest",
    "parse_junit",
    "run_tests",
]

_TAIL_LINES = 40
_PYTHON_NAME = re.compile(r"python[0-9.]*(\.exe)?")
# Run by the tests' Python before wrapping: fails without coverage.py 7+, prints "sysmon" when
# coverage.py can measure with sys.monitoring (Python 3.12+, coverage.py 7.4.2+).
_PROBE = ("import sys, coverage; v = coverage.version_info; "
          "sys.exit('coverage ' + coverage.__version__) if v < (7,) else None; "
          "print('sysmon' if sys.version_info >= (3, 12) and v >= (7, 4, 2) else 'ctrace')")  # fmt: skip


@dataclass(frozen=True, slots=True)
class TestRun:
    """One run of a test command: how it ended and, per test id, what happened."""

    __test__ = False  # a library record, not a pytest test class

    command: str
    return_code: int | None
    duration_s: float
    timed_out: bool
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)
    runner: Literal["pytest", "exit-code"] = "pytest"
    tail: str = ""
    notes: tuple[str, ...] = ()  # what the caller should know, e.g. why coverage was not measured
    coverage_file: str | None = None  # the coverage data file, when the run was measured

    @property
    def ok(self) -> bool:
        """Whether the command finished in time with exit code 0."""
        return not self.timed_out and self.return_code == 0

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the form :class:`BaseCache` stores)."""
        data = asdict(self)
        data["outcomes"] = dict(self.outcomes)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TestRun:
        """Rebuild a run from :meth:`to_dict` output (older dicts without new fields work too)."""
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if "notes" in fields:  # JSON gives a list; the record holds a tuple
            fields["notes"] = tuple(fields["notes"])  # type: ignore[arg-type]
        return cls(**fields)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        state = "timed out" if self.timed_out else f"exit {self.return_code}"
        counts = {o: sum(1 for v in self.outcomes.values() if v == o)
                  for o in ("passed", "failed", "error", "skipped")}  # fmt: skip
        shown = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        return f"<TestRun {self.runner}: {state}, {shown or 'no tests'}, {self.duration_s:.1f}s>"


@dataclass(frozen=True, slots=True)
class TestDelta:
    """How an attempt's test results differ from the base commit's, as sorted test ids."""

    __test__ = False  # a library record, not a pytest test class

    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    broken: tuple[str, ...] = ()
    new_passing: tuple[str, ...] = ()
    new_failing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        """A JSON-ready dict: field name → list of test ids."""
        return {k: list(getattr(self, k)) for k in self.__dataclass_fields__}

    def __repr__(self) -> str:
        return (f"<TestDelta: {len(self.fail_to_pass)} fixed, {len(self.pass_to_pass)} kept, "
                f"{len(self.broken)} broken, {len(self.new_passing)} new passing, "
                f"{len(self.new_failing)} new failing>")  # fmt: skip


def classify_tests(base: TestRun, attempt: TestRun) -> TestDelta:
    """Compare an attempt's run with the base run.

    ``broken`` holds tests that passed on base and now fail, error, are skipped or are missing
    (a newly skipped test no longer proves anything). A test skipped on base counts as "not on
    base" for ``new_passing`` / ``new_failing``.
    """
    bad = {"failed", "error"}
    before, after = base.outcomes, attempt.outcomes
    f2p, p2p, broken, new_pass, new_fail = [], [], [], [], []
    for tid in sorted(set(before) | set(after)):
        b, a = before.get(tid), after.get(tid)
        if b == "passed":
            (p2p if a == "passed" else broken).append(tid)
        elif b in bad:
            if a == "passed":
                f2p.append(tid)
        elif a == "passed":
            new_pass.append(tid)
        elif a in bad:
            new_fail.append(tid)
    return TestDelta(tuple(f2p), tuple(p2p), tuple(broken), tuple(new_pass), tuple(new_fail))


def _redact_file(path: Path, redactor: Redactor) -> None:
    """Mask every secret in a log file, line by line (a test may print the environment — its own,
    or nborch's through ``/proc/<ppid>/environ``)."""
    if not redactor or not path.is_file():
        return
    tmp = path.with_name(path.name + ".redacting")
    with path.open(encoding="utf-8", errors="replace", newline="") as src, \
            tmp.open("w", encoding="utf-8", newline="") as dst:  # fmt: skip
        for line in src:
            dst.write(redactor(line))
    tmp.replace(path)


def _tail(path: Path) -> str:
    try:
        return tail_of(path, _TAIL_LINES)
    except OSError:
        return ""


def _which(program: str, cwd: Path, env: Mapping[str, str]) -> str | None:
    """``program`` as the child process would find it: a path (relative to ``cwd``) or on PATH."""
    if os.sep in program or (os.altsep and os.altsep in program):
        path = cwd / program
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program, path=env.get("PATH", os.defpath))


def _interpreter_of(script: str, cwd: Path, env: Mapping[str, str]) -> str | None:
    """The Python a ``pytest`` script runs with: its ``#!`` line, else ``python`` on PATH."""
    try:
        with open(script, "rb") as fh:
            first = fh.readline(512).decode(errors="replace")
    except OSError:
        first = ""
    words = first[2:].split() if first.startswith("#!") else []  # the kernel splits on blanks
    if words and Path(words[0]).name == "env":  # ``#!/usr/bin/env [-S] python3``
        words = [w for w in words[1:] if not w.startswith("-")]
    if words and _PYTHON_NAME.fullmatch(Path(words[0]).name):
        found = _which(words[0], cwd, env)
        if found:
            return found
    return _which("python", cwd, env)


def _coverage_argv(argv: list[str], cwd: Path, env: dict[str, str], data_file: Path,
                   include: Sequence[str] | None, rcfile: Path) -> tuple[list[str] | None, str]:  # fmt: skip
    """``argv`` (a pytest command) rewritten to run under ``coverage run``, or None and why not.

    ``python [opts] -m pytest ARGS`` keeps its interpreter and options; ``pytest ARGS`` and
    ``py.test ARGS`` become ``<python> -m coverage run … -m pytest ARGS`` with the Python the script
    would have used. Other forms (``uv run pytest``, ``tox``) cannot be rewritten safely. Sets
    ``COVERAGE_CORE=sysmon`` in ``env`` where that core is available (and not chosen already).
    """
    head = Path(argv[0]).name
    cannot = (f"coverage not measured: cannot run {shlex.join(argv)!r} under coverage — write "
              "the test command as 'python -m pytest …' or 'pytest …'")  # fmt: skip
    if head in {"pytest", "py.test"}:
        script = _which(argv[0], cwd, env)
        python = _interpreter_of(script, cwd, env) if script else None
        opts, rest = [], argv[1:]
    elif _PYTHON_NAME.fullmatch(head):
        i = 1  # skip the interpreter's own options up to ``-m``
        while (i < len(argv) and argv[i].startswith("-") and argv[i] != "-"
               and not argv[i].startswith(("-m", "-c"))):  # fmt: skip
            i += 2 if argv[i] in ("-W", "-X") else 1
        if argv[i : i + 2] == ["-m", "pytest"]:
            after = i + 2
        elif i < len(argv) and argv[i] == "-mpytest":
            after = i + 1
        else:
            return None, cannot
        python, opts, rest = _which(argv[0], cwd, env), argv[1:i], argv[after:]
    else:
        return None, cannot
    if python is None:
        return None, f"coverage not measured: no Python interpreter found for {argv[0]!r}"
    try:
        check = run_command([python, "-c", _PROBE], cwd=cwd, env=env, timeout=60)
    except OSError as err:
        return None, f"coverage not measured: could not start {python}: {err}"
    if check.timed_out:
        return None, f"coverage not measured: {python} did not answer within 60 s"
    if check.return_code != 0:
        said = (check.stderr.strip().splitlines() or ["exit status " + str(check.return_code)])[-1]
        return None, (f"coverage not measured: {python} cannot run coverage.py 7+ ({said}) — "
                      "install coverage in the environment the tests run in")  # fmt: skip
    if check.stdout.strip().endswith("sysmon") and "COVERAGE_CORE" not in env:
        # Python 3.12+: sys.monitoring stops reporting code outside --include, so the files not
        # measured run at full speed; the default settrace core slows every line (~2x).
        env["COVERAGE_CORE"] = "sysmon"
    wrapped = [python, *opts, "-m", "coverage", "run", f"--rcfile={rcfile}",
               f"--data-file={data_file}"]  # fmt: skip
    if include:
        wrapped.append("--include=" + ",".join(include))
    return [*wrapped, "-m", "pytest", *rest], ""


def coverage_core(command: str, cwd: str | Path,
                  env: Mapping[str, str] | None = None) -> tuple[str | None, str]:  # fmt: skip
    """How coverage.py would measure ``command`` here: ``"sysmon"`` (Python 3.12+, cheap),
    ``"ctrace"`` (settrace: every line of the suite slows, ~2.8x), or None and why not at all."""
    argv = shlex.split(command)
    if not argv or not is_pytest(command):
        return None, f"coverage not measured: {command!r} is not a pytest command"
    probe_env = dict(check_env() if env is None else env)
    with tempfile.TemporaryDirectory(prefix="nborch-cov-") as tmp:
        wrapped, why = _coverage_argv(argv, Path(cwd), probe_env, Path(tmp) / "data",
                                      None, Path(tmp) / "rc")  # fmt: skip
    if wrapped is None:
        return None, why
    return ("sysmon" if probe_env.get("COVERAGE_CORE") == "sysmon" else "ctrace"), ""


def run_tests(worktree: str | Path, command: str = "python -m pytest -q", timeout: float = 600,
              log_path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
              coverage_include: Sequence[str] | None = None,
              coverage_file: str | Path | None = None) -> TestRun:  # fmt: skip
    """Run ``command`` in ``worktree`` and return its per-test results.

    Parameters
    ----------
    worktree: the directory to run in.
    command: the test command, split with :mod:`shlex` (no shell). For pytest,
        ``--junitxml=<tmp> -p no:cacheprovider`` is appended and the XML parsed.
    timeout: seconds before the whole process group is killed (``timed_out=True``).
    log_path: where stdout and stderr go; a temporary file when ``None``.
    env: the command's environment; by default the caller's with the folder of the Python running
        nborch first on ``PATH`` (:func:`~nborch.execute.validate.check_env`). Either way
        ``PYTHONDONTWRITEBYTECODE=1`` is set, so no ``__pycache__`` appears in the worktree.
    coverage_include: the files to measure (paths relative to ``worktree``, as coverage.py's
        ``--include``); keeping it to the changed files keeps coverage's overhead low. ``None`` or
        empty: whatever coverage.py measures by default. Needs ``coverage_file``.
    coverage_file: where coverage.py writes its data (an old file there is removed first). When
        given and ``command`` is ``python -m pytest …``, ``pytest …`` or ``py.test …``, the tests
        run under ``coverage run`` with an empty configuration (the project's own coverage
        settings are not used, so results compare across attempts). When the command cannot be
        run under coverage, it runs plainly and :attr:`TestRun.notes` says why.

    Returns
    -------
    A :class:`TestRun`; a failing or hanging command is a result, not an exception.
    ``coverage_file`` on it is set when the run was measured.

    Raises
    ------
    ValueError: ``coverage_include`` without ``coverage_file``.
    """
    if coverage_include and coverage_file is None:
        raise ValueError("coverage_include needs coverage_file: say where the coverage data goes")
    cwd = Path(worktree)
    pytest_run = is_pytest(command)
    full_env = dict(check_env() if env is None else env)
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nborch-tests-") as tmp:
        xml_path = Path(tmp) / "junit.xml"
        log = Path(log_path) if log_path is not None else Path(tmp) / "output.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = shlex.split(command)
        measured: Path | None = None
        if coverage_file is not None and not pytest_run:
            notes.append("coverage not measured: the test command does not run pytest")
        elif coverage_file is not None:
            data_file = Path(coverage_file).absolute()
            data_file.parent.mkdir(parents=True, exist_ok=True)
            data_file.unlink(missing_ok=True)  # a killed run must not leave old data looking new
            rcfile = Path(tmp) / "coveragerc"
            rcfile.write_text("")
            wrapped, why = _coverage_argv(argv, cwd, full_env, data_file, coverage_include, rcfile)
            if wrapped is None:
                notes.append(why)
            else:
                argv, measured = wrapped, data_file
        if pytest_run:
            argv += [f"--junitxml={xml_path}", "-p", "no:cacheprovider"]
        ran = run_command(argv, cwd=cwd, env=full_env, timeout=timeout, output=log)
        code, timed_out, duration = ran.return_code, ran.timed_out, ran.duration_s
        if ran.strays:
            notes.append(f"{ran.strays} process(es) the tests started were still running when "
                         "they ended, and were killed")  # fmt: skip
        _redact_file(log, Redactor(secrets_of({**os.environ, **full_env})))
        outcomes: dict[str, Outcome] = {}
        if pytest_run and xml_path.is_file():
            with contextlib.suppress(ET.ParseError):
                outcomes = parse_junit(xml_path.read_text(errors="replace"), cwd)
        elif not pytest_run and not timed_out:
            outcomes = {f"exit-code::{command}": "passed" if code == 0 else "failed"}
        elif not pytest_run:
            outcomes = {f"exit-code::{command}": "error"}
        if measured is not None and not measured.is_file():
            notes.append(f"coverage data was not written to {measured} (the run was killed "
                         "or coverage failed; see the log)")  # fmt: skip
            measured = None
        return TestRun(command=command, return_code=code, duration_s=round(duration, 3),
                       timed_out=timed_out, outcomes=outcomes,
                       runner="pytest" if pytest_run else "exit-code", tail=_tail(log),
                       notes=tuple(notes),
                       coverage_file=str(measured) if measured is not None else None)  # fmt: skip


class BaseCache:
    """Test runs of base commits stored as JSON files, keyed by commit and command."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.cache_dir = Path(cache_dir)

    def _path(self, commit: str, command: str) -> Path:
        digest = hashlib.sha256(command.encode()).hexdigest()[:16]
        return self.cache_dir / f"{commit}-{digest}.json"

    def get(self, commit: str, command: str) -> TestRun | None:
        """The cached run, or ``None`` when absent or unreadable."""
        try:
            return TestRun.from_dict(json.loads(self._path(commit, command).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def put(self, commit: str, command: str, run: TestRun) -> Path:
        """Store ``run`` for this commit and command; returns the file written."""
        path = self._path(commit, command)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(run.to_dict(), indent=1, sort_keys=True))
        tmp.replace(path)  # atomic: a reader never sees half a file
        return path

    def __repr__(self) -> str:
        return f"<BaseCache {self.cache_dir}>"
