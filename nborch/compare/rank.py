"""Rank the attempts of one task that passed the gates, and recommend what to take — pure.

The score is relative: each signal is scaled among the task's eligible attempts (the best gets 1,
the worst 0; a count such as tests fixed is scaled by the most any attempt reached) and weighted;
a signal on which every attempt is equal does not count. Tests decide first — tests fixed, the
other attempts' new tests passed — then coverage, lint, complexity, size and cost. Equal scores
keep the assignment order (the primary agent first), unless a ``judge`` is given for ties.
Nothing here treats similar text as equal behaviour: only shared test results (a behaviour
cluster) say two attempts behave alike. Only tests written by attempts that passed the gates count
as evidence about the others: a weakened copy of a test file (a skipped test, a removed assertion)
says nothing about the attempts that run it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..display import plural
from .evidence import AttemptEvidence
from .findings import is_conftest
from .gates import GateResult, evaluate_gates

__all__ = ["SIGNALS", "Ranked", "Recommendation", "rank_task", "recommend", "signals_of"]

# name → (weight, direction): +1 more is better, -1 less is better; "count" signals are scaled by
# the largest value (2 of 3 fixed scores 0.67), the others by the range.
SIGNALS: dict[str, tuple[float, int, bool]] = {
    "fail_to_pass": (4.0, +1, True),
    "cross_pass_rate": (3.0, +1, False),
    "new_passing": (1.0, +1, True),
    "coverage": (1.0, +1, False),
    "new_lint": (1.0, -1, False),
    "complexity_delta": (0.5, -1, False),
    "mi_delta": (0.5, +1, False),
    "diff_lines": (0.5, -1, False),
    "cost_usd": (0.25, -1, False),
    "tokens": (0.25, -1, False),
    "duration_s": (0.25, -1, False),
}
_EPS = 1e-9

Judge = Callable[[str, Sequence[AttemptEvidence]], str | None]


@dataclass(frozen=True, slots=True)
class Ranked:
    """One attempt with its gates, signals, score (0–100, relative to the task) and reasons."""

    evidence: AttemptEvidence
    gates: GateResult
    signals: dict[str, float | int | None]
    score: float | None = None  # None for attempts that failed a gate
    rank: int | None = None
    reasons: tuple[str, ...] = ()

    @property
    def agent(self) -> str:
        return self.evidence.agent

    @property
    def eligible(self) -> bool:
        return self.gates.passed


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What to take for one task: ``take``, ``take-with-tests`` or ``none`` — and why."""

    task: str
    action: str
    agent: str | None
    reason: str
    confidence: str  # high, medium or low
    tests_from: str | None = None  # the agent whose test files come along (take-with-tests)
    test_files: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "agent": self.agent, "reason": self.reason,
                "confidence": self.confidence, "tests_from": self.tests_from,
                "test_files": list(self.test_files)}  # fmt: skip

    def __str__(self) -> str:
        what = {"take": f"take {self.agent}",
                "take-with-tests": f"take {self.agent} with {self.tests_from}'s tests",
                "none": "none is good enough"}[self.action]  # fmt: skip
        return f"{self.task}: {what} ({self.confidence} confidence) — {self.reason}"


def _others(ev: AttemptEvidence, authors: Collection[str] | None) -> dict[str, tuple[int, int]]:
    """author → (passed, total) of the other attempts' tests on ``ev`` (only ``authors``' tests
    when given)."""
    return {a: pt for a, pt in ev.cross.items()
            if a != ev.agent and pt[1] and (authors is None or a in authors)}  # fmt: skip


def signals_of(ev: AttemptEvidence,
               authors: Collection[str] | None = None) -> dict[str, float | int | None]:  # fmt: skip
    """The measured signals of one attempt (``None`` = not measured).

    ``authors``: whose new tests count in ``cross_pass_rate`` (default: every other attempt's).
    """
    delta, metrics = ev.delta, ev.metrics
    others = _others(ev, authors)
    total = sum(t for _, t in others.values())
    return {
        "fail_to_pass": len(delta.fail_to_pass) if delta else None,
        "pass_to_pass": len(delta.pass_to_pass) if delta else None,
        "broken": len(delta.broken) if delta else None,
        "new_passing": len(delta.new_passing) if delta else None,
        "cross_pass_rate": sum(p for p, _ in others.values()) / total if total else None,
        "coverage": ev.coverage,
        "new_lint": len(metrics.new_lint) if metrics else None,
        "complexity_delta": metrics.complexity_delta if metrics else None,
        "mi_delta": round(metrics.mi_delta, 2) if metrics and metrics.mi_delta is not None else None,
        "diff_lines": (ev.diff.insertions + ev.diff.deletions) if ev.diff else None,
        "files": len(ev.diff.files) if ev.diff else None,
        "cost_usd": ev.cost_usd,
        "tokens": ev.tokens or None,
        "duration_s": ev.duration_s,
    }


