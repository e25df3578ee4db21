"""Slack the sender: signs requests with the app's signing secret and posts them to the app's Request URL,
synchronously for what a user does (commands, clicks) and from a background outbox for events, which
Slack delivers asynchronously. Every delivery is recorded."""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

log = logging.getLogger(__name__)

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def signature(signing_secret: str, timestamp: int | str, body: bytes) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One request Slack sent to the app and how the app answered (status None: no answer in time)."""

    kind: str
    body: dict
    status: int | None
    elapsed: float
    error: str | None = None


@dataclass(frozen=True)
class Signing:
    """How to sign one request; the defaults sign correctly, the overrides make the bad requests a front door
    must refuse."""

    timestamp: int | None = None
    signature: str | None = None
    sign: bool = True


class Sender:
    def __init__(self, signing_secret: str, events_url: Callable[[], str | None], ack_timeout: float | None) -> None:
        self.signing_secret = signing_secret
        self._events_url = events_url
        self._timeout = ack_timeout
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def form(
        self, kind: str, fields: dict, record: dict, signing: Signing = Signing(), to: str | None = None
    ) -> httpx.Response:
        return self.post(kind, urlencode(fields).encode(), "application/x-www-form-urlencoded", record, signing, to=to)

    def json(
        self, kind: str, body: bytes, record: dict, signing: Signing = Signing(), headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.post(kind, body, "application/json", record, signing, headers)

    def post(
        self,
        kind: str,
        body: bytes,
        content_type: str,
        record: dict,
        signing: Signing = Signing(),
        headers: dict[str, str] | None = None,
        to: str | None = None,
    ) -> httpx.Response:
        # `to` sends to another replica of the app than events_url (several replicas behind one Request URL).
        url = to or self._events_url()
        if not url:
            raise RuntimeError("events_url is not set: tell the sandbox where the app listens first")
        # Signatures use real time whatever the workspace clock says: the app checks them against its own.
        timestamp = int(time.time()) if signing.timestamp is None else signing.timestamp
        request_headers = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "X-Slack-Request-Timestamp": str(timestamp),
            **(headers or {}),
        }
        if signing.sign:
            request_headers["X-Slack-Signature"] = signing.signature or signature(self.signing_secret, timestamp, body)
        started = time.monotonic()
        try:
            response = self._client().post(url, content=body, headers=request_headers)
        except httpx.HTTPError as error:
            self._record(Delivery(kind, record, None, time.monotonic() - started, f"{type(error).__name__}: {error}"))
            raise
        self._record(Delivery(kind, record, response.status_code, time.monotonic() - started))
        return response

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def _client(self) -> httpx.Client:
        # One connection pool per thread: the test thread and the outbox send at the same time.
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=self._timeout)
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


class Outbox:
    """Delivers queued sends one at a time from a background thread; `wait_idle` tells tests when it is done."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="slack-sandbox-outbox", daemon=True)
        self._thread.start()

    def put(self, send: Callable[[], object]) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(send)

    def wait_idle(self, timeout: float) -> None:
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError(f"{self._pending} Slack deliveries still in flight after {timeout}s")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while (send := self._queue.get()) is not None:
            try:
                send()
            except Exception:  # the app's failure to answer is recorded as a Delivery; the outbox goes on
                log.debug("sandbox delivery failed", exc_info=True)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
