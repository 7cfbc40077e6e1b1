"""Fixtures of the browser tests: a JupyterLab server, a Voila server and Chromium, all real.

``make test-browser`` installs what they need (the ``browser`` extra and Debian's ``chromium``).
Every server runs on 127.0.0.1 on a free port, in its own temporary root, config and runtime
folders, and is stopped with every process it started (kernels included) when its fixture ends.
Screenshots go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
SCREENSHOTS = REPO / "test-output" / "screenshots"
BIN = Path(sys.executable).parent
START_TIMEOUT = 120  # seconds for a server to answer
# CI and this machine run as root, which Jupyter servers refuse unless told.
ROOT_FLAG = ["--allow-root"] if os.geteuid() == 0 else []
RUNS_NOTEBOOK = "runs.ipynb"  # made by the fixture: the dashboard of the demo repository
FOLLOW_NOTEBOOK = "follow.ipynb"  # made by the fixture: a dashboard of a run still going
FOLLOW_CELLS = ("""\
import asyncio
from pathlib import Path

import nborch
from nborch.view.dashboard import dashboard
from nborch.demo import make_sample_repo

repo = make_sample_repo("follow-repo")
team = nborch.assign(nborch.parse_plan("# Follow me\\n## Task 1: Take your time\\n"),
                     agents=["demo-slow"])
run = nborch.Coordinator(repo, team, timeout="10s", validate=False,
                         root=Path("follow-worktrees").resolve())
