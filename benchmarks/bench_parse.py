"""Figure: parsing a 5,000-task markdown plan.

Target: <= 1 s, and <= 2x the time markdown-it-py alone takes to tokenize the same text.
Prints both times and the ratio; the baseline is measured in the same run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_plan import big_plan
from markdown_it import MarkdownIt

import nborch


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    text = big_plan(5000)
    md = MarkdownIt("commonmark")
    baseline = best_of(lambda: md.parse(text))
    plan = nborch.parse_plan(text)
    assert len(plan) == 5000, len(plan)
    ours = best_of(lambda: nborch.parse_plan(text))
    ratio = ours / baseline
    print(f"plan: 5000 tasks, {len(text) / 1e6:.2f} MB, {len(plan.waves())} waves")
    print(f"markdown-it-py tokenize: {baseline * 1000:.0f} ms")
    print(f"nborch.parse_plan:       {ours * 1000:.0f} ms")
    print(f"ratio: {ratio:.2f}x (target <= 2.0x; absolute target <= 1000 ms)")
    return 0 if ratio <= 2.0 and ours <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
