"""The record of every Web API and response_url call the app made, in order, with what Slack answered."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Call:
    method: str
    params: dict
    status: int
    response: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


class CallLog:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def record(self, method: str, params: dict, status: int, response: dict) -> Call:
        call = Call(method, copy.deepcopy(params), status, copy.deepcopy(response))
        with self._lock:
            self._calls.append(call)
        return call

    def all(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method == method]
