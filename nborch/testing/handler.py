"""The HTTP side of the model server: routes, request bodies, answers, faults, SSE by hand.

Every request is read whole, recorded, then answered: a start-up ``GET`` with a sensible JSON
body, a model request with its script's next step (or a fault), anything else with a 404 in
the shape the protocol uses for errors. Streams use chunked transfer encoding on HTTP/1.1, so a
connection stays open between requests as real clients expect.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import time
import traceback
import zlib
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import wire_anthropic, wire_chat, wire_gemini, wire_responses
from .conversation import decide
from .script import Fault
from .state import SECRET_HEADERS, RecordedRequest, State
from .turn import Event, Turn

__all__ = ["Handler"]

_GEMINI = re.compile(r"^/(?:v1beta|v1alpha|v1)/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$")
_ROUTES = {
    "/v1/messages": ("anthropic", "answer"),
    "/messages": ("anthropic", "answer"),
    "/v1/messages/count_tokens": ("anthropic", "count"),
    "/v1/chat/completions": ("chat", "answer"),
    "/chat/completions": ("chat", "answer"),
    "/v1/responses": ("responses", "answer"),
    "/responses": ("responses", "answer"),
}
_ERRORS: dict[str | None, Callable[[int, str], dict[str, Any]]] = {
    "anthropic": wire_anthropic.error,
    "chat": wire_chat.error,
    "responses": wire_chat.error,
    "gemini": wire_gemini.error,
    None: wire_chat.error,
}


class StateServer(Protocol):
    """The server a handler answers for: it holds the scenario and the records."""

    state: State


class _Refused(Exception):
    """A request the server cannot read: answered with ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    """One connection; ``self.server.state`` holds the scenario and the records."""

    protocol_version = "HTTP/1.1"
    server: StateServer  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the records are the log; stderr stays quiet in tests

    # -- routing ---------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._send(200, b"", "application/json")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        self._record(None, None)
        if path in ("/v1/models", "/models"):
            self._json(200, wire_responses.models())
        elif path.startswith(("/v1beta/models", "/v1alpha/models")):
            self._json(200, wire_gemini.models())
        elif path.startswith(("/v1/models/", "/models/")):
            self._json(200, wire_responses.models(path.rsplit("/", 1)[1])["data"][0])
        else:
            self._json(200, {})  # whatever a client probes at start-up: present, and empty

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        route, model = _ROUTES.get(path), None
        if route is None and (m := _GEMINI.match(path)):
            model, action = m.group(1), m.group(2)
            route = ("gemini", "count" if action == "countTokens" else action)
        protocol = route[0] if route else None
        try:
            body = self._body()
            if route is None:
                raise _Refused(404, f"no such endpoint {path!r} on the nborch model server "
                                    f"(it serves {', '.join(sorted(_ROUTES))} and Gemini's "
                                    f"/v1beta/models/MODEL:generateContent)")  # fmt: skip
        except _Refused as err:
            self._record(protocol, None, problem=str(err))
            self._json(err.status, _ERRORS[protocol](err.status, str(err)))
            return
        if route[1] == "count":
            self._record(protocol, body)
            usage = self.server.state.scenario.usage
            counter = wire_anthropic if protocol == "anthropic" else wire_gemini
            self._json(200, counter.count_tokens(usage))
            return
        try:
            turn = self._turn(protocol, route[1], body, model or "")
            decision = decide(turn, self.server.state.scenario)
        except Exception:
            error = traceback.format_exc()
            self._record(protocol, body, error=error)
            self._json(500, _ERRORS[protocol](500, f"nborch model server bug: {error}"))
            return
        state = self.server.state
        fault = None if turn.side or decision.step is None else state.fire(
            decision.fault, turn.key, f"step {decision.step}")  # fmt: skip
        server_fault = state.fault
        if fault is None and server_fault is not None and (server_fault.scope == "all" or not turn.side):
            fault = state.fire(server_fault, turn.key, "server")
        self._record(protocol, body, turn=turn, step=decision.step, fault=fault,
                     problem=decision.problem)  # fmt: skip
        sse = turn.stream and (protocol != "gemini" or dict(parse_qsl(url.query)).get("alt") == "sse")
        self._answer(protocol, turn, decision.reply, body, sse, fault)

    def _turn(self, protocol: str, action: str, body: Mapping[str, Any], model: str) -> Turn:
        headers = {k.lower(): v for k, v in self.headers.items()}
        if protocol == "gemini":
            return wire_gemini.parse(body, headers, model, action == "streamGenerateContent")
        return {"anthropic": wire_anthropic, "chat": wire_chat,
                "responses": wire_responses}[protocol].parse(body, headers)  # fmt: skip

    # -- reading and recording --------------------------------------------------------------

    def _body(self) -> Any:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            raw = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                raw += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
        else:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        encoding = self.headers.get("content-encoding", "").lower()
        try:
            if encoding == "gzip":
                raw = gzip.decompress(raw)
            elif encoding == "deflate":
                raw = zlib.decompress(raw)
            elif encoding not in ("", "identity"):
                raise _Refused(415, f"request bodies in {encoding!r} are not supported; send plain JSON or gzip")
            return json.loads(raw or b"{}")
        except (ValueError, OSError, zlib.error) as err:
            raise _Refused(400, f"the request body is not JSON: {err}") from err

    def _record(self, protocol: str | None, body: Any, *, turn: Turn | None = None,
                step: int | None = None, fault: Fault | None = None, problem: str | None = None,
                error: str | None = None) -> None:  # fmt: skip
        url = urlsplit(self.path)
        query = [(k, "REDACTED" if k.lower() in ("key", "api_key") else v) for k, v in parse_qsl(url.query)]
        self.server.state.record(RecordedRequest(
            method=self.command,
            path=url.path + (f"?{urlencode(query)}" if query else ""),
            headers={k.lower(): v for k, v in self.headers.items() if k.lower() not in SECRET_HEADERS},
            body=body,
            protocol=protocol,
            side=bool(turn and turn.side),
            conversation=turn.key if turn else None,
            step=step,
            fault=fault.kind if fault else None,
            problem=problem,
            error=error,
            time=time.time(),
        ))  # fmt: skip

    # -- answering ------------------------------------------------------------------------------

    def _answer(self, protocol: str, turn: Turn, reply: Any, body: Mapping[str, Any], sse: bool,
                fault: Fault | None) -> None:  # fmt: skip
        if fault is not None and fault.kind in ("rate_limit", "server_error"):
            status = fault.http_status
            text = f"scripted {fault.kind} fault from the nborch model server"
            extra = {}
            if status == 429:
                secs = fault.retry_after
                extra = {"retry-after": str(int(secs)) if secs == int(secs) else str(secs),
                         "retry-after-ms": str(int(secs * 1000))}  # fmt: skip
            self._json(status, _ERRORS[protocol](status, text), extra)
            return
        if fault is not None and fault.kind == "hang":
            self.server.state.stopping.wait()  # until the server stops; then just drop it
            self.close_connection = True
            return
        usage = self.server.state.scenario.usage
        if not sse:
            wire = {"anthropic": wire_anthropic, "chat": wire_chat, "responses": wire_responses,
                    "gemini": wire_gemini}[protocol]  # fmt: skip
            answer: Any = wire.complete(reply, turn, usage)
            if protocol == "gemini" and turn.stream:  # streamGenerateContent without alt=sse
                answer = [answer]
            self._json(200, answer, broken=fault.kind if fault else None)
            return
        if protocol == "chat":
            opts = body.get("stream_options")
            include = isinstance(opts, Mapping) and bool(opts.get("include_usage"))
            events = wire_chat.stream(reply, turn, usage, usage_chunk=include)
        else:
            events = {"anthropic": wire_anthropic, "responses": wire_responses,
                      "gemini": wire_gemini}[protocol].stream(reply, turn, usage)  # fmt: skip
        self._stream(events, fault.kind if fault else None)

    def _send(self, status: int, data: bytes, ctype: str, extra: Mapping[str, str] | None = None,
              length: int | None = None) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data) if length is None else length))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self._write(data)

    def _json(self, status: int, payload: Any, extra: Mapping[str, str] | None = None,
              broken: str | None = None) -> None:  # fmt: skip
        data = json.dumps(payload).encode()
        if broken == "bad_json":
            data = data[: len(data) // 2]
        if broken == "cut":
            # Promise the whole body, send half, drop the connection.
            self._send(status, data[: len(data) // 2], "application/json", extra, length=len(data))
            self._drop()
            return
        self._send(status, data, "application/json", extra)

    def _stream(self, events: list[Event], broken: str | None) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        middle = len(events) // 2
        for n, event in enumerate(events):
            if broken == "bad_json" and n == middle:
                payload = _payload(event[1])
                event = (event[0], payload[: len(payload) // 2])  # a JSON object cut in half
            data = _encode(event)
            if broken == "cut" and n == middle:
                self._chunk(data[: len(data) // 2])
                self._drop()
                return
            if not self._chunk(data):
                return
        self._write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> bool:
        return self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing to tell it
            return False

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):  # already gone
            self.connection.shutdown(socket.SHUT_RDWR)


def _payload(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))


def _encode(event: Event) -> bytes:
    name, data = event
    return (f"event: {name}\n" if name else "").encode() + f"data: {_payload(data)}\n\n".encode()
