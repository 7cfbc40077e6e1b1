"""What an agent should know about the repository: language, commands, standards, README gist.

Detection reads the repository's own files and nothing else (no subprocess, no network), and
every item says where it came from, so a prompt can show its evidence:

>>> ctx = ProjectContext(name="todo", coding_standards=("line length 100 (pyproject.toml "
...                      "[tool.ruff])",), sources=(("name", "pyproject.toml [project]"),))
>>> ctx.source("name")
'pyproject.toml [project]'

Precedence, lowest first: detected from files, then the plan's settings (``test_command``,
``lint_command``, ``project: {name, language, coding_standards, test_requirements, ...}``), then
``overrides`` from the user. A scalar from a higher level replaces the lower one; list items
from a higher level come first and the detected items follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import NborchError
from .detect import DETECTORS, LISTS, SCALARS, Found, readme_summary

if TYPE_CHECKING:
    from ...plan.model import Plan

__all__ = ["ProjectContext", "readme_summary"]


@dataclass(frozen=True, slots=True)
class ProjectContext:
    """The project facts a prompt passes on to an agent, each with its source.

    List items carry their source in parentheses (``"line length 100 (pyproject.toml
    [tool.ruff])"``); the source of a single value is ``source(field)``.
    """

    name: str = ""
    language: str = ""
    test_command: str = ""
    lint_command: str = ""
    coding_standards: tuple[str, ...] = ()
    test_requirements: tuple[str, ...] = ()
    readme_summary: str = ""
    extra: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()

    def source(self, field: str) -> str:
        """Where the value of ``field`` came from (``""`` when it is not set or not known)."""
        return dict(self.sources).get(field, "")

    @property
    def is_empty(self) -> bool:
        """True when nothing at all is known about the project."""
        return not any(getattr(self, f) for f in (*SCALARS, *LISTS))

    @classmethod
    def detect(
        cls,
        repo_path: str | Path,
        plan: Plan | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> ProjectContext:
        """Read the repository's config files, then apply plan settings and user overrides.

        Parameters
        ----------
        repo_path:
            The repository (or worktree) to read; a missing folder gives an empty detection.
        plan:
            Its ``settings`` win over what the files say.
        overrides:
            Field name → value (a string, or a list for ``coding_standards``,
            ``test_requirements`` and ``extra``); wins over everything.

        Raises
        ------
        NborchError
            When ``overrides`` names a field that does not exist.
        """
        found = Found()
        root = Path(repo_path)
        if root.is_dir():
            for detector in DETECTORS:
                detector(root, found)
        if plan is not None:
            _apply_plan(found, plan)
        if overrides:
            _apply_overrides(found, overrides)
        return cls(**found.fields())

    def __repr__(self) -> str:
        parts = [self.language or "language unknown"]
        if self.test_command:
            parts.append(f"test `{self.test_command}`")
        parts.append(f"{len(self.coding_standards)} standards")
        return f"<ProjectContext {self.name or '?'}: {', '.join(parts)}>"


# ---- precedence: plan settings, then user overrides ------------------------------------------


def _apply_plan(found: Found, plan: Plan) -> None:
    where = plan.path.name if plan.path else "plan"
    settings = dict(plan.settings)
    project = settings.get("project")
    if isinstance(project, str):
        project = {"name": project}
    if isinstance(project, Mapping):
        _apply(found, project, lambda key: f"{where} setting project.{key}")
    top = {k: settings[k] for k in ("test_command", "lint_command") if k in settings}
    _apply(found, top, lambda key: f"{where} setting {key}")


def _apply_overrides(found: Found, overrides: Mapping[str, Any]) -> None:
    known = (*SCALARS, *LISTS)
    unknown = [key for key in overrides if key not in known]
    if unknown:
        raise NborchError(
            f"unknown project context field(s) {', '.join(map(repr, unknown))} in overrides; "
            f"use any of {', '.join(known)}"
        )
    _apply(found, overrides, lambda key: "set by the user")


def _apply(found: Found, values: Mapping[str, Any], label: Callable[[str], str]) -> None:
    """Force scalars and put list items first. Keys that are not fields are skipped: plan
    settings carry keys for other stages too."""
    for key, value in values.items():
        if key in LISTS:
            items = [value] if isinstance(value, str) else list(value or ())
            for item in reversed(items):
                if str(item).strip():
                    found.add(key, str(item).strip(), label(key), front=True)
        elif key in SCALARS:
            found.set(key, value, label(key), force=True)
