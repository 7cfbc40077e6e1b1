"""What the weakening checks report, and which files they read — shared by :mod:`.weakening`
(test files) and :mod:`.loosened` (conftests and settings)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import PurePosixPath

__all__ = ["CONFIG_NAMES", "Change", "Finding", "dotted", "is_config_file", "is_conftest",
           "is_test_file"]  # fmt: skip

Change = tuple[str, str | None, str | None]  # (path, text before, text after); None = absent
CONFIG_NAMES = {"pyproject.toml", "ruff.toml", ".ruff.toml", "setup.cfg", "tox.ini",
                "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", ".coveragerc",
                ".flake8"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """One sign that tests or checks were weakened (or, for ``test-renamed``, moved)."""

    kind: str
    path: str
    detail: str

    @property
    def weakens(self) -> bool:
        """Whether this finding should fail the "not weakened" gate."""
        return self.kind != "test-renamed"

    def __repr__(self) -> str:
        return f"<Finding {self.kind} {self.path}: {self.detail}>"


def is_config_file(path: str) -> bool:
    """Whether ``path`` is a test or lint configuration file whose loosening is flagged."""
    return PurePosixPath(path).name in CONFIG_NAMES


def is_conftest(path: str) -> bool:
    """Whether ``path`` is a pytest ``conftest.py`` (any folder)."""
    return PurePosixPath(path.replace("\\", "/")).name == "conftest.py"


def is_test_file(path: str) -> bool:
    """Whether ``path`` is a Python test file by name or by being under ``tests/``."""
    p = PurePosixPath(path.replace("\\", "/"))
    if p.suffix != ".py":
        return False
    return p.name.startswith("test_") or p.stem.endswith("_test") or "tests" in p.parts[:-1]


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))
