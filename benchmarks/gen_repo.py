"""A generated Python project for the comparison benchmark: ~10,000 lines and a pytest suite.

``make_project(path)`` writes package ``ledger`` (``modules`` modules of ordinary functions:
checksums, sieves, edit distance, run-length coding, sorting, parsing, a small account class …,
each module's constants differ) and ``tests/test_modNN.py`` with 10 tests each.
The tests do real work (a few milliseconds each), so the suite takes a few seconds next to
pytest's start-up — the ratio of a small real project, not of an empty one.

``rewrite_function(path, name, source)`` swaps one top-level function for new source: what the
benchmark's script agents use to make their edits.

    .venv/bin/python benchmarks/gen_repo.py DIR      # write the project into DIR and count lines
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

PACKAGE = "ledger"

# One module's functions; ``{k}`` is the module number, ``{m}`` a small per-module constant.
MODULE = '''\
"""Module {k:02d} of the generated ledger package: small, ordinary, tested functions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MODULUS = 65521
SALT = {m}


def checksum(data: bytes) -> int:
    """An Adler-32 style checksum of ``data``, salted per module."""
    a, b = 1 + SALT, 0
    for byte in data:
        a = (a + byte) % MODULUS
        b = (b + a) % MODULUS
    return (b << 16) | a


def primes_upto(n: int) -> list[int]:
    """All primes <= ``n`` (sieve of Eratosthenes)."""
    if n < 2:
        return []
    sieve = bytearray([1]) * (n + 1)
    sieve[0] = sieve[1] = 0
    i = 2
    while i * i <= n:
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(range(i * i, n + 1, i)))
        i += 1
    return [i for i, flag in enumerate(sieve) if flag]


def collatz_length(n: int) -> int:
    """Steps for ``n`` to reach 1 under the Collatz map."""
    if n < 1:
        raise ValueError("n must be positive")
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between ``a`` and ``b``."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]


def matmul(x: list[list[float]], y: list[list[float]]) -> list[list[float]]:
    """The matrix product ``x @ y`` of two lists of rows."""
    if not x or len(x[0]) != len(y):
        raise ValueError("shapes do not match")
    cols = list(zip(*y))
    return [[sum(p * q for p, q in zip(row, col)) for col in cols] for row in x]


