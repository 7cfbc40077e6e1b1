"""Figure: what an event storm costs the kernel that shows the live run view.

Storm: 100 attempts (50 tasks x 2 demo agents, never started, no process) emit 10,000 events a
second in total for 10 s, each changing its attempt's last line, from an asyncio loop on a helper
thread — where the coordinator's events come from. It runs in a real IPython kernel executed by
nbclient, so every render really serialises widget state and sends it over ZMQ.

- baseline: the same storm with no view (the events go nowhere);
- view: the same storm with ``show(run)`` displayed, so the view subscribes and renders.

Printed: renders per second (target <= ~4; the throttle allows 4 plus the final one); rendering
CPU as a share of one core, measured two ways: the thread CPU time spent inside
``RunView.render`` (``time.thread_time``), and the process CPU of the view's storm minus the
baseline's (which adds the per-event cost of the subscription and ipykernel's sending thread;
target <= 10 %); and the ratio of the two storms' process CPU. No asserts: figures only.

    .venv/bin/python benchmarks/bench_render.py [--seconds 10] [--rate 10000] [--attempts 100]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import textwrap
import time

import nbclient
import nbformat

SETUP = """\
import asyncio, json, threading, time
from datetime import UTC, datetime
from pathlib import Path

import nborch
from nborch import RunEvent
from nborch.events import AttemptState as S
from nborch.view.live import RunView, show


def fake_run(tasks):
    text = "# Storm\\n" + "".join(f"## Task {{i}}: Step {{i}}\\n" for i in range(1, tasks + 1))
    team = nborch.assign(nborch.parse_plan(text), agents=["demo", "demo-hasty"], per_task=2)
    return nborch.Coordinator(Path({root!r}), team)


def storm(run, seconds, rate):
    \"\"\"Emit ``rate`` events a second for ``seconds`` from a loop on another thread, then
    finish the run; returns (events sent, process CPU s, wall s).\"\"\"
    keys = list(run.executions)
    out = {{}}

    async def main():
        now = datetime.now(UTC)
        for ex in run.executions.values():
            ex.status, ex.started_at = S.RUNNING, now
        sent, start = 0, time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            while sent < int(elapsed * rate):  # catch up to the rate, then yield 10 ms
                task, agent = keys[sent % len(keys)]
                run.executions[(task, agent)].last_line = f"line {{sent}}"
                run.emit(RunEvent("agent", "storm", task, agent))
                sent += 1
            await asyncio.sleep(0.01)
        for ex in run.executions.values():
            ex.status, ex.ended_at = S.COMPLETED, datetime.now(UTC)
        run.emit(RunEvent("run", "storm", text="finished"))
        out["sent"] = sent

    cpu, wall = time.process_time(), time.monotonic()
    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    thread.join()
    return out["sent"], time.process_time() - cpu, time.monotonic() - wall
"""

BASELINE = """\
run = fake_run({tasks})
sent, cpu, wall = storm(run, {seconds}, {rate})
print(json.dumps({{"sent": sent, "cpu": cpu, "wall": wall}}))
"""

WITH_VIEW = """\
run = fake_run({tasks})
show(run)
view = RunView.of(run)
render_cpu = [0.0]
_render = view.render


def timed_render():
    t = time.thread_time()
    _render()
    render_cpu[0] += time.thread_time() - t


view.render = timed_render
before = view.renders
sent, cpu, wall = storm(run, {seconds}, {rate})
time.sleep(0.5)  # a trailing render, if one was due
print(json.dumps({{"sent": sent, "cpu": cpu, "wall": wall, "renders": view.renders - before,
                  "render_cpu": render_cpu[0], "final": "line " + str(sent - 1) in view.table.value}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=10_000, help="events per second in total")
    parser.add_argument("--attempts", type=int, default=100, help="an even number")
    args = parser.parse_args()
    fill = {"tasks": args.attempts // 2, "seconds": args.seconds, "rate": args.rate}
    with tempfile.TemporaryDirectory(prefix="nborch-bench-render-") as root:
        cells = [SETUP.format(root=root), BASELINE.format(**fill), WITH_VIEW.format(**fill)]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        started = time.monotonic()
        nbclient.NotebookClient(nb, timeout=int(args.seconds * 10) + 120,
                                kernel_name="python3").execute()  # fmt: skip
        took = time.monotonic() - started
    base, view = (_result(nb.cells[i]) for i in (1, 2))
    renders_per_s = view["renders"] / view["wall"]
    inside = view["render_cpu"] / view["wall"]
    extra = (view["cpu"] - base["cpu"]) / view["wall"]
    print(textwrap.dedent(f"""\
        event storm: {args.attempts} attempts, {view['sent'] / view['wall']:,.0f} events/s for \
{view['wall']:.1f} s, in an IPython kernel (nbclient, {took:.0f} s in all)
          baseline (no view)   process CPU {base['cpu']:.2f} s = {base['cpu'] / base['wall']:.1%} of a core
          with the run view    process CPU {view['cpu']:.2f} s = {view['cpu'] / view['wall']:.1%} of a core
          ratio view / baseline (process CPU): {view['cpu'] / max(base['cpu'], 1e-9):.2f}x
          renders: {view['renders']} = {renders_per_s:.2f} /s   (target <= ~4 /s)
          rendering CPU, inside RunView.render: {inside:.1%} of one core   (target <= 10 %)
          rendering CPU, view minus baseline:   {extra:.1%} of one core   (target <= 10 %)
          final state rendered: {view['final']}"""))


def _result(cell: nbformat.NotebookNode) -> dict[str, float]:
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return json.loads(text.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
