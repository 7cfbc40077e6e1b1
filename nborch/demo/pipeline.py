"""The whole pipeline on the sample project, with demo agents only: what `nborch demo` runs.

Every task gets two demo agents: the careful one, and one of the others — the hasty one (code
that looks right and is subtly wrong), the broken one (crashes) on task 1.3, the slow one (runs
into the timeout) on task 2.1 — so the run shows a failure, a timeout and attempts of differing
quality side by side. No model and no network are involved.
"""

from __future__ import annotations

from dataclasses import replace

from ..plan.model import Plan
from ..team.assign import Assignments, assign

SECOND_AGENT = {"1.3": "demo-broken", "2.1": "demo-slow"}


def demo_assignments(plan: Plan) -> Assignments:
    """Two demo agents per task: ``demo`` (careful) and the one :data:`SECOND_AGENT` names
    (``demo-hasty`` for the rest)."""
    team = assign(plan, agents=["demo", "demo-hasty"], per_task=2)
    items = []
    for item in team:
        second = SECOND_AGENT.get(item.task, "demo-hasty")
        items.append(replace(item, primary_agent="demo", secondary_agents=(second,),
                             justification=f"demo run: the careful demo agent and {second}",
                             scores=(), available=(True, True)))  # fmt: skip
    return replace(team, items=tuple(items))
