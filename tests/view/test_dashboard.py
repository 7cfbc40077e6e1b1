"""The runs dashboard: its pure tables, a real recorded run, selection, and its widget budget."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

# Widget.widgets is deprecated (a warning, so an error here); the registry itself is not.
from ipywidgets.widgets.widget import _instances

import nborch
from nborch.demo import make_sample_repo
from nborch.store import RunRecord
from nborch.view.dashboard import Dashboard, dashboard, runs_html, runs_text


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch):
    """Fast demo agents and a clean agent registry."""
    monkeypatch.setenv("NBORCH_DEMO_SPEED", "0")
    yield
    nborch.agents.reset()


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory):
    """A sample repository with one real, finished demo run of one task by two demo agents."""
    mp = pytest.MonkeyPatch()
    mp.setenv("NBORCH_DEMO_SPEED", "0")
    tmp = tmp_path_factory.mktemp("dash")
    repo = make_sample_repo(tmp / "repo")
    team = nborch.assign(nborch.parse_plan("# Demo plan\n## Task 1: Add a helper\n"),
                         agents=["demo", "demo-broken"], per_task=2)  # fmt: skip
    run = nborch.Coordinator(repo, team, timeout="20s", root=tmp / "wt").run_sync()
    yield repo, run
    nborch.WorktreeManager(repo).cleanup(force=True)
    nborch.agents.reset()
    mp.undo()


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def add_runs(repo: Path, n: int, title: str = "Plan", prefix: str = "fake") -> None:
    """Record ``n`` prepared (never executed) runs in the repository's store."""
    manager = nborch.WorktreeManager(repo)
    now = datetime.now(UTC)
    with manager.store() as store:
        for i in range(n):
            store.add_run(RunRecord(id=f"{prefix}-{i:03d}", created_at=now - timedelta(days=1, seconds=i),
                                    repo=str(repo), base_ref="main", base_commit="a" * 40,
                                    root=str(repo), plan_title=title))  # fmt: skip


class TestRecordedRun:
    def test_runs_table_lists_the_run(self, ran) -> None:
        """The runs table from a real repository shows the run, its status and attempt counts."""
        repo, run = ran
        board = dashboard(repo)
        assert board.selected == run.id
        html = board.runs_table.value
        assert run.id in html and "Demo plan" in html and '<td class="n">2</td>' in html
        assert run.id in repr(board) and run.id in board._repr_html_()

    def test_selecting_shows_attempts(self, ran) -> None:
        """Selecting a run draws its attempts table, and picking an attempt shows its log tail."""
        repo, run = ran
        board = dashboard(repo)
        assert "demo-broken" in board.attempts_table.value
        assert "✓ completed" in board.attempts_table.value
        board.pick("1", "demo-broken")
        assert "1 · demo-broken" in board.detail.value
        assert run.logs("1", "demo-broken", tail=1).strip()[:20] in board.detail.value
        assert "selected: " in board.text()

    def test_newest_first_and_prepared_run(self, ran) -> None:
        """Runs are newest first; selecting a run that never executed says so instead of raising."""
        repo, run = ran
        add_runs(repo, 1)
        board = dashboard(repo)
        assert board.runs["run"].iloc[0] == run.id
        board.select("fake-000")
        assert board.run is None and "no executed run" in board.attempts_table.value
        with pytest.raises(nborch.NborchError, match="no run"):
            board.select("nope")


    def test_comparison_shown_once_compared(self, ran) -> None:
        """Before a comparison the board says how to make one; after run.compare() it shows the
        saved recommendation and each attempt's rank or failed gates."""
        repo, run = ran
        board = dashboard(repo)
        assert "not compared yet" in board.comparison_table.value
        run.compare(env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, cross=False, metrics=False,
                    coverage=False)  # fmt: skip
        board.refresh()
        shown = board.comparison_table.value
        assert "take demo" in shown and "#1 demo" in shown
        assert "✗ demo-broken (completed" in shown
        assert "take demo" in board.html()


