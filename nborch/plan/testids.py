"""Test ids as pytest sees them: run named ids, read JUnit XML, prove that each named test passed.

Pure functions, shared by validation (while agents run) and the comparison (afterwards). A task
that names ``tests/test_a.py::test_x`` is proven only by a per-test result for that id: an exit
code of 0 also comes from a run that never collected the test (deleted, deselected, skipped).

>>> with_test_ids("python -m pytest -q tests", ["tests/test_a.py::test_x"])
'python -m pytest -q tests/test_a.py::test_x'
>>> named_results({"tests/test_a.py::test_x[1]": "passed"}, ["tests/test_a.py::test_x"])[0].passed
True
"""

from __future__ import annotations

import os
import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["NamedTest", "is_plain_pytest", "is_pytest", "named_results", "parse_junit", "pytest_ids_in",
           "pytest_paths", "with_test_ids"]  # fmt: skip

Outcome = Literal["passed", "failed", "error", "skipped"]
WORST = {"error": 3, "failed": 2, "skipped": 1, "passed": 0}
TEST_ID = re.compile(r"^[\w./-]+\.py(::[\w\[\].,=-]+)+$")
# pytest options whose value is the next word: that word is not a path to replace
_VALUED = {"-k", "-m", "-p", "-c", "-o", "-W", "-n", "-r", "--deselect", "--ignore",
           "--ignore-glob", "--rootdir", "--basetemp", "--confcutdir", "--junitxml",
           "--junit-xml", "--tb", "--maxfail", "--durations", "--log-level", "--cov",
           "--cov-report", "--import-mode", "--override-ini", "--capture", "--timeout",
           "--dist", "--numprocesses"}  # fmt: skip


def is_pytest(command: str) -> bool:
    """Whether a test command runs pytest (``pytest``, ``py.test``, ``python -m pytest`` …)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return any(Path(w).name in {"pytest", "py.test"} for w in words)


def is_plain_pytest(command: str) -> bool:
    """A pytest command nborch can add arguments to: no shell syntax around it."""
    return is_pytest(command) and not _SHELL.search(command)


def _pytest_args_start(argv: Sequence[str]) -> int | None:
    """Index of the first argument after the pytest program in ``argv``, or None."""
    for i, word in enumerate(argv):
        if Path(word).name in {"pytest", "py.test"}:
            return i + 1
        if word == "-mpytest":
            return i + 1
    return None


_FLAGS = {"-q", "-qq", "-v", "-vv", "-vvv", "-x", "-s", "-l", "-rA", "-ra", "--lf", "--ff",
          "--sw", "--nf", "--co", "--collect-only", "--strict-markers", "--strict-config",
          "--showlocals", "--exitfirst", "--quiet", "--verbose", "--last-failed",
          "--failed-first", "--no-header", "--no-summary", "--disable-warnings", "--pdb",
          "--doctest-modules", "--runxfail", "--new-first", "--stepwise"}  # fmt: skip
_SHELL = re.compile(r"&&|\|\||[;|<>`$]")


def _path_like(word: str) -> bool:
    return "/" in word or "::" in word or word.endswith(".py")


def _is_positional(word: str, previous: str) -> bool:
    """Whether ``word`` is a path argument of pytest rather than an option or its value. After an
    option nborch does not know (``--reruns 2``, ``--color no``) a word is taken as its value
    unless it looks like a path."""
    if word.startswith("-") or previous in _VALUED:
        return False
    unknown = (previous.startswith("-") and "=" not in previous and previous not in _FLAGS
               and not (previous.startswith("-") and not previous.startswith("--")
                        and len(previous) > 2))  # fmt: skip
    return _path_like(word) or not unknown


def with_test_ids(command: str, ids: Iterable[str]) -> str:
    """``command`` with its positional paths (``tests``, ``tests/test_a.py``) replaced by ``ids``.

    Appending ids to a command that already names a folder would run the whole folder, and pytest
    silently runs nothing for an id that no longer exists — so a deleted test would "pass". Options
    (``-q``, ``-k EXPR``, ``-p no:x``) stay. A command that is not pytest gets ``python -m pytest
    -q`` with the ids, since only pytest can run one test by id; so does a shell line
    (``cd sub && pytest``), which cannot be rewritten safely.

    >>> with_test_ids("pytest -q -k fast tests/unit tests/other", ["t.py::test_a", "t.py::test_b"])
    'pytest -q -k fast t.py::test_a t.py::test_b'
    """
    ids = list(ids)
    argv = shlex.split(command) if is_plain_pytest(command) else ["python", "-m", "pytest", "-q"]
    start = _pytest_args_start(argv)
    if start is None:  # ``python -m pytest`` written another way: keep it whole
        return shlex.join([*argv, *ids])
    kept: list[str] = []
    previous = ""
    for word in argv[start:]:
        if not _is_positional(word, previous):
            kept.append(word)
        previous = word
    return shlex.join([*argv[:start], *kept, *ids])


def pytest_paths(command: str) -> tuple[str, ...]:
    """The positional paths (and ids) a pytest command names: ``tests``, ``a.py::test_x``."""
    if not is_pytest(command):
        return ()
    argv = shlex.split(command)
    start = _pytest_args_start(argv) or len(argv)
    out, previous = [], ""
    for word in argv[start:]:
        if _is_positional(word, previous):
            out.append(word)
        previous = word
    return tuple(out)


def pytest_ids_in(command: str) -> tuple[str, ...]:
    """The test ids a pytest command names as positional arguments (``a.py::test_x``)."""
    return tuple(w for w in pytest_paths(command) if TEST_ID.match(w))


# ---- JUnit XML ---------------------------------------------------------------------------------


def _test_id(case: ET.Element, root: Path | None) -> str:
    """Rebuild pytest's node id ``path/to/file.py::Class::name`` from a ``<testcase>``."""
    name = case.get("name", "")
    parts = [p for p in case.get("classname", "").split(".") if p]
    file_attr = case.get("file")
    if file_attr:  # xunit1 writes the file; the classname then ends with the classes
        mod_len = len(Path(file_attr).with_suffix("").parts)
        return "::".join([file_attr.replace(os.sep, "/"), *parts[mod_len:], name])
    # xunit2: the longest prefix of the classname that is a file under root is the module
    split = None
    if root is not None:
        for i in range(len(parts), 0, -1):
            if (root.joinpath(*parts[:i]).with_suffix(".py")).is_file():
                split = i
                break
    if split is None:  # no tree to look in: classes are the trailing CamelCase parts
        split = len(parts)
        while split > 1 and parts[split - 1][:1].isupper():
            split -= 1
    if not parts:
        return name
    return "::".join(["/".join(parts[:split]) + ".py", *parts[split:], name])


