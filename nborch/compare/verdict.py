"""From an attempt's test runs to its record: which run judges it, what it broke and fixed, where
its own tree and the pinned tree disagree, and what pytest saw it weaken. Pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .tester import Tested
from .tests import TestRun, classify_tests
from .weakening import collection_findings

__all__ = ["ALLOWED_CHANGES", "disagreement", "judge_record"]

# what a task that says "Changes tests: yes" may do to existing tests; skipping them, new conftest
# hooks, plugins and loosened settings still weaken
ALLOWED_CHANGES = frozenset({"assertions-changed", "assertions-removed", "test-removed",
                             "test-file-deleted"})  # fmt: skip


def judge_record(rec: dict[str, Any], base: TestRun, done: Tested, allowed: bool) -> None:
    """Fill an attempt's record from its runs: which run judges it, the test delta, the named
    tests, where its own tree and the pinned tree disagree, and what pytest saw it weaken."""
    own, proof = done.own, done.proof
    pinned = proof.pinned
    judge = own if pinned is None or allowed else pinned
    # a run killed at the timeout has no per-test results: comparing it would call every test it
    # never reached "broken" (or, on the base side, every test "new")
    finished = not (base.timed_out or judge.timed_out)
    delta = classify_tests(base, judge) if finished else None
    if delta is not None and judge is not own and not own.timed_out:
        mine = classify_tests(base, own)  # its new tests live only in its own tree
        # what fails in its own tree counts too: its test changes (a shared fixture) merge with
        # it; tests gone or skipped there are the weakening gate's to judge
        failing = {t for t in mine.broken if own.outcomes.get(t) in ("failed", "error")}
        broken = tuple(sorted({*delta.broken, *failing}))
        delta = replace(delta, new_passing=mine.new_passing, new_failing=mine.new_failing,
                        broken=broken)  # fmt: skip
    rec.update(baseline=base, tests=judge, delta=delta, own=own, pinned=pinned,
               test_changes=done.pin.described, named=proof.named, changes_tests=allowed)  # fmt: skip
    if pinned is not None and not (own.timed_out or pinned.timed_out):
        rec["disagree"] = disagreement(base, own, pinned)
    if proof.checks is not None:  # the coordinator's verdict came from the attempt's own tests
        again = {c["command"]: c for c in proof.checks}
        # test-id checks are the named_tests gate's; checks of new test files keep their verdict
        kept = [again.get(c.get("command"), c) for c in rec.get("checks", ())
                if c.get("command") in again or not c.get("named")]  # fmt: skip
        kept += [c for c in proof.checks if c not in kept]
        verdict = "" if not kept else "passed" if all(c["passed"] for c in kept) else "failed"
        rec.update(checks=tuple(kept), validation=verdict)
    if not base.timed_out and not own.timed_out and own.runner == "pytest":
        found = collection_findings(dict(base.outcomes), dict(own.outcomes), rec.get("weakening", ()))
        rec["weakening"] = (*rec.get("weakening", ()), *found)
    if allowed:  # its edits to existing tests are the task's: shown, not held against it
        found = rec.get("weakening", ())
        rec["weakening"] = tuple(f for f in found if f.kind not in ALLOWED_CHANGES)
        rec["notes"] = (*rec.get("notes", ()), *(
            f"changes tests as the task allows: {f.kind} in {f.path} ({f.detail})"
            for f in found if f.kind in ALLOWED_CHANGES))  # fmt: skip


def disagreement(base: TestRun, own: TestRun, pinned: TestRun) -> tuple[str, ...]:
    """Tests that do not pass with the start's tests put back, yet pass in the attempt's own tree —
    or are hidden there (skipped, or not collected though the start had them)."""
    out = []
    for tid, outcome in pinned.outcomes.items():
        if outcome not in ("failed", "error"):
            continue
        mine = own.outcomes.get(tid)
        if mine in ("passed", "skipped") or (mine is None and tid in base.outcomes):
            out.append(tid)
    return tuple(sorted(out))