run.start()
while run.executions[("1", "demo-slow")].status != "running":
    await asyncio.sleep(0.2)""", "dashboard(repo)")


def pytest_configure(config: pytest.Config) -> None:
    """Make SIGTERM (``timeout``, a CI runner stopping the job) an interrupt, so the fixtures'
    teardown still stops the servers and their kernels instead of leaving them running."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_path() -> str:
    """Debian's chromium (Playwright's own browser download cannot work here)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no chromium on PATH — run `make test-browser`, which installs Debian's chromium")


@dataclass
class Server:
    """A server process in its own process group, its log, and the base URL it answers on."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    token: str = ""

    def page_url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path}{sep}token={self.token}" if self.token else f"{self.url}{path}"

    def wait_ready(self, path: str | None = None) -> None:
        """Wait (bounded) until ``path`` answers 200 or, without one, the port takes connections
        (a Voila page runs its notebook on every request); fail with the server's log otherwise."""
        deadline = time.monotonic() + START_TIMEOUT
        port = int(self.url.rsplit(":", 1)[1])
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if path is None:
                    socket.create_connection(("127.0.0.1", port), timeout=5).close()
                    return
                with urllib.request.urlopen(self.page_url(path), timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        pytest.fail(f"server did not answer {path} in {START_TIMEOUT}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server and every process it started (kernels run in their own sessions)."""
        try:
            family = [self.proc.pid, *(p.pid for p in psutil.Process(self.proc.pid).children(True))]
        except psutil.NoSuchProcess:
            family = [self.proc.pid]
        for pid in family:
            with _gone():
                os.kill(pid, signal.SIGTERM)
        _, alive = psutil.wait_procs([p for p in map(_process, family) if p], timeout=15)
        for proc in alive:
            with _gone():
                proc.kill()
        self.proc.wait(15)
        leftover = [p.pid for p in map(_process, family) if p and p.is_running()
                    and p.status() != psutil.STATUS_ZOMBIE]  # fmt: skip
        assert not leftover, f"processes left behind: {leftover}"


class _gone:
    """Ignore a process that has already exited."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *_: object) -> bool:
        return kind is not None and issubclass(kind, (ProcessLookupError, psutil.NoSuchProcess))  # type: ignore[arg-type]


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def start(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def jupyter_env(home: Path) -> dict[str, str]:
    """The environment of a server: its own config, runtime and lab settings folders, JupyterLab's
    news and update checks off (no network here), and the venv first on PATH."""
    settings = home / "lab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "GIT_"))}
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1")  # fmt: skip
    return env


def make_root(root: Path) -> str:
    """Copy the tutorials into ``root`` and make a demo repository there with one finished run of
    demo agents, and a notebook showing its dashboard; returns the run's id."""
    import nbformat

    import nborch
    from nborch.demo import make_sample_repo

    root.mkdir(parents=True)
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
    repo = make_sample_repo(root / "demo-repo")
    saved = os.environ.get("NBORCH_DEMO_SPEED")
    os.environ["NBORCH_DEMO_SPEED"] = "0"
    try:
        team = nborch.assign(nborch.parse_plan("# Browser demo\n## Task 1: A\n## Task 2: B\n"),
                             agents=["demo", "demo-broken"], per_task=2)  # fmt: skip
        run = nborch.Coordinator(repo, team, root=root / "worktrees", timeout="30s",
                                 validate=False).run_sync()  # fmt: skip
    finally:
        if saved is None:
            del os.environ["NBORCH_DEMO_SPEED"]
        else:
            os.environ["NBORCH_DEMO_SPEED"] = saved
        nborch.agents.reset()
    runs = ("from nborch.view.dashboard import dashboard\n\ndashboard('demo-repo')",)
    for name, cells in ((RUNS_NOTEBOOK, runs), (FOLLOW_NOTEBOOK, FOLLOW_CELLS)):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}  # fmt: skip
        nbformat.write(nb, root / name)
    assert run.id is not None
    return run.id


@dataclass
class Lab:
    server: Server
    root: Path
    run_id: str


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``jupyter lab --no-browser`` on 127.0.0.1, a free port and a token, serving a temporary
    root that holds a copy of the notebooks and a demo repository with one finished run."""
    home = tmp_path_factory.mktemp("lab")
    root = home / "root"
    run_id = make_root(root)
    port, token = free_port(), secrets.token_hex(16)
    args = [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", *ROOT_FLAG]  # fmt: skip
    server = Server(start(args, root, jupyter_env(home), home / "lab.log"),
                    f"http://127.0.0.1:{port}", home / "lab.log", token)  # fmt: skip
    try:
        server.wait_ready("/api/status")
        yield Lab(server, root, run_id)
    finally:
        server.stop()
        _cleanup(root)


def serve_voila(tmp_path: Path, notebook: str, **env: str) -> Iterator[Server]:
    """``voila NOTEBOOK`` on 127.0.0.1 and a free port, from a copy of the notebook; ``env``
    adds variables to the server's environment."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOKS / notebook, root / notebook)
    port = free_port()
    args = [str(BIN / "voila"), notebook, "--no-browser", "--Voila.ip=127.0.0.1",
            f"--port={port}", "--Voila.port_retries=0", "--show_tracebacks=True"]  # fmt: skip
    server = Server(start(args, root, {**jupyter_env(tmp_path), **env}, tmp_path / "voila.log"),
                    f"http://127.0.0.1:{port}", tmp_path / "voila.log")  # fmt: skip
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def voila(tmp_path: Path) -> Iterator[Server]:
    """``voila dashboard.ipynb``: the tutorial, which makes its own run."""
    yield from serve_voila(tmp_path, "dashboard.ipynb")


@pytest.fixture
def voila_app(tmp_path: Path, lab: Lab) -> Iterator[Server]:
    """``NBORCH_REPO=<demo repo> voila dashboard_app.ipynb``: the app notebook on a repository
    with a finished run (the one the lab fixture made)."""
    yield from serve_voila(tmp_path, "dashboard_app.ipynb",
                           NBORCH_REPO=str(lab.root / "demo-repo"))  # fmt: skip


def _cleanup(root: Path) -> None:
    """Remove the demo run's worktrees (their branches go with the temporary folder)."""
    import nborch

    for repo in (root / "demo-repo", root / "follow-repo"):
        if repo.exists():
            nborch.WorktreeManager(repo).cleanup(force=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                      args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page (its own context) with a large viewport and bounded waits."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})  # type: ignore[attr-defined]
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
