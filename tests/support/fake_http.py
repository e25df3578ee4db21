"""Not a test module: the recording fake HTTP service the executor tests serve their documented
API fakes with (Starlette apps on bot.runtime.server's LoopbackServer, over real sockets).

A fake subclasses FakeService, starts each handler with `gate`, and tests read back exactly what
was sent from `requests`; it can be told to answer a method with a canned response (`answers`)
or to hold it until released (`stall`, for timeouts)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.runtime.server import LoopbackServer

_STALL_SECONDS = 10


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass(kw_only=True)
class FakeService:
    authorization: str  # the Authorization header the service accepts
    unauthorized: Any  # the JSON body of its 401 to anything else
    requests: list[Recorded] = field(default_factory=list)
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)  # method -> (status, JSON body)
    stall: set[str] = field(default_factory=set)  # methods that hang until released
    release: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        """For a fake shared by a module's tests: forget what the last test sent and asked for."""
        self.requests.clear()
        self.answers.clear()
        self.stall.clear()
        self.release.clear()

    async def gate(self, request: Request) -> Response | None:
        """Record the request, then answer the 401 to a wrong Authorization header, or what the
        test asked for; None to carry on."""
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=await request.body(),
            )
        )
        if request.method in self.stall:
            deadline = time.monotonic() + _STALL_SECONDS
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        if request.headers.get("authorization") != self.authorization:
            return JSONResponse(self.unauthorized, status_code=401)
        if request.method in self.answers:
            status, body = self.answers[request.method]
            return JSONResponse(body, status_code=status)
        return None

    def only(self, method: str) -> Recorded:
        matching = [r for r in self.requests if r.method == method]
        assert len(matching) == 1, matching
        return matching[0]

    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve the app on a free loopback port; yields its base URL (no trailing slash)."""
    server = LoopbackServer(app).start()
    try:
        yield server.url
    finally:
        server.stop()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"
