"""Figure: parsing a 5,000-task markdown plan.

Target: <= 1 s, and <= 2x the time markdown-it-py alone takes to tokenize the same text.
Prints both times and the ratio; the baseline is measured in the same run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_plan import big_plan, lean_plan
from markdown_it import MarkdownIt

import nborch


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(name: str, text: str) -> tuple[float, float]:
    md = MarkdownIt("commonmark")
    baseline = best_of(lambda: md.parse(text))
    plan = nborch.parse_plan(text)
    assert len(plan) == 5000, len(plan)
    ours = best_of(lambda: nborch.parse_plan(text))
    print(f"{name}: 5000 tasks, {len(text) / 1e6:.2f} MB, {len(plan.waves())} waves")
    print(f"  markdown-it-py tokenize: {baseline * 1000:.0f} ms")
    print(f"  nborch.parse_plan:       {ours * 1000:.0f} ms")
    print(f"  ratio: {ours / baseline:.2f}x (target <= 2.0x; absolute target <= 1000 ms)")
    return ours, ours / baseline


def main() -> int:
    _, rich_ratio = measure("rich plan (objectives, 2 criteria, implementation)", big_plan(5000))
    lean_time, lean_ratio = measure("lean plan (heading, dependency, 1 criterion)", lean_plan(5000))
    ok = max(rich_ratio, lean_ratio) <= 2.0 and lean_time <= 1.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
