"""Plans: the model (:mod:`.model`), reading one from a file or text (:mod:`.load`) in any of the
formats nborch knows (:mod:`.markdown`, :mod:`.data`, :mod:`.formats`), held-out tests
(:mod:`.holdout`) and the pytest ids a task names (:mod:`.testids`).

>>> from nborch.plan import parse_plan
>>> parse_plan("# P\\n## Task 1: Write the README\\n").tasks[0].title
'Write the README'
"""

from .load import FORMATS, load_plan, parse_plan
from .model import DEFAULT_TEST_COMMAND, PRIORITIES, YES_NO, Criterion, Phase, Plan, Task

__all__ = [
    "DEFAULT_TEST_COMMAND",
    "FORMATS",
    "PRIORITIES",
    "YES_NO",
    "Criterion",
    "Phase",
    "Plan",
    "Task",
    "load_plan",
    "parse_plan",
]
