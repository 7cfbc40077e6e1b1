"""Figure: comparing 5 attempts costs at most 1.5x running their test suite once per attempt.

Target: ``nborch.compare(repo, run_id)`` on 5 attempts of one task in a generated repository of
~10,000 lines with a 400-test pytest suite takes <= 1.5x the *floor*: the same suite run once on
the base and once per attempt, one after the other, measured in the same run.

- Repository (:mod:`gen_repo`): package ``ledger``, 40 modules of ordinary functions and
  ``tests/test_modNN.py``; one commit.
- Run: a plan with one task ("speed up ``rle_encode`` in ``ledger/mod07.py``", ``test_command:
  python -m pytest -q``) and 5 script agents (this file with ``--agent``), each rewriting the
  function its own way and adding a test file; ``a4`` changes the result type and breaks an
  existing test, ``a5`` also adds a test to ``tests/test_mod07.py``. ``Coordinator(...,
  per_task=5).run_sync()`` makes the attempts (not timed).
- Floor: ``python -m pytest -q -p no:cacheprovider`` (the command as ``compare`` runs it, minus
  the JUnit file) in a detached checkout of the base (made before the clock starts) and in each
  attempt's worktree, sequentially.
- Compare: ``nborch.compare(repo, run_id, env=...)`` with a cold test cache (``.git/nborch/
  test-cache`` deleted first), default options, then the variants ``jobs=1``,
  ``coverage=False`` and ``cross=False, metrics=False``, each with its ratio to the floor.

Both get ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` (this venv's nbmake plugin costs ~1 s per pytest
start) and ``PYTHONDONTWRITEBYTECODE=1`` (which ``compare`` always sets). The floor is measured
before and after the comparisons; the ratio is against the faster of the two. Each comparison is
split into phases by its ``progress`` lines: diffs and metrics (sequential), the test runs (base +
attempts, ``jobs`` at once), the cross-tests, ranking and saving. The Python version matters:
coverage.py's tracer costs ~2.7x CPU on 3.11 and ~1.2x on 3.12+ (``sys.monitoring``).

    .venv/bin/python benchmarks/bench_compare.py [--quick] [--scale 16] [--modules 40]
        [--python PATH]  # the tests' interpreter (pytest + coverage installed), e.g. a 3.12 venv
        [--profile]      # cProfile of the default comparison (nborch's own Python time)
        [--dask]         # also the default comparison with its test runs on a 2-worker
                         # LocalCluster (2 threads each), against the local one, same run

Prints the figures; exits 0 (1 only when something fails to run). Everything is made in one
temporary folder and removed at the end, on failure too.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from gen_repo import make_project, rewrite_function  # noqa: E402

TARGET = 1.5
COMMAND = "{python} -m pytest -q"  # python: nborch's own, first on the tests' PATH
EXTRA_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
MODULE = "ledger/mod07.py"
VARIANTS: list[tuple[str, dict[str, object]]] = [
    ("default", {}),
    ("jobs=1", {"jobs": 1}),
    ("coverage=False", {"coverage": False}),
    ("cross=False, metrics=False", {"cross": False, "metrics": False}),
]
_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

PLAN = """\
---
test_command: {command}
---
# Comparison benchmark

Five agents attempt the same small task.

## Task 1: Speed up rle_encode

Rewrite `rle_encode` in `ledger/mod07.py` to be faster without changing what it returns, and add tests.
"""

# The five agents' edits: (new rle_encode, test file, its text).
_GROUPBY = '''
def rle_encode(text: str) -> list[tuple[str, int]]:
    """Run-length encoding: ``"aaab"`` -> ``[("a", 3), ("b", 1)]``."""
    from itertools import groupby

    return [(ch, sum(1 for _ in run)) for ch, run in groupby(text)]
'''
_INDEXED = '''
def rle_encode(text: str) -> list[tuple[str, int]]:
    """Run-length encoding: ``"aaab"`` -> ``[("a", 3), ("b", 1)]``."""
    out: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and text[j] == text[i]:
            j += 1
        out.append((text[i], j - i))
        i = j
    return out
'''
_LISTS = '''
def rle_encode(text: str) -> list[list]:
    """Run-length encoding as ``[char, count]`` pairs (lists are cheaper to update)."""
    out: list[list] = []
    for ch in text:
        if out and out[-1][0] == ch:
            out[-1][1] += 1
        else:
            out.append([ch, 1])
    return out
'''
_REGEX = '''
def rle_encode(text: str) -> list[tuple[str, int]]:
    """Run-length encoding: ``"aaab"`` -> ``[("a", 3), ("b", 1)]``."""
    import re

    return [(m.group(1), len(m.group(0))) for m in re.finditer(r"(.)\\1*", text, re.S)]
'''
_TEST = """\
from ledger.mod07 import rle_decode, rle_encode


