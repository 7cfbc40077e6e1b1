"""Budgets, with real agent processes that report what they spend as they go.

The agents speak the demo agents' JSON-lines format (``parser="demo"``): a ``usage`` line per
step, with a cost or only tokens, and a file written before the first step so that a stopped
attempt has work to keep.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nborch
from nborch import AttemptState, Coordinator, NborchError
from nborch.agents import AgentSpec
from nborch.execute.budget import Prices, parse_price
from nborch.execute.executor import LocalExecutor
from nborch.execute.options import RunOptions
from nborch.execute.results import AgentExecution, spending
from nborch.plan.markdown import parse_markdown

S = AttemptState

# Each step costs ``cost`` dollars (or reports ``tokens`` input tokens and no cost).
SPENDER = """\
import json, pathlib, sys, time
wt, task = pathlib.Path(sys.argv[1]), sys.argv[2]
(wt / f"work{{task}}.txt").write_text("started\\n")
for step in range({steps}):
    line = {{"type": "usage", "input_tokens": {tokens}, "output_tokens": 0}}
    if {cost} is not None:
        line["cost_usd"] = {cost}
    print(json.dumps(line), flush=True)
    time.sleep({nap})
print(json.dumps({{"type": "result", "text": "done"}}), flush=True)
"""


@pytest.fixture(autouse=True)
def _registry():
    yield
    nborch.agents.reset()


def spender(tmp_path: Path, name: str, *, cost: float | None = 0.1, tokens: int = 100,
            steps: int = 40, nap: float = 0.15) -> str:  # fmt: skip
    script = tmp_path / f"{name}.py"
    script.write_text(SPENDER.format(cost=cost, tokens=tokens, steps=steps, nap=nap))
    nborch.agents.register(AgentSpec(
        name=name, display_name=name, kind="script",
        argv=(sys.executable, str(script), "{worktree}", "{task_id}"),
        output="stream-json", parser="demo"), replace=True)  # fmt: skip
    return name


def plan(*tasks: tuple[str, str]) -> str:
    return "# Budget\n\n" + "".join(f"## Task {t}: Spend\nAgents: {a}\n\nSpend.\n\n" for t, a in tasks)


def execute(repo: Path, tmp_path: Path, text: str, **kw) -> Coordinator:
    return Coordinator(repo, parse_markdown(text), root=tmp_path / "wt", timeout="60s",
                       executor=LocalExecutor(grace=0.5), **kw).run_sync()  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


class RunBudgetTests:
    def test_a_spent_budget_stops_the_running_attempt_and_starts_no_other(self, git_repo, tmp_path):
        """$0.35 at $0.10 a step: the first attempt is stopped mid-way with its work kept as WIP;
        the second (waiting for the one slot) never starts."""
        spender(tmp_path, "pricey")
        started = time.monotonic()
        run = execute(git_repo, tmp_path, plan(("1", "pricey"), ("2", "pricey")),
                      budget_usd=0.35, max_concurrent=1)  # fmt: skip
        assert time.monotonic() - started < 30  # not the 40 steps × 0.15 s of both agents
        first, second = run.executions[("1", "pricey")], run.executions[("2", "pricey")]
        assert first.status == second.status == S.CANCELLED
        assert first.reason == second.reason == "budget"
        assert first.error.startswith("budget: the run's $0.35 is spent")
        assert git(git_repo, "show", f"{first.branch}:work1.txt") == "started"  # WIP kept
        assert "WIP" in git(git_repo, "log", "-1", "--format=%s", first.branch)
        assert second.started_at is None and second.tries == 0
        money = run.spending()
        assert 0.35 <= money["spent_usd"] < 1.0 and money["budget_usd"] == 0.35
        assert money["stopped_by_budget"] == 2
        assert "of $0.35 budget spent" in repr(run)
        assert nborch.Run.load(git_repo, run.id).executions[("1", "pricey")].reason == "budget"

    def test_an_attempt_that_would_exceed_the_budget_does_not_start(self, git_repo, tmp_path):
        """Each attempt costs $0.30 ($0.10 a step, 3 steps). With $0.70 and one slot, the
        second starts ($0.30 spent + about $0.30 ≤ $0.70); the third would take it to about
        $0.90, so it never starts — rather than being stopped two thirds of the way."""
        spender(tmp_path, "steady", steps=3, nap=0.05)
        run = execute(git_repo, tmp_path, plan(("1", "steady"), ("2", "steady"), ("3", "steady")),
                      budget_usd=0.7, max_concurrent=1)  # fmt: skip
        one, two, three = (run.executions[(t, "steady")] for t in ("1", "2", "3"))
        assert one.status == two.status == S.COMPLETED
        assert three.status == S.CANCELLED and three.reason == "budget"
        assert three.started_at is None and three.tries == 0
        assert three.error.startswith("budget: starting it would exceed the run's $0.70 (spent $0.6000")
        assert three.error.endswith("(not started)")
        assert run.spending()["spent_usd"] == pytest.approx(0.6)

    def test_tokens_count_at_the_price_table_when_no_cost_is_reported(self, git_repo, tmp_path):
        """1,000 input tokens a step at $500 per million: $0.50 a step; $1.20 lasts 3 steps."""
        spender(tmp_path, "tokens", cost=None, tokens=1000)
        run = execute(git_repo, tmp_path, plan(("1", "tokens")), budget_usd=1.2,
                      prices={"tokens": (500, 0)})  # fmt: skip
        ex = run.executions[("1", "tokens")]
        assert ex.status == S.CANCELLED and ex.reason == "budget"
        assert 3000 <= ex.input_tokens < 10000 and ex.cost_usd is None
        money = run.spending()
        assert money["spent_usd"] == money["estimated_usd"] >= 1.2

    def test_an_unpriced_agent_is_said_before_the_run(self, git_repo, tmp_path):
        spender(tmp_path, "mystery", steps=1, nap=0)
        run = execute(git_repo, tmp_path, plan(("1", "mystery")), budget_usd=10)
        assert any("mystery has no price" in w for w in run.prepared.warnings)
        assert run.executions[("1", "mystery")].status == S.COMPLETED

    def test_under_budget_nothing_is_stopped(self, git_repo, tmp_path):
        spender(tmp_path, "cheap", cost=0.01, steps=3, nap=0)
        run = execute(git_repo, tmp_path, plan(("1", "cheap"), ("2", "cheap")), budget_usd=5)
        assert {ex.status for ex in run.executions.values()} == {S.COMPLETED}
        assert run.spending()["stopped_by_budget"] == 0


class ResumeBudgetTests:
    def test_what_earlier_tries_spent_still_counts_after_a_resume(self, git_repo, tmp_path):
        spender(tmp_path, "pricey")
        run = execute(git_repo, tmp_path, plan(("1", "pricey")), budget_usd=0.35)
        spent = run.executions[("1", "pricey")].cost_usd
        assert spent >= 0.35
        for resumed in (run, nborch.Run.load(git_repo, run.id)):  # in the same process, or later
            resumed.resume(retry_failed=True).wait(60)
            ex = resumed.executions[("1", "pricey")]
            assert ex.status == S.CANCELLED and ex.reason == "budget", ex.error
            assert ex.cost_usd >= spent and ex.started_at is None  # stopped before it started
            assert resumed.spending()["spent_usd"] >= spent


class TaskBudgetTests:
    def test_a_task_budget_stops_only_that_tasks_attempts(self, git_repo, tmp_path):
        spender(tmp_path, "pricey")
        spender(tmp_path, "cheap", cost=0.01, steps=3, nap=0.05)
        run = execute(git_repo, tmp_path, plan(("1", "pricey"), ("2", "cheap")),
                      task_budget_usd={"1": 0.25})  # fmt: skip
        one, two = run.executions[("1", "pricey")], run.executions[("2", "cheap")]
        assert one.status == S.CANCELLED and one.reason == "budget"
        assert one.error.startswith("budget: task 1's $0.25 is spent")
        assert two.status == S.COMPLETED and two.reason == ""


class PlanBudgetTests:
    def test_a_budget_line_in_the_plan_is_the_tasks_budget(self, git_repo, tmp_path):
        """``Budget: $0.25`` under a task stops its attempts; the run's own option for the task
        wins over the plan's line."""
        spender(tmp_path, "pricey")
        text = plan(("1", "pricey")).replace("Agents: pricey", "Agents: pricey\nBudget: $0.25")
        run = execute(git_repo, tmp_path, text)
        ex = run.executions[("1", "pricey")]
        assert ex.status == S.CANCELLED and ex.error.startswith("budget: task 1's $0.25 is spent")
        more = execute(git_repo, tmp_path, text, task_budget_usd={"1": 0.45}, cache=False)
        assert more.executions[("1", "pricey")].error.startswith("budget: task 1's $0.45 is spent")

    def test_a_bad_budget_line_names_the_line(self):
        from nborch.errors import PlanError

        with pytest.raises(PlanError, match="budget 'lots' is not a positive number") as err:
            parse_markdown("# P\n\n## Task 1: A\nBudget: lots\n")
        assert err.value.line == 4
        assert nborch.parse_plan("title: P\ntasks:\n  - id: 1\n    title: A\n    budget: 0.5\n",
                                 format="yaml")["1"].budget_usd == 0.5  # fmt: skip


