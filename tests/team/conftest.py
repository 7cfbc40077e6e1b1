"""What the team tests share: a small plan, and a registry reset after every test."""

from __future__ import annotations

import pytest

import nborch
from nborch import agents as registry

PLAN = """# P
## Phase 1: Work
### Task 1: Fix crash when the config file is empty
The loader raises a traceback on an empty file.
### Task 2: Write the API reference docs
Document every public function in the README.
### Task 3: Refactor the payment module into services
Agents: aider
"""


@pytest.fixture
def plan() -> nborch.Plan:
    return nborch.parse_plan(PLAN, "plan.md")


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    registry.reset()
