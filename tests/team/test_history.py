"""Recorded results by task type, and `per_task="auto"` deciding from them."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import nborch
from nborch.errors import AssignError
from nborch.store import AttemptRecord, RunRecord, Store
from nborch.team.assign import Assignments, PastResults, assign
from nborch.team.history import History, TypeRecord, attempts_needed, load_history

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def task_rows(run: str, task: str, outcomes: Sequence[tuple[str, bool]], kind: str = "bugfix",
              day: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """History rows of one task in one run; the attempts started in the order given."""
    start = T0 + timedelta(days=day)
    return [{"run_id": run, "task_id": task, "agent": agent, "task_type": kind, "passed": passed,
             "started_at": start + timedelta(seconds=n)}
            for n, (agent, passed) in enumerate(outcomes)]  # fmt: skip


def bugfix_runs() -> list[dict[str, Any]]:
    """Four runs of one bugfix task: codex (first to start) fails in three, claude always passes,
    gemini never does — 12 attempts, first attempts failed 3 of 4."""
    rows = []
    for n in range(4):
        rows += task_rows(f"r{n}", "1", [("codex", n == 3), ("claude", True), ("gemini", False)],
                          day=n)  # fmt: skip
    return rows


class TestHistoryRows:
    def test_rows_become_past_results(self) -> None:
        """Each row counts as an attempt of its agent on its task type, won when it passed."""
        history = History.from_rows(bugfix_runs())
        assert history.past.rate("claude", "bugfix") == (1.0, 4)
        assert history.past.rate("codex", "bugfix") == (0.25, 4)
        assert history.past.rate("gemini", "docs") == (0.0, 0)
        assert history.attempts == 12

    def test_first_attempt_is_the_one_that_started_first(self) -> None:
        """Per (run, task), only the attempt that started first counts as the first attempt,
        whatever order the rows come in."""
        rows = bugfix_runs()[::-1]
        record = History.from_rows(rows).of("bugfix")
        assert record == TypeRecord("bugfix", attempts=12, runs=4, first_attempts=4, first_failed=3)

    def test_without_start_times_the_first_row_is_first(self) -> None:
        """Rows without start times fall back to their order (the assignment order)."""
        outcomes = [("claude", False), ("codex", True)]
        rows = [{**r, "started_at": None} for r in task_rows("r1", "1", outcomes)]
        assert History.from_rows(rows).of("bugfix").first_failed == 1
        assert History.from_rows(rows[::-1]).of("bugfix").first_failed == 0

    def test_failure_rate_is_smoothed(self) -> None:
        """Half a failure and two passes are added: no record is 20%, a short clean record is
        not 0% — yet low enough for one attempt (a perfect record never asks for more)."""
        assert TypeRecord("docs").first_failure_rate == pytest.approx(0.2)
        assert TypeRecord("docs", 3, 3, 3, 0).first_failure_rate == pytest.approx(0.5 / 5.5)
        assert all(attempts_needed(TypeRecord("docs", n, n, n, 0).first_failure_rate) == 1
                   for n in range(3, 30))  # fmt: skip

    def test_attempts_needed_reaches_ninety_percent(self) -> None:
        """The fewest attempts giving a 90% chance that one passes."""
        assert [attempts_needed(f) for f in (0.05, 0.1, 0.2, 0.5, 5 / 6)] == [1, 1, 2, 4, 13]

    def test_a_row_without_a_key_is_refused(self) -> None:
        """A row missing a needed key is an AssignError naming it."""
        with pytest.raises(AssignError, match="has no passed"):
            History.from_rows([{"run_id": "r", "task_id": "1", "agent": "a", "task_type": "x"}])

    def test_shows_itself(self) -> None:
        """repr, str and the frame say what was recorded, per type and agent."""
        history = History.from_rows(bugfix_runs())
        assert repr(history) == "<History 12 recorded attempts (bugfix 12)>"
        assert "claude" in str(history) and "bugfix" in history._repr_html_()
        frame = history.to_frame()
        assert list(frame.columns) == ["task_type", "agent", "attempts", "passed", "pass_rate"]
        assert frame.set_index("agent").loc["codex", "pass_rate"] == 0.25
        assert repr(History()) == "<History no recorded attempts>"


class TestAuto:
    def test_no_history_falls_back_to_profiles(self, plan: nborch.Plan) -> None:
        """Without history, auto gives one agent per task chosen by profile, says so, and notes
        how to give it history."""
        auto = assign(plan, agents=["claude", "codex", "gemini"], per_task="auto")
        plain = assign(plan, agents=["claude", "codex", "gemini"])
        assert [a.agents for a in auto] == [a.agents for a in plain]
        assert "no recorded history for bugfix tasks: chosen by profile" in auto["1"].justification
        assert any("load_history" in n for n in auto.notes)
        assert auto.per_task == 1 and auto.auto

    def test_little_history_falls_back_to_profiles(self, plan: nborch.Plan) -> None:
        """Fewer than three recorded attempts of a type are not enough to decide by."""
        history = History.from_rows(task_rows("r1", "1", [("claude", True), ("codex", False)]))
        item = assign(plan, agents=["claude", "codex"], per_task="auto", history=history)["1"]
        assert item.agents == ("codex",)  # the profile's choice, not the one that passed
        assert "too little recorded history for bugfix tasks (2 attempts" in item.justification

    def test_agent_that_passed_more_often_comes_first(self, plan: nborch.Plan) -> None:
        """The agent with the better record on the task's type is the primary, against the
        profile's preference; other types keep their profile choice."""
        rows = []
        for n in range(8):  # first attempts always passed: one attempt is enough
            rows += task_rows(f"r{n}", "1", [("claude", True), ("codex", n == 0)], day=n)
        team = assign(plan, agents=["claude", "codex"], per_task="auto",
                      history=History.from_rows(rows))  # fmt: skip
        assert team["1"].agents == ("claude",)
        assert "claude passed 8 of 8, codex 1 of 8; first attempts failed 0 of 8, so 1 attempt." \
            in team["1"].justification
        assert "no recorded history for docs tasks: chosen by profile" in team["2"].justification

    def test_failing_first_attempts_give_more_attempts(self, plan: nborch.Plan) -> None:
        """A type whose first attempts often failed gets more attempts, best record first."""
        history = History.from_rows(bugfix_runs())
        item = assign(plan, agents=["codex", "gemini", "claude"], per_task="auto",
                      history=history)["1"]  # fmt: skip
        assert item.agents == ("claude", "codex", "gemini")

    def test_attempts_are_capped_by_max_per_task_and_pool(self, plan: nborch.Plan) -> None:
        """The count never exceeds max_per_task nor the agents to choose from."""
        history = History.from_rows(bugfix_runs())
        pool = ["claude", "codex", "gemini", "aider"]
        assert len(assign(plan, agents=pool, per_task="auto", history=history)["1"].agents) == 3
        capped = assign(plan, agents=pool, per_task="auto", history=history, max_per_task=2)["1"]
        assert capped.agents == ("claude", "aider")  # no record (50%) beats codex's 1 of 4
        assert "no record yet for aider" in capped.justification
        assert "max_per_task=2" in capped.justification
        small = assign(plan, agents=["gemini", "claude"], per_task="auto", history=history)["1"]
        assert small.agents == ("claude", "gemini") and "only 2 agents" in small.justification

    def test_justification_names_the_history(self, plan: nborch.Plan) -> None:
        """The justification says how many attempts in how many runs, each agent's record, the
        first-attempt failures and the count they led to."""
        item = assign(plan, agents=["claude", "codex", "gemini"], per_task="auto",
                      history=History.from_rows(bugfix_runs()))["1"]  # fmt: skip
        assert item.justification.endswith(
            ": from 12 recorded bugfix attempts in 4 runs: claude passed 4 of 4, codex 1 of 4, "
            "gemini 0 of 4; first attempts failed 3 of 4, so 3 attempts (4 would give a 90% "
            "chance that one passes; max_per_task=3).")  # fmt: skip
        assert dict(item.scores)["claude"] == pytest.approx(5 / 6, abs=1e-3)

    def test_agent_without_record_keeps_profile_order(self, plan: nborch.Plan) -> None:
        """Agents with no record stand at the smoothed 50% and are ordered by profile, and the
        justification says they have none."""
        rows = []
        for n in range(4):
            rows += task_rows(f"r{n}", "1", [("gemini", False)], day=n)
        item = assign(plan, agents=["gemini", "claude", "codex"], per_task="auto",
                      history=History.from_rows(rows))["1"]  # fmt: skip
        assert item.agents[:2] == ("codex", "claude")  # the profile's order for a bugfix
        assert "gemini passed 0 of 4; no record yet for codex, claude" in item.justification

    def test_history_of_other_agents_only_sets_the_count(self, plan: nborch.Plan) -> None:
        """When none of the agents to choose from has a record, they keep the profile's order;
        the type's first-attempt failures still set how many attempt it."""
        rows = []
        for n in range(4):
            rows += task_rows(f"r{n}", "1", [("aider", False)], day=n)
        item = assign(plan, agents=["claude", "codex"], per_task="auto",
                      history=History.from_rows(rows))["1"]  # fmt: skip
        assert item.agents == ("codex", "claude")
        assert "in 4 runs: none by these agents; first attempts failed 4 of 4" in item.justification

    def test_agents_line_still_wins(self, plan: nborch.Plan) -> None:
        """A task's own Agents: line decides, with or without history."""
        history = History.from_rows(bugfix_runs())
        team = assign(plan, agents=["claude"], per_task="auto", history=history)
        assert team["3"].agents == ("aider",)

    def test_summary_and_json_say_auto(self, plan: nborch.Plan) -> None:
        """Auto assignments say so in the summary and the JSON; per_task holds the most used."""
        team = assign(plan, agents=["claude", "codex", "gemini"], per_task="auto",
                      history=History.from_rows(bugfix_runs()))  # fmt: skip
        assert team.per_task == 3
        assert repr(team) == ("<Assignments 3 tasks, 5 attempts (auto, 1–3 per task) by aider, "
                              "claude, codex, gemini>")  # fmt: skip
        assert team.to_json()["per_task"] == "auto"
        assert assign(plan, agents=["claude"]).to_json()["per_task"] == 1

    @pytest.mark.parametrize("bad", [0, -1, "abc", "Auto ", 1.5, True, None])
    def test_bad_per_task_is_refused(self, plan: nborch.Plan, bad: object) -> None:
        """per_task must be 'auto' or a whole number of at least 1."""
        with pytest.raises(AssignError, match="'auto' or a whole number of at least 1"):
            assign(plan, agents=["claude"], per_task=bad)  # type: ignore[arg-type]

    def test_bad_max_per_task_is_refused(self, plan: nborch.Plan) -> None:
        """max_per_task must be at least 1."""
        with pytest.raises(AssignError, match="max_per_task must be"):
            assign(plan, agents=["claude"], per_task="auto", max_per_task=0)

    def test_auto_needs_first_attempts(self, plan: nborch.Plan) -> None:
        """PastResults keep no first attempts, so auto refuses them and says what to pass."""
        with pytest.raises(AssignError, match="load_history"):
            assign(plan, agents=["claude"], per_task="auto", history=PastResults())

    def test_auto_takes_plain_rows(self, plan: nborch.Plan) -> None:
        """Rows (e.g. a DataFrame's records) are read as History for auto."""
        item = assign(plan, agents=["claude", "codex", "gemini"], per_task="auto",
                      history=bugfix_runs())["1"]  # fmt: skip
        assert item.agents[0] == "claude"

    def test_history_shifts_scores_for_a_number(self, plan: nborch.Plan) -> None:
        """A History given with a numeric per_task shifts the profile scores as PastResults do."""
        rows = []
        for n in range(30):
            rows += task_rows(f"r{n}", "1", [("claude", True), ("codex", False)], day=n)
        item = assign(plan, agents=["claude", "codex"], history=History.from_rows(rows))["1"]
        assert item.primary_agent == "claude" and "won 100% of 30" in item.justification

    def test_snapshot_from_before_auto_loads(self, plan: nborch.Plan) -> None:
        """Assignments pickled before the `auto` field existed load with auto=False."""
        team = assign(plan, agents=["claude"])
        old = object.__new__(Assignments)
        old.__setstate__([team.plan, team.items, team.per_task, team.notes])
        assert old.auto is False and old.summary() == team.summary()
        assert pickle.loads(pickle.dumps(team)) == team