def test_runs_{a}():
    assert rle_encode("aaabccdddd") == [("a", 3), ("b", 1), ("c", 2), ("d", 4)]


def test_empty_{a}():
    assert rle_encode("") == []


def test_roundtrip_{a}():
    text = "xxyyyz" * 100 + "\\n\\n"
    assert rle_decode(rle_encode(text)) == text
"""
EDITS = {
    "a1": (_GROUPBY, "tests/test_rle_a1.py", _TEST.format(a="a1")),
    "a2": (_INDEXED, "tests/test_rle_a2.py", _TEST.format(a="a2")),
    "a3": (_GROUPBY.replace("sum(1 for _ in run)", "len(list(run))"), "tests/test_rle_a3.py",
           _TEST.format(a="a3") + '\n\ndef test_unicode_a3():\n    assert rle_encode("ééa") == '
           '[("é", 2), ("a", 1)]\n'),
    "a4": (_LISTS, "tests/test_rle_a4.py",
           ('from ledger.mod07 import rle_encode\n\n\ndef test_lists_a4():\n'
            '    assert rle_encode("aab") == [["a", 2], ["b", 1]]\n')),
    "a5": (_REGEX, "tests/test_rle_a5.py", _TEST.format(a="a5")),
}  # fmt: skip


def agent_main(worktree: str, variant: str) -> None:
    """What each script agent does: rewrite ``rle_encode`` and write its test file."""
    source, test_path, test_text = EDITS[variant]
    root = Path(worktree)
    rewrite_function(root / MODULE, "rle_encode", source)
    (root / test_path).write_text(test_text)
    if variant == "a5":  # also changes an existing test file
        with (root / "tests/test_mod07.py").open("a") as fh:
            fh.write('\n\ndef test_rle_single_a5():\n    assert rle_encode("q") == [("q", 1)]\n')


# ---- setting up --------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=_ENV, check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def make_repo(path: Path, modules: int, scale: int) -> dict[str, int]:
    counts = make_project(path, modules=modules, scale=scale)
    git(path, "init", "--quiet", "-b", "main")
    git(path, "config", "user.name", "bench")
    git(path, "config", "user.email", "bench@example.invalid")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "--no-verify", "-m", "generated")
    return counts


def make_run(repo: Path, root: Path, command: str):  # -> nborch.Coordinator
    import nborch

    names = []
    for variant in EDITS:
        name = f"bench-{variant}"
        nborch.script_agent(name, f"{shlex.quote(sys.executable)} {shlex.quote(__file__)} "
                                  f"--agent {{worktree}} {variant}")  # fmt: skip
        names.append(name)
    plan = nborch.parse_plan(PLAN.format(command=command), source="bench.md")
    run = nborch.Coordinator(repo, plan, agents=names, per_task=len(names), max_concurrent=5,
                             timeout=120, validate=False, root=root)  # fmt: skip
    run.run_sync()
    bad = [(ex.agent, str(ex.status), ex.error) for ex in run.executions.values()
           if str(ex.status) != "completed" or not ex.commit]  # fmt: skip
    if run.error is not None or len(run.executions) != len(names) or bad:
        raise RuntimeError(f"the run did not complete every attempt: {run.error!r} {bad}")
    return run


# ---- measuring ---------------------------------------------------------------------------------


def test_env() -> dict[str, str]:
    """Exactly the environment compare's test runs get."""
    from nborch.compare.gather import CompareOptions

    return {**CompareOptions(env=EXTRA_ENV).test_env(), "PYTHONDONTWRITEBYTECODE": "1"}


