"""Read a Taskmaster ``tasks.json`` (``.taskmaster/tasks/tasks.json``) as it is.

Two shapes are read: the tagged one, ``{"master": {"tasks": [...], "metadata": {...}}, "other":
{...}}``, and the legacy one, ``{"tasks": [...], "metadata": {...}}``.

What is read:

- each tag → a phase named after it (tags are separate task lists, not steps: no order between
  them). Tasks of ``master`` (or of the first tag when there is no ``master``) keep their ids;
  those of other tags are ``tag:id``, since every tag counts from 1;
- ``id``, ``title`` → the task's id and title; ``description`` → overview; ``details`` → technical
  implementation; ``testStrategy`` → validation criteria (one per line); ``priority`` → priority;
  ``status`` ``done`` → done, any other status but ``pending`` → a ``Status`` section;
  ``dependencies`` (ints, or ``"2.1"`` for a sub-task) → dependencies; any other field → a section
  of its own, kept verbatim;
- ``subtasks`` (local ids 1..n, full id ``parent.sub``) → key activities, or tasks of their own with
  ``split_subtasks=True``. A sub-task's int dependency names a sibling (``3`` in task 5 is
  ``5.3``; a top-level task when no sibling has that id), a string ``"2.1"`` any sub-task. Without
  splitting, a sub-task's dependency outside its parent becomes its parent's;
- ``metadata`` of each tag → a plan section.

Taskmaster states every dependency, so nothing else orders the tasks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import PlanError
from ..build import build_plan, normalize_priority
from ..model import Phase, Plan
from ._draft import Draft, to_tasks
from ._jsonlines import object_lines

_KNOWN = {"id", "title", "description", "details", "testStrategy", "status", "dependencies",
          "priority", "subtasks", "parentTaskId", "parentId"}  # fmt: skip
_NO_TASKS_FIX = "add a task to the 'tasks' list, e.g. {\"id\": 1, \"title\": \"Set up the repository\"}"


def parse_taskmaster(text: str, where: str | None = None, split_subtasks: bool = False) -> Plan:
    """Parse Taskmaster ``tasks.json`` text into a checked plan (``format="taskmaster"``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"invalid JSON: {exc.msg}", "fix the JSON syntax on this line",
                        path=where, line=exc.lineno) from None  # fmt: skip
    except RecursionError:
        raise PlanError("the JSON is nested too deeply to read", "flatten its arrays and objects",
                        path=where, line=1) from None  # fmt: skip
    except ValueError as exc:  # Python's limit on an int's digits
        raise PlanError(f"a number has too many digits ({exc})", "write ids and numbers of at "
                        "most a few hundred digits", path=where, line=1) from None  # fmt: skip
    reader = _Reader(where, object_lines(text, data))
    tags = reader.tags(data)
    drafts: list[Draft] = []
    groups: list[tuple[str, int, list[Draft]]] = []
    sections: list[tuple[str, str]] = []
    title = ""
    for n, (tag, body) in enumerate(tags):
        prefix = f"{tag}:" if n and tag is not None else ""
        found = reader.tasks(body, prefix, tag)
        drafts.extend(found)
        meta = body.get("metadata", body.get("meta"))
        if isinstance(meta, dict):
            title = title or str(meta.get("projectName") or meta.get("title") or "")
            sections.append((f"Metadata ({tag})" if tag else "Metadata", json.dumps(meta, indent=2)))
        if tag is not None:
            groups.append((tag, reader.line(body), found))
    tasks = to_tasks(drafts, split=split_subtasks, kind="Taskmaster")
    phases = []
    for index, (tag, line, found) in enumerate(groups, 1):
        ids = {d.id for d in found} | {s.id for d in found for s in d.subtasks}
        phases.append(Phase(index, tag, None, line, "", tuple(t.id for t in tasks if t.id in ids)))
    last = len(text.rstrip().split("\n"))
    return build_plan(
        title or _title(where), tasks, phases=phases, path=where, sections=sections,
        format="taskmaster", end_line=last, no_tasks_fix=_NO_TASKS_FIX,
    )  # fmt: skip


def _title(where: str | None) -> str:
    """The project folder: ``proj/.taskmaster/tasks/tasks.json`` and ``proj/tasks/tasks.json`` → proj."""
    if where is None:
        return "Taskmaster tasks"
    path = Path(where)
    parts = path.parts
    if ".taskmaster" in parts:
        at = parts.index(".taskmaster")
        return parts[at - 1] if at else "Taskmaster tasks"
    if path.parent.name == "tasks" and path.parent.parent.name:
        return path.parent.parent.name
    return path.stem


