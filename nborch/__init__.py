"""nborch: turn an implementation plan into parallel work by AI coding agents, from a notebook.

>>> import nborch
>>> plan = nborch.parse_plan("# P\\n## Task 1: Write the README\\n")
>>> plan.tasks[0].title
'Write the README'
"""

from . import agents, widgets
from .agents import AgentSpec, Capability, script_agent
from .compare import compare  # the function shadows the subpackage's name, on purpose
from .dashboard import dashboard
from .errors import AgentError, AssignError, NborchError, PlanError, StoreError, WorktreeError
from .events import AgentEvent, AttemptState, RunEvent
from .execute.cluster import DaskExecutor  # dask.distributed itself loads on first use
from .execute.executor import LocalExecutor
from .execute.runs import history
from .plan import Criterion, Phase, Plan, Task, load_plan, parse_plan
from .run import Run
from .team.assign import AgentAssignment, Assignments, PastResults, assign
from .team.classify import Classification, Classifications, classify, classify_plan
from .team.history import History, load_history
from .team.rules import DEFAULT_RULES, TASK_TYPES, Rule
from .version import __version__ as __version__
from .workspace.manager import WorktreeManager
from .workspace.prepare import PreparedRun, prepare

Coordinator = Run  # one class, two names: `nborch.Run.load(repo, run_id)` reads best for a recorded run


__all__ = [
    "DEFAULT_RULES",
    "TASK_TYPES",
    "AgentAssignment",
    "AgentError",
    "AgentEvent",
    "AgentSpec",
    "AssignError",
    "Assignments",
    "AttemptState",
    "Capability",
    "Classification",
    "Classifications",
    "Comparison",
    "Coordinator",
    "Criterion",
    "DaskExecutor",
    "History",
    "LocalExecutor",
    "NborchError",
    "PastResults",
    "Phase",
    "Plan",
    "PlanError",
    "PreparedRun",
    "Rule",
    "Run",
    "RunEvent",
    "StoreError",
    "Task",
    "WorktreeError",
    "WorktreeManager",
    "agents",
    "assign",
    "classify",
    "classify_plan",
    "compare",
    "dashboard",
    "history",
    "load_history",
    "load_plan",
    "parse_plan",
    "prepare",
    "script_agent",
    "widgets",
]


def __getattr__(name: str) -> object:
    # The comparison engine loads on first use, keeping `import nborch` fast.
    if name == "Comparison":
        from .compare.comparison import Comparison

        return Comparison
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
