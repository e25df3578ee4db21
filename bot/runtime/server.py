"""Running an ASGI app with uvicorn: in the foreground (`steward serve`) or on a loopback port in a background
thread (tests, the demo, the Slack sandbox), over real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn


class _QuickServer(uvicorn.Server):
    """uvicorn checks for a stop request every 0.1 s; tests start and stop a sandbox each, so check often."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)


class LoopbackServer:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _QuickServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 5.0) -> LoopbackServer:
        # Binding here, not in uvicorn, gives port 0 its real number before the thread even starts.
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets it knows are TCP, and without it every
        # reused connection waits ~40 ms for delayed ACKs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        # uvicorn's own lines go through the process's logging set-up (log_config=None), its access lines off at
        # this level: these servers are the sandbox's, the demo's and the tests'.
        config = uvicorn.Config(
            self.app, log_config=None, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = _QuickServer(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"loopback-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.base_url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._server = self._thread = None


def serve_forever(app: Any, host: str, port: int) -> None:
    """`steward serve`: uvicorn's lines, its access log among them, go through the one logging set-up."""
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=None, lifespan="off")
