"""Generate a large, realistic markdown plan for benchmarks and load tests."""

from __future__ import annotations


def big_plan(n_tasks: int = 5000, per_phase: int = 50) -> str:
    """A plan of ``n_tasks`` tasks in phases of ``per_phase``; each task depends on the previous
    task of its phase, so there are ``per_phase`` waves."""
    out = ["---", "test_command: pytest -q", "---", "# Generated plan", "", "A plan for load tests.", ""]
    for t in range(n_tasks):
        p, k = divmod(t, per_phase)
        if k == 0:
            out += [f"## Phase {p + 1}: Area {p + 1}", ""]
        dep = f"{p + 1}.{k}" if k else "none"
        out += [
            f"### Task {p + 1}.{k + 1}: Implement feature {t} with tests",
            f"Depends on: {dep}",
            "Priority: high" if t % 7 == 0 else "Priority: medium",
            "",
            "**Objectives**",
            "",
            f"- Add endpoint number {t} to the API",
            "- Keep the response under 100 ms",
            "",
            "**Validation criteria**",
            "",
            f"- `pytest tests/test_f{t}.py` passes",
            f"- `tests/test_f{t}.py::test_roundtrip` passes",
            "",
            "**Technical implementation**",
            "",
            "Use the existing router; add a handler and a test.",
            "",
        ]
    return "\n".join(out)


def lean_plan(n_tasks: int = 5000, per_phase: int = 50) -> str:
    """The same shape with one-line tasks: a heading, a dependency and one validation command."""
    out = ["# Generated lean plan", ""]
    for t in range(n_tasks):
        p, k = divmod(t, per_phase)
        if k == 0:
            out += [f"## Phase {p + 1}: Area {p + 1}", ""]
        dep = f"{p + 1}.{k}" if k else "none"
        out += [f"### Task {p + 1}.{k + 1}: Feature {t}", f"Depends on: {dep}",
                f"- `pytest tests/test_f{t}.py` passes", ""]
    return "\n".join(out)
