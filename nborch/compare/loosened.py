"""Loosened test settings: conftest hooks and plugins, and pytest/ruff/flake8/coverage config.

Pure functions over a file's text before and after; see :mod:`.weakening` for the kinds.
"""

from __future__ import annotations

import ast
import configparser
import shlex
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .findings import Finding, dotted

__all__ = ["config_findings", "conftest_findings"]

_LOOSE_FLAGS = ("--deselect", "--ignore-glob", "--ignore", "-k", "-m")
# hooks that can rewrite outcomes, reports or what is collected
_HOOK_PREFIXES = ("pytest_runtest_", "pytest_report_", "pytest_collection", "pytest_collect_",
                  "pytest_pycollect_", "pytest_ignore_collect", "pytest_itemcollected",
                  "pytest_deselected", "pytest_sessionfinish", "pytest_terminal_summary",
                  "pytest_make_collect_report", "pytest_pyfunc_call")  # fmt: skip
_COLLECT_KEYS = ("python_files", "python_classes", "python_functions", "testpaths",
                 "norecursedirs")  # fmt: skip


# ---- conftest.py -------------------------------------------------------------------------------


def _conftest_names(text: str | None) -> tuple[set[str], set[str], set[str]]:
    """Hook functions, ``collect_ignore*`` entries and ``pytest_plugins`` of a conftest."""
    hooks: set[str] = set()
    ignores: set[str] = set()
    plugins: set[str] = set()
    if not text:
        return hooks, ignores, plugins
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name.startswith(_HOOK_PREFIXES):
                hooks.add(node.name)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {dotted(t) for t in targets}
            value = ast.unparse(node.value) if node.value is not None else ""
            if names & {"collect_ignore", "collect_ignore_glob"}:
                ignores.add(value)
            if "pytest_plugins" in names:
                plugins.add(value)
    return hooks, ignores, plugins


def conftest_findings(path: str, before: str | None, after: str | None) -> list[Finding]:
    try:
        old = _conftest_names(before)
    except (SyntaxError, ValueError):
        old = (set(), set(), set())
    try:
        new = _conftest_names(after)
    except (SyntaxError, ValueError) as exc:
        return [Finding("cannot-parse", path, f"after: {type(exc).__name__}: {exc}")]
    out = []
    if hooks := sorted(new[0] - old[0]):
        out.append(Finding("conftest-hook", path, f"{'added' if before is None else 'gained'} "
                                                  f"{', '.join(hooks)}"))  # fmt: skip
    if ignores := sorted(new[1] - old[1]):
        out.append(Finding("config-loosened", path, f"collect_ignore gained: {', '.join(ignores)}"))
    if plugins := sorted(new[2] - old[2]):
        out.append(Finding("pytest-plugin", path, f"pytest_plugins: {', '.join(plugins)}"))
    return out


# ---- configuration files ---------------------------------------------------------------------


@dataclass(slots=True)
class _Config:
    addopts: set[str]
    errors: set[str]
    ignore: set[str]
    select: set[str]
    fail_under: float | None
    collect: dict[str, str] = field(default_factory=dict)
    plugins: set[str] = field(default_factory=set)