def cpu() -> float:
    """CPU seconds used so far by this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


Timing = tuple[float, float, list[tuple[str, float, int]]]  # seconds, CPU seconds, per place


def floor(places: list[tuple[str, Path]], command: str) -> Timing:
    """The suite once in each place, sequentially: seconds, CPU seconds, (label, seconds, exit)."""
    argv, env = [*shlex.split(command), "-p", "no:cacheprovider"], test_env()
    rows = []
    cpu0, start = cpu(), time.perf_counter()
    for label, where in places:
        t0 = time.perf_counter()
        done = subprocess.run(argv, cwd=where, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        if done.returncode not in (0, 1):  # 1: some tests failed, which a4 means to do
            raise RuntimeError(f"the suite did not run in {where}: exit {done.returncode}")
        rows.append((label, time.perf_counter() - t0, done.returncode))
    return time.perf_counter() - start, cpu() - cpu0, rows


class Phases:
    """Times the comparison's steps from its ``progress`` lines."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, str]] = []

    def __call__(self, line: str) -> None:
        self.marks.append((time.perf_counter(), line))

    def split(self, t0: float, t_end: float) -> list[tuple[str, float]]:
        def first(prefix: str) -> float | None:
            return next((t for t, line in self.marks if line.startswith(prefix)), None)

        points = [("load the run", t0), ("diffs + metrics (sequential)", first("diff")),
                  ("test runs: base + attempts (parallel)", first("tests")),
                  ("cross-tests, rank, save", first("cross-tests"))]  # fmt: skip
        present = [(label, t) for label, t in points if t is not None]
        out = []
        for (label, t), (_, nxt) in zip(present, [*present[1:], ("", t_end)], strict=True):
            out.append((label, nxt - t))
        return out


