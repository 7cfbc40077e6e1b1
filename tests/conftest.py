"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import nborch

DATA = Path(__file__).parent / "data"


@pytest.fixture
def golden() -> Callable[[str], nborch.Plan]:
    """Load a golden plan from ``tests/data/plans`` by file name."""

    def load(name: str) -> nborch.Plan:
        return nborch.load_plan(DATA / "plans" / name)

    return load