def _scaled(values: list[float | int | None], direction: int, count: bool) -> list[float] | None:
    """Each value scaled to 0..1 (1 = best); None when the signal does not tell them apart."""
    known = [float(v) for v in values if v is not None]
    if len(known) < 2 or max(known) - min(known) < _EPS:
        return None
    lo, hi = min(known), max(known)
    out = []
    for v in values:
        if v is None:
            out.append(0.5)  # not measured: neither rewarded nor punished
        elif count and direction > 0:
            out.append(float(v) / hi if hi > 0 else 0.0)
        else:
            s = (float(v) - lo) / (hi - lo)
            out.append(s if direction > 0 else 1.0 - s)
    return out


def _scores(signals: list[dict[str, float | int | None]]) -> list[float]:
    total = [0.0] * len(signals)
    weight = 0.0
    for name, (w, direction, count) in SIGNALS.items():
        scaled = _scaled([s[name] for s in signals], direction, count)
        if scaled is None:
            continue
        weight += w
        for i, v in enumerate(scaled):
            total[i] += w * v
    return [round(100.0 * t / weight, 1) if weight else 100.0 for t in total]


def _evidence_reasons(ev: AttemptEvidence, sig: dict[str, float | int | None], best_f2p: int,
                      authors: Collection[str] | None = None) -> list[str]:  # fmt: skip
    """The signals of one attempt in words, most telling first."""
    out = []
    f2p = sig["fail_to_pass"]
    if ev.tests is not None and ev.tests.runner == "exit-code":
        # one outcome for the whole command: there are no individual tests to count
        if f2p:
            out.append("the test command passes now (it failed before)")
        elif f2p == 0 and best_f2p:
            out.append("the test command still fails (another attempt makes it pass)")
    elif f2p:
        out.append(f"fixes {plural(int(f2p), 'test')} that failed before")
    elif f2p == 0 and best_f2p:
        out.append(f"fixes none of the failing tests (another attempt fixes {best_f2p})")
    others = _others(ev, authors)
    if others:
        passed, total = sum(p for p, _ in others.values()), sum(t for _, t in others.values())
        # "does not pass", not "fails": a test may also be skipped, or time out
        missed = [a for a, (p, t) in others.items() if p < t]
        out.append(f"passes {passed} of {plural(total, 'test')} written by other attempts"
                   + (f" (does not pass some of {', '.join(missed)}'s)" if missed else ""))  # fmt: skip
    if sig["new_passing"]:
        out.append(f"adds {plural(int(sig['new_passing']), 'passing test')}")
    if sig["coverage"] is not None and ev.coverage_lines:
        covered, total = ev.coverage_lines
        out.append(f"tests run {sig['coverage']:.0%} of its changed lines ({covered}/{total})")
    if sig["new_lint"]:
        codes = sorted({f.code for f in ev.metrics.new_lint}) if ev.metrics else []
        out.append(f"adds {plural(int(sig['new_lint']), 'lint finding')} ({', '.join(codes[:3])})")
    if sig["complexity_delta"]:
        out.append(f"complexity {int(sig['complexity_delta']):+d}")
    if ev.diff is not None:
        out.append(f"+{ev.diff.insertions} -{ev.diff.deletions} in {plural(len(ev.diff.files), 'file')}")
    if ev.cost_usd is not None:
        out.append(f"cost ${ev.cost_usd:.2f}")
    return out


def rank_task(evidence: Sequence[AttemptEvidence], judge: Judge | None = None) -> list[Ranked]:
    """Gate, score and rank the attempts of one task; eligible attempts first, best first.

    Attempts that fail a gate get no score and no rank; their reasons are the failed gates.
    """
    gates = [evaluate_gates(ev) for ev in evidence]
    eligible = [i for i, g in enumerate(gates) if g.passed]
    trusted = {evidence[i].agent for i in eligible}  # whose new tests count as evidence
    sigs = [signals_of(ev, trusted) for ev in evidence]
    scores = dict(zip(eligible, _scores([sigs[i] for i in eligible]), strict=True))
    order = sorted(eligible, key=lambda i: (-scores[i], evidence[i].order, i))
    tie_note = ""
    if judge is not None and len(order) > 1 and abs(scores[order[0]] - scores[order[1]]) < _EPS:
        tied = [i for i in order if abs(scores[i] - scores[order[0]]) < _EPS]
        pick = judge(evidence[0].task, [evidence[i] for i in tied])
        chosen = next((i for i in tied if evidence[i].agent == pick), None)
        if chosen is not None:
            order.remove(chosen)
            order.insert(0, chosen)
            tie_note = f"a tie on the evidence, broken by the judge in favour of {pick}"
    best_f2p = max((int(sigs[i]["fail_to_pass"] or 0) for i in eligible), default=0)
    ranked: list[Ranked] = []
    for rank, i in enumerate(order, 1):
        reasons = _evidence_reasons(evidence[i], sigs[i], best_f2p, trusted)
        if rank == 1 and tie_note:
            reasons.insert(0, tie_note)
        elif rank > 1 and abs(scores[i] - scores[order[0]]) < _EPS:
            reasons.insert(0, f"as good as {evidence[order[0]].agent} on the evidence; "
                              "ranked after it by assignment order")  # fmt: skip
        ranked.append(Ranked(evidence[i], gates[i], sigs[i], scores[i], rank, tuple(reasons)))
    for i, ev in enumerate(evidence):
        if i not in scores:
            reasons = [gates[i].reasons[g] for g in gates[i].failed]
            ranked.append(Ranked(ev, gates[i], sigs[i], None, None, tuple(reasons)))
    return ranked


