"""What the selection benchmark measured: per case, per attempt, and the totals of both rankers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cases import Case
from rich.console import Console
from rich.table import Table


@dataclass
class Attempt:
    """One attempt of one run, as nborch and the exit-code ranker saw it."""

    agent: str
    variant: str
    kind: str  # correct, wrong, partial, tamper
    status: str  # how the agent's run ended (completed, failed, …)
    gates: dict[str, bool | None]  # every gate nborch reports: passed, failed, None (not checked)
    rank: int | None
    exit_zero: bool  # the test command exited 0 on it

    @property
    def gates_failed(self) -> list[str]:
        return [gate for gate, ok in self.gates.items() if ok is False]

    @property
    def eligible(self) -> bool:
        """It passed every nborch gate."""
        return self.rank is not None


@dataclass
class RunResult:
    """One nborch run of a case and what each ranker took from it."""

    label: str  # A: a correct attempt is among them; B: none is
    run_id: str
    attempts: list[Attempt]  # in assignment order
    action: str  # nborch's recommendation: take, take-with-tests or none
    nborch_pick: str | None
    reason: str
    exit_pick: str | None
    seconds: float

    @property
    def has_correct(self) -> bool:
        return any(a.kind == "correct" for a in self.attempts)

    def kind(self, agent: str | None) -> str | None:
        return next((a.kind for a in self.attempts if a.agent == agent), None)


@dataclass
class CaseResult:
    case: Case
    runs: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case.name, "project": self.case.project,
                "version": self.case.version, "license": self.case.license,
                "seconds": round(self.seconds, 1), "errors": self.errors,
                "runs": [{**asdict(r), "seconds": round(r.seconds, 1)} for r in self.runs]}  # fmt: skip


# ---- totals ---------------------------------------------------------------------------------


@dataclass
class Figures:
    """The three figures of one ranker over all cases."""

    correct_taken: int = 0  # runs with a correct attempt where a correct one was taken
    with_correct: int = 0
    abstained: int = 0  # runs without a correct attempt where nothing was taken
    without_correct: int = 0
    bad_taken: dict[str, int] = field(default_factory=lambda: {"wrong": 0, "partial": 0,
                                                               "tamper": 0})  # fmt: skip

    def add(self, run: RunResult, pick: str | None) -> None:
        kind = run.kind(pick)
        if run.has_correct:
            self.with_correct += 1
            self.correct_taken += kind == "correct"
        else:
            self.without_correct += 1
            self.abstained += pick is None
        if kind in self.bad_taken:
            self.bad_taken[kind] += 1


def figures(results: list[CaseResult]) -> tuple[Figures, Figures]:
    """(nborch, exit code) over every run of every case."""
    nborch, exit_code = Figures(), Figures()
    for result in results:
        for run in result.runs:
            nborch.add(run, run.nborch_pick)
            exit_code.add(run, run.exit_pick)
    return nborch, exit_code


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f} %)" if whole else "–"


def _bad(f: Figures) -> str:
    detail = ", ".join(f"{k} {v}" for k, v in f.bad_taken.items() if v)
    return f"{sum(f.bad_taken.values())}" + (f" ({detail})" if detail else "")


# ---- tables ---------------------------------------------------------------------------------


def case_table(result: CaseResult) -> Table:
    case = result.case
    table = Table(title=f"{case.name} — {case.project} {case.version} ({case.license}), "
                        f"{result.seconds:.1f} s", title_justify="left")  # fmt: skip
    for column in ("run", "attempt", "kind", "nborch gates failed", "nborch rank", "exit code"):
        table.add_column(column)
    for run in result.runs:
        for a in run.attempts:
            status = "" if a.status == "completed" else f" [{a.status}]"
            picked = " ← nborch" if a.agent == run.nborch_pick else ""
            exit_picked = " ← exit code" if a.agent == run.exit_pick else ""
            table.add_row(run.label, a.agent + status, a.kind, ", ".join(a.gates_failed) or "–",
                          (str(a.rank) if a.rank is not None else "–") + picked,
                          ("0" if a.exit_zero else "≠0") + exit_picked)  # fmt: skip
        table.add_section()
    return table


REASON_CHARS = 240  # of nborch's reason in the summary line (the JSON output keeps it whole)


def _short(text: str) -> str:
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


def summary_lines(result: CaseResult) -> list[str]:
    lines = []
    for run in result.runs:
        taken = f"{run.action} {run.nborch_pick}" if run.nborch_pick else "none"
        lines.append(f"  run {run.label} ({run.run_id}, {run.seconds:.1f} s): nborch {taken} — "
                     f"{_short(run.reason)}; exit code takes {run.exit_pick or 'none'}")  # fmt: skip
    lines.extend(f"  error: {e}" for e in result.errors)
    return lines


def totals_table(results: list[CaseResult], seconds: float) -> Table:
    nborch, exit_code = figures(results)
    table = Table(title=f"Totals over {len(results)} cases, {seconds:.0f} s", title_justify="left")
    for column in ("figure", "goal", "nborch", "exit code only"):
        table.add_column(column)
    table.add_row("correct recommended / tasks with a correct attempt", "100 %",
                  _share(nborch.correct_taken, nborch.with_correct),
                  _share(exit_code.correct_taken, exit_code.with_correct))  # fmt: skip
    table.add_row("abstained / tasks without a correct attempt", "100 %",
                  _share(nborch.abstained, nborch.without_correct),
                  _share(exit_code.abstained, exit_code.without_correct))  # fmt: skip
    table.add_row("tampered, wrong or partial attempts accepted", "0", _bad(nborch),
                  _bad(exit_code))
    eligible = [a for r in results for run in r.runs for a in run.attempts
                if a.kind != "correct" and a.eligible]  # fmt: skip
    exits = [a for r in results for run in r.runs for a in run.attempts
             if a.kind != "correct" and a.exit_zero]  # fmt: skip
    table.add_row("non-correct attempts passing every gate / exiting 0", "0",
                  str(len(eligible)), str(len(exits)))
    return table


def print_report(results: list[CaseResult], seconds: float, console: Console) -> None:
    for result in results:
        if result.runs:
            console.print(case_table(result))
        else:
            console.print(f"{result.case.name}: did not run")
        for line in summary_lines(result):
            console.print(line, highlight=False, markup=False)
        console.print()
    console.print(totals_table(results, seconds))
    times = ", ".join(f"{r.case.name} {r.seconds:.0f} s" for r in results)
    console.print(f"runtime per case: {times}; in all {seconds:.0f} s", highlight=False)