def _words(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [w.strip() for w in str(value or "").replace(",", "\n").splitlines() if w.strip()]


def _loose_opts(addopts: object) -> set[str]:
    text = " ".join(addopts) if isinstance(addopts, list) else str(addopts or "")
    tokens, found = shlex.split(text), set()
    for i, tok in enumerate(tokens):
        for flag in _LOOSE_FLAGS:
            if tok == flag and i + 1 < len(tokens):
                found.add(f"{flag} {tokens[i + 1]}")
            elif tok.startswith(flag + "=") or (flag == "-k" and tok.startswith("-k") and tok != "-k"):
                found.add(f"{flag} {tok[len(flag):].lstrip('=')}")
            else:
                continue
            break
    return found


def _plugin_opts(addopts: object) -> set[str]:
    text = " ".join(addopts) if isinstance(addopts, list) else str(addopts or "")
    tokens = shlex.split(text)
    found = {tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t == "-p"}
    found |= {t[2:] for t in tokens if t.startswith("-p") and len(t) > 2 and not t.startswith("--")}
    return {p for p in found if not p.startswith("no:")}  # disabling a plugin weakens nothing


def _config(name: str, text: str) -> _Config:
    cfg = _Config(set(), set(), set(), set(), None)
    if name.endswith(".toml"):
        data = tomllib.loads(text)
        tool = data.get("tool", {}) if name == "pyproject.toml" else {"ruff": data}
        pytest_opts = tool.get("pytest", {}).get("ini_options", {})
        if name in ("pytest.toml", ".pytest.toml"):  # pytest 9's own file: a [pytest] table
            tool, pytest_opts = {}, data.get("pytest", {})
        points = data.get("project", {}).get("entry-points", {}).get("pytest11", {})
        cfg.plugins |= {f"pytest11 entry point {k}" for k in points}
        cov = tool.get("coverage", {}).get("report", {})
        lint_sections = [tool.get("ruff", {}), tool.get("ruff", {}).get("lint", {})]
    else:
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # FILTERWARNINGS is not filterwarnings to pytest
        parser.read_string(text)

        def get(section: str) -> dict[str, str]:
            return dict(parser[section]) if parser.has_section(section) else {}

        pytest_opts = get("pytest") or get("tool:pytest")
        cov = get("report") if name == ".coveragerc" else get("coverage:report")
        lint_sections = [get("flake8")]
    cfg.addopts = _loose_opts(pytest_opts.get("addopts"))
    cfg.plugins |= {f"-p {p}" for p in _plugin_opts(pytest_opts.get("addopts"))}
    cfg.collect = {k: " ".join(_words(pytest_opts[k])) for k in _COLLECT_KEYS if k in pytest_opts}
    cfg.errors = {w for w in _words(pytest_opts.get("filterwarnings")) if w.startswith("error")}
    for sec in lint_sections:
        for key in ("ignore", "extend-ignore"):
            cfg.ignore |= set(_words(sec.get(key)))
        for key in ("select", "extend-select"):
            cfg.select |= set(_words(sec.get(key)))
        per_file = sec.get("per-file-ignores")
        if isinstance(per_file, dict):
            for pattern, codes in per_file.items():
                cfg.ignore |= {f"{pattern}:{c}" for c in _words(codes)}
    if cov.get("fail_under") is not None:
        cfg.fail_under = float(cov["fail_under"])
    return cfg


def config_findings(path: str, before: str | None, after: str | None) -> list[Finding]:
    name = PurePosixPath(path).name
    try:
        old = _config(name, before or "")
    except (ValueError, configparser.Error, AttributeError):
        return []  # a broken config that the attempt replaced is not a weakening
    try:
        new = _config(name, after or "")
    except (ValueError, configparser.Error, AttributeError) as exc:
        return [Finding("cannot-parse", path, f"after: {type(exc).__name__}: {exc}")]
    out = []

    def flag(what: str, items: Iterable[str]) -> None:
        if items := sorted(items):
            out.append(Finding("config-loosened", path, f"{what}: {', '.join(items)}"))

    flag("pytest addopts gained", new.addopts - old.addopts)
    for key in sorted(set(old.collect) | set(new.collect)):
        if old.collect.get(key) != new.collect.get(key):
            out.append(Finding("config-loosened", path, f"pytest {key} changed: "
                               f"{old.collect.get(key) or '(default)'} → "
                               f"{new.collect.get(key) or '(default)'}"))  # fmt: skip
    if plugins := sorted(new.plugins - old.plugins):
        out.append(Finding("pytest-plugin", path, ", ".join(plugins)))
    flag("filterwarnings lost", old.errors - new.errors)
    flag("lint ignore gained", new.ignore - old.ignore)
    flag("lint select lost", old.select - new.select)
    if old.fail_under is not None and (new.fail_under or 0.0) < old.fail_under:
        out.append(Finding("config-loosened", path,
                           f"coverage fail_under {old.fail_under:g} → {new.fail_under}"))  # fmt: skip
    return out