def _confidence(top: Ranked, ranked: Sequence[Ranked]) -> tuple[str, str]:
    level, caveat = _evidence_confidence(top, ranked)
    ev = top.evidence
    if ev.changes_tests and (ev.test_changes or ev.changed_tests):
        said = ("the task changes existing tests, so its own tests judged it: review its changed "
                "tests side by side")  # fmt: skip
        return ("medium" if level == "high" else level), "; ".join(filter(None, [said, caveat]))
    return level, caveat


def _evidence_confidence(top: Ranked, ranked: Sequence[Ranked]) -> tuple[str, str]:
    ev = top.evidence
    if ev.tests is None:
        return "low", "no test command: nothing here shows that the change works"
    if ev.baseline is not None and ev.baseline.timed_out:
        return "low", ("the tests did not finish on the starting commit, so nothing shows what "
                       "the change did to them")  # fmt: skip
    if ev.baseline is not None and not ev.baseline.outcomes and not ev.tests.outcomes:
        return "low", "the repository has no tests: nothing here shows that the change works"
    if ev.tests.runner == "exit-code":
        return "medium", "the tests were judged by their exit code only"
    told_apart = any(r.signals["cross_pass_rate"] not in (None, 1.0) for r in ranked if r.eligible)
    if top.signals["fail_to_pass"] or told_apart or ev.validation == "passed":
        return "high", ""
    return "medium", "no test that failed before passes now, so the tests say little about the task"


def recommend(task: str, ranked: Sequence[Ranked]) -> Recommendation:
    """What to take for ``task``, from :func:`rank_task`'s output."""
    eligible = [r for r in ranked if r.eligible]
    if not eligible:
        if not ranked:
            return Recommendation(task, "none", None, "the task has no attempts", "high")
        why = "; ".join(f"{r.agent}: {r.reasons[0] if r.reasons else 'failed a gate'}"
                        for r in ranked)  # fmt: skip
        return Recommendation(task, "none", None, f"no attempt passed the gates — {why}", "high")
    top = eligible[0]
    confidence, caveat = _confidence(top, ranked)
    lead = top.reasons[0] if top.reasons else "the only attempt that passed the gates"
    if len(eligible) > 1:
        nxt = eligible[1]
        reason = f"ranked first ({top.score:g} vs {nxt.agent} {nxt.score:g}): {lead}"
    else:
        reason = f"the only attempt that passed the gates: {lead}"
    if caveat:
        reason += f" — {caveat}"
    # another good attempt's new test files that the top one passes and does not have come
    # along — only files it added: its edits to shared files (a conftest fixture) would change
    # the top attempt's tests too
    mine = set(top.evidence.test_files)
    for other in eligible[1:]:
        ok = other.evidence.agent in top.evidence.cross and _all_pass(top, other.agent)
        extra = tuple(f for f in _added_test_files(other.evidence) if f not in mine)
        if ok and extra:
            return Recommendation(task, "take-with-tests", top.agent,
                                  f"{reason}; {other.agent}'s new tests pass on it and add "
                                  f"{plural(len(extra), 'test file')}", confidence,
                                  other.agent, extra)  # fmt: skip
    return Recommendation(task, "take", top.agent, reason, confidence)


def _added_test_files(ev: AttemptEvidence) -> tuple[str, ...]:
    if ev.diff is None:
        return ()
    added = {f.path for f in ev.diff.files if f.status == "added"}
    return tuple(f for f in ev.test_files if f in added and not is_conftest(f))


def _all_pass(top: Ranked, author: str) -> bool:
    passed, total = top.evidence.cross.get(author, (0, 0))
    return total > 0 and passed == total
