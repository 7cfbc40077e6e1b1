"""Read YAML and TOML plans: the same fields as markdown, as data.

Shape (YAML shown; TOML uses ``[[phases]]`` and ``[[phases.tasks]]``)::

    title: Todo service
    test_command: pytest -q          # any top-level key other than title/overview/phases/tasks
    base: main                       # is a setting, as in markdown front matter
    phases:
      - title: Storage
        tasks:
          - id: "1.1"
            title: Add a SQLite store
            depends_on: []
            objectives: [Persist todos]
            validation: ["`pytest tests/test_store.py` passes"]
    tasks: []                        # tasks outside any phase
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import PlanError
from .build import build_plan, normalize_priority, parse_budget, split_ids, split_names
from .model import YES_NO, Criterion, Phase, Plan, Task

_LINES = "__lines__"  # where the YAML loader records the line of every key of a mapping
_LIST_FIELDS = ("objectives", "key_activities", "deliverables", "validation")
_TEXT_FIELDS = ("overview", "technical_implementation")
_FIELD_ALIASES = {
    "description": "overview", "details": "technical_implementation", "steps": "key_activities",
    "activities": "key_activities", "validation_criteria": "validation",
    "acceptance_criteria": "validation", "depends": "depends_on", "dependencies": "depends_on",
    "agent": "agents", "name": "title", "budget": "budget_usd",
}  # fmt: skip
_BOOLS = {**YES_NO, "": False}  # an empty value is no
_TASK_KEYS = {"id", "title", "phase", "depends_on", "agents", "priority", "done", "changes_tests",
              "holdout", "budget_usd",
              *_LIST_FIELDS, *_TEXT_FIELDS}  # fmt: skip
_SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "title": (str,), "test_command": (str,), "base": (str,), "project": (dict, str),
    "agents": (list, str), "lint_command": (str,), "holdout": (str,), "test_env": (list, str),
}  # fmt: skip


def load_yaml(text: str, where: str | None, first_line: int = 1) -> Any:
    """Load YAML with every scalar kept as text, recording the line of every mapping key.

    Scalars stay text so that ids like ``1.10`` are not read as the number 1.1.
    """
    import yaml

    class _LineLoader(yaml.BaseLoader):
        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            mapping = super().construct_mapping(node, deep=True)
            mapping[_LINES] = {
                k.value: k.start_mark.line + first_line for k, _ in node.value if hasattr(k, "value")
            }
            return mapping

        def construct_sequence(self, node, deep=False):  # type: ignore[no-untyped-def]
            return _Lines(super().construct_sequence(node, deep=True),
                          [item.start_mark.line + first_line for item in node.value])  # fmt: skip

    loader = None
    try:
        loader = _LineLoader(text)  # reading starts here: a character YAML refuses raises
        node = loader.get_single_node()
        if node is not None and (size := _expanded_size(node)) > MAX_YAML_NODES:
            raise PlanError(f"the YAML expands to {size:,} values through its aliases (*name); a "
                            f"plan may have at most {MAX_YAML_NODES:,}", "write the values out "
                            "instead of repeating aliases of aliases", path=where,
                            line=first_line)  # fmt: skip
        return loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise PlanError("the YAML is nested too deeply to read", "flatten the lists and mappings",
                        path=where, line=first_line) from None  # fmt: skip
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + first_line) if mark else first_line
        raise PlanError(f"invalid YAML: {exc.problem or exc}", "fix the YAML syntax on this line",
                        path=where, line=line) from None  # fmt: skip
    except yaml.YAMLError as exc:
        raise PlanError(f"invalid YAML: {exc}", "fix the YAML syntax", path=where,
                        line=first_line) from None  # fmt: skip
    finally:
        if loader is not None:
            loader.dispose()


MAX_YAML_NODES = 200_000  # values a YAML plan may expand to; a 5,000-task plan has ~100,000


def _expanded_size(root: Any) -> int:
    """How many values the node graph becomes once every alias is expanded (a node shared by
    aliases counts once per use), computed without expanding anything."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # iterative post-order: deep documents do not exhaust the stack here
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if done:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: Any) -> list[Any]:
    value = node.value
    if not isinstance(value, list):
        return []
    return [n for pair in value for n in pair] if value and isinstance(value[0], tuple) else value


class _Lines(list):
    """A YAML sequence that remembers the line of each item."""

    def __init__(self, items: list, lines: list[int]):
        super().__init__(items)
        self.lines = lines