def compare_once(repo: Path, run_id: str, options: dict[str, object],
                 profiler: cProfile.Profile | None = None):  # fmt: skip
    """One comparison with a cold test cache: (seconds, CPU seconds, phases, comparison)."""
    import nborch

    shutil.rmtree(repo / ".git" / "nborch" / "test-cache", ignore_errors=True)
    phases = Phases()
    cpu0, start = cpu(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = nborch.compare(repo, run_id, env=EXTRA_ENV, progress=phases, **options)
    if profiler is not None:
        profiler.disable()
    elapsed, used = time.perf_counter() - start, cpu() - cpu0
    return elapsed, used, phases.split(start, start + elapsed), result


def describe(result) -> list[str]:  # result: nborch.Comparison
    """Per-attempt test durations, gates and coverage, and the cross-test runs."""
    lines = []
    ranked = result.tasks[next(iter(result.tasks))]
    base = ranked[0].evidence.baseline
    if base is not None:
        lines.append(f"    base run {base.duration_s:.2f} s ({len(base.outcomes)} tests)")
    for r in sorted(ranked, key=lambda r: r.agent):
        ev = r.evidence
        cov = "" if ev.coverage is None else f", coverage {ev.coverage:.0%}"
        took = f"{ev.tests.duration_s:.2f} s" if ev.tests is not None else "not run"
        lines.append(f"    {ev.agent}: tests {took}{cov}; rank {r.rank}, failed gates: "
                     f"{', '.join(r.gates.failed) or '-'}")  # fmt: skip
    for task, matrix in result.matrices.items():  # own cells come from the full runs above
        ran = [run.duration_s for (author, runner), run in matrix.runs.items() if author != runner]
        lines.append(f"    cross-tests {task}: {len(ran)} runs (+{len(matrix.runs) - len(ran)} "
                     f"from the full runs), {sum(ran):.2f} s of test runs")  # fmt: skip
    rec = result.recommend(next(iter(result.tasks)))
    lines.append(f"    recommendation: {rec}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default comparison only")
    parser.add_argument("--modules", type=int, default=40, help="modules in the generated package")
    parser.add_argument("--scale", type=int, default=16, help="work per test (suite run time)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the default comparison's main thread (slower)")  # fmt: skip
    parser.add_argument("--top", type=int, default=25, help="profile rows to show")
    parser.add_argument("--dask", action="store_true",
                        help="also compare with the test runs on a 2-worker Dask LocalCluster")
    parser.add_argument("--python", default="python",
                        help="the tests' interpreter (needs pytest and coverage), e.g. a 3.12 venv's")  # fmt: skip
    args = parser.parse_args()
    command = COMMAND.format(python=args.python)
    import nborch
    from nborch.compare.gather import CompareOptions

    tmp = Path(tempfile.mkdtemp(prefix="nborch-bench-compare-"))
    try:
        repo = tmp / "repo"
        repo.mkdir()
        counts = make_repo(repo, args.modules, args.scale)
        t0 = time.perf_counter()
        run = make_run(repo, tmp / "worktrees", command)
        run_id = run.prepared.run.id
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs, load {load}; "
              f"compare jobs by default: {CompareOptions().workers}")  # fmt: skip
        print(f"repository: {counts['lines']} lines, {counts['tests']} tests; run {run_id}: "
              f"{len(run.executions)} attempts made in {time.perf_counter() - t0:.1f} s; "
              f"temp folder {tmp}")  # fmt: skip
        base_wt = tmp / "base-checkout"
        base = run.prepared.run.base_commit
        git(repo, "worktree", "add", "--detach", "--quiet", str(base_wt), base)
        places = [("base", base_wt)] + [(pa.attempt.agent, pa.attempt.path)
                                        for pa in run.prepared.attempts]  # fmt: skip
        floor1, floor_cpu, rows = floor(places, command)
        print(f"floor (`{command} -p no:cacheprovider` x{len(places)}, sequential): {floor1:.2f} s, "
              f"{floor_cpu:.2f} CPU s")  # fmt: skip
        print("    " + ", ".join(f"{label} {secs:.2f} s (exit {rc})" for label, secs, rc in rows))
        profiler = cProfile.Profile() if args.profile else None
        results = []
        for label, options in VARIANTS[:1] if args.quick else VARIANTS:
            elapsed, used, phases, result = compare_once(
                repo, run_id, options, profiler if label == "default" else None)  # fmt: skip
            results.append((label, elapsed, used, phases, result))
        if args.dask:
            import distributed

            with (distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                           dashboard_address=":0") as cluster,
                  distributed.Client(cluster) as client):  # fmt: skip
                executor = nborch.DaskExecutor(client)
                executor.scatter_commit(repo, base)  # the cluster is up before the clock, as in use
                elapsed, used, phases, result = compare_once(repo, run_id, {"executor": executor})
                results.append(("dask, LocalCluster 2 x 2", elapsed, used, phases, result))
        floor2, floor2_cpu, _ = floor(places, command)
        best = min(floor1, floor2)
        best_cpu = min(floor_cpu, floor2_cpu)
        print(f"floor again after the comparisons: {floor2:.2f} s, {floor2_cpu:.2f} CPU s; the "
              f"ratios use {best:.2f} s and {best_cpu:.2f} CPU s")  # fmt: skip
        for label, elapsed, used, phases, result in results:
            print(f"compare ({label}): {elapsed:.2f} s, ratio {elapsed / best:.2f}x; "
                  f"{used:.2f} CPU s, {used / best_cpu:.2f}x the floor's CPU")  # fmt: skip
            print("    phases: " + ", ".join(f"{p} {s:.2f} s" for p, s in phases))
            for line in describe(result):
                print(line)
        if args.dask:
            here, there = results[0], results[-1]
            same = here[4].recommend() == there[4].recommend()
            print(f"dask vs local (default options): {there[1]:.2f} s vs {here[1]:.2f} s, "
                  f"{there[1] / here[1]:.2f}x; same recommendation: {'yes' if same else 'NO'}")
        default = results[0][1] / best
        print(f"ratio (default options): {default:.2f}x (target <= {TARGET:.1f}x): "
              f"{'met' if default <= TARGET else 'NOT met'}")  # fmt: skip
        if profiler is not None:
            print("\ncProfile of the default comparison, main thread (cumulative seconds):")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--agent"]:
        agent_main(*sys.argv[2:4])
        sys.exit(0)
    sys.exit(main())
