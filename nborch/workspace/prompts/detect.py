"""Read a repository's own files for the facts a prompt passes on: one detector per ecosystem.

Nothing here runs a process or opens a connection; files are read up to a size limit and only
when they stay inside the repository (a link out of it is ignored). A file that cannot be parsed
is noted in ``extra`` rather than raised: a prompt without one fact is still a prompt.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DETECTORS", "LISTS", "SCALARS", "Found", "readme_summary"]

README_LIMIT = 600  # characters of README kept for the prompt
_READ_LIMIT = 512_000  # bytes read from any one file
SCALARS = ("name", "language", "test_command", "lint_command", "readme_summary")
LISTS = ("coding_standards", "test_requirements", "extra")
_NPM_NO_TEST = "no test specified"


class Found:
    """What detection has found so far; the first value for a field wins unless forced."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.where: dict[str, str] = {}
        self.lists: dict[str, list[str]] = {name: [] for name in LISTS}
        self.first: dict[str, list[str]] = {name: [] for name in LISTS}

    def set(self, field: str, value: object, source: str, force: bool = False) -> None:
        """Record a single value (empty values are ignored); a second language is noted."""
        text = str(value).strip() if value is not None else ""
        if text and (force or field not in self.values):
            self.values[field] = text
            self.where[field] = source
        elif text and field == "language" and text != self.values[field]:
            self.add("extra", f"also has {text} code", source)

    def add(self, field: str, text: str, source: str, front: bool = False) -> None:
        """Record a list item with its source; ``front`` items (plan, user) are listed first."""
        item = f"{text} ({source})"
        target = self.first[field] if front else self.lists[field]
        if item not in target:
            target.append(item)

    def fields(self) -> dict[str, Any]:
        """The keyword arguments of a ``ProjectContext``: front items first, no duplicates."""
        lists = {n: tuple(dict.fromkeys([*self.first[n][::-1], *self.lists[n]])) for n in LISTS}
        return {**self.values, **lists, "sources": tuple(sorted(self.where.items()))}


# ---- reading files ----------------------------------------------------------------------------


def _read(root: Path, name: str) -> str | None:
    """The text of ``root/name`` if it is a regular file inside ``root``; None otherwise."""
    path = root / name
    try:
        if not path.is_file() or not path.resolve().is_relative_to(root.resolve()):
            return None
        with path.open("rb") as fh:
            data = fh.read(_READ_LIMIT)
    except OSError:
        return None
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _toml(root: Path, name: str, found: Found) -> dict[str, Any] | None:
    text = _read(root, name)
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found.add("extra", f"{name} could not be read as TOML: {err}", name)
        return None


def _ini(root: Path, name: str, found: Found) -> configparser.ConfigParser | None:
    text = _read(root, name)
    if text is None:
        return None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=name)
    except configparser.Error as err:
        found.add("extra", f"{name} could not be read: {err.message}", name)
        return None
    return parser


def _dig(data: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _words(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.split())
    return ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


# ---- one detector per kind of project --------------------------------------------------------


def _python(root: Path, found: Found) -> None:
    data = _toml(root, "pyproject.toml", found) or {}
    py = "pyproject.toml"
    if data:
        found.set("language", "python", py)
    found.set("name", _dig(data, "project", "name"), f"{py} [project]")
    found.set("name", _dig(data, "tool", "poetry", "name"), f"{py} [tool.poetry]")
    if requires := _dig(data, "project", "requires-python"):
        found.add("coding_standards", f"Python {requires}", f"{py} [project] requires-python")
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    ruff = tool.get("ruff")
    if isinstance(ruff, dict):
        _ruff(ruff, found, f"{py} [tool.ruff]")
    else:
        for name in ("ruff.toml", ".ruff.toml"):
            if (conf := _toml(root, name, found)) is not None:
                _ruff(conf, found, name)
                break
    if isinstance(black := tool.get("black"), dict):
        length = f", line length {black['line-length']}" if "line-length" in black else ""
        found.add("coding_standards", f"formatted with black{length}", f"{py} [tool.black]")
    if isinstance(isort := tool.get("isort"), dict):
        profile = f" (profile {isort['profile']})" if "profile" in isort else ""
        found.add("coding_standards", f"imports sorted with isort{profile}", f"{py} [tool.isort]")
    if isinstance(mypy := tool.get("mypy"), dict):
        strict = ", strict" if mypy.get("strict") else ""
        found.add("coding_standards", f"type-checked with mypy{strict}", f"{py} [tool.mypy]")
    if isinstance(pytest := _dig(tool, "pytest", "ini_options"), dict):
        _pytest(pytest, found, f"{py} [tool.pytest.ini_options]")
    if (under := _dig(tool, "coverage", "report", "fail_under")) is not None:
        found.add("test_requirements", f"coverage stays at or above {under}%",
                  f"{py} [tool.coverage.report] fail_under")  # fmt: skip

    for name, pytest_section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest"),
                                 ("pytest.ini", "pytest")):  # fmt: skip
        ini = _ini(root, name, found)
        if ini is None:
            continue
        if name != "pytest.ini":
            found.set("language", "python", name)
        if ini.has_section(pytest_section):
            _pytest(dict(ini[pytest_section]), found, f"{name} [{pytest_section}]")
        if ini.has_section("flake8"):
            found.set("lint_command", "flake8", f"{name} [flake8]")
            if length := ini["flake8"].get("max-line-length"):
                found.add("coding_standards", f"line length {length}", f"{name} [flake8]")
        if ini.has_section("mypy"):
            found.add("coding_standards", "type-checked with mypy", f"{name} [mypy]")
        if name == "setup.cfg" and ini.has_section("metadata"):
            found.set("name", ini["metadata"].get("name"), "setup.cfg [metadata]")
        if name == "tox.ini" and (
            envs := _dig(ini, "tox", "envlist") or _dig(ini, "tox", "env_list")
        ):
            found.add("extra", f"tox environments: {_words(envs)}", "tox.ini [tox]")
    if (root / "setup.py").is_file():
        found.set("language", "python", "setup.py")
    has_tests = (root / "tests").is_dir() or (root / "test").is_dir()
    if found.values.get("language") == "python" and has_tests:
        found.set("test_command", "python -m pytest", "a tests/ folder in a Python project")