def check_settings(data: Mapping[str, Any], where: str | None, offset: int = 0) -> dict[str, Any]:
    """Plan settings with their types checked; ``__lines__`` bookkeeping is removed."""
    lines = data.get(_LINES, {})
    settings = {}
    for key, value in data.items():
        if key == _LINES:
            continue
        expected = _SETTING_TYPES.get(key)
        if expected and not isinstance(value, expected):
            names = " or ".join("a mapping" if t is dict else "a list" if t is list else "text"
                                for t in expected)  # fmt: skip
            raise PlanError(f"setting {key!r} is {_kind(value)}", f"make it {names}",
                            path=where, line=lines.get(key, 1 + offset))  # fmt: skip
        settings[key] = _strip_lines(value)
    return settings


def parse_data(data: Any, where: str | None, fmt: str, line_of: _LineFinder) -> Plan:
    """Build a plan from loaded YAML/TOML data."""
    if not isinstance(data, dict):
        raise PlanError(f"the {fmt.upper()} plan is {_kind(data)}, not a mapping",
                        "start with 'title:' and a 'phases:' or 'tasks:' list", path=where, line=1)
    lines = data.get(_LINES, {})
    phases_data = _list(data.get("phases", []), "phases", where, lines.get("phases", 1))
    loose = _list(data.get("tasks", []), "tasks", where, lines.get("tasks", 1))
    settings = check_settings({k: v for k, v in data.items() if k not in ("phases", "tasks",
                                                                          "overview")}, where)
    title = str(settings.pop("title", "") or (Path(where).stem if where else "Untitled plan"))
    phases: list[Phase] = []
    tasks: list[Task] = []
    for p_index, raw_phase in enumerate(phases_data, 1):
        p_line = line_of.phase(raw_phase, p_index, phases_data)
        if not isinstance(raw_phase, dict):
            raise PlanError(f"phase {p_index} is {_kind(raw_phase)}",
                            "write each phase as a mapping with 'title' and 'tasks'",
                            path=where, line=p_line)  # fmt: skip
        p_title = str(raw_phase.get("title") or raw_phase.get("name") or f"Phase {p_index}")
        number = raw_phase.get("number", raw_phase.get("id"))
        p_tasks = _list(raw_phase.get("tasks", []), "tasks", where, p_line)
        found = [_task(raw, p_title, where, line_of.task(raw, len(tasks) + n, p_tasks, n), fmt)
                 for n, raw in enumerate(p_tasks, 1)]  # fmt: skip
        tasks.extend(found)
        phases.append(Phase(p_index, p_title, None if number is None else str(number), p_line,
                            _text(raw_phase.get("description", ""), "description", where, p_line),
                            tuple(t.id for t in found)))  # fmt: skip
    for n, raw in enumerate(loose, 1):
        tasks.append(_task(raw, None, where, line_of.task(raw, len(tasks) + 1, loose, n), fmt))
    overview = _text(data.get("overview", ""), "overview", where, lines.get("overview", 1))
    example = ("'tasks:' list, e.g. tasks: [{id: '1', title: Add a store}]" if fmt == "yaml"
               else "[[tasks]] table with id = \"1\" and title = \"Add a store\"")  # fmt: skip
    return build_plan(title, tasks, phases=phases, settings=settings, path=where,
                      overview=overview, format=fmt, no_tasks_fix=f"add a task to a {example}",
                      end_line=lines.get("tasks", lines.get("phases", 1)))  # fmt: skip