class TestEmpty:
    def test_empty_repository_message(self, git_repo: Path) -> None:
        """A repository without runs shows a friendly message, in widgets, HTML and text."""
        board = dashboard(git_repo)
        assert board.selected is None and board.run is None
        for shown in (board.runs_table.value, board._repr_html_(), repr(board), board.text()):
            assert "No runs yet" in shown
        assert board.refresh() is board

    def test_outside_a_repository_it_says_what_to_do(self, tmp_path: Path) -> None:
        """A folder that is no git repository (a copied notebook, a source archive) gives a
        dashboard that says so and how to point it elsewhere, not an exception."""
        board = dashboard(tmp_path)
        for shown in (board.runs_table.value, board._repr_html_(), repr(board), board.text()):
            assert "not a git repository" in shown and "NBORCH_REPO" in shown
        assert board.selected is None and board.runs.empty

    def test_the_app_notebook_runs_outside_a_repository(self, tmp_path: Path) -> None:
        """notebooks/dashboard_app.ipynb executed in a folder that is no repository shows the
        message (nbclient, as nbmake and Voila run it)."""
        import nbformat
        from nbclient import NotebookClient

        source = Path(__file__).parents[2] / "notebooks" / "dashboard_app.ipynb"
        book = nbformat.read(source, as_version=4)
        NotebookClient(book, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
        shown = "".join(str(out.get("data", {})) for cell in book.cells
                        for out in cell.get("outputs", []))  # fmt: skip
        assert "not a git repository" in shown and "NBORCH_REPO" in shown


class TestGitPythonRepo:
    def test_a_git_repo_object_is_accepted(self, git_repo: Path) -> None:
        """Where a repository path is accepted, a GitPython ``git.Repo`` is too."""
        import git

        repo = git.Repo(git_repo)
        assert dashboard(repo).repo == git_repo.resolve()
        assert nborch.WorktreeManager(repo).repo == git_repo.resolve()
        assert list(nborch.history(repo)["run"]) == []
        bare = git.Repo.init(git_repo.parent / "bare.git", bare=True)
        with pytest.raises(nborch.WorktreeError, match="bare repository"):
            nborch.WorktreeManager(bare)


class TestHtml:
    def test_values_are_escaped(self, git_repo: Path) -> None:
        """Plan titles and other values are HTML-escaped in the runs table."""
        add_runs(git_repo, 1, title="<script>alert('x')</script>")
        board = dashboard(git_repo)
        assert "<script>alert" not in board.runs_table.value
        assert "&lt;script&gt;" in board.runs_table.value
        assert "<script>alert" in runs_text(board.runs)  # plain text stays as written

    def test_pure_tables(self) -> None:
        """The table functions work on an empty frame and name every column."""
        import pandas as pd

        from nborch.execute.runs import HISTORY_COLUMNS

        frame = pd.DataFrame(columns=list(HISTORY_COLUMNS))
        assert "No runs yet in here" in runs_html(frame, repo="here")
        assert runs_text(frame, "here").startswith("No runs yet in here")


class TestWidgetBudget:
    def test_models_do_not_grow_with_runs(self, git_repo: Path) -> None:
        """The dashboard makes as many widget models for 40 runs as for one."""
        add_runs(git_repo, 1)
        before = len(_instances)
        Dashboard(git_repo)
        one = len(_instances) - before
        add_runs(git_repo, 39, prefix="more")
        before = len(_instances)
        board = Dashboard(git_repo)
        assert len(board.runs) == 40
        assert len(_instances) - before == one <= 25  # 8 widgets and their layouts and styles
        before = len(_instances)
        board.refresh()
        board.select("fake-000")
        assert len(_instances) == before


class TestFollow:
    """A selected run that is still running is read again from the store while it is on screen."""

    def test_running_run_is_followed_until_it_ends(self, tmp_path: Path) -> None:
        """With a view on screen, the dashboard polls a running run (its attempts show running),
        stops polling once the run has ended, and then shows its final state and status."""
        repo = make_sample_repo(tmp_path / "repo")
        team = nborch.assign(nborch.parse_plan("# Slow\n## Task 1: Wait\n"), agents=["demo-slow"])
        run = nborch.Coordinator(repo, team, root=tmp_path / "wt", timeout="60s", validate=False)
        run.start()
        board = None
        try:
            wait_for(lambda: run.executions[("1", "demo-slow")].status == "running")
            board = Dashboard(repo, poll=0.2)
            assert board.selected == run.id and board.runs["status"].iloc[0] == "running"
            assert not board.visible and not board.following  # nobody looks: no polling
            board.widget._view_count = 1  # what JupyterLab sends when it shows the widget
            assert board.following
            wait_for(lambda: board.polls >= 2, what="two polls")
            assert "▶ running" in board.attempts_table.value
            run.cancel()
            run.wait(30)
            wait_for(lambda: "⊘ cancelled" in board.attempts_table.value, what="final state")
            wait_for(lambda: not board.following, what="polling to stop")
            assert board.runs["status"].iloc[0] != "running"
            assert "running" not in board.runs_table.value.split("<tbody>")[1]
            polls = board.polls
            time.sleep(0.5)
            assert board.polls == polls
        finally:
            run.cancel()
            if board is not None:
                board.close()
            nborch.WorktreeManager(repo).cleanup(force=True)

    def test_hidden_dashboard_stops_polling(self, tmp_path: Path) -> None:
        """When the last view goes (the tab is closed) the next poll does not read the store
        and none is scheduled; closing the dashboard closes its widget models."""
        repo = make_sample_repo(tmp_path / "repo")
        team = nborch.assign(nborch.parse_plan("# Slow\n## Task 1: Wait\n"), agents=["demo-slow"])
        run = nborch.Coordinator(repo, team, root=tmp_path / "wt", timeout="60s", validate=False)
        run.start()
        try:
            wait_for(lambda: run.executions[("1", "demo-slow")].status == "running")
            before = len(_instances)
            board = Dashboard(repo, poll=0.2)
            board.widget._view_count = 1
            wait_for(lambda: board.polls >= 1, what="a poll")
            board.widget._view_count = 0
            time.sleep(0.5)
            polls = board.polls
            time.sleep(0.5)
            assert board.polls == polls and not board.following
            board.close()
            assert len(_instances) == before
        finally:
            run.cancel()
            run.wait(30)
            nborch.WorktreeManager(repo).cleanup(force=True)
