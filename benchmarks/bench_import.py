"""Figure: the cost of ``import nborch``.

Target: <= 150 ms, and neither pandas nor ipywidgets imported. Measured with
``python -X importtime`` in fresh interpreters (best of 5); the baseline is an interpreter that
imports nothing, measured in the same run, so the figure is nborch's own cost.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

HEAVY = ("pandas", "ipywidgets", "numpy", "git", "jinja2", "click", "rich")


def run(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> int:
    baseline = min(run("pass") for _ in range(5))
    total = min(run("import nborch") for _ in range(5))
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import nborch"],
                         capture_output=True, text=True, check=True).stderr
    cumulative = {m.group(2).strip(): int(m.group(1))
                  for m in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \|(.+)", out)}
    own_ms = cumulative.get("nborch", 0) / 1000
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, nborch; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout.split()
    heavy = [m for m in HEAVY if m in loaded]
    print(f"interpreter alone:       {baseline * 1000:.0f} ms")
    print(f"interpreter + nborch:    {total * 1000:.0f} ms")
    print(f"import nborch (-X importtime, cumulative): {own_ms:.1f} ms (target <= 150 ms)")
    print(f"ratio (with nborch / interpreter alone): {total / baseline:.2f}x")
    print(f"heavy modules imported: {heavy or 'none'}")
    return 0 if own_ms <= 150 and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