def _task(raw: Any, phase: str | None, where: str | None, line: int, fmt: str) -> Task:
    if not isinstance(raw, dict):
        raise PlanError(f"a task is {_kind(raw)}", "write each task as a mapping with 'id' and 'title'",
                        path=where, line=line)  # fmt: skip
    lines = raw.get(_LINES, {})
    data = {_FIELD_ALIASES.get(k, k): v for k, v in raw.items() if k != _LINES}

    def at(key: str) -> int:
        return lines.get(key, line)

    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problem = "a task has no title" if title in (None, "") else f"task title is {_kind(title)}"
        raise PlanError(problem, "give every task a 'title' string", path=where, line=at("title"))
    task_id = data.get("id")
    if isinstance(task_id, float):  # only TOML makes numbers; 1.10 would silently become 1.1
        raise PlanError(f"task {title!r} has the number {task_id!r} as its id",
                        'quote it, e.g. id = "1.10"', path=where, line=at("id"))  # fmt: skip
    if isinstance(task_id, bool) or not isinstance(task_id, (str, int, float)) or str(task_id) == "":
        raise PlanError(f"task {title!r} has {'no id' if task_id is None else 'id ' + _kind(task_id)}",
                        "give it an 'id' such as \"1.1\" (quote ids that look like numbers)",
                        path=where, line=at("id") if task_id is not None else line)  # fmt: skip
    fields: dict[str, Any] = {}
    for key in _LIST_FIELDS:
        fields[key] = _strings(data.get(key, []), key, where, at(key))
    for key in _TEXT_FIELDS:
        fields[key] = _text(data.get(key, ""), key, where, at(key))
    deps = data.get("depends_on", [])
    if isinstance(deps, float) or (isinstance(deps, list) and any(isinstance(d, float) for d in deps)):
        raise PlanError(f"task {title!r} names a dependency as a number with a decimal point",
                        'quote ids in depends_on, e.g. ["1.10"]', path=where,
                        line=at("depends_on"))  # fmt: skip
    if isinstance(deps, (str, int)) and not isinstance(deps, bool):
        deps = list(split_ids(str(deps)))
    depends_on = tuple(str(d) for d in _strings(deps, "depends_on", where, at("depends_on"), True))
    agents = data.get("agents", [])
    agents = split_names(agents) if isinstance(agents, str) else tuple(
        a.lower() for a in _strings(agents, "agents", where, at("agents")))  # fmt: skip
    try:
        priority = normalize_priority(data.get("priority", "medium"))
    except ValueError as exc:
        raise PlanError(str(exc), "use low, medium, high or critical", path=where,
                        line=at("priority")) from None  # fmt: skip
    done = data.get("done", False)
    if isinstance(done, str) and done.lower() in _BOOLS:
        done = _BOOLS[done.lower()]
    if not isinstance(done, bool):
        shown = repr(done) if isinstance(done, str) else _kind(done)
        raise PlanError(f"'done' is {shown}", "write true or false", path=where, line=at("done"))
    changes_tests = data.get("changes_tests", False)
    if isinstance(changes_tests, str) and changes_tests.lower() in _BOOLS:
        changes_tests = _BOOLS[changes_tests.lower()]
    if not isinstance(changes_tests, bool):
        raise PlanError(f"'changes_tests' is {_kind(changes_tests)}", "write true or false",
                        path=where, line=at("changes_tests"))  # fmt: skip
    holdout = data.get("holdout", "")
    if not isinstance(holdout, str):
        raise PlanError(f"'holdout' is {_kind(holdout)}", "write the folder of held-out tests, "
                        "e.g. holdout: ../acceptance", path=where, line=at("holdout"))  # fmt: skip
    budget = data.get("budget_usd")
    if budget is not None:
        try:
            budget = parse_budget(budget)
        except ValueError as exc:
            raise PlanError(str(exc), "write e.g. budget: 2 (dollars)", path=where,
                            line=at("budget_usd")) from None  # fmt: skip
    if phase is None and isinstance(data.get("phase"), str):  # a loose task may name its phase
        phase = data["phase"].strip() or None
    extra = tuple((k, _verbatim(v)) for k, v in data.items() if k not in _TASK_KEYS)
    return Task(
        id=str(task_id), title=title.strip(), phase=phase, overview=fields["overview"],
        objectives=fields["objectives"], key_activities=fields["key_activities"],
        deliverables=fields["deliverables"],
        validation=tuple(Criterion.parse(v) for v in fields["validation"]),
        technical_implementation=fields["technical_implementation"], depends_on=depends_on,
        agents=agents, priority=priority, extra_sections=extra, done=done, line=line,
        changes_tests=changes_tests, holdout=holdout.strip(), budget_usd=budget,
        depends_line=at("depends_on"),
    )  # fmt: skip


def _strings(value: Any, key: str, where: str | None, line: int, numbers: bool = False) -> tuple:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise PlanError(f"{key!r} is {_kind(value)}", f"make {key!r} a list of strings or one string",
                        path=where, line=line)  # fmt: skip
    ok = (str, int) if numbers else (str,)
    for n, item in enumerate(value, 1):
        if not isinstance(item, ok) or isinstance(item, bool):
            at = value.lines[n - 1] if isinstance(value, _Lines) else line
            raise PlanError(f"{key!r} item {n} is {_kind(item)} ({item!r})",
                            "make every item text", path=where, line=at)  # fmt: skip
    return tuple(value)


