"""The hard gates an attempt must pass before it can be ranked — pure functions of its evidence.

Each gate is ``True`` (passed), ``False`` (failed, with a reason a person can act on) or ``None``
(not checked: an attempt without changes is not tested, a run without a test command has no test
gates to fail). Only a ``False`` keeps an attempt out of the ranking.

The test gates read the attempt's *pinned* run — its commit with the start's tests, conftests and
test settings put back — so changing a test cannot make an attempt pass: ``tests_pinned`` fails
when a test passes in the attempt's own tree and not with the start's tests (unless the task says
it must change tests), ``named_tests`` when a test the task names was not collected, run and
passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..display import plural
from .evidence import AttemptEvidence

__all__ = ["GATES", "GateResult", "evaluate_gates"]

GATES = ("completed", "has_changes", "merges_cleanly", "tests_finish", "tests_pinned",
         "no_broken_tests", "named_tests", "validation_passes", "not_weakened")  # fmt: skip
_SHOWN = 3  # how many test ids or files a reason names before "and N more"


@dataclass(frozen=True, slots=True)
class GateResult:
    """The gates of one attempt: name → True/False/None, and why each failed one failed."""

    values: dict[str, bool | None]
    reasons: dict[str, str]

    @property
    def passed(self) -> bool:
        """Whether no gate failed (``None`` — not checked — does not fail)."""
        return all(v is not False for v in self.values.values())

    @property
    def failed(self) -> list[str]:
        return [name for name in GATES if self.values.get(name) is False]


def _names(items: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def evaluate_gates(ev: AttemptEvidence) -> GateResult:
    """Judge one attempt against every gate in :data:`GATES`.

    >>> evaluate_gates(AttemptEvidence("T1", "claude", "failed")).failed
    ['completed', 'has_changes']
    """
    values: dict[str, bool | None] = dict.fromkeys(GATES)
    why: dict[str, str] = {}

    values["completed"] = ev.status == "completed"
    if not values["completed"]:
        why["completed"] = f"the agent ended {ev.status}, not completed"
    values["has_changes"] = ev.changed
    if not ev.changed:
        why["has_changes"] = "no changes: the attempt committed nothing"
        return GateResult(values, why)

    if ev.merge is not None:
        values["merges_cleanly"] = ev.merge.clean
        if not ev.merge.clean:
            why["merges_cleanly"] = f"conflicts with the base in {_names(list(ev.merge.conflicts))}"

    if ev.tests is not None:
        # its own tree too: a new test that hangs would hang the suite once merged
        hung = next((r for r in (ev.tests, ev.own) if r is not None and r.timed_out), None)
        values["tests_finish"] = hung is None
        if hung is not None:
            where = "" if hung is ev.tests else " in its own tree (with its new tests)"
            why["tests_finish"] = f"the tests did not finish in time{where} ({hung.duration_s:.0f} s)"
    if ev.tests is not None:
        values["tests_pinned"] = True
        if ev.disagree and not ev.changes_tests:
            values["tests_pinned"] = False
            why["tests_pinned"] = (f"passes only with its own test changes: "
                                   f"{_names(list(ev.test_changes)) or 'its test files'}; with the "
                                   f"start's tests {plural(len(ev.disagree), 'test')} "
                                   f"{'does' if len(ev.disagree) == 1 else 'do'} not pass: "
                                   f"{_names(list(ev.disagree))}")  # fmt: skip
    if ev.named:
        bad = [t for t in ev.named if not t.passed]
        values["named_tests"] = not bad
        if bad:
            shown = "; ".join(f"{t.id}: {t.reason}" for t in bad[:_SHOWN])
            more = f"; and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
            why["named_tests"] = f"named tests not proven — {shown}{more}"
    finished = ev.tests is None or not ev.tests.timed_out
    if ev.baseline is not None and ev.baseline.timed_out:
        finished = False
    if ev.delta is not None and finished:  # a killed run has no results: nothing is known broken
        broken = ev.delta.broken
        values["no_broken_tests"] = not broken
        if broken:
            why["no_broken_tests"] = (f"breaks {plural(len(broken), 'test')} that passed "
                                      f"before it: {_names(broken)}")  # fmt: skip

    if ev.validation in ("passed", "failed"):
        values["validation_passes"] = ev.validation == "passed"
        if ev.validation == "failed":
            bad = [str(c.get("command", "")) + (f" ({c['reason']})" if c.get("reason") else "")
                   for c in ev.checks if not c.get("passed")]  # fmt: skip
            why["validation_passes"] = f"validation failed: {_names(bad) or 'see its checks'}"

    values["not_weakened"] = not any(f.weakens for f in ev.weakening)
    if not values["not_weakened"]:
        found = [f"{f.kind} in {f.path} ({f.detail})" for f in ev.weakening if f.weakens]
        why["not_weakened"] = f"weakens the checks: {'; '.join(found[:_SHOWN])}" + (
            f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else "")
    return GateResult(values, why)
