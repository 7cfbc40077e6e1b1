"""A minimal client for the model server: one request, the answer, SSE events parsed by hand.

For tests and set-up checks that want to see exactly what the server sends, without a vendor
SDK. Standard library only.

>>> from nborch.testing import ModelServer
>>> from nborch.testing.client import post
>>> with ModelServer() as server:
...     answer = post(server.port, "/v1/chat/completions", {"model": "m", "stream": True,
...                                                         "messages": [{"role": "user", "content": "hi"}]})
>>> answer.status, answer.datas()[-1]
(200, '[DONE]')
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "parse_sse", "post", "request"]


@dataclass
class Answer:
    """A response: status, headers (lower-case names), raw body and, for SSE, its events."""

    status: int
    headers: dict[str, str]
    raw: bytes
    events: list[tuple[str | None, str]] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    def datas(self) -> list[Any]:
        """The events' ``data:`` payloads, JSON-decoded (a ``[DONE]`` stays a string)."""
        return [d if d == "[DONE]" else json.loads(d) for _, d in self.events]

    def names(self) -> list[str | None]:
        """The events' ``event:`` names (None where an event has none)."""
        return [name for name, _ in self.events]


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    """Server-sent events as ``(event name, data)`` pairs; a blank line ends each event."""
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line in text.split("\n"):
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


def request(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:  # fmt: skip
    """Send one request to ``127.0.0.1:port`` and read the whole answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body)
        conn.request(method, path, payload, {"content-type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw)
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            answer.events = parse_sse(raw.decode())
        return answer
    finally:
        conn.close()


def post(port: int, path: str, body: Any, **kwargs: Any) -> Answer:
    """``request(port, "POST", path, body, ...)``."""
    return request(port, "POST", path, body, **kwargs)