def _ruff(conf: Mapping[str, Any], found: Found, where: str) -> None:
    found.set("lint_command", "ruff check .", where)
    if "line-length" in conf:
        found.add("coding_standards", f"line length {conf['line-length']}", where)
    if "target-version" in conf:
        found.add("coding_standards", f"target Python version {conf['target-version']}", where)
    lint = conf.get("lint") if isinstance(conf.get("lint"), dict) else {}
    lint_where = where.replace("]", ".lint]") if lint and where.endswith("]") else where
    for key in ("select", "extend-select"):
        if rules := lint.get(key) or conf.get(key):
            found.add("coding_standards", f"ruff rules {_words(rules)} must pass",
                      lint_where if key in lint else where)  # fmt: skip
    if isinstance(conf.get("format"), dict):
        found.add("coding_standards", "formatted with ruff format", where.replace("]", ".format]"))


def _pytest(options: Mapping[str, Any], found: Found, where: str) -> None:
    found.set("test_command", "python -m pytest", where)
    if paths := options.get("testpaths"):
        found.add("test_requirements", f"tests live in {_words(paths)}", f"{where} testpaths")
    if opts := options.get("addopts"):
        found.add("test_requirements", f"pytest runs with `{_words(opts)}`", f"{where} addopts")
        if "--strict-markers" in _words(opts):
            found.add("test_requirements", "every pytest marker must be registered", where)
    warnings = options.get("filterwarnings")
    if warnings and re.search(r"(^|[\s,'\"])error\b", _words(warnings)):
        found.add("test_requirements", "warnings are errors: code and tests must not warn",
                  f"{where} filterwarnings")  # fmt: skip


def _node(root: Path, found: Found) -> None:
    text = _read(root, "package.json")
    if text is None:
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        found.add("extra", f"package.json is not valid JSON: {err.msg} (line {err.lineno})",
                  "package.json")  # fmt: skip
        return
    if not isinstance(data, dict):
        return
    deps = {**(data.get("dependencies") or {}), **(data.get("devDependencies") or {})}
    typescript = "typescript" in deps or (root / "tsconfig.json").is_file()
    found.set("language", "typescript" if typescript else "javascript", "package.json")
    found.set("name", data.get("name"), "package.json name")
    runner = next((tool for lock, tool in (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"),
                                           ("bun.lockb", "bun")) if (root / lock).is_file()),
                  "npm")  # fmt: skip
    scripts = data.get("scripts") or {}
    if (test := scripts.get("test")) and _NPM_NO_TEST not in str(test):
        found.set("test_command", f"{runner} test", "package.json scripts.test")
    if scripts.get("lint"):
        found.set("lint_command", f"{runner} run lint", "package.json scripts.lint")
    for tool, label in (("jest", "Jest"), ("vitest", "Vitest"), ("mocha", "Mocha")):
        if tool in deps:
            found.add("test_requirements", f"tests are written for {label}",
                      "package.json devDependencies")  # fmt: skip
    if "eslint" in deps or "eslintConfig" in data or _any(root, ".eslintrc*", "eslint.config.*"):
        found.add("coding_standards", "code passes ESLint", "package.json / eslint config")
    if "prettier" in deps or "prettier" in data or _any(root, ".prettierrc*", "prettier.config.*"):
        found.add("coding_standards", "formatted with Prettier", "package.json / prettier config")
    if data.get("type") == "module":
        found.add("coding_standards", "ES modules (import/export)", "package.json type")
    if node := _dig(data, "engines", "node"):
        found.add("coding_standards", f"Node {node}", "package.json engines")
    tsconfig = _read(root, "tsconfig.json") or ""
    if re.search(r'"strict"\s*:\s*true', tsconfig):
        found.add("coding_standards", "TypeScript strict mode", "tsconfig.json")


