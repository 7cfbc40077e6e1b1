"""What the model server remembers: every request, and how often each fault has fired.

Shared by all handler threads under one lock. The server itself is stateless about
conversations (the request says which step it is at); only faults with ``times`` need counting.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .script import Fault, Scenario

__all__ = ["SECRET_HEADERS", "RecordedRequest", "State"]

SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie",
                            "proxy-authorization"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server received, for assertions (credentials left out).

    ``protocol`` is ``anthropic``, ``chat``, ``responses``, ``gemini`` or None (start-up GETs,
    unknown paths); ``conversation`` the key of its conversation; ``step`` the index in its
    script's steps it was answered with (None for side calls); ``fault`` the fault kind it got;
    ``problem`` why it got an explanation instead of its step; ``error`` the traceback when the
    server failed to answer (a bug: it answered 500).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    protocol: str | None = None
    side: bool = False
    conversation: str | None = None
    step: int | None = None
    fault: str | None = None
    problem: str | None = None
    error: str | None = None
    time: float = 0.0


class State:
    """What every handler thread shares: the scenario, the records and the fault counts."""

    def __init__(self, scenario: Scenario, record_to: Path | None) -> None:
        self.scenario = scenario
        self.fault = scenario.fault
        self.stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self._record_to = record_to
        self._fired: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            if self._record_to is not None:
                with self._record_to.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(request), default=str) + "\n")

    def fire(self, fault: Fault | None, conversation: str, where: str) -> Fault | None:
        """``fault`` if it still applies to this conversation (``times`` not used up)."""
        if fault is None:
            return None
        with self._lock:
            count = self._fired[conversation, where]
            if fault.times is not None and count >= fault.times:
                return None
            self._fired[conversation, where] = count + 1
        return fault
