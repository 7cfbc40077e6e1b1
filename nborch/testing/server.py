"""The model server: one HTTP server on 127.0.0.1 speaking every vendor protocol at once.

``ModelServer(script)`` runs it in a background thread (``process=True``: in a child process);
``python -m nborch.testing.server --script FILE --port-file F`` runs it in the foreground until
SIGTERM or Ctrl-C, for a CLI run or a user's rehearsal. ``stop()`` leaves no thread or process
behind, even with a request hanging on a ``hang`` fault or a keep-alive connection open.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import ThreadingHTTPServer
from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import NborchError
from .handler import Handler
from .script import Fault, Scenario, Script, Usage
from .state import RecordedRequest, State

__all__ = ["ModelServer", "RecordedRequest", "main"]

HOST = "127.0.0.1"
API_KEY = "nborch-model-server"  # any key is accepted; this one is what env() hands out


class _HTTPServer(ThreadingHTTPServer):
    """Tracks its connections and their threads, so that stopping can close and join them all.

    The handler threads are daemons (a server never stopped must not keep Python from exiting),
    and ``socketserver`` joins only non-daemon threads: hence the own bookkeeping.
    """

    daemon_threads = True

    def __init__(self, state: State, port: int) -> None:
        self.state = state
        self.connections: set[socket.socket] = set()
        self.workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        super().__init__((HOST, port), Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"nborch-model-server-{self.server_address[1]}-conn", daemon=True)  # fmt: skip
        with self._lock:
            self.connections.add(request)
            self.workers = [w for w in self.workers if w.is_alive()]
            self.workers.append(worker)
        worker.start()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up (or stop() closing its connection) is not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def close_all(self) -> None:
        """Close every open connection (idle keep-alive ones, hanging ones) and join their threads."""
        with self._lock:
            open_now, workers = list(self.connections), list(self.workers)
        for conn in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        for worker in workers:
            worker.join()


ScriptLike = Scenario | Script | Sequence[Script] | str | PathLike[str] | None


def _scenario(script: ScriptLike, usage: Usage | None, fault: Fault | None) -> Scenario:
    if script is None:
        scenario = Scenario()
    elif isinstance(script, Scenario):
        scenario = script
    elif isinstance(script, Script):
        scenario = Scenario((script,))
    elif isinstance(script, str | PathLike):
        scenario = Scenario.load(script)
    else:
        scenario = Scenario(tuple(script))
    return Scenario(scenario.scripts, usage or scenario.usage,
                    fault if fault is not None else scenario.fault)  # fmt: skip


class ModelServer:
    """A local model server replaying scripted answers; see :mod:`nborch.testing`.

    Parameters
    ----------
    script:
        A :class:`Scenario`, one :class:`Script` (every conversation), several scripts (picked
        per conversation by ``match``), or a YAML/JSON script file. None: every conversation
        just finishes with "Done.".
    usage:
        Token counts every answer reports (default: the scenario's).
    fault:
        A server-wide fault (default: the scenario's); ``server.fault = …`` changes it later.
    port:
        0 (default) for a free port.
    process:
        Run in a child process instead of a thread (``python -m nborch.testing.server``).
    record:
        Also append every request to this file as a JSON line (a :class:`RecordedRequest`).
    """

    def __init__(
        self, script: ScriptLike = None, *, usage: Usage | None = None, fault: Fault | None = None,
        port: int = 0, process: bool = False, record: str | PathLike[str] | None = None,
    ) -> None:  # fmt: skip
        self.scenario = _scenario(script, usage, fault)
        self.process = process
        self._port_wanted = port
        self._record = Path(record) if record is not None else None
        self._state: State | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._done: list[RecordedRequest] | None = None  # a stopped process's records
        self.port: int | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> ModelServer:
        """Start serving (a no-op when already started); returns the server."""
        if self.port is not None:
            return self
        if self.process:
            self._start_process()
        else:
            self._state = State(self.scenario, self._record)
            self._httpd = _HTTPServer(self._state, self._port_wanted)
            self.port = self._httpd.server_address[1]
            # A short poll interval: shutdown() waits for the serving loop to notice it.
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                            name=f"nborch-model-server-{self.port}", daemon=True)  # fmt: skip
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close every connection (hanging ones too), join every thread, end the
        child process. Safe to call twice."""
        if self._httpd is not None and self._state is not None:
            self._state.stopping.set()
            self._httpd.shutdown()  # no new connections from here on
            self._httpd.close_all()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join()
            self._httpd = self._thread = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._done = self._read_records()
            self._proc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.url}" if self.running else "stopped"
        return f"<ModelServer {where}: {len(self.requests)} requests>"

    # -- what tests and users read ------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._httpd is not None or self._proc is not None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash, no ``/v1``)."""
        if self.port is None:
            raise NborchError("the model server is not started — use `with ModelServer(...)` or .start()")
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point the agent CLIs' vendors' clients at this server."""
        return {
            "ANTHROPIC_BASE_URL": self.url,
            "ANTHROPIC_API_KEY": API_KEY,
            "OPENAI_BASE_URL": f"{self.url}/v1",
            "OPENAI_API_BASE": f"{self.url}/v1",
            "OPENAI_API_KEY": API_KEY,
            "GOOGLE_GEMINI_BASE_URL": self.url,
            "GEMINI_API_KEY": API_KEY,
        }

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        if self._state is not None:
            return list(self._state.requests)
        if self._proc is not None:
            return self._read_records()
        return list(self._done or [])

    @property
    def errors(self) -> list[str]:
        """Tracebacks of requests the server failed to answer (each got a 500): server bugs."""
        return [r.error for r in self.requests if r.error]

    @property
    def fault(self) -> Fault | None:
        return self._state.fault if self._state is not None else self.scenario.fault

    @fault.setter
    def fault(self, fault: Fault | None) -> None:
        if self.process and self.running:
            raise NborchError("a model server in a child process cannot change its fault; "
                              "give it before start(), or use a thread (process=False)")  # fmt: skip
        self.scenario = Scenario(self.scenario.scripts, self.scenario.usage, fault)
        if self._state is not None:
            self._state.fault = fault

    # -- the child process ------------------------------------------------------------------------

    def _start_process(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="nborch-model-server-"))
        script = self._tmp / "script.json"
        script.write_text(json.dumps(self.scenario.to_dict()), encoding="utf-8")
        port_file, log = self._tmp / "port", self._tmp / "server.log"
        self._record = self._record or self._tmp / "requests.jsonl"
        argv = [sys.executable, "-m", "nborch.testing.server", "--script", str(script),
                "--port", str(self._port_wanted), "--port-file", str(port_file),
                "--record", str(self._record)]  # fmt: skip
        with log.open("wb") as err:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=err)  # fmt: skip
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace").strip()
                self.stop()
                raise NborchError(f"the model server process did not start: {text or 'no output'}")
            time.sleep(0.02)
        self.port = int(port_file.read_text().split()[0])

    def _read_records(self) -> list[RecordedRequest]:
        path = self._record
        if path is None or not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        # The last line may be half written while the child runs.
        return [RecordedRequest(**json.loads(line)) for line in lines if line.endswith("}")]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nborch.testing.server``: serve a script until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m nborch.testing.server",
                                     description="A local model server replaying a script.")  # fmt: skip
    parser.add_argument("--script", help="YAML or JSON script file (default: just finish)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--record", help="append every request here as a JSON line")
    args = parser.parse_args(argv)
    try:
        scenario = Scenario.load(args.script) if args.script else Scenario()
    except NborchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    server = ModelServer(scenario, port=args.port, record=args.record)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"nborch model server listening on {server.url}", flush=True)
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(f"{server.port}\n")
        os.replace(tmp, args.port_file)  # atomic: a reader never sees a half-written port
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
