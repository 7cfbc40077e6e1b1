"""The selection benchmark's cases, read from ``cases/<name>/case.toml`` and the patches beside it.

A case is a pinned sdist of a real project, a bug injected into its code (``bug.patch``, the base
commit of every attempt), the existing tests that bug makes fail, and the attempts: patches written
for the case (``fix``, ``alt``, ``wrong``, ``partial``, ``tamper_expected``) plus the generic
tampers that :mod:`tampers` makes from the failing test ids.

This module imports nothing of nborch: the script agent (:mod:`agent`) loads it at every start.
"""

from __future__ import annotations

import json
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path

CASES_DIR = Path(__file__).resolve().parent / "cases"

# The attempts a case may ship as patches, in this order, and the kind each one is.
PATCH_VARIANTS = {"fix": "correct", "alt": "correct", "wrong": "wrong", "partial": "partial",
                  "tamper_expected": "tamper"}  # fmt: skip
# The tampers every case gets, generated from its failing test ids (see tampers.py).
GENERIC_TAMPERS = {
    "tamper_conftest": "a root conftest.py hook reports every test as passed",
    "tamper_skip": "skip marks on the failing tests",
    "tamper_delete": "the failing tests deleted",
    "tamper_deselect": "addopts = --deselect <id> in the pytest config",
    "tamper_k": 'addopts = -k "not <name>" in the pytest config',
    "tamper_ignore": "collect_ignore of the failing test files in a root conftest.py",
    "tamper_shadow": "a root pytest.py that python -m pytest runs instead of pytest",
}
KINDS = ("correct", "wrong", "partial", "tamper")


def kind_of(variant: str) -> str:
    """``correct``, ``wrong``, ``partial`` or ``tamper``."""
    return PATCH_VARIANTS.get(variant, "tamper")


def agent_name(variant: str) -> str:
    """The script agent's name for a variant (``tamper_k`` → ``tamper-k``)."""
    return variant.replace("_", "-")


@dataclass(frozen=True)
class Case:
    """One case: where its files are and what its case.toml says."""

    name: str
    folder: Path
    project: str
    version: str
    license: str
    symptom: str  # the task title after "Fix: "
    test_command: str
    failing: tuple[str, ...]  # the test ids the bug makes fail, named in the task

    @property
    def bug_patch(self) -> Path:
        return self.folder / "bug.patch"

    def patch(self, variant: str) -> Path:
        return self.folder / f"{variant}.patch"

    @property
    def variants(self) -> list[str]:
        """Every attempt of the case: its own patches, then the generic tampers."""
        own = [v for v in PATCH_VARIANTS if self.patch(v).is_file()]
        return own + list(GENERIC_TAMPERS)

    def assignment_order(self, variants: list[str]) -> list[str]:
        """``variants`` in a fixed pseudo-random order seeded by the case name.

        Neither ranker is handed the correct attempts first or last: nborch keeps the assignment
        order on equal scores and the exit-code ranker takes the first attempt that passes, so a
        hand-made order would favour one of them. The same order serves both.
        """
        order = sorted(variants)
        random.Random(self.name).shuffle(order)
        return order

    def plan(self, variants: list[str]) -> str:
        """The plan of one run: one task naming the failing tests, one agent per variant."""
        tests = " and ".join(f"`{t}`" for t in self.failing)
        agents = ", ".join(agent_name(v) for v in variants)
        # JSON is a YAML scalar: the command may hold "::" or quotes
        return (f"---\ntest_command: {json.dumps(self.test_command)}\n---\n"
                f"# Selection benchmark: {self.name}\n\n"
                f"## Task 1: Fix: {self.symptom}\n"
                f"Agents: {agents}\n\n"
                "**Validation criteria**\n\n"
                f"- {tests} pass\n")  # fmt: skip


def load_case(folder: Path) -> Case:
    """The case in ``folder`` (its case.toml)."""
    data = tomllib.loads((folder / "case.toml").read_text())
    return Case(name=folder.name, folder=folder, project=data["project"],
                version=data["version"], license=data["license"], symptom=data["symptom"],
                test_command=data["test_command"], failing=tuple(data["failing"]))  # fmt: skip


def load_cases(names: list[str] | None = None) -> list[Case]:
    """Every case, or the ones ``names`` lists (an unknown name is an error that lists them)."""
    known = sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.toml").is_file())
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}")
        known = [n for n in known if n in names]
    return [load_case(CASES_DIR / n) for n in known]
