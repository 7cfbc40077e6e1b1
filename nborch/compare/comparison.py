"""`nborch.Comparison`: the ranked attempts of a run, a recommendation per task, and merge.

>>> cmp = nborch.compare(repo, run_id)          # doctest: +SKIP
>>> cmp.ranking                                  # a DataFrame: gates, signals, score, reasons
>>> cmp.recommend()["T1"].action                 # 'take', 'take-with-tests' or 'none'
>>> cmp.merge()                                  # into nborch/integration/<run>, then its tests

The comparison is saved as JSON next to the run (``.git/nborch/runs/<run>/comparison.json``), in
the same shape as ``nborch compare RUN --json``, so the dashboard and ``nborch merge`` read it
without measuring again while the attempts' commits are unchanged.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..display import html_table, plural, text_table
from ..errors import NborchError
from .diffs import overlap
from .gates import GATES
from .gather import CompareOptions, Gathered, RecordedRun, gather
from .merge import MergeOutcome, Pick, merge_picks
from .rank import Judge, Ranked, Recommendation, rank_task, recommend

__all__ = ["COMPARISON_FILE", "RANKING_COLUMNS", "Comparison", "compare", "load_comparison",
           "saved_rows"]

COMPARISON_FILE = "comparison.json"
SHOWN_PATCH_LINES = 60  # per attempt in the HTML view
SIGNAL_COLUMNS = ("fail_to_pass", "pass_to_pass", "broken", "new_passing", "cross_pass_rate",
                  "coverage", "new_lint", "complexity_delta", "mi_delta", "diff_lines", "files",
                  "tokens", "cost_usd", "duration_s")  # fmt: skip
RANKING_COLUMNS = ("task", "agent", "rank", "score", "eligible", *GATES, *SIGNAL_COLUMNS,
                   "cluster", "commit", "reasons")  # fmt: skip


class Comparison:
    """The comparison of one run's attempts; build it with :func:`compare` or ``run.compare()``."""

    def __init__(self, run: RecordedRun, gathered: Gathered, judge: Judge | None = None) -> None:
        self.run_id: str = run.prepared.run.id
        self.repo = Path(run.repo)
        self.base = gathered.base
        self.test_command = gathered.test_command
        self.notes = gathered.notes
        self.matrices = gathered.matrices
        self.patches = gathered.patches
        self.created_at = datetime.now(UTC)
        self._plan = run.plan
        self.env = dict(gathered.env)
        by_task: dict[str, list] = {}
        for ev in gathered.evidence:
            by_task.setdefault(ev.task, []).append(ev)
        self.tasks: dict[str, list[Ranked]] = {t: rank_task(evs, judge) for t, evs in by_task.items()}
        self._recommendations = {t: recommend(t, r) for t, r in self.tasks.items()}

    # ---- results ------------------------------------------------------------------------------

    def recommend(self, task: str | None = None) -> Recommendation | dict[str, Recommendation]:
        """The :class:`Recommendation` for ``task``, or a dict task → recommendation for all."""
        if task is None:
            return dict(self._recommendations)
        if task not in self._recommendations:
            raise NborchError(f"task {task!r} is not in run {self.run_id} (tasks: "
                              f"{', '.join(self._recommendations)})")  # fmt: skip
        return self._recommendations[task]

    def _rows(self) -> list[dict[str, Any]]:
        rows = []
        for task, ranked in self.tasks.items():
            for r in ranked:
                row: dict[str, Any] = {"task": task, "agent": r.agent, "rank": r.rank,
                                       "score": r.score, "eligible": r.eligible}  # fmt: skip
                row.update({g: r.gates.values[g] for g in GATES})
                row.update({s: r.signals.get(s) for s in SIGNAL_COLUMNS})
                row.update(cluster=r.evidence.cluster, commit=r.evidence.commit,
                           reasons="; ".join(r.reasons))  # fmt: skip
                rows.append(row)
        return rows

    @property
    def ranking(self):  # -> pandas.DataFrame
        """One row per attempt: task, agent, rank, score, each gate, each signal and the reasons."""
        import pandas as pd

        frame = pd.DataFrame(self._rows(), columns=list(RANKING_COLUMNS))
        frame["rank"] = frame["rank"].astype("Int64")
        frame["cluster"] = frame["cluster"].astype("Int64")
        for gate in GATES:
            frame[gate] = frame[gate].astype("boolean")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``nborch compare RUN --json``."""
        tasks = []
        for task, ranked in self.tasks.items():
            attempts = []
            for r in ranked:
                delta = r.evidence.delta
                attempts.append({
                    "agent": r.agent, "rank": r.rank, "score": r.score, "eligible": r.eligible,
                    "commit": r.evidence.commit, "branch": r.evidence.branch,
                    "status": r.evidence.status,
                    "gates": dict(r.gates.values), "gate_reasons": dict(r.gates.reasons),
                    "tests": {k: list(getattr(delta, k)) if delta else None
                              for k in ("fail_to_pass", "pass_to_pass", "broken")},
                    "metrics": {s: r.signals.get(s) for s in SIGNAL_COLUMNS},
                    "cluster": r.evidence.cluster, "test_files": list(r.evidence.test_files),
                    "reasons": list(r.reasons), "notes": list(r.evidence.notes),
                    "pinned": {"separate_run": r.evidence.pinned is not None,
                               "test_changes": list(r.evidence.test_changes),
                               "disagree": list(r.evidence.disagree)},
                    "named_tests": [t.to_dict() for t in r.evidence.named],
                    "weakening": [{"kind": f.kind, "path": f.path, "detail": f.detail}
                                  for f in r.evidence.weakening],
                })  # fmt: skip
            tasks.append({"task": task, "recommendation": self._recommendations[task].to_dict(),
                          "attempts": attempts})  # fmt: skip
        return {"run_id": self.run_id, "base": self.base, "test_command": self.test_command,
                "created_at": self.created_at.isoformat(), "notes": list(self.notes),
                "totals": self.totals(), "tasks": tasks}  # fmt: skip

    def totals(self) -> dict[str, int]:
        """Tasks, tasks with an attempt that passed every gate, tasks recommended, abstained."""
        passing = sum(1 for ranked in self.tasks.values() if any(r.eligible for r in ranked))
        taken = sum(1 for r in self._recommendations.values() if r.action != "none")
        return {"tasks": len(self.tasks), "with_passing_attempt": passing,
                "recommended": taken, "abstained": len(self.tasks) - taken}  # fmt: skip

    def save(self, path: str | Path | None = None) -> Path:
        """Write :meth:`to_dict` as JSON (default: next to the run's record); returns the path."""
        target = Path(path) if path is not None else comparison_path(self.repo, self.run_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(target)
        return target

    # ---- merge --------------------------------------------------------------------------------

    def picks(self, take: Mapping[str, str] | None = None) -> list[Pick]:
        """The recommended attempt of every task that has one, in dependency order; ``take``
        (task → agent) names attempts to merge instead, recommended or not."""
        return picks_from(self.to_dict(), [t.id for wave in self._plan.waves() for t in wave],
                          take)  # fmt: skip

    def merge(self, into: str | None = None, *, force: bool = False, test_timeout: float = 600.0,
              take: Mapping[str, str] | None = None) -> MergeOutcome:  # fmt: skip
        """Merge the recommended attempts into ``into`` (default ``nborch/integration/<run>``),
        then run the test command on the result. See :func:`nborch.compare.merge.merge_picks`.

        A task without a recommendation is left out, unless ``take`` names its attempt
        (``take={"1.2": "codex"}``): a person's choice, merged as named.
        """
        outcome = merge_picks(self.repo, self.base, self.picks(take),
                              into=into or f"nborch/integration/{self.run_id}",
                              test_command=self.test_command, test_timeout=test_timeout,
                              force=force, env=self.env)  # fmt: skip
        left = [t for t, r in self._recommendations.items()
                if r.action == "none" and t not in (take or {})]  # fmt: skip
        if not left:
            return outcome
        said = (f"not merged (no attempt passed the gates): {', '.join(left)} — name one with "
                "take={task: agent} to merge it anyway")  # fmt: skip
        return replace(outcome, notes=(*outcome.notes, said))

    # ---- display ------------------------------------------------------------------------------

    def task_rows(self, task: str) -> list[tuple[object, ...]]:
        rows = []
        for r in self.tasks[task]:
            failed = ", ".join(r.gates.failed) or "—"
            rows.append((r.rank or "", r.agent, "" if r.score is None else f"{r.score:g}", failed,
                         r.signals.get("fail_to_pass"), r.signals.get("broken"),
                         _pct(r.signals.get("cross_pass_rate")), _pct(r.signals.get("coverage")),
                         r.signals.get("new_lint"), "; ".join(r.reasons[:3])))  # fmt: skip
        return rows

    def __str__(self) -> str:
        parts = [self._headline()]
        for task in self.tasks:
            parts.append(f"\n{self._recommendations[task]}")
            parts.append(text_table(TASK_COLUMNS, self.task_rows(task)))
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<Comparison {self._headline()}>"

    def _headline(self) -> str:
        n_attempts = sum(len(r) for r in self.tasks.values())
        t = self.totals()
        return (f"run {self.run_id}: {plural(len(self.tasks), 'task')}, "
                f"{plural(n_attempts, 'attempt')}; {t['with_passing_attempt']} with an attempt "
                f"that passed the gates, {t['recommended']} recommended, {t['abstained']} "
                "without a good attempt")  # fmt: skip

    def _repr_html_(self) -> str:
        out = [f"<div class='nborch-comparison'><p><b>{html.escape(self._headline())}</b><br>"
               + "<br>".join(html.escape(n) for n in self.notes) + "</p>"]  # fmt: skip
        for task, ranked in self.tasks.items():
            rec = self._recommendations[task]
            out.append(html_table(TASK_COLUMNS, self.task_rows(task), caption=str(rec)))
            if (matrix := self.matrices.get(task)) is not None and matrix.cells:
                out.append(matrix.grid_html())
            top = [r for r in ranked if r.eligible][:2] or ranked[:2]
            out.append(_overlap_line(top))
            out.append(_side_by_side([(r.agent, self.patches.get((task, r.agent), "")) for r in top]))
            for r in top:  # a task that must change tests: each changed test, before and after
                for tid, before, after in r.evidence.changed_tests[:5]:
                    out.append(f"<p>{html.escape(r.agent)} changed the existing test "
                               f"<code>{html.escape(tid)}</code>:</p>")  # fmt: skip
                    out.append(_side_by_side([("before (the start's)", before),
                                              (f"after ({r.agent})", after)]))  # fmt: skip
        return "".join(out) + "</div>"


TASK_COLUMNS = ("rank", "agent", "score", "failed gates", "fixed", "broken", "others' tests",
                 "coverage", "new lint", "reasons")  # fmt: skip


def _pct(value: object) -> str:
    return "" if value is None else f"{float(value):.0%}"  # type: ignore[arg-type]


def _overlap_line(top: Sequence[Ranked]) -> str:
    """What the top two diffs share — shown for people, never used as evidence."""
    if len(top) < 2 or top[0].evidence.diff is None or top[1].evidence.diff is None:
        return ""
    o = overlap(top[0].evidence.diff, top[1].evidence.diff)
    return (f"<p style='font-size:90%'>{html.escape(top[0].agent)} and "
            f"{html.escape(top[1].agent)} both change {plural(len(o.shared_files), 'file')} "
            f"and {plural(len(o.shared_functions), 'function')} (file overlap {o.jaccard:.0%}) — "
            "similarity is shown, never taken as evidence that they behave alike.</p>")


def _shown(patch: str, limit: int = SHOWN_PATCH_LINES) -> str:
    lines = patch.splitlines()
    if len(lines) <= limit:
        return patch
    return "\n".join(lines[:limit]) + f"\n… {len(lines) - limit} more lines in .patches"


def _side_by_side(patches: Sequence[tuple[str, str]]) -> str:
    """The top attempts' patches next to each other, folded by default; each is cut to
    :data:`SHOWN_PATCH_LINES` so a saved notebook stays small (``.patches`` has them whole)."""
    if not patches:
        return ""
    patches = [(agent, _shown(patch)) for agent, patch in patches]
    cols = "".join(
        f"<td style='vertical-align:top;width:{100 // len(patches)}%'><b>{html.escape(agent)}</b>"
        f"<pre style='font-size:11px;white-space:pre-wrap'>{html.escape(patch) or '(no changes)'}"
        "</pre></td>" for agent, patch in patches)  # fmt: skip
    return f"<details><summary>diffs of the top attempts</summary><table><tr>{cols}</tr></table></details>"


def comparison_path(repo: str | Path, run_id: str) -> Path:
    from ..workspace.manager import WorktreeManager

    return WorktreeManager(repo).common_dir / "nborch" / "runs" / run_id / COMPARISON_FILE


def load_comparison(repo: str | Path, run_id: str) -> dict[str, Any] | None:
    """The saved comparison of a run (the ``--json`` shape), or None when it was never compared."""
    path = comparison_path(repo, run_id)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise NborchError(f"cannot read {path}: {err} — run `nborch compare {run_id}` again") from err


SAVED_COLUMNS = ("task", "recommendation", "confidence", "attempts")


def saved_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """One row per task of a saved comparison (:func:`load_comparison`): what to take, how sure,
    and each attempt's rank or the gates it failed — for the dashboard."""
    rows = []
    for t in data["tasks"]:
        rec = t["recommendation"]
        what = {"take": f"take {rec['agent']}",
                "take-with-tests": f"take {rec['agent']} with {rec.get('tests_from')}'s tests",
                }.get(rec["action"], "none good enough")  # fmt: skip
        ranks = []
        for a in t["attempts"]:
            if a["rank"] is not None:
                ranks.append(f"#{a['rank']} {a['agent']} ({a['score']:g})")
            else:
                failed = [g for g, v in a["gates"].items() if v is False]
                ranks.append(f"✗ {a['agent']} ({', '.join(failed)})")
        rows.append((t["task"], what, rec["confidence"], " · ".join(ranks)))
    return rows


def picks_from(data: dict[str, Any], order: Sequence[str],
               take: Mapping[str, str] | None = None) -> list[Pick]:  # fmt: skip
    """The merge picks a saved comparison recommends, tasks in ``order`` (dependency order);
    ``take`` (task → agent) overrides the recommendation for the tasks it names."""
    tasks = {t["task"]: t for t in data["tasks"]}
    # task → agent → the commit its attempt judged
    commits_of = {task: {a["agent"]: a["commit"] for a in t["attempts"]} for task, t in tasks.items()}
    take = dict(take or {})
    for task, agent in take.items():
        if task not in tasks:
            raise NborchError(f"--take {task}={agent}: the run has no task {task!r} (tasks: "
                              f"{', '.join(tasks)})")  # fmt: skip
        if not commits_of[task].get(agent):
            have = ", ".join(a for a, c in commits_of[task].items() if c) or "none with commits"
            raise NborchError(f"--take {task}={agent}: task {task} has no attempt by {agent} "
                              f"with commits (attempts: {have})")  # fmt: skip
    picks = []
    for task in [t for t in order if t in tasks]:
        commits = commits_of[task]
        if task in take:
            picks.append(Pick(task, take[task], commits[take[task]]))
            continue
        rec = tasks[task]["recommendation"]
        if rec["action"] == "none" or not rec["agent"]:
            continue
        extra = ()
        if rec["action"] == "take-with-tests" and rec.get("tests_from"):
            extra = ((commits[rec["tests_from"]], tuple(rec.get("test_files", ()))),)
        picks.append(Pick(task, rec["agent"], commits[rec["agent"]], extra))
    return picks


def compare(repo: str | Path, run_id: str, *, test_command: str | None = None,
            test_timeout: float = 600.0, jobs: int = 0, cross: bool = True, metrics: bool = True,
            coverage: bool | None = None, env: Mapping[str, str] | None = None,
            judge: Judge | None = None, progress: Callable[[str], None] | None = None,
            save: bool = True, pass_env: Sequence[str] = (), executor: Any = None) -> Comparison:  # fmt: skip
    """Compare the attempts of run ``run_id`` in ``repo`` with evidence, and save the result.

    Parameters
    ----------
    test_command
        The command that runs the project's tests; default: the plan's ``test_command``, else the
        one detected from the repository (pytest, ``make test``, ``npm test`` …).
    test_timeout
        Seconds before one test run is stopped (its attempt then fails the ``tests_finish`` gate).
    jobs
        Test runs at once (0: one per core, at most 4).
    cross, metrics
        Turn off the cross-tests or the radon/ruff metrics.
    coverage
        Coverage of the changed lines: ``None`` (default) measures it where that is cheap —
        Python 3.12+, whose ``sys.monitoring`` leaves unmeasured code alone — and says why not
        elsewhere (before 3.12 coverage.py's tracer slows the whole suite ~2.8x); ``True`` always,
        ``False`` never.
    env
        Extra environment variables for the test runs (e.g. ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).
    judge
        Optional tie-breaker ``(task, tied_evidence) -> agent | None``, asked only when the top
        attempts score exactly the same; never used alone.
    pass_env
        Names (or globs) of your environment variables the test runs get (on a Dask worker:
        the worker's own values).
    executor
        Where the test runs happen: here (None, ``"local"``), or on a Dask cluster (``"dask"``
        for a LocalCluster, or a :class:`~nborch.DaskExecutor`); every test run is then a job.
    """
    from ..execute.coordinator import Coordinator

    run = Coordinator.load(repo, run_id)
    options = CompareOptions(test_command, test_timeout, jobs, cross, metrics, coverage, env,
                             tuple(pass_env), executor)  # fmt: skip
    return compare_run(run, options, judge, progress, save)


def compare_run(run: RecordedRun, options: CompareOptions | None = None, judge: Judge | None = None,
                progress: Callable[[str], None] | None = None, save: bool = True) -> Comparison:  # fmt: skip
    """:func:`compare` for a run object already in hand (``run.compare()``)."""
    if run.prepared is None:
        raise NborchError("this run has not been executed yet — run it first (run.run_sync())")
    if run.running:
        raise NborchError(f"run {run.prepared.run.id} is still running — compare it when it ends "
                          "(await run, or run.wait())")  # fmt: skip
    from ..execute.runs import live_coordinator
    from ..workspace.manager import WorktreeManager

    other = live_coordinator(WorktreeManager(run.repo), run.prepared.run.id)
    if other is not None:
        raise NborchError(f"run {run.prepared.run.id} is still being run by process {other} — "
                          "compare it when it ends (nborch status shows its attempts)")  # fmt: skip
    options = options or CompareOptions()
    owned = options.executor == "dask"  # a LocalCluster for this comparison: closed after it
    if owned:
        from .remote import on_dask

        options = replace(options, executor=on_dask("dask"))
    try:
        result = Comparison(run, gather(run, options, progress), judge)
    finally:
        if owned:
            options.executor.close()
    if save:
        result.save()
    return result
