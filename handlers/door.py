"""Slack's front door: check the signature, hand the request to the worker as a job, answer at once.

Bolt's dispatch costs about as much as the whole HTTP exchange, so it runs on the worker (`dispatch`), not on the
thread that acks (DESIGN section 2, "Ack fast"). Every reply therefore goes through `response_url` or the Web API,
never in the ack. Jobs are keyed by channel, so one channel's requests run in the order Slack sent them.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot import metrics
from bot.jobs import job
from bot.runtime import Runtime
from handlers import actions, commands, events

log = logging.getLogger(__name__)

TIMESTAMP, SIGNATURE = "x-slack-request-timestamp", "x-slack-signature"
KEPT_HEADERS = ("content-type", "x-slack-retry-num", "x-slack-retry-reason")  # what Bolt reads, stored with the job
WANTED_HEADERS = frozenset(name.encode() for name in (TIMESTAMP, SIGNATURE, *KEPT_HEADERS))
ACKED = metrics.SLACK_REQUESTS.labels(status="200")
NO_CHANNEL = "slack"  # the key of requests that name no channel
ROUTING_FIELDS = re.compile(r"(?:^|&)(command|channel_id|ssl_check|payload)=([^&]*)")


class NotForUs(ValueError):
    """A well-formed request no listener handles (Bolt would answer 404)."""


def build_slack_app(rt: Runtime) -> App:
    """The Bolt app the worker dispatches stored requests to. The door checked their signatures before storing
    them, and a stored request may run minutes later, past the signature's 5-minute window, so Bolt does not
    check again."""
    app = App(client=rt.slack.client, signing_secret=rt.settings.slack_signing_secret, process_before_response=True,
              request_verification_enabled=False)
    commands.register(app, rt)
    actions.register(app, rt)
    events.register(app, rt)
    return app


@job
def dispatch(rt: Runtime, mode: str, body: Any, headers: dict[str, str]) -> None:
    response = rt.slack_app.dispatch(BoltRequest(body=body, headers=headers, mode=mode))
    if response.status != 200:
        log.warning("Bolt answered %s to a stored Slack request: %s", response.status, response.body[:200])


def http_endpoint(rt: Runtime) -> Callable[[Request], Any]:
    verifier = SignatureVerifier(rt.settings.slack_signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # One pass over the raw headers: Starlette's lookups scan them once per name, on every request.
        headers = {name.decode(): value.decode() for name, value in request.scope["headers"] if name in WANTED_HEADERS}
        if not verifier.is_valid(body, headers.pop(TIMESTAMP, None), headers.pop(SIGNATURE, None)):
            return _answer(PlainTextResponse("invalid signature", status_code=401))
        content_type = headers.get("content-type", "")
        try:
            text = body.decode()
            payload = _payload(text, content_type)
            if payload.get("type") == "url_verification":
                return _answer(JSONResponse({"challenge": payload.get("challenge")}))
            if payload.get("ssl_check"):
                return _answer(Response(status_code=200))
            key = channel_key(payload)
        except NotForUs as error:
            return _answer(PlainTextResponse(str(error), status_code=404))
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            return _answer(PlainTextResponse(f"malformed request: {error}", status_code=400))
        rt.worker.submit(key, dispatch, "http", text, headers)
        ACKED.inc()
        return Response(status_code=200)

    return slack_events


def connect_socket_mode(rt: Runtime, app_token: str) -> SocketModeClient:
    """Socket Mode's door: acknowledge each envelope at once and store its payload for the worker."""

    def receive(client: SocketModeClient, request: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
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
    """What routing needs of the body. Of a form, only the fields `channel_key` reads: decoding all of a slash
    command's fields would cost the ack path more than the signature check."""
    if content_type.startswith("application/json"):
        payload = json.loads(text)
    else:
        form = {name: unquote_plus(value) if "%" in value or "+" in value else value
                for name, value in ROUTING_FIELDS.findall(text)}
        payload = json.loads(form["payload"]) if "payload" in form else form
    if not isinstance(payload, dict):
        raise ValueError("the body is not an object")
    return payload


def _answer(response: Response) -> Response:
    metrics.SLACK_REQUESTS.labels(status=str(response.status_code)).inc()
    return response
