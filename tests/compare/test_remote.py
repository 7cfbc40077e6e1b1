"""The comparison's test runs on a real Dask ``LocalCluster(processes=True, n_workers=2)``: the
tamper case of ``test_tamper.py`` (twelve attempts, pinned runs, held-out tests, cross-tests,
coverage of changed lines) judged on the workers must come out exactly as judged here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import nborch
from nborch.compare.remote import RemoteTestRunner, snapshot
from nborch.execute.cluster import DaskExecutor
from tests.compare.test_cases import LEAN, agent, execute, make_repo
from tests.compare.test_tamper import ACCEPTANCE, CALC, CHEATS, FIXED, TESTS, _plan

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                   dashboard_address=":0") as cluster,
          distributed.Client(cluster) as dask_client):  # fmt: skip
        yield dask_client


@pytest.fixture(scope="module", autouse=True)
def _registry() -> Iterator[None]:
    yield
    nborch.agents.reset()


def _judged(cmp: nborch.Comparison) -> dict[str, tuple[object, ...]]:
    out = {}
    for r in cmp.tasks["1"]:
        ev = r.evidence
        own = ev.own.outcomes if ev.own is not None else None
        pinned = ev.pinned.outcomes if ev.pinned is not None else None
        out[r.agent] = (tuple(r.gates.failed), own, pinned, ev.coverage,
                        tuple((t.id, t.outcome) for t in ev.named))  # fmt: skip
    return out


class RemoteCompareTests:
    def test_the_tamper_case_judged_on_dask_as_here(self, client, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo", {"calc.py": CALC, "tests/test_calc.py": TESTS,
                                             ".gitignore": "__pycache__/\n"})  # fmt: skip
        holdout = tmp_path / "accept.v2"
        holdout.mkdir()
        (holdout / "test_calc.py").write_text(ACCEPTANCE)
        edits = {"correct": {"calc.py": FIXED}, **CHEATS}
        for name, files in edits.items():
            agent(tmp_path / "agents", name, files)
        run = execute(repo, tmp_path, _plan(list(edits), holdout))
        options = {"jobs": 2, "env": LEAN, "coverage": True, "metrics": False}
        here = nborch.compare(repo, run.id, save=False, **options)
        there = nborch.compare(repo, run.id, save=False, executor=DaskExecutor(client), **options)
        assert _judged(there) == _judged(here)
        rec = there.recommend("1")
        assert (rec.action, rec.agent, rec.confidence) == ("take", "correct", "high")
        assert there.recommend() == here.recommend()
        assert there.matrices.keys() == here.matrices.keys()
        for task, matrix in here.matrices.items():
            assert there.matrices[task].cells == matrix.cells
        correct = {r.agent: r for r in there.tasks["1"]}["correct"].evidence
        assert correct.coverage is not None and correct.coverage > 0  # measured on a worker

    def test_a_folder_is_sent_as_it_is_and_left_as_it_was(self, client, git_repo: Path,
                                                           tmp_path: Path) -> None:  # fmt: skip
        """Uncommitted, untracked and ignored files reach the worker; the folder's own index
        and HEAD are not touched; the log comes back."""
        (git_repo / ".gitignore").write_text("held/\n")
        (git_repo / "app.py").write_text("def answer():\n    return 41\n")  # uncommitted
        (git_repo / "test_app.py").write_text("from app import answer\n\n\ndef test_it():\n"
                                              "    assert answer() == 41\n")  # fmt: skip
        (git_repo / "held").mkdir()
        (git_repo / "held" / "test_held.py").write_text("def test_held():\n    assert True\n")
        head = nborch.gitcmd.Git(git_repo).out("rev-parse", "HEAD")
        before = nborch.gitcmd.Git(git_repo).out("status", "--porcelain")
        commit = snapshot(git_repo)
        assert commit != head
        runner = RemoteTestRunner(DaskExecutor(client), git_repo, head, extra_env=LEAN)
        log = tmp_path / "tests.log"
        ran = runner(git_repo, "python -m pytest -q test_app.py held", 60, log_path=log)
        assert ran.ok and set(ran.outcomes) == {"test_app.py::test_it", "held/test_held.py::test_held"}
        assert "2 passed" in log.read_text()
        assert nborch.gitcmd.Git(git_repo).out("rev-parse", "HEAD") == head
        assert nborch.gitcmd.Git(git_repo).out("status", "--porcelain") == before
