"""Figure: classifying the 5,000 tasks of a rich plan (type, complexity, stack, confidence).

Target: <= 1 s. Baseline, measured in the same run: lower-casing every task's text and finding
its words with one regex (the least any classifier reads); the ratio says what the rules cost.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_parse import best_of
from gen_plan import big_plan

import nborch


def main() -> None:
    plan = nborch.parse_plan(big_plan())
    texts = [t.text for t in plan]
    words = re.compile(r"\w+")
    baseline = best_of(lambda: [words.findall(text.lower()) for text in texts])
    ours = best_of(lambda: nborch.classify_plan(plan))
    verdict = "PASS" if ours <= 1.0 else "FAIL"
    print(f"classify_plan: {len(plan)} tasks, {sum(map(len, texts)) / 1e6:.2f} MB of task text")
    print(f"  baseline (lower-case + one word regex): {baseline * 1000:.0f} ms")
    print(f"  nborch.classify_plan:                   {ours * 1000:.0f} ms (target <= 1000 ms: "
          f"{verdict})")
    print(f"  ratio: {ours / baseline:.2f}x")


if __name__ == "__main__":
    main()
