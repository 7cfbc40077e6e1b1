"""nborch.testing.ModelServer: fault modes, parallel conversations, and stopping without leftovers."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest

from nborch.testing import Fault, Finish, ModelServer, RunCommand, Script, WriteFile
from nborch.testing.client import parse_sse, post

TOOLS = [{"name": "Write", "input_schema": {"type": "object", "properties": {
    "file_path": {"type": "string"}, "content": {"type": "string"}}}},
    {"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]  # fmt: skip
SCRIPT = Script([WriteFile("a.txt", "A\n"), RunCommand("cat a.txt"), Finish("done")])


def body(prompt: str = "go", results: int = 0, stream: bool = False, tools: Any = TOOLS) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    for i in range(results):
        messages += [{"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": "Write", "input": {}}]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}]}]  # fmt: skip
    out = {"model": "m", "max_tokens": 50, "stream": stream, "messages": messages}
    return {**out, "tools": tools} if tools else out


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds (a generous bound: the box is shared and slow)."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def raw_post(port: int, path: str, payload: dict[str, Any]) -> Iterator[http.client.HTTPResponse]:
    """The response, unread, so a test can see how reading it fails."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, json.dumps(payload), {"content-type": "application/json"})
        yield conn.getresponse()
    finally:
        conn.close()


@pytest.fixture
def no_leftover_threads():
    before = set(threading.enumerate())
    yield
    after = set(threading.enumerate())
    assert after <= before, f"threads left behind: {after - before}"


class TestHttpFaults:
    def test_rate_limit_once_then_the_answer(self) -> None:
        """rate_limit times=1: a 429 with retry-after and Anthropic's error body, then the step."""
        with ModelServer(SCRIPT, fault=Fault("rate_limit", times=1, retry_after=2)) as srv:
            first = post(srv.port, "/v1/messages", body())
            second = post(srv.port, "/v1/messages", body())
        assert first.status == 429 and first.headers["retry-after"] == "2"
        assert first.headers["retry-after-ms"] == "2000"
        assert first.json["type"] == "error" and first.json["error"]["type"] == "rate_limit_error"
        assert second.status == 200 and second.json["content"][0]["name"] == "Write"
        assert [(r.fault, r.step) for r in srv.requests] == [("rate_limit", 0), (None, 0)]

    @pytest.mark.parametrize(("path", "payload", "error"), [
        ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}]},
         lambda e: e["error"]["type"] == "server_error"),
        ("/v1/responses", {"model": "m", "input": "x", "tools": [{"type": "function", "name": "shell"}]},
         lambda e: e["error"]["type"] == "server_error"),
        ("/v1beta/models/g:streamGenerateContent?alt=sse", {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
          "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}]},
         lambda e: e["error"]["status"] == "INTERNAL" and e["error"]["code"] == 500),
    ])  # fmt: skip
    def test_server_error_in_each_protocols_error_shape(self, path, payload, error) -> None:
        """server_error answers 500 with the error body each protocol documents."""
        with ModelServer(SCRIPT, fault=Fault("server_error")) as srv:
            answer = post(srv.port, path, payload)
        assert answer.status == 500 and error(answer.json)
        assert "scripted server_error" in json.dumps(answer.json)

    def test_a_step_fault_hits_only_its_step(self) -> None:
        """A fault on step 2 leaves step 1 alone, answers 503 once at step 2, then the step."""
        script = Script([WriteFile("a.txt", "A"), RunCommand("ls", fault=Fault("server_error", times=1, status=503))])
        with ModelServer(script) as srv:
            statuses = [post(srv.port, "/v1/messages", body(results=n)).status for n in (0, 1, 1, 1)]
        assert statuses == [200, 503, 200, 200]

    def test_times_counts_per_conversation(self) -> None:
        """Two conversations each get their own first 429."""
        with ModelServer(SCRIPT, fault=Fault("rate_limit", times=1)) as srv:
            statuses = [post(srv.port, "/v1/messages", body(p)).status for p in ("one", "two", "one", "two")]
        assert statuses == [429, 429, 200, 200]

    def test_server_faults_spare_side_calls_unless_scope_all(self) -> None:
        """A server-wide fault hits the main conversation only; scope="all" hits side calls too."""
        side = body(tools=None)
        with ModelServer(SCRIPT, fault=Fault("server_error")) as srv:
            assert post(srv.port, "/v1/messages", side).status == 200
            assert post(srv.port, "/v1/messages", body()).status == 500
            srv.fault = Fault("server_error", scope="all")
            assert post(srv.port, "/v1/messages", side).status == 500
            srv.fault = None
            assert post(srv.port, "/v1/messages", body()).status == 200