def add_attempts(repo: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Record attempts in ``repo``'s real store, one run per distinct run id."""
    with Store.open(repo) as store:
        for run in dict.fromkeys(r["run_id"] for r in rows):
            store.add_run(RunRecord(id=run, created_at=T0, repo=str(repo), base_ref="main",
                                    base_commit="a" * 40, root="/wt"))  # fmt: skip
        store.add_attempts([AttemptRecord(
            run_id=r["run_id"], task_id=r["task_id"], task_slug=r["task_id"], agent=r["agent"],
            branch=f"nborch/{r['run_id']}/{r['task_id']}/{r['agent']}", path="/wt/x",
            attempt_dir="/git/x", status=r.get("status", "completed" if r["passed"] else "failed"),
            validation=r.get("validation", "passed" if r["passed"] else ""),
            started_at=r["started_at"], task_type=r["task_type"],
            cached_from=r.get("cached_from", ""), error=r.get("error", ""),
            return_code=r.get("return_code", 0 if r["passed"] else 1)) for r in rows])  # fmt: skip


class TestStore:
    def test_history_rows_leave_out_what_is_not_evidence(self, git_repo: Path) -> None:
        """Reused (cached) results, rows without a type, cancelled or interrupted attempts, and
        failures the agent did not cause are not history; a completed attempt whose validation failed did not pass."""
        rows = task_rows("r1", "1", [("claude", True), ("codex", True)])
        rows += [{**task_rows("r2", "1", [("codex", True)])[0], "cached_from": "r1"},
                 {**task_rows("r2", "2", [("codex", True)])[0], "task_type": ""},
                 {**task_rows("r2", "3", [("gemini", False)])[0], "status": "cancelled"},
                 {**task_rows("r2", "4", [("gemini", False)])[0], "status": "interrupted"},
                 {**task_rows("r2", "5", [("aider", False)])[0], "status": "completed",
                  "validation": "failed"},
                 {**task_rows("r2", "6", [("aider", False)])[0], "status": "timeout"},
                 # failed before its agent started (a dependency's merge conflicted)
                 {**task_rows("r2", "7", [("aider", False)])[0], "started_at": None},
                 # failed for nborch's own reasons
                 {**task_rows("r2", "8", [("aider", False)])[0], "error": "nborch error: boom"},
                 {**task_rows("r2", "9", [("aider", False)])[0],
                  "error": "the disk is full: the attempt's work could not be committed"},
                 # its program could not start (no exit code)
                 {**task_rows("r2", "10", [("aider", False)])[0], "return_code": None}]  # fmt: skip
        add_attempts(git_repo, rows)
        with Store.open(git_repo) as store:
            got = store.history_rows()
        assert [(r["run_id"], r["task_id"], r["agent"], r["passed"]) for r in got] == [
            ("r1", "1", "claude", True), ("r1", "1", "codex", True),
            ("r2", "5", "aider", False), ("r2", "6", "aider", False)]  # fmt: skip
        assert got[0]["started_at"] == T0 and got[0]["task_type"] == "bugfix"

    def test_load_history_and_assign(self, git_repo: Path, plan: nborch.Plan) -> None:
        """History written to a real repository's store decides auto's assignment."""
        add_attempts(git_repo, bugfix_runs())
        history = load_history(git_repo)
        assert history.of("bugfix").first_attempts == 4
        assert history.source.endswith("nborch.sqlite")
        item = assign(plan, agents=["codex", "claude"], per_task="auto", history=history)["1"]
        assert item.agents == ("claude", "codex")
        assert "from 12 recorded bugfix attempts in 4 runs" in item.justification

    def test_coordinator_loads_history_for_auto(self, git_repo: Path, plan: nborch.Plan) -> None:
        """Coordinator(repo, plan, per_task='auto') reads the repository's history itself."""
        add_attempts(git_repo, bugfix_runs())
        run = nborch.Coordinator(git_repo, plan, agents=["codex", "claude"], per_task="auto")
        assert run.assignments["1"].agents == ("claude", "codex")
        assert run.assignments.auto

    def test_no_store_is_empty_history(self, git_repo: Path) -> None:
        """A repository where nothing was recorded has an empty history, and no store is made."""
        history = load_history(git_repo)
        assert history.attempts == 0 and not history.types
        assert not (git_repo / ".git" / "nborch" / "nborch.sqlite").exists()

    def test_folder_outside_git_is_empty_history(self, tmp_path: Path) -> None:
        """A folder outside any repository has no history (and no error)."""
        assert load_history(tmp_path).attempts == 0

    def test_missing_folder_is_an_error(self, tmp_path: Path) -> None:
        """A folder that does not exist is an AssignError naming it."""
        with pytest.raises(AssignError, match="is not a folder"):
            load_history(tmp_path / "nope")


class CleanRecordTests:
    def test_more_clean_evidence_never_asks_for_more_attempts(self, plan: nborch.Plan) -> None:
        """First attempts that all passed give one attempt, however few of them there are."""
        for runs in range(1, 6):
            rows = []
            for n in range(runs):
                rows += task_rows(f"r{n}", "1", [("claude", True), ("codex", True), ("gemini", True)], day=n)
            item = assign(plan, agents=["claude", "codex", "gemini"], per_task="auto",
                          history=History.from_rows(rows))["1"]  # fmt: skip
            assert len(item.agents) == 1, (runs, item.justification)
