"""The public surface: what `import nborch` gives, and what it costs."""

from __future__ import annotations

import subprocess
import sys

import nborch


class TestExports:
    def test_all_is_sorted_and_complete(self) -> None:
        """__all__ is sorted (constants first, as ruff sorts it) and every name in it exists."""
        names = nborch.__all__
        consts = [n for n in names if n.isupper()]
        rest = [n for n in names if not n.isupper()]
        assert names == sorted(consts) + sorted(rest, key=lambda n: (n[0].islower(), n))
        assert all(hasattr(nborch, n) for n in names)

    def test_design_api_is_exported(self) -> None:
        """The names DESIGN.md's tour uses are exported."""
        for name in ("load_plan", "parse_plan", "assign", "classify", "classify_plan", "Plan",
                     "Task", "NborchError", "PlanError", "AgentError", "WorktreeError"):  # fmt: skip
            assert name in nborch.__all__

    def test_errors_form_one_tree(self) -> None:
        """Every nborch error derives from NborchError, and PlanError is also a ValueError."""
        for err in (nborch.PlanError, nborch.AgentError, nborch.AssignError, nborch.WorktreeError):
            assert issubclass(err, nborch.NborchError)
        assert issubclass(nborch.PlanError, ValueError)


class TestImportCost:
    def test_import_loads_no_heavy_module(self) -> None:
        """`import nborch` imports neither pandas, ipywidgets, git nor jinja2, and creates no file."""
        code = ("import sys, nborch; heavy = {'pandas', 'ipywidgets', 'git', 'jinja2', 'IPython'}; "
                "print(sorted(heavy & set(sys.modules)))")  # fmt: skip
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.strip()  # fmt: skip
        assert out == "[]"
