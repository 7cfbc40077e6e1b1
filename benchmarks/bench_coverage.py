"""Figure: what measuring coverage of changed lines adds to a test run.

A generated project of 50 modules and 200 tests (each test does a few milliseconds of real work:
a prime sieve, Collatz lengths, word counts, a DP edit distance) is run with
``nborch.compare.tests.run_tests`` three ways, best of ``--rounds`` each, the order rotating every
round:

- plain: ``python -m pytest -q``;
- changed files: the same under coverage.py with ``--include`` of 3 modules (what the comparison
  engine does: only an attempt's changed files are measured);
- everything: under coverage.py measuring every module of the project, for reference.

Prints, for each way, the wall time and the CPU time of the child processes (user + system;
steadier than wall time on a busy machine), and their ratios to the plain run. Entry-point pytest
plugins are not loaded (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``) so that the figure is the test work
and coverage.py, not the import time of whatever plugins happen to be installed next to nborch.

On Python 3.12+ ``run_tests`` has coverage.py use ``sys.monitoring``, which leaves code outside
``--include`` alone; before 3.12 the settrace core slows every line of every file, measured or not.
``--python`` runs the tests with another interpreter (it needs pytest and coverage installed).

    .venv/bin/python benchmarks/bench_coverage.py [--rounds 3] [--modules 50] [--tests 4]
    .venv/bin/python benchmarks/bench_coverage.py --python /path/to/py312-venv/bin/python
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from nborch.compare.tests import run_tests

MODULE = '''"""Generated module {k}: small pure-Python workloads."""


def sieve(n):
    marks = [True] * (n + 1)
    marks[0] = marks[1] = False
    for i in range(2, int(n ** 0.5) + 1):
        if marks[i]:
            for j in range(i * i, n + 1, i):
                marks[j] = False
    return [i for i, ok in enumerate(marks) if ok]


def collatz_longest(limit):
    best, best_n = 0, 1
    for start in range(1, limit):
        n, steps = start, 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            steps += 1
        if steps > best:
            best, best_n = steps, start
    return best_n, best


def word_counts(text):
    counts = {{}}
    for word in text.lower().split():
        word = word.strip(".,;:!?")
        if word:
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
'''

TEST = '''from proj.mod_{k:02d} import collatz_longest, edit_distance, sieve, word_counts

TEXT = "the quick brown fox jumps over the lazy dog. " * {words}


def test_sieve():
    primes = sieve({sieve_n})
    assert primes[:4] == [2, 3, 5, 7] and all(p > 1 for p in primes)


def test_collatz():
    n, steps = collatz_longest({collatz_n})
    assert 1 <= n < {collatz_n} and steps > 0


def test_word_counts():
    counts = dict(word_counts(TEXT))
    assert counts["the"] == 2 * {words}


def test_edit_distance():
    assert edit_distance("kitten" * {edit}, "sitting" * {edit}) > 0
'''
EXTRA_TEST = '''

def test_extra_{n}():
    assert len(sieve({sieve_n})) > 100
'''


def make_project(root: Path, modules: int, tests: int) -> list[str]:
    """Write the project; returns the module paths (relative to ``root``)."""
    pkg = root / "proj"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (root / "tests").mkdir()
    paths = []
    for k in range(modules):
        (pkg / f"mod_{k:02d}.py").write_text(MODULE.format(k=k))
        params = {"k": k, "words": 200 + 10 * k, "sieve_n": 40_000 + 500 * k,
                  "collatz_n": 1500 + 20 * k, "edit": 6 + k % 3}  # fmt: skip
        body = TEST.format(**params)
        body += "".join(EXTRA_TEST.format(n=n, **params) for n in range(max(tests - 4, 0)))
        (root / "tests" / f"test_mod_{k:02d}.py").write_text(body)
        paths.append(f"proj/mod_{k:02d}.py")
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modules", type=int, default=50)
    parser.add_argument("--tests", type=int, default=4, help="tests per module (4 or more)")
    parser.add_argument("--python", default=sys.executable, help="the Python to run the tests with")
    args = parser.parse_args()
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("COVERAGE_CORE", None)  # let run_tests choose the core
    command = f"{shlex.quote(args.python)} -m pytest -q"
    with tempfile.TemporaryDirectory(prefix="nborch-bench-coverage-") as tmp:
        root = Path(tmp) / "project"
        modules = make_project(root, args.modules, args.tests)
        data = Path(tmp) / "coverage.data"
        ways = {
            "plain": {},
            "changed files": {"coverage_include": modules[:3], "coverage_file": data},
            "everything": {"coverage_include": ["proj/*"], "coverage_file": data},
        }
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        count = 0
        for r in range(args.rounds):
            names = list(ways)
            names = names[r % len(names):] + names[: r % len(names)]  # rotate the order
            for name in names:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                run = run_tests(root, command, timeout=900, env=env, **ways[name])
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if not run.ok or run.notes:
                    print(f"{name}: run failed or was not measured: {run!r} {run.notes}\n{run.tail}")
                    return 1
                count = len(run.outcomes)
                used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                wall[name] = min(wall.get(name, float("inf")), run.duration_s)
                cpu[name] = min(cpu.get(name, float("inf")), used)
    version = subprocess.run([args.python, "-V"], capture_output=True, text=True).stdout.strip()
    print(f"{args.modules} modules, {count} tests, {version}, best of {args.rounds}")
    print(f"  {'':14} {'wall':>8} {'ratio':>6} {'cpu':>8} {'ratio':>6}")
    for name in ways:
        print(f"  {name:14} {wall[name]:6.2f} s {wall[name] / wall['plain']:5.2f}x "
              f"{cpu[name]:6.2f} s {cpu[name] / cpu['plain']:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
