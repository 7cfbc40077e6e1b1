"""nborch: turn an implementation plan into parallel work by AI coding agents, from a notebook.

>>> import nborch
>>> plan = nborch.parse_plan("# P\\n## Task 1: Write the README\\n")
>>> plan.tasks[0].title
'Write the README'
"""

from .errors import AgentError, AssignError, NborchError, PlanError, WorktreeError
from .loader import load_plan, parse_plan
from .plan import Criterion, Phase, Plan, Task

__version__ = "0.1.0"

__all__ = [
    "AgentError",
    "AssignError",
    "Criterion",
    "NborchError",
    "Phase",
    "Plan",
    "PlanError",
    "Task",
    "WorktreeError",
    "load_plan",
    "parse_plan",
]
