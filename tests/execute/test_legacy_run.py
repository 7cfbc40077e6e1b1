"""A run recorded by an earlier nborch (tests/data/legacy, made by make_fixture.sh before the
package redesign) still loads, shows in the dashboard and resumes with the options it was started
with. Its paths are absolute, so the repository is unpacked where it was made."""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import unittest
from pathlib import Path

import nborch

FIXTURE = Path(__file__).parents[1] / "data" / "legacy" / "legacy-run.tar.gz"
ROOT = Path("/tmp/nborch-legacy-fixture")


class LegacyRunTests(unittest.TestCase):
    def setUp(self) -> None:
        ROOT.parent.mkdir(exist_ok=True)
        self.lock = open(ROOT.parent / "nborch-legacy-fixture.lock", "w")  # noqa: SIM115
        fcntl.flock(self.lock, fcntl.LOCK_EX)  # one test run at a time uses the fixed place
        shutil.rmtree(ROOT, ignore_errors=True)
        ROOT.mkdir()
        with tarfile.open(FIXTURE) as tar:
            tar.extractall(ROOT, filter="tar")
        self.repo = ROOT / "repo"
        self.run_id = nborch.history(self.repo)["run"].iloc[0]

    def tearDown(self) -> None:
        shutil.rmtree(ROOT, ignore_errors=True)
        self.lock.close()

    def test_history_and_load_see_the_interrupted_attempt(self) -> None:
        frame = nborch.history(self.repo)
        self.assertEqual(frame["status"].tolist(), ["interrupted"])
        run = nborch.Run.load(self.repo, self.run_id)
        states = {k: str(ex.status) for k, ex in run.executions.items()}
        self.assertEqual(states, {("1.1", "fx"): "completed", ("1.2", "fx"): "interrupted"})
        self.assertEqual(run.plan.title, "Calculator")
        self.assertIn("def sub", (run.prepared.attempts[0].attempt.path / "calc.py").read_text())

    def test_reading_it_writes_nothing(self) -> None:
        """history, load, the dashboard, status and history on the command line only read: the
        store still says what the dead coordinator left until a resume records it."""
        before = self.dump()
        nborch.history(self.repo)
        nborch.Run.load(self.repo, self.run_id)
        board = nborch.dashboard(self.repo)
        board.select(self.run_id)
        board.close()
        for command in (["status", "--json"], ["history", "--json"]):
            out = subprocess.run([sys.executable, "-m", "nborch", *command, "-r", str(self.repo)],
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("interrupted", out.stdout)
        self.assertEqual(self.dump(), before)
        self.assertIn("'running'", before)

    def dump(self) -> str:
        db = sqlite3.connect(self.repo / ".git" / "nborch" / "nborch.sqlite")
        try:
            return repr([db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                         for t in ("runs", "attempts", "events")])  # fmt: skip
        finally:
            db.close()

    def test_dashboard_shows_it(self) -> None:
        board = nborch.dashboard(self.repo)
        self.assertIn(self.run_id, board.html())
        board.select(self.run_id)
        self.assertIn("interrupted", board.run_html())
        board.close()

    def test_resume_finishes_it_with_the_saved_options(self) -> None:
        out = subprocess.run([sys.executable, "-m", "nborch", "resume", self.run_id, "-r",
                              str(self.repo), "--json"], capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        self.assertEqual(out.returncode, 0, out.stderr)
        run = nborch.Run.load(self.repo, self.run_id)
        self.assertEqual(str(run.executions[("1.2", "fx")].status), "completed")
        shown = subprocess.run(["git", "show", f"nborch/{self.run_id}/1.2/fx:calc.py"],
                               cwd=self.repo, capture_output=True, text=True, check=True)  # fmt: skip
        self.assertIn("def mul", shown.stdout)
        # started with -t 5m --retries 1 -c 2; resume gave none of them again
        self.assertEqual((run.options.timeout, run.options.retries, run.options.max_concurrent),
                         (300.0, 1, 2))
