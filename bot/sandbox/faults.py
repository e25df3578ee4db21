"""Failures the sandbox has been told to answer next, per Web API method, the way Slack fails:
rate limits (429 + Retry-After), server errors (500) and `{"ok": false}` error codes."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass

RATELIMITED = "ratelimited"
HTTP_500 = "http_500"


@dataclass(frozen=True)
class Fault:
    error: str
    retry_after: int = 1

    @property
    def status(self) -> int:
        if self.error == RATELIMITED:
            return 429
        if self.error == HTTP_500:
            return 500
        return 200

    @property
    def body(self) -> dict:
        return {"ok": False, "error": self.error}

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.error == RATELIMITED else {}


class Faults:
    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.Lock()

    def add(self, method: str, error: str = RATELIMITED, times: int = 1, retry_after: int = 1) -> None:
        with self._lock:
            self._queued[method].extend(Fault(error, retry_after) for _ in range(times))

    def take(self, method: str) -> Fault | None:
        """The next injected failure for this method, consumed by this call; None when there is none."""
        with self._lock:
            queued = self._queued.get(method)
            return queued.popleft() if queued else None

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