class BudgetCommandLineTests:
    def test_budget_and_price_on_the_command_line(self, git_repo, tmp_path):
        script = tmp_path / "spend.py"
        script.write_text(SPENDER.format(cost=None, tokens=1000, steps=40, nap=0.15))
        config = git_repo / ".nborch" / "agents.toml"
        config.parent.mkdir()
        command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {{worktree}} {{task_id}}"
        config.write_text(f"[agents.spend]\ncommand = {json.dumps(command)}\nparser = \"demo\"\n")
        plan_file = tmp_path / "plan.md"
        plan_file.write_text(plan(("1", "spend")))
        res = subprocess.run([sys.executable, "-m", "nborch", "execute", str(plan_file), "-r",
                              str(git_repo), "--root", str(tmp_path / "wt"), "--budget", "1.2",
                              "--price", "spend=500/0", "--json"],
                             capture_output=True, text=True)  # fmt: skip
        assert res.returncode == 1, res.stderr
        report = json.loads(res.stdout)
        assert report["budget_usd"] == 1.2 and report["spent_usd"] >= 1.2
        assert report["attempts"][0]["reason"] == "budget"
        bad = subprocess.run([sys.executable, "-m", "nborch", "execute", str(plan_file), "-r",
                              str(git_repo), "--price", "spend=cheap"],
                             capture_output=True, text=True)  # fmt: skip
        assert bad.returncode == 2 and "AGENT=IN/OUT" in bad.stderr