def merge_sort(items: list[int]) -> list[int]:
    """A new sorted list (stable merge sort)."""
    if len(items) <= 1:
        return list(items)
    mid = len(items) // 2
    left, right = merge_sort(items[:mid]), merge_sort(items[mid:])
    out, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def word_frequencies(text: str, top: int = 5) -> list[tuple[str, int]]:
    """The ``top`` most common lowercase words of ``text`` with their counts."""
    words = [w.strip(".,;:!?\\"'()").lower() for w in text.split()]
    return Counter(w for w in words if w).most_common(top)


def rle_encode(text: str) -> list[tuple[str, int]]:
    """Run-length encoding: ``"aaab"`` -> ``[("a", 3), ("b", 1)]``."""
    out: list[tuple[str, int]] = []
    for ch in text:
        if out and out[-1][0] == ch:
            out[-1] = (ch, out[-1][1] + 1)
        else:
            out.append((ch, 1))
    return out


def rle_decode(pairs: list[tuple[str, int]]) -> str:
    """The inverse of :func:`rle_encode`."""
    return "".join(ch * count for ch, count in pairs)


def running_mean(values: list[float], window: int) -> list[float]:
    """Means of each full ``window`` of consecutive values."""
    if window < 1:
        raise ValueError("window must be at least 1")
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        if i >= window - 1:
            out.append(total / window)
    return out


def gcd(a: int, b: int) -> int:
    """Greatest common divisor (Euclid)."""
    while b:
        a, b = b, a % b
    return abs(a)


def lcm_all(values: list[int]) -> int:
    """Least common multiple of all ``values``."""
    result = 1
    for v in values:
        result = result * v // gcd(result, v)
    return result


def histogram(values: list[float], bins: int) -> list[int]:
    """Counts of ``values`` in ``bins`` equal bins between their min and max."""
    if not values or bins < 1:
        return [0] * max(bins, 0)
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    return counts


def binary_search(items: list[int], target: int) -> int:
    """Index of ``target`` in sorted ``items``, or -1."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


def fib_mod(n: int, m: int = MODULUS) -> int:
    """The ``n``-th Fibonacci number modulo ``m``, iteratively."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) % m
    return a


def is_balanced(text: str) -> bool:
    """Whether the brackets ``()[]{{}}`` in ``text`` are balanced."""
    pairs = {{")": "(", "]": "[", "}}": "{{"}}
    stack: list[str] = []
    for ch in text:
        if ch in "([{{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack


def parse_record(line: str) -> dict[str, str]:
    """``"key=value; other=thing"`` -> a dict, keys lowercased, blanks ignored."""
    record = {{}}
    for part in line.split(";"):
        if "=" in part:
            key, _, value = part.partition("=")
            record[key.strip().lower()] = value.strip()
    return record


@dataclass
class Account:
    """A tiny ledger account: a balance and its history of movements."""

    owner: str
    balance: int = 0
    history: list[int] = field(default_factory=list)

    def deposit(self, amount: int) -> int:
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance += amount
        self.history.append(amount)
        return self.balance

    def withdraw(self, amount: int) -> int:
        if amount <= 0 or amount > self.balance:
            raise ValueError("cannot withdraw that")
        self.balance -= amount
        self.history.append(-amount)
        return self.balance

    def replay(self) -> int:
        """The balance rebuilt from the history (it must equal :attr:`balance`)."""
        return sum(self.history)
'''

# The tests of one module. ``{n}`` scales the work per test (the suite's run time).
TESTS = '''\
"""Tests of ledger.mod{k:02d}."""

import random

import pytest

from ledger.mod{k:02d} import (Account, binary_search, checksum, collatz_length, edit_distance,
                              fib_mod, gcd, histogram, is_balanced, lcm_all, matmul, merge_sort,
                              parse_record, primes_upto, rle_decode, rle_encode, running_mean,
                              word_frequencies)

N = {n}


def test_checksum_differs():
    data = bytes(range(256)) * N
    assert checksum(data) != checksum(data[::-1])


def test_primes():
    ps = primes_upto(2000 * N)
    assert ps[:5] == [2, 3, 5, 7, 11] and all(p % 2 for p in ps[1:])


def test_collatz():
    assert collatz_length(27) == 111
    assert max(collatz_length(i) for i in range(1, 300 * N)) > 100


def test_edit_distance():
    rng = random.Random({k})
    a = "".join(rng.choice("acgt") for _ in range(12 * N))
    assert edit_distance(a, a) == 0 and edit_distance("kitten", "sitting") == 3
    assert edit_distance(a, a[::-1]) <= len(a)


def test_matmul_identity():
    size = 4 * N
    x = [[float(i * size + j) for j in range(size)] for i in range(size)]
    eye = [[1.0 if i == j else 0.0 for j in range(size)] for i in range(size)]
    assert matmul(x, eye) == x


def test_merge_sort_and_search():
    rng = random.Random({k})
    items = [rng.randrange(10**6) for _ in range(500 * N)]
    ordered = merge_sort(items)
    assert ordered == sorted(items)
    assert binary_search(ordered, ordered[len(ordered) // 3]) >= 0


def test_rle():
    assert rle_encode("aaab") == [("a", 3), ("b", 1)]
    for text in ["aaabccdddd", "abc", "", "zzzzzzzzzz" * 3]:
        assert rle_decode(rle_encode(text * N)) == text * N


def test_words_and_records():
    text = "the cat and the hat. The end! " * N
    assert word_frequencies(text, 1) == [("the", 3 * N)]
    assert parse_record("Name = ann; AGE=3; junk") == {{"name": "ann", "age": "3"}}
    assert is_balanced("([]{{}})" * 50 * N) and not is_balanced("(]")


def test_numbers():
    assert gcd(84, 36) == 12 and lcm_all([4, 6, 10]) == 60
    assert fib_mod(10) == 55 and fib_mod(1000 * N) >= 0
    means = running_mean([float(i) for i in range(100 * N)], 10)
    assert means[0] == 4.5 and sum(histogram(means, 7)) == len(means)


def test_account():
    acct = Account("ann")
    for i in range(1, 50 * N):
        acct.deposit(i)
        if i % 3 == 0:
            acct.withdraw(i // 2)
    assert acct.replay() == acct.balance
    with pytest.raises(ValueError):
        acct.withdraw(acct.balance + 1)
'''


def make_project(path: Path, modules: int = 40, scale: int = 16) -> dict[str, int]:
    """Write the project into ``path``; returns ``{"lines": ..., "tests": ...}`` counts.

    ``scale`` multiplies the work each test does (16: ~1.9 s of tests after ~0.9 s of start-up,
    collection and imports, on one core of the benchmark machine).
    """
    pkg = path / PACKAGE
    (path / "tests").mkdir(parents=True, exist_ok=True)
    pkg.mkdir(parents=True, exist_ok=True)
    files = {
        "pyproject.toml": f'[project]\nname = "{PACKAGE}"\nversion = "0.1"\n\n'
                          '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n',
        ".gitignore": "__pycache__/\n.pytest_cache/\n",
        "README.md": "# ledger\n\nA generated project for nborch's comparison benchmark.\n",
        f"{PACKAGE}/__init__.py": '"""The generated ledger package."""\n',
        "tests/__init__.py": "",
    }  # fmt: skip
    for k in range(modules):
        files[f"{PACKAGE}/mod{k:02d}.py"] = MODULE.format(k=k, m=(k * 7) % 11)
        files[f"tests/test_mod{k:02d}.py"] = TESTS.format(k=k, n=scale)
    lines = 0
    for rel, text in files.items():
        (path / rel).write_text(text)
        lines += text.count("\n")
    return {"lines": lines, "tests": modules * TESTS.count("\ndef test_")}


def rewrite_function(path: Path, name: str, source: str) -> None:
    """Replace the top-level function ``name`` in the Python file ``path`` with ``source``."""
    text = path.read_text()
    tree = ast.parse(text)
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if node is None:
        raise LookupError(f"no top-level function {name!r} in {path}")
    lines = text.splitlines(keepends=True)
    start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
    new = textwrap.dedent(source).strip("\n") + "\n"
    path.write_text("".join(lines[:start]) + new + "".join(lines[node.end_lineno :]))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen_repo.py DIR")
    counts = make_project(Path(sys.argv[1]))
    print(f"{counts['lines']} lines, {counts['tests']} tests in {sys.argv[1]}")