def _text(value: Any, key: str, where: str | None, line: int) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(f"- {v}" for v in value)
    raise PlanError(f"{key!r} is {_kind(value)}", f"make {key!r} text", path=where, line=line)


def _list(value: Any, key: str, where: str | None, line: int) -> list:
    if isinstance(value, list):
        return value
    raise PlanError(f"{key!r} is {_kind(value)}, not a list", f"write {key!r} as a list",
                    path=where, line=line)  # fmt: skip


def _kind(value: Any) -> str:
    import datetime

    names = {dict: "a mapping", list: "a list", _Lines: "a list", str: "text", bool: "a boolean",
             int: "a number", float: "a number", type(None): "empty", datetime.date: "a date",
             datetime.datetime: "a date and time", datetime.time: "a time"}  # fmt: skip
    return names.get(type(value), "a " + type(value).__name__)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != _LINES}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _verbatim(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(_strip_lines(value), ensure_ascii=False, default=str)


class _LineFinder:
    """Where a phase or task starts: YAML knows from its marks; TOML from its table headers."""

    def __init__(self, text: str = "", fmt: str = "yaml"):
        self.fmt = fmt
        self.task_lines: list[int] = []
        self.phase_lines: list[int] = []
        if fmt == "toml":
            for n, line in enumerate(text.split("\n"), 1):
                header = re.match(r"\s*\[\[\s*([\w.]+)\s*\]\]", line)
                if header and header.group(1).endswith("tasks"):
                    self.task_lines.append(n)
                elif header and header.group(1) == "phases":
                    self.phase_lines.append(n)

    def task(self, raw: Any, position: int, items: list | None = None, n: int = 0) -> int:
        return self._line(raw, self.task_lines, position, items, n)

    def phase(self, raw: Any, position: int, items: list | None = None) -> int:
        return self._line(raw, self.phase_lines, position, items, position)

    @staticmethod
    def _line(raw: Any, table: list[int], position: int, items: list | None, n: int) -> int:
        if isinstance(raw, dict) and raw.get(_LINES):
            return min(raw[_LINES].values())
        if isinstance(items, _Lines) and 0 < n <= len(items.lines):
            return items.lines[n - 1]
        return table[position - 1] if 0 < position <= len(table) else 1


def parse_yaml(text: str, where: str | None) -> Plan:
    """Parse a YAML plan."""
    if not text.strip():
        raise PlanError("the plan is empty", "write a 'title:' and a 'tasks:' list", path=where)
    return parse_data(load_yaml(text, where), where, "yaml", _LineFinder())


def parse_toml(text: str, where: str | None) -> Plan:
    """Parse a TOML plan; TOML keeps no positions, so task lines come from ``[[...tasks]]`` headers."""
    import tomllib

    if not text.strip():
        raise PlanError("the plan is empty", "write a 'title' and a [[tasks]] table", path=where)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise PlanError("the TOML is nested too deeply to read", "flatten its arrays and tables",
                        path=where, line=1) from None  # fmt: skip
    except ValueError as exc:
        if not isinstance(exc, tomllib.TOMLDecodeError):  # Python's limit on an int's digits
            raise PlanError(f"a number has too many digits ({exc})", "write ids and numbers "
                            "of at most a few hundred digits", path=where, line=1) from None  # fmt: skip
        found = re.search(r"line (\d+)", str(exc))
        raise PlanError(f"invalid TOML: {exc}", "fix the TOML syntax on this line", path=where,
                        line=int(found.group(1)) if found else 1) from None  # fmt: skip
    return parse_data(data, where, "toml", _LineFinder(text, "toml"))


def front_matter(lines: list[str], where: str | None) -> tuple[dict[str, Any], int]:
    """YAML between a first line ``---`` and the next ``---`` of a markdown plan: the settings,
    and how many lines it used (0 when there is none)."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise PlanError("front matter starts with '---' but never ends",
                        "close it with a line holding only '---'", path=where, line=1)  # fmt: skip
    data = load_yaml("\n".join(lines[1:end]), where, first_line=2) if end > 1 else None
    if data is None:
        return {}, end + 1
    if not isinstance(data, dict):
        raise PlanError("front matter is not a mapping",
                        "write 'key: value' lines, e.g. 'test_command: pytest -q'",
                        path=where, line=2)  # fmt: skip
    return check_settings(data, where, offset=1), end + 1


def end_line(lines: list[str]) -> int:
    """The last non-blank line (1-based), where a "no tasks found" error points."""
    return next((n for n in range(len(lines), 0, -1) if lines[n - 1].strip()), 1)