def parse_junit(xml_text: str, root: str | Path | None = None) -> dict[str, Outcome]:
    """Per-test outcomes from pytest's JUnit XML.

    Parameters
    ----------
    xml_text: the XML document.
    root: pytest's rootdir, used to tell the module from classes in the ``classname``.

    Returns
    -------
    Test id → outcome; when one id appears twice (a teardown error) the worse outcome wins.
    An xfailed test is ``skipped``.
    """
    tree = ET.fromstring(xml_text)
    base = Path(root) if root is not None else None
    outcomes: dict[str, Outcome] = {}
    for case in tree.iter("testcase"):
        tags = {child.tag for child in case}
        outcome: Outcome = ("error" if "error" in tags else "failed" if "failure" in tags
                            else "skipped" if "skipped" in tags else "passed")  # fmt: skip
        tid = _test_id(case, base)
        if tid not in outcomes or WORST[outcome] > WORST[outcomes[tid]]:
            outcomes[tid] = outcome
    return outcomes


# ---- proving named tests -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NamedTest:
    """One test id a task names, and what per-test results say about it."""

    id: str
    outcome: str  # passed, failed, error, skipped, missing
    reason: str = ""  # why it did not pass, in words
    matched: tuple[str, ...] = ()  # the collected ids it stands for (parametrized cases, a class)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "outcome": self.outcome, "reason": self.reason,
                "matched": list(self.matched)}  # fmt: skip


def _matches(named: str, collected: str) -> bool:
    """Whether ``collected`` is ``named`` or one of its cases: ``test_x[1]``, ``Class::test_y``,
    or a test in the file ``named`` names."""
    if collected == named:
        return True
    if collected.startswith(named) and collected[len(named)] in "[:":
        return True
    if "::" in named:
        return False
    return collected.startswith((named + "::", named.rstrip("/") + "/"))  # a file, or a folder


def named_results(outcomes: Mapping[str, str], ids: Iterable[str]) -> list[NamedTest]:
    """Judge each named id by per-test ``outcomes``: every test it stands for ran and passed.

    Missing (never collected: deleted, renamed, deselected, ignored), skipped (also xfailed),
    failed or error all fail, each with its reason.
    """
    out = []
    for named in ids:
        hits = {tid: o for tid, o in outcomes.items() if _matches(named, tid)}
        if not hits:
            out.append(NamedTest(named, "missing", "not collected: the test is gone, renamed, "
                                                   "deselected or ignored"))  # fmt: skip
            continue
        worst = max(hits.values(), key=lambda o: WORST.get(o, 3))
        bad = sorted(t for t, o in hits.items() if o != "passed")
        reason = "" if worst == "passed" else {
            "skipped": "skipped (or xfailed): a named test must run and pass",
            "failed": "failed", "error": "error in setup or teardown",
        }.get(worst, worst)  # fmt: skip
        if bad and len(hits) > 1:
            reason += f" ({len(bad)} of {len(hits)} cases: {', '.join(bad[:3])})"
        out.append(NamedTest(named, worst, reason, tuple(sorted(hits))))
    return out
