"""The house rules of nborch's layout, read from the source: imports only go down the stages,
no module imports another's private name, and no two modules import each other (even lazily).

``if TYPE_CHECKING:`` imports are annotations, not imports at run time, so they do not count.
"""

from __future__ import annotations

import ast
import unittest
from pathlib import Path
from types import ModuleType

import nborch

ROOT = Path(nborch.__file__).parent
# Lower imports nothing higher; equal ranks are siblings and import neither way.
RANKS = {
    "kernel": 0, "testing": 1, "gitcmd": 1, "store": 2, "plan": 3, "agents": 3, "team": 4,
    "workspace": 5, "proc": 5, "execute": 6, "compare": 7, "view": 8, "run": 9, "demo": 10,
    "cli": 11, "top": 12,
}  # fmt: skip
KERNEL = {"errors", "events", "durations", "names", "display", "procs", "moved", "version", "log"}
TOP = {"__init__", "__main__", "widgets", "dashboard"}  # the package, and shims of public paths


def stage(module: str) -> str:
    """``nborch.workspace.create`` → ``workspace``; kernel modules → ``kernel``."""
    part = module.split(".")[1] if "." in module else "__init__"
    return "kernel" if part in KERNEL else "top" if part in TOP else part


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        if "sample" in path.parts or "__pycache__" in path.parts:
            continue
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str, int]]:
    """(imported module, imported name or '', line) for every nborch import outside
    ``if TYPE_CHECKING:``, functions' lazy imports included."""
    tree = ast.parse(path.read_text())
    hidden = {id(n) for top in ast.walk(tree) if isinstance(top, ast.If)
              and "TYPE_CHECKING" in ast.unparse(top.test) for n in ast.walk(top)}  # fmt: skip
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "nborch" and not target.startswith("nborch."):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub, "", node.lineno) if sub in known else (target, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name.startswith("nborch.")]
    return out


class LayerTests(unittest.TestCase):
    def setUp(self) -> None:
        self.known = modules()
        self.edges = {name: imports(name, path, self.known) for name, path in self.known.items()}

    def test_every_module_has_a_stage(self) -> None:
        unknown = sorted(m for m in self.known if stage(m) not in RANKS)
        self.assertEqual(unknown, [], "give these a rank in RANKS (and a place in README's map)")

    def test_imports_only_go_down(self) -> None:
        wrong = []
        for name, found in self.edges.items():
            for target, _, line in found:
                a, b = stage(name), stage(target)
                if a != b and RANKS[a] <= RANKS[b]:
                    wrong.append(f"{self.known[name].relative_to(ROOT.parent)}:{line} ({a}) "
                                 f"imports {target} ({b})")  # fmt: skip
        self.assertEqual(wrong, [])

    def test_no_private_name_crosses_modules(self) -> None:
        wrong = [f"{name}:{line} imports {alias} from {target}"
                 for name, found in self.edges.items() for target, alias, line in found
                 if alias.startswith("_") and not alias.startswith("__") and target != name]  # fmt: skip
        self.assertEqual(wrong, [])

    def test_no_import_circle(self) -> None:
        graph = {m: {t for t, _, _ in found if t in self.known and t != m}
                 for m, found in self.edges.items()}  # fmt: skip
        # a package's __init__ importing its own modules is how packages work: not a circle
        for m in graph:
            graph[m] = {t for t in graph[m] if not m.startswith(t + ".")}
        circles = [c for c in strongly_connected(graph) if len(c) > 1]
        self.assertEqual(circles, [])

    def test_all_names_the_public_names(self) -> None:
        """httpx's rule: ``nborch.__all__`` is exactly what the package offers by name."""
        public_modules = {"agents", "widgets"}
        offered = sorted(n for n, v in vars(nborch).items() if not n.startswith("_")
                         and (not isinstance(v, ModuleType) or n in public_modules))  # fmt: skip
        lazy = [n for n in nborch.__all__ if n not in vars(nborch)]  # module __getattr__ names
        self.assertEqual(lazy, ["Comparison"])
        self.assertIsNotNone(nborch.Comparison)
        self.assertEqual(sorted(nborch.__all__), sorted(offered + lazy))

    def test_a_layering_break_is_caught(self) -> None:
        """The checks see a real upward import (guards against a test that cannot fail)."""
        fake = {"nborch.plan.x": [("nborch.compare.gates", "", 1)]}
        self.assertTrue(any(RANKS[stage(m)] <= RANKS[stage(t)] for m, f in fake.items()
                            for t, _, _ in f))  # fmt: skip
        self.assertEqual(strongly_connected({"a": {"b"}, "b": {"a"}}), [["b", "a"]])


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative enough for nborch's few hundred modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out
