"""Figure: how much a finished 100-attempt run shown in a notebook adds to the saved .ipynb.

A notebook executed by nbclient (as nbmake and nbconvert do) makes a run of 50 tasks x 2 demo
agents (never started: no git, no process), gives every attempt a final state and about the
longest values its cells show (hour-long times, millions of tokens, long last lines and errors,
a 20-line log tail), then shows it. Measured in the same run:

- baseline: the same notebook ending in ``run.summary()`` instead (a 100-row DataFrame, every
  row shown);
- view: ending in ``show(run)`` (widget, final HTML table and text, and the widget state that
  nbclient saves in the notebook's metadata).

Printed: bytes each adds to the .ipynb (the executed notebook minus the same notebook with no
outputs, no widget state), the view's growth against the 200 KB target, and the ratio of the
view to the baseline. No asserts: figures only.

    .venv/bin/python benchmarks/bench_nbsize.py [--attempts 100]
"""

from __future__ import annotations

import argparse
import copy
import tempfile

import nbclient
import nbformat

TARGET = 200_000

SETUP = """\
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nborch
from nborch.events import AttemptState as S
from nborch.view.live import show

text = "# Big\\n" + "".join(f"## Task {{i}}: Step {{i}}\\n" for i in range(1, {tasks} + 1))
team = nborch.assign(nborch.parse_plan(text), agents=["demo", "demo-hasty"], per_task=2)
run = nborch.Coordinator(Path({root!r}), team)
now = datetime.now(UTC)
for i, ex in enumerate(run.executions.values()):
    ex.status = (S.COMPLETED, S.FAILED, S.TIMEOUT, S.CANCELLED)[i % 4]
    ex.started_at, ex.ended_at = now - timedelta(seconds=3600 + i), now
    ex.input_tokens, ex.output_tokens, ex.cost_usd = 1_234_567, 89_012, 12.3456
    ex.files_changed, ex.insertions, ex.deletions = 123, 45_678, 9_012
    ex.commit, ex.branch = "f" * 40, f"nborch/20250101-000000-abcd/{{ex.task}}/{{ex.agent}}"
    ex.validation = ("passed", "failed", "none", "")[i % 4]
    ex.last_line = "a very long last line of agent output " * 20
    ex.error = "" if i % 4 == 0 else "error text " * 100
    ex.tail = ["log line " * 30] * 20
"""


def growth(last_cell: str, tasks: int, root: str) -> int:
    """Bytes the executed notebook has beyond the same notebook with no outputs."""
    cells = [SETUP.format(tasks=tasks, root=root), last_cell]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    if errors:
        raise SystemExit(f"the notebook failed: {errors[0].ename}: {errors[0].evalue}")
    blank = copy.deepcopy(nb)
    blank.metadata.pop("widgets", None)
    for cell in blank.cells:
        cell.outputs, cell.execution_count = [], None
    return len(nbformat.writes(nb).encode()) - len(nbformat.writes(blank).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=100, help="an even number")
    args = parser.parse_args()
    tasks = args.attempts // 2
    with tempfile.TemporaryDirectory(prefix="nborch-bench-nbsize-") as root:
        every_row = "import pandas as pd\n\npd.set_option('display.max_rows', None)\n"
        base = growth(every_row + "run.summary()", tasks, root)
        view = growth("show(run)", tasks, root)
    print(f"a finished {args.attempts}-attempt run saved in an executed notebook:")
    print(f"  baseline, run.summary() DataFrame: {base / 1000:7.1f} kB")
    print(f"  the run view, show(run):           {view / 1000:7.1f} kB   "
          f"({view / TARGET:.0%} of the {TARGET // 1000} kB target)")  # fmt: skip
    print(f"  ratio view / baseline: {view / max(base, 1):.2f}x")


if __name__ == "__main__":
    main()