class PriceTests:
    def test_prices_and_their_errors(self):
        assert Prices().cost("claude", 1_000_000, 1_000_000) == 18.0
        assert Prices().cost("demo", 10**9, 0, is_demo=True) == 0.0
        assert Prices({"claude": (1, 1)}).cost("claude", 1_000_000, 0) == 1.0
        assert not Prices().is_priced("mine") and Prices({"mine": (1, 2)}).is_priced("mine")
        assert parse_price("a=1/2") == ("a", (1.0, 2.0))
        for bad in ("a=1", "=1/2", "a=x/2"):
            with pytest.raises(NborchError, match="AGENT=IN/OUT"):
                parse_price(bad)
        with pytest.raises(NborchError, match="cannot be negative"):
            Prices({"a": (-1, 0)})

    def test_budgets_are_checked_when_the_options_are_made(self):
        assert RunOptions.of(budget_usd="$5").budget_usd == 5.0
        for bad in (0, -1, "five", True):
            with pytest.raises(NborchError, match="positive number of dollars"):
                RunOptions.of(budget_usd=bad)
        with pytest.raises(NborchError, match="task 2"):
            RunOptions.of(task_budget_usd={"2": "lots"})
        saved = json.loads(json.dumps(RunOptions.of(prices={"a": (1, 2)}).to_dict()))
        assert RunOptions.saved(saved).prices == {"a": (1.0, 2.0)}

    def test_spending_counts_estimates_and_cache_hits_apart(self):
        ran = AgentExecution("1", "claude", input_tokens=1_000_000, status=S.COMPLETED)
        told = AgentExecution("2", "codex", cost_usd=0.5, status=S.COMPLETED)
        reused = AgentExecution("3", "codex", cost_usd=2.0, input_tokens=7, cached_from="r0")
        money = spending([ran, told, reused], budget_usd=10)
        assert money["spent_usd"] == 3.5 and money["estimated_usd"] == 3.0
        assert money["saved_usd"] == money["saved_by_cache_usd"] == 2.0 and money["cached"] == 1
        assert money["saved_tokens"] == money["saved_by_cache_tokens"] == 7
        assert money["saved_by_race_usd"] == money["saved_by_race_tokens"] == 0