class TestMalformedStreams:
    def test_cut_stream_ends_mid_event(self) -> None:
        """cut: the SSE stream stops half-way through an event and the connection drops."""
        with ModelServer(SCRIPT, fault=Fault("cut")) as srv, \
                raw_post(srv.port, "/v1/messages", body(stream=True)) as resp:  # fmt: skip
            assert resp.status == 200
            with pytest.raises(http.client.IncompleteRead) as err:
                resp.read()
        partial = err.value.partial.decode()
        assert partial.startswith("event: message_start") and not partial.endswith("\n\n")
        assert "message_stop" not in partial

    def test_cut_json_body_is_short(self) -> None:
        """cut on a non-streaming answer: fewer bytes than content-length, then the connection drops."""
        with ModelServer(SCRIPT, fault=Fault("cut")) as srv, raw_post(srv.port, "/v1/messages", body()) as resp, \
                pytest.raises(http.client.IncompleteRead):  # fmt: skip
            resp.read()

    def test_bad_json_event(self) -> None:
        """bad_json: exactly one event's data is not JSON; the stream still ends properly."""
        with ModelServer(SCRIPT, fault=Fault("bad_json")) as srv:
            answer = post(srv.port, "/v1/messages", body(stream=True))
        assert answer.status == 200 and answer.names()[-1] == "message_stop"
        broken = []
        for _, data in answer.events:
            try:
                json.loads(data)
            except ValueError:
                broken.append(data)
        assert len(broken) == 1

    def test_bad_json_body(self) -> None:
        """bad_json on a non-streaming answer: a 200 whose body does not parse."""
        with ModelServer(SCRIPT, fault=Fault("bad_json")) as srv:
            answer = post(srv.port, "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}]})
        assert answer.status == 200
        with pytest.raises(ValueError):
            json.loads(answer.raw)


class TestHangAndStop:
    def test_stop_with_a_hanging_request_leaves_no_thread(self, no_leftover_threads, capfd) -> None:
        """A hung request holds its connection until stop(); stop() joins every thread, quietly."""
        outcome: list[BaseException | int] = []

        def client(port: int) -> None:
            try:
                with raw_post(port, "/v1/messages", body()) as resp:
                    outcome.append(resp.status)
            except (http.client.HTTPException, OSError) as err:
                outcome.append(err)

        srv = ModelServer(SCRIPT, fault=Fault("hang")).start()
        caller = threading.Thread(target=client, args=(srv.port,))
        caller.start()
        wait_for(lambda: srv.requests, "the hung request to arrive")
        assert not outcome  # still waiting: no answer was sent
        srv.stop()
        caller.join()
        assert isinstance(outcome[0], http.client.RemoteDisconnected | ConnectionError)
        assert srv.requests[0].fault == "hang"
        assert capfd.readouterr().err == ""

    def test_a_hung_conversation_does_not_block_another(self, no_leftover_threads) -> None:
        """While one conversation hangs, a parallel one completes its whole script."""
        scripts = [Script([WriteFile("x", "x", fault=Fault("hang"))], match="stuck"), SCRIPT]
        with ModelServer(scripts) as srv:
            stuck = threading.Thread(target=lambda: _swallow(lambda: raw_post(srv.port, "/v1/messages", body("stuck"))))
            stuck.start()
            wait_for(lambda: srv.requests, "the hung request")
            answers = [post(srv.port, "/v1/messages", body("free", n)).json for n in range(3)]
        stuck.join()
        assert answers[-1]["content"][0]["text"] == "done"

    def test_stop_closes_idle_keep_alive_connections(self, no_leftover_threads) -> None:
        """A client holding a keep-alive connection open does not make stop() wait."""
        srv = ModelServer(SCRIPT).start()
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        conn.request("POST", "/v1/messages", json.dumps(body()), {"content-type": "application/json"})
        assert conn.getresponse().read()
        srv.stop()  # the handler thread was blocked reading the connection's next request
        conn.close()
        assert not srv.running and repr(srv) == "<ModelServer stopped: 1 requests>"


def _swallow(fn: Callable[[], Any]) -> None:
    try:
        with fn() as resp:
            resp.read()
    except (http.client.HTTPException, OSError):
        pass  # the server dropped the hung request when it stopped: expected


class TestParallel:
    def test_two_conversations_at_once(self, no_leftover_threads) -> None:
        """Two conversations stepping through different scripts at the same time each get theirs."""
        scripts = [Script([WriteFile("a.txt", "A"), RunCommand("echo a")], match="task A"),
                   Script([RunCommand("echo b"), WriteFile("b.txt", "B")], match="task B")]  # fmt: skip
        start = threading.Barrier(2)
        seen: dict[str, list[Any]] = {}

        def converse(port: int, task: str) -> None:
            start.wait()
            seen[task] = []
            for n in range(3):
                block = post(port, "/v1/messages", body(f"do {task}", n, stream=True)).datas()[2]["content_block"]
                seen[task].append(block.get("name") or block["type"])

        with ModelServer(scripts) as srv:
            threads = [threading.Thread(target=converse, args=(srv.port, t)) for t in ("task A", "task B")]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert seen == {"task A": ["Write", "Bash", "text"], "task B": ["Bash", "Write", "text"]}
        assert len({r.conversation for r in srv.requests}) == 2


class TestProcess:
    def test_process_mode_serves_records_and_stops(self, tmp_path) -> None:
        """process=True runs the server in a child process; requests are recorded; stop() ends it."""
        srv = ModelServer(SCRIPT, process=True, record=tmp_path / "requests.jsonl").start()
        try:
            pid = srv._proc.pid  # the child, to check it is gone
            assert post(srv.port, "/v1/messages", body()).json["content"][0]["name"] == "Write"
            assert [r.step for r in srv.requests] == [0]
        finally:
            srv.stop()
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert srv.requests[0].protocol == "anthropic"  # still readable after stop
        assert (tmp_path / "requests.jsonl").read_text().count("\n") == 1

    def test_process_stop_with_a_hanging_request(self) -> None:
        """A child process with a hung request still ends on stop()."""
        srv = ModelServer(SCRIPT, process=True, fault=Fault("hang")).start()
        pid = srv._proc.pid
        caller = threading.Thread(target=lambda: _swallow(lambda: raw_post(srv.port, "/v1/messages", body())))
        caller.start()
        wait_for(lambda: srv.requests, "the hung request")
        srv.stop()
        caller.join()
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    def test_command_line_with_port_file(self, tmp_path) -> None:
        """`python -m nborch.testing.server --script F --port-file P` serves until SIGTERM, exit 0."""
        script = tmp_path / "s.yaml"
        script.write_text("steps:\n  - {write: a.txt, content: A}\n  - finish: bye\n")
        port_file, record = tmp_path / "port", tmp_path / "rec.jsonl"
        proc = subprocess.Popen([sys.executable, "-m", "nborch.testing.server", "--script", str(script),
                                 "--port-file", str(port_file), "--record", str(record)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            wait_for(port_file.exists, "the port file")
            port = int(port_file.read_text())
            answer = post(port, "/v1/messages", body(results=1))
            assert answer.json["content"][0]["text"] == "bye"
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "Warning" not in err  # e.g. runpy's about the module being imported twice
        assert out.startswith(f"nborch model server listening on http://127.0.0.1:{port}")
        assert json.loads(record.read_text())["step"] == 1

    def test_command_line_refuses_a_bad_script(self, tmp_path) -> None:
        """A bad script file exits 2 with the problem on stderr."""
        (tmp_path / "s.json").write_text('{"steps": [{"write": "a"}]}')
        done = subprocess.run([sys.executable, "-m", "nborch.testing.server", "--script", str(tmp_path / "s.json")],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2 and "missing content" in done.stderr


def test_sse_parser_handles_multiline_data() -> None:
    """The test client joins multi-line data fields as SSE specifies."""
    assert parse_sse("event: a\ndata: 1\ndata: 2\n\ndata: [DONE]\n\n") == [("a", "1\n2"), (None, "[DONE]")]


def test_environment_is_untouched() -> None:
    """Starting a server changes no environment variable of this process."""
    before = dict(os.environ)
    with ModelServer():
        pass
    assert dict(os.environ) == before
