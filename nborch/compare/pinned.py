"""Pinned tests: the attempt's code judged by the tests, conftests and test settings of its start.

An attempt could "pass" by changing the tests instead of the code: a ``conftest.py`` hook that
reports every test passed, an edited expected value, a deselect in ``pytest.ini``. So the tests
that judge an attempt are not its own. :func:`pin_plan` finds every file of that kind the attempt
touched — test files (``test_*.py``, ``*_test.py``, anything under a ``tests``/``test`` folder,
modules the start commit's run collected tests from), every ``conftest.py``, ``pytest.ini``, the
pytest sections of ``pyproject.toml``/``setup.cfg``/``tox.ini``, and plugin modules the start's
settings load — and :func:`apply_pins` puts them back as they were at the start commit in a
checkout of the attempt (files it added are removed; its other changes, pyproject dependencies
included, stay). When the attempt touched none of them, its own tree *is* the pinned tree and
nothing runs twice.

>>> plan = PinPlan(restore=("tests/test_a.py",), remove=("conftest.py",))
>>> plan.described
('tests/test_a.py changed', 'conftest.py added')
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..gitcmd import Git
from .diffs import DiffStat, source_at
from .findings import is_conftest, is_test_file

__all__ = ["PinPlan", "apply_pins", "describe_pins", "pin_plan", "pinned_section", "shadows",
           "test_modules"]

TEST_DIRS = {"tests", "test"}
PYTEST_FILES = {"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml"}  # pytest-only settings
# what the test runs import from the environment: a file of these names in the checkout wins
SHADOWED = {"pytest", "_pytest", "py", "pluggy", "iniconfig", "coverage", "xdist"}
# file → the section header(s) that hold its pytest settings (the rest of the file is the attempt's)
SECTIONED = {"pyproject.toml": ("tool.pytest",), "setup.cfg": ("tool:pytest",),
             "tox.ini": ("pytest",)}  # fmt: skip
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]\s]+)\s*\]\]?\s*(?:[#;].*)?$")


@dataclass(frozen=True, slots=True)
class PinPlan:
    """What to put back in a checkout of the attempt so that the start's tests judge it.

    ``restore``: paths to check out from the start commit (changed or deleted by the attempt).
    ``remove``: test files, conftests and test settings the attempt added.
    ``sections``: path → the attempt's text with the start's pytest section put back.
    ``notes``: what could not be pinned exactly, in words.
    """

    restore: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    sections: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    verbs: tuple[tuple[str, str], ...] = ()  # path → "changed"/"deleted"/"renamed" for the words

    @property
    def empty(self) -> bool:
        """Whether the attempt touched no test, conftest or test setting: its tree is pinned."""
        return not (self.restore or self.remove or self.sections)

    @property
    def only_added_tests(self) -> tuple[str, ...]:
        """The new test files, when adding them is all the attempt did to its tests (no conftest,
        no setting, no existing file touched); else ``()``. Then the pinned run is its own suite
        with those files ignored — no separate checkout needed."""
        if self.restore or self.sections or not self.remove:
            return ()
        if any(is_conftest(p) or not is_test_file(p) for p in self.remove):
            return ()
        return self.remove

    @property
    def described(self) -> tuple[str, ...]:
        """Each pinned change in words: ``conftest.py added``, ``pytest.ini changed`` …"""
        verbs = dict(self.verbs)
        out = [f"{p} {verbs.get(p, 'changed')}" for p in self.restore]
        out += [f"{p} {verbs.get(p, 'added')}" for p in self.remove]
        out += [f"{p} [{SECTIONED[PurePosixPath(p).name][0]}…] changed" for p, _ in self.sections]
        return tuple(out)

    def to_dict(self) -> dict[str, object]:
        return {"restore": list(self.restore), "remove": list(self.remove),
                "sections": [p for p, _ in self.sections], "notes": list(self.notes),
                "described": list(self.described)}  # fmt: skip


def test_modules(outcome_ids: Iterable[str]) -> set[str]:
    """The files pytest collected tests from, read off test ids (``path.py::name``) — not the
    modules ``--doctest-modules`` collects docstrings from (``calc.py::calc.add``): those are the
    code under test."""
    out = set()
    for tid in outcome_ids:
        path, sep, rest = tid.partition("::")
        if sep and path.endswith(".py") and "." not in rest.split("[", 1)[0]:
            out.add(path)
    return out


test_modules.__test__ = False  # type: ignore[attr-defined]  # a library function, not a test


def shadows(path: str) -> str | None:
    """The module a top-level file or package would shadow when the tests run from the checkout
    (``python -m pytest`` puts it first on ``sys.path``): a standard-library module or pytest's
    own machinery — a root ``pytest.py`` could report anything it likes. None when it shadows
    nothing of that kind."""
    parts = PurePosixPath(path).parts
    if not parts or parts[0].startswith("."):
        return None
    top = parts[0]
    name = top[:-3] if len(parts) == 1 and top.endswith(".py") else top if len(parts) > 1 else ""
    if name in SHADOWED or name in sys.stdlib_module_names:
        return name
    return None


def _is_pinned_file(path: str, collected: set[str], plugins: set[str]) -> bool:
    p = PurePosixPath(path)
    return (is_test_file(path) or is_conftest(path) or p.name in PYTEST_FILES
            or bool(TEST_DIRS & set(p.parts[:-1])) or path in collected
            or path in plugins or shadows(path) is not None)  # fmt: skip


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """A TOML or INI text cut at its section headers: ``(header name, lines)``; the lines before
    the first header have the name ``""``."""
    out: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines(keepends=True):
        m = _HEADER.match(line)
        if m:
            out.append((m.group(1), []))
        out[-1][1].append(line)
    return out


def _ours(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _ini() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # pytest keys are case-sensitive
    return parser


def _pytest_settings(filename: str, text: str) -> object:
    """The pytest settings a file holds, parsed (to check the surgery and to compare)."""
    if filename.endswith(".toml"):
        return tomllib.loads(text).get("tool", {}).get("pytest")
    parser = _ini()
    parser.read_string(text)
    section = SECTIONED[filename][0]
    return dict(parser[section]) if parser.has_section(section) else None


def _without_pytest(filename: str, text: str) -> object:
    if filename.endswith(".toml"):
        data = tomllib.loads(text)
        data.get("tool", {}).pop("pytest", None)
        return data
    parser = _ini()
    parser.read_string(text)
    parser.remove_section(SECTIONED[filename][0])
    return {s: dict(parser[s]) for s in parser.sections()}


def pinned_section(filename: str, start: str, attempt: str) -> str | None:
    """``attempt``'s text with its pytest section(s) replaced by ``start``'s; ``None`` when the
    file's layout does not allow that exactly (then the caller restores the whole file).

    >>> pinned_section("tox.ini", "[pytest]\\naddopts = -q\\n",
    ...                "[tox]\\nenv = a\\n[pytest]\\naddopts = -k x\\n")
    '[tox]\\nenv = a\\n[pytest]\\naddopts = -q\\n'
    """
    prefixes = SECTIONED[filename]
    kept = [b for b in _blocks(attempt) if not _ours(b[0], prefixes)]
    theirs = [b for b in _blocks(start) if _ours(b[0], prefixes)]
    if kept and kept[-1][1] and not kept[-1][1][-1].endswith("\n"):
        kept[-1][1][-1] += "\n"
    text = "".join("".join(lines) for _, lines in kept + theirs)
    try:
        same = (_pytest_settings(filename, text) == _pytest_settings(filename, start)
                and _without_pytest(filename, text) == _without_pytest(filename, attempt))  # fmt: skip
    except (ValueError, configparser.Error):
        return None
    return text if same else None


def _settings_differ(filename: str, start: str | None, attempt: str | None) -> bool:
    try:
        return _pytest_settings(filename, start or "") != _pytest_settings(filename, attempt or "")
    except (ValueError, configparser.Error):
        return True  # unreadable now: put the start's back rather than trust it


def _plugin_files(git: Git, start: str) -> set[str]:
    """Files of the plugin modules the start commit's conftests and settings load, so that an
    attempt cannot change a plugin that a pinned conftest imports by name."""
    names: set[str] = set()
    listing = git.run("ls-tree", "-r", "--name-only", start, check=False).stdout.splitlines()
    for path in listing:
        if is_conftest(path):
            try:
                tree = ast.parse(source_at(git, start, path) or "")
            except (SyntaxError, ValueError):
                continue
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(
                        getattr(t, "id", "") == "pytest_plugins" for t in node.targets):  # fmt: skip
                    with_strings = [n.value for n in ast.walk(node.value)
                                    if isinstance(n, ast.Constant) and isinstance(n.value, str)]  # fmt: skip
                    names.update(with_strings)
        elif PurePosixPath(path).name in {"pytest.ini", *SECTIONED}:
            text = source_at(git, start, path) or ""
            words = re.findall(r"-p\s*([\w.]+)", text)
            names.update(w for w in words if not w.startswith("no"))
    files = set(listing)
    out = set()
    for name in names:
        stem = name.replace(".", "/")
        for candidate in (f"{stem}.py", f"{stem}/__init__.py", f"src/{stem}.py",
                          f"src/{stem}/__init__.py"):  # fmt: skip
            if candidate in files:
                out.add(candidate)
    return out


def pin_plan(git: Git, diff: DiffStat, collected: Iterable[str] = ()) -> PinPlan:
    """What the attempt ``diff.base``..``diff.head`` changed among the files that judge it.

    ``collected``: files the start commit's test run collected tests from (``python_files`` may
    name modules no naming rule would find).
    """
    start = diff.base
    collected = set(collected)
    plugins = _plugin_files(git, start) if any(not f.binary for f in diff.files) else set()
    restore: list[str] = []
    remove: list[str] = []
    sections: list[tuple[str, str]] = []
    notes: list[str] = []
    verbs: list[tuple[str, str]] = []
    for f in diff.files:
        old = f.old_path or f.path
        name = PurePosixPath(f.path).name
        if f.status == "renamed":
            # both ends count: the old path comes back, a pinned new path goes
            if _is_pinned_file(old, collected, plugins) or PurePosixPath(old).name in SECTIONED:
                restore.append(old)
                verbs.append((old, f"renamed to {f.path}"))
            if _is_pinned_file(f.path, collected, plugins) or name in SECTIONED:
                remove.append(f.path)
                verbs.append((f.path, f"added (renamed from {old})"))
            continue
        if name in SECTIONED:
            before = source_at(git, start, f.path) if f.status != "added" else None
            after = source_at(git, diff.head, f.path) if f.status != "deleted" else None
            if not _settings_differ(name, before, after):
                continue
            if before is None:  # the file is new: only its pytest section can weigh
                text = pinned_section(name, "", after or "")
                if text is None:
                    remove.append(f.path)
                    notes.append(f"{f.path} removed whole (its pytest settings could not be "
                                 "separated from the rest)")  # fmt: skip
                else:
                    sections.append((f.path, text))
                continue
            text = pinned_section(name, before, after or "") if after is not None else None
            if text is None:
                restore.append(f.path)
                verbs.append((f.path, "deleted" if after is None else "changed"))
                if after is not None:
                    notes.append(f"{f.path} restored whole: its pytest settings could not be "
                                 "separated from the attempt's other changes there")  # fmt: skip
            else:
                sections.append((f.path, text))
            continue
        if not _is_pinned_file(f.path, collected, plugins):
            continue
        if f.status == "added":
            remove.append(f.path)
        else:
            restore.append(f.path)
            verbs.append((f.path, "deleted" if f.status == "deleted" else "changed"))
    return PinPlan(tuple(restore), tuple(remove), tuple(sections), tuple(notes), tuple(verbs))


def apply_pins(where: Path, git: Git, start: str, plan: PinPlan) -> None:
    """Put the start's tests back in the checkout ``where`` (of the attempt's commit)."""
    wt = Git(where)
    if plan.restore:
        # through git, so binary test data and file modes come back exactly
        for chunk in _chunks(list(plan.restore), 200):
            wt.run("checkout", start, "--", *chunk)
    for path in plan.remove:
        target = where / path
        if target.is_file() or target.is_symlink():
            target.unlink()
    for path, text in plan.sections:
        (where / path).write_text(text)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def describe_pins(plan: PinPlan) -> str:
    """The pinned changes in one line, for a reason: ``conftest.py added, pytest.ini changed``."""
    shown = list(plan.described)
    return ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")

