"""Plans other tools wrote, read as they are: spec-kit, Kiro, Taskmaster and hand-written plans.

Each module reads one format into a checked :class:`~nborch.plan.model.Plan` (same checks, same
``path:line`` errors as nborch's own markdown) and says in its docstring what is carried over:

- :mod:`~nborch.plan.formats.speckit` — GitHub spec-kit ``tasks.md``;
- :mod:`~nborch.plan.formats.kiro` — Kiro ``.kiro/specs/<feature>/tasks.md``;
- :mod:`~nborch.plan.formats.taskmaster` — Taskmaster ``tasks.json`` (tagged and legacy shapes);
- :mod:`~nborch.plan.formats.handwritten` — ``PLAN.md``, ``IMPLEMENTATION_PLAN.md``, ``TODO.md``;
- :mod:`~nborch.plan.formats.detect` — which of these (or markdown, YAML, TOML) a file is.

Every parser takes ``(text, where=None, split_subtasks=False)``: sub-tasks are key activities of
their task unless ``split_subtasks`` makes each a task of its own (see :mod:`._draft`).
"""

from .detect import detect_format
from .handwritten import parse_handwritten
from .kiro import parse_kiro
from .speckit import parse_speckit
from .taskmaster import parse_taskmaster

PARSERS = {
    "speckit": parse_speckit,
    "kiro": parse_kiro,
    "taskmaster": parse_taskmaster,
    "handwritten": parse_handwritten,
}

__all__ = [
    "PARSERS",
    "detect_format",
    "parse_handwritten",
    "parse_kiro",
    "parse_speckit",
    "parse_taskmaster",
]