class _Reader:
    def __init__(self, where: str | None, lines: dict[int, tuple[int, dict[str, int]]]):
        self.where = where
        self.lines = lines

    def line(self, obj: Any, key: str | None = None) -> int:
        start, keys = self.lines.get(id(obj), (1, {}))
        return keys.get(key, start) if key else start

    def error(self, problem: str, fix: str, obj: Any, key: str | None = None) -> PlanError:
        return PlanError(problem, fix, path=self.where, line=self.line(obj, key))

    def tags(self, data: Any) -> list[tuple[str | None, dict]]:
        """``[(tag, {"tasks": ...}), ...]``, ``master`` first; ``[(None, data)]`` for the legacy shape."""
        if isinstance(data, dict) and "tasks" in data:
            return [(None, data)]
        if isinstance(data, dict):
            tags = [(k, v) for k, v in data.items() if isinstance(v, dict) and "tasks" in v]
            if tags:
                tags.sort(key=lambda kv: kv[0] != "master")
                return tags
        raise PlanError("this JSON is not a Taskmaster tasks.json",
                        "give {\"master\": {\"tasks\": [...]}} or the legacy {\"tasks\": [...]}",
                        path=self.where, line=1)  # fmt: skip

    def tasks(self, body: dict, prefix: str, tag: str | None) -> list[Draft]:
        raw = body["tasks"]
        if not isinstance(raw, list):
            raise self.error(f"'tasks' is {_kind(raw)}, not a list", "write 'tasks' as a list",
                             body, "tasks")  # fmt: skip
        items = [self.item(t, body, "tasks", prefix, tag) for t in raw]
        top = {d.id for d in items}
        for task, draft in zip(raw, items, strict=True):
            subs = task.get("subtasks") or []
            if not isinstance(subs, list):
                raise self.error(f"'subtasks' of task {draft.id!r} is {_kind(subs)}",
                                 "write 'subtasks' as a list", task, "subtasks")  # fmt: skip
            local = {_local(s.get("id"), draft.id) for s in subs if isinstance(s, dict)}
            for sub in subs:
                child = self.item(sub, task, "subtasks", prefix, tag, parent=draft)
                child.depends_on = [_sibling(d, draft.id, local, top, prefix)
                                    for d in self.deps(sub, child.id)]  # fmt: skip
                draft.subtasks.append(child)
            draft.depends_on = [prefix + d for d in self.deps(task, draft.id)]
        return items

    def item(self, task: Any, holder: dict, key: str, prefix: str, tag: str | None,
             parent: Draft | None = None) -> Draft:  # fmt: skip
        what = "a sub-task" if parent else "a task"
        if not isinstance(task, dict):
            raise self.error(f"{what} is {_kind(task)}", "write each task as an object with "
                             "'id' and 'title'", holder, key)  # fmt: skip
        title = task.get("title")
        if not isinstance(title, str) or not title.strip():
            problem = f"{what} has no title" if title in (None, "") else f"{what}'s title is {_kind(title)}"
            raise self.error(problem, "give every task a 'title' string", task, "title")
        raw_id = task.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str, float)) or raw_id == "":
            raise self.error(f"{what} {title!r} has {'no id' if raw_id is None else 'id ' + _kind(raw_id)}",
                             "give it an 'id' such as 1", task, "id" if raw_id is not None else None)
        task_id = f"{parent.id}.{_local(raw_id, parent.id)}" if parent else prefix + _text_id(raw_id)
        draft = Draft(task_id, title.strip(), self.line(task), phase=tag,
                      depends_line=self.line(task, "dependencies"),
                      priority=parent.priority if parent else "medium")  # fmt: skip
        draft.overview = self.text(task, "description")
        details = self.text(task, "details")
        draft.details = details.split("\n") if details else []
        strategy = self.text(task, "testStrategy")
        draft.validation = [s.strip() for s in strategy.split("\n") if s.strip()]
        status = task.get("status", "pending")
        if not isinstance(status, str):
            raise self.error(f"'status' is {_kind(status)}", "write a status such as \"pending\" or "
                             "\"done\"", task, "status")  # fmt: skip
        draft.done = status.strip().lower() in ("done", "completed")
        if status.strip().lower() not in ("done", "completed", "pending", ""):
            draft.extra.append(("Status", status.strip()))
        if task.get("priority") not in (None, ""):
            try:
                draft.priority = normalize_priority(task["priority"])
            except ValueError as exc:
                raise self.error(str(exc), "use high, medium or low", task, "priority") from None
        draft.extra += [(k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                        for k, v in task.items() if k not in _KNOWN]  # fmt: skip
        return draft

    def text(self, task: dict, key: str) -> str:
        value = task.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(f"{key!r} is {_kind(value)}", f"make {key!r} text", task, key)
        return value.strip()

    def deps(self, task: dict, task_id: str) -> list[str]:
        deps = task.get("dependencies")
        if deps in (None, ""):
            return []
        if not isinstance(deps, list) or any(isinstance(d, bool) or not isinstance(d, (int, str, float))
                                             for d in deps):  # fmt: skip
            raise self.error(f"'dependencies' of task {task_id!r} is not a list of ids",
                             "write task ids, e.g. [1, 2] or [\"2.1\"]", task, "dependencies")
        return [_text_id(d) for d in deps]


def _text_id(value: int | str | float) -> str:
    return str(value).strip()


def _local(value: Any, parent: str) -> str:
    """A sub-task's own number: ``2`` and ``"2"`` stay; a full ``"5.2"`` in task 5 becomes ``2``."""
    text = _text_id(value)
    return text[len(parent) + 1:] if text.startswith(parent + ".") else text


def _sibling(dep: str, parent: str, local: set[str], top: set[str], prefix: str) -> str:
    """A sub-task's dependency as a full id (see the module docstring)."""
    if "." in dep:
        return prefix + dep
    if dep in local or prefix + dep not in top:
        return f"{parent}.{dep}"
    return prefix + dep


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)
