"""Slack's front door: check the signature, hand the request to the worker as a job, answer at once.

Bolt's dispatch costs about as much as the whole HTTP exchange, so it runs on the worker (`dispatch`), not on the
thread that acks (DESIGN section 2, "Ack fast"). Every reply therefore goes through `response_url` or the Web API,
never in the ack. Jobs are keyed by channel, so one channel's requests run in the order Slack sent them.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_plus

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from starlette.types import Receive, Scope, Send

from bot import metrics
from bot.app import Door
from bot.runtime.context import Runtime
from bot.runtime.jobs import job
from bot.runtime.logs import request_context
from handlers import actions, commands, events

log = logging.getLogger(__name__)

TIMESTAMP, SIGNATURE = "x-slack-request-timestamp", "x-slack-signature"
KEPT_HEADERS = ("content-type", "x-slack-retry-num", "x-slack-retry-reason")  # what Bolt reads, stored with the job
WANTED_HEADERS = frozenset(name.encode() for name in (TIMESTAMP, SIGNATURE, *KEPT_HEADERS))
ACKED = metrics.SLACK_REQUESTS.labels(status="200")
NO_CHANNEL = "slack"  # the key of requests that name no channel
EMPTY = [(b"content-length", b"0")]
TEXT, JSON = b"text/plain; charset=utf-8", b"application/json"
ROUTING_FIELDS = tuple((name, f"&{name}=") for name in ("command", "channel_id", "ssl_check", "payload"))


class NotForUs(ValueError):
    """A well-formed request no listener handles (Bolt would answer 404)."""


def build_slack_app(rt: Runtime) -> App:
    """The Bolt app the worker dispatches stored requests to. The door checked their signatures before storing
    them, and a stored request may run minutes later, past the signature's 5-minute window, so Bolt does not
    check again."""
    app = App(
        client=rt.slack.client,
        signing_secret=rt.settings.slack_signing_secret,
        process_before_response=True,
        request_verification_enabled=False,
    )
    commands.register(app, rt)
    actions.register(app, rt)
    events.register(app, rt)
    return app


@job
def dispatch(rt: Runtime, mode: str, body: Any, headers: dict[str, str | Sequence[str]]) -> None:
    response = rt.slack_app.dispatch(BoltRequest(body=body, headers=headers, mode=mode))
    if response.status != 200:
        log.warning("Bolt answered %s to a stored Slack request: %s", response.status, response.body[:200])


class HttpDoor:
    """`POST /slack/events` as a bare ASGI app. Starlette's request and response objects cost the ack path more
    than the signature check does, and the door needs none of what they offer."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.verifier = SignatureVerifier(rt.settings.slack_signing_secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _body(receive)
        if body is None:  # the client went away; it will not read an answer
            return
        # One pass over the raw headers: looking them up by name would scan them once per name.
        headers = {name.decode(): value.decode() for name, value in scope["headers"] if name in WANTED_HEADERS}
        if not self.verifier.is_valid(body, headers.pop(TIMESTAMP, None), headers.pop(SIGNATURE, None)):
            return await _answer(send, 401, b"invalid signature")
        try:
            text = body.decode()
            payload = _payload(text, headers.get("content-type", ""))
            if payload.get("type") == "url_verification":
                return await _answer(send, 200, json.dumps({"challenge": payload.get("challenge")}).encode(), JSON)
            if payload.get("ssl_check"):
                return await _answer(send, 200)
            key = channel_key(payload)
        except NotForUs as error:
            return await _answer(send, 404, str(error).encode())
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            return await _answer(send, 400, f"malformed request: {error}".encode())
        self.rt.worker.submit(key, dispatch, "http", text, headers)
        ACKED.inc()
        await send({"type": "http.response.start", "status": 200, "headers": EMPTY})
        await send({"type": "http.response.body", "body": b""})


async def _body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes = b"", content_type: bytes = TEXT) -> None:
    metrics.SLACK_REQUESTS.labels(status=str(status)).inc()
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", content_type)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def connect_socket_mode(rt: Runtime, app_token: str) -> SocketModeClient:
    """Socket Mode's door: acknowledge each envelope at once and store its payload for the worker."""

    def receive(client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        with request_context():
            try:
                key = channel_key(request.payload)
            except ValueError as error:
                log.warning("ignored a Socket Mode %s request: %s", request.type, error)
                return
            rt.worker.submit(key, dispatch, "socket_mode", request.payload, {})

    client = SocketModeClient(app_token=app_token, web_client=rt.slack.client)
    client.socket_mode_request_listeners.append(receive)
    client.connect()
    return client


def channel_key(payload: dict[str, Any]) -> str:
    """The channel a request is about, which orders its job; refuses what no listener would handle."""
    if "command" in payload:  # a slash command
        if payload["command"] != commands.COMMAND:
            raise NotForUs(f"no listener for the command {payload['command']}")
        return str(payload.get("channel_id") or NO_CHANNEL)
    if payload.get("type") == "block_actions":
        unknown = [a.get("action_id") for a in payload.get("actions", []) if a.get("action_id") not in actions.CLICKS]
        if unknown:
            raise NotForUs(f"no listener for the action {unknown[0]}")
        channel = payload.get("channel") or {}
        return str(channel.get("id") or (payload.get("container") or {}).get("channel_id") or NO_CHANNEL)
    if payload.get("type") == "event_callback":
        event = payload.get("event") or {}
        if event.get("type") not in events.EVENTS:
            raise NotForUs(f"no listener for the event {event.get('type')}")
        channel = event.get("channel")
        return str((channel.get("id") if isinstance(channel, dict) else channel) or NO_CHANNEL)
    raise NotForUs(f"no listener for a request of type {payload.get('type')!r}")


def _payload(text: str, content_type: str) -> dict[str, Any]:
    """What routing needs of the body."""
    if content_type.startswith("application/json"):
        payload = json.loads(text)
    else:
        form = _routing_fields(text)
        payload = json.loads(form["payload"]) if "payload" in form else form
    if not isinstance(payload, dict):
        raise ValueError("the body is not an object")
    return payload


def _routing_fields(form: str) -> dict[str, str]:
    """A form's routing fields, found by name: splitting and decoding every field of a slash command would cost
    the ack path more than the signature check."""
    form = "&" + form
    fields = {}
    for name, mark in ROUTING_FIELDS:
        start = form.find(mark)
        if start >= 0:
            start += len(mark)
            end = form.find("&", start)
            value = form[start:] if end < 0 else form[start:end]
            fields[name] = _decoded(value) if "%" in value or "+" in value else value
    return fields


# Form decoding, remembered for short values: command names repeat, and decoding one costs 5 µs.
_decoded_short = functools.lru_cache(maxsize=256)(unquote_plus)


def _decoded(value: str) -> str:
    return _decoded_short(value) if len(value) <= 64 else unquote_plus(value)


DOOR = Door(endpoint=HttpDoor, listeners=build_slack_app)