def _rust(root: Path, found: Found) -> None:
    data = _toml(root, "Cargo.toml", found)
    if data is None:
        return
    found.set("language", "rust", "Cargo.toml")
    found.set("name", _dig(data, "package", "name"), "Cargo.toml [package]")
    if edition := _dig(data, "package", "edition"):
        found.add("coding_standards", f"Rust edition {edition}", "Cargo.toml [package]")
    if version := _dig(data, "package", "rust-version"):
        found.add("coding_standards", f"minimum Rust {version}", "Cargo.toml [package]")
    if members := _dig(data, "workspace", "members"):
        found.add("extra", f"a Cargo workspace of {_words(members)}", "Cargo.toml [workspace]")
    found.set("test_command", "cargo test", "Cargo.toml")
    found.set("lint_command", "cargo clippy", "Cargo.toml")
    if _any(root, "rustfmt.toml", ".rustfmt.toml"):
        found.add("coding_standards", "formatted with rustfmt", "rustfmt.toml")


def _go(root: Path, found: Found) -> None:
    text = _read(root, "go.mod")
    if text is None:
        return
    found.set("language", "go", "go.mod")
    if module := re.search(r"^module\s+(\S+)", text, re.MULTILINE):
        found.set("name", module.group(1), "go.mod module")
    if version := re.search(r"^go\s+(\S+)", text, re.MULTILINE):
        found.add("coding_standards", f"Go {version.group(1)}", "go.mod")
    found.set("test_command", "go test ./...", "go.mod")
    if _any(root, ".golangci.yml", ".golangci.yaml", ".golangci.toml"):
        found.set("lint_command", "golangci-lint run", ".golangci config")
    found.set("lint_command", "go vet ./...", "go.mod")
    found.add("coding_standards", "formatted with gofmt", "Go convention")


def _make(root: Path, found: Found) -> None:
    for name in ("GNUmakefile", "Makefile", "makefile"):
        text = _read(root, name)
        if text is None:
            continue
        targets = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE))
        # A tool's own runner is preferred: test ids are appended to the test command.
        for target, field in (("test", "test_command"), ("check", "test_command"),
                              ("lint", "lint_command")):  # fmt: skip
            if target in targets:
                found.set(field, f"make {target}", f"{name} target {target!r}")
        known = [f"`make {t}`" for t in ("test", "check", "lint", "format", "fmt") if t in targets]
        if known:
            found.add("extra", f"make targets: {', '.join(known)}", name)
        return


def _conventions(root: Path, found: Found) -> None:
    for name in ("CONTRIBUTING.md", "CONTRIBUTING.rst", "docs/CONTRIBUTING.md"):
        if (root / name).is_file():
            found.add("extra", f"the project's contribution rules are in {name}", name)
            break
    if (root / ".pre-commit-config.yaml").is_file():
        found.add("extra", "pre-commit hooks are configured; their checks apply",
                  ".pre-commit-config.yaml")  # fmt: skip
    if (root / ".editorconfig").is_file():
        found.add("coding_standards", "follow .editorconfig", ".editorconfig")


def _readme(root: Path, found: Found) -> None:
    for name in ("README.md", "README.rst", "README.txt", "README", "readme.md", "Readme.md"):
        text = _read(root, name)
        if text is not None:
            if summary := readme_summary(text):
                found.set("readme_summary", summary, name)
            return


def _any(root: Path, *patterns: str) -> bool:
    return any(next(root.glob(p), None) is not None for p in patterns)


# Order matters: the first detector to set a value wins (Makefile targets only fill gaps).
DETECTORS = (_python, _node, _rust, _go, _make, _conventions, _readme)


# ---- README ---------------------------------------------------------------------------------

_SKIP = re.compile(r"^\s*(#|=+$|-+$|~+$|\*+$|\[!\[|!\[|<|\.\. |:[\w-]+:|\|)")


def readme_summary(text: str, limit: int = README_LIMIT) -> str:
    """The first paragraphs of prose in a README (no title, badges, HTML or code), at most
    ``limit`` characters, cut at a word.

    >>> readme_summary("# Todo\\n\\n[![ci](x.svg)](y)\\n\\nA small todo\\nlibrary.\\n\\nMore.\\n")
    'A small todo library.\\n\\nMore.'
    """
    paragraphs: list[str] = []
    current: list[str] = []
    fence = False
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
            continue
        underline = i + 1 < len(lines) and re.fullmatch(r"\s*(=+|-+|~+)\s*", lines[i + 1] or "x")
        if fence or _SKIP.match(line) or underline or not line.strip():
            if current:
                paragraphs.append(" ".join(current))
                current = []
            if sum(map(len, paragraphs)) >= limit // 2:
                break
            continue
        current.append(line.strip())
    if current:
        paragraphs.append(" ".join(current))
    summary = "\n\n".join(paragraphs)
    if len(summary) > limit:
        summary = summary[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return summary
