"""SlackSandbox: the one object tests and the demo hold. It runs the Web API stand-in on a loopback port,
plays Slack sending commands, clicks and events to the app, and reads back what the app did."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot.runtime.server import LoopbackServer
from bot.sandbox import payloads
from bot.sandbox.calls import Call, CallLog
from bot.sandbox.faults import Faults
from bot.sandbox.response_urls import ResponseUrls
from bot.sandbox.sender import Delivery, Outbox, Sender, Signing
from bot.sandbox.ui import WorkspacePage
from bot.sandbox.web_api import WebApi
from bot.sandbox.workspace import BOT_USER, COMMANDER, GENERAL, Channel, Message, User, Workspace

T = TypeVar("T")


class SlackSandbox:
    def __init__(
        self,
        signing_secret: str = "sandbox-signing-secret",
        events_url: str | None = None,
        bot_token: str = "xoxb-sandbox-token",
        *,
        clock: Any = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verification_token: str = "sandbox-verification-token",
        should_escape: bool = True,
        ack_timeout: float | None = 3.0,
    ) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.verification_token = verification_token
        self.events_url = events_url
        self.should_escape = should_escape
        self.workspace = Workspace(clock)
        self._calls = CallLog()
        self._faults = Faults()
        self.web_api = WebApi(self.workspace, self._calls, self._faults, bot_token)
        self.response_urls = ResponseUrls(self.workspace, self._calls, self._faults)
        # Slack gives up on an app that has not answered in 3 seconds; so does the sandbox by default.
        self.sender = Sender(signing_secret, lambda: self.events_url, ack_timeout)
        self._outbox: Outbox | None = None
        self.workspace.on_event(self._announce)
        self.ui = WorkspacePage(self)
        self.app = Starlette(routes=self.routes())
        self._server = LoopbackServer(self.app, host, port)

    def routes(self) -> list[BaseRoute]:
        """What the sandbox serves. More can join later: `self.app.router.routes` or `self.app.mount(...)`."""
        return [*self.web_api.routes(), *self.response_urls.routes(), *self.ui.routes()]

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> SlackSandbox:
        self._server.start()
        self.response_urls.base_url = self.base_url
        self._outbox = Outbox()
        return self

    def stop(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        self._server.stop()
        self.sender.close()

    def __enter__(self) -> SlackSandbox:
        return self if self._outbox is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}api/"

    # --- what the app did ------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        return self._calls.all()

    def calls_to(self, method: str) -> list[Call]:
        return self._calls.to(method)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every request sent to the app (commands, clicks, events), in order."""
        return self.sender.deliveries()

    def user(self, user_id: str) -> User:
        return self.workspace.user(user_id)

    @property
    def users(self) -> list[User]:
        return self.workspace.users()

    def channel(self, channel_id: str) -> Channel:
        return self.workspace.channel(channel_id)

    @property
    def channels(self) -> list[Channel]:
        return self.workspace.channels()

    def channel_by_name(self, name: str) -> Channel | None:
        return self.workspace.channel_by_name(name)

    def messages(self, channel_id: str) -> list[Message]:
        """Channel messages in post order, thread replies included, ephemeral ones not."""
        return self.workspace.messages(channel_id)

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        return self.workspace.thread(channel_id, ts)

    def ephemerals(self, user_id: str, channel: str | None = None) -> list[Message]:
        return self.workspace.ephemerals(user_id, channel)

    def last_ephemeral(self, user_id: str, channel: str | None = None) -> Message | None:
        found = self.workspace.ephemerals(user_id, channel)
        return found[-1] if found else None

    def dm_channel(self, user_id: str) -> str:
        return self.workspace.open_dm(user_id).id

    # --- what people do in the workspace ---------------------------------------------------------

    def add_user(self, user: User) -> User:
        return self.workspace.add_user(user)

    def create_channel(self, name: str, by: str = COMMANDER, is_private: bool = False) -> str:
        return self.workspace.create_channel(name, by, is_private).id

    def invite(self, channel: str, users: list[str], by: str = COMMANDER) -> list[str]:
        return self.workspace.add_members(channel, users, inviter=by)

    def invite_bot(self, channel: str, by: str = COMMANDER) -> None:
        self.workspace.add_members(channel, [BOT_USER], inviter=by)

    def fail_next(self, method: str, error: str = "ratelimited", times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls to `method` (a Web API method or "response_url") with a failure."""
        self._faults.add(method, error, times, retry_after)

    # --- Slack sending to the app ----------------------------------------------------------------

    def command(
        self,
        text: str,
        user: str = COMMANDER,
        channel: str = GENERAL,
        command: str = "/incident",
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> httpx.Response:
        sender, where = self.workspace.user(user), self.workspace.channel(channel)
        response_url = self.response_urls.issue(sender.id, where.id, from_command=True)
        fields = payloads.slash_command(
            verification_token=self.verification_token,
            user=sender,
            channel=where,
            command=command,
            text=payloads.escape_text(text, self.workspace, self.should_escape),
            response_url=response_url,
            trigger_id=payloads.new_trigger_id(),
        )
        response = self.sender.form("command", fields, fields, Signing(timestamp, signature, sign))
        self._show_command_ack(response, response_url)
        return response

    def _show_command_ack(self, response: httpx.Response, response_url: str) -> None:
        """A slash command's HTTP answer is itself a message: Slack shows any text or blocks it carries."""
        if response.status_code != 200 or not response.content.strip():
            return
        if response.headers.get("content-type", "").startswith("application/json"):
            try:
                body = response.json()
            except ValueError:
                return
            if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
                return
        else:
            body = {"text": response.text}
        self.response_urls.respond(response_url.rsplit("/", 1)[-1], body, count_use=False)

    def click(
        self,
        action_id: str,
        value: str | None,
        user: str,
        channel: str,
        message_ts: str | None = None,
        ephemeral: bool | None = None,
        block_id: str | None = None,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
        to: str | None = None,
    ) -> httpx.Response:
        """Press a button. Without message_ts, the latest message in the channel (or ephemeral to the user)
        carrying that action_id is the one pressed."""
        clicker, where = self.workspace.user(user), self.workspace.channel(channel)
        message = (
            self.workspace.find_any(where.id, message_ts)
            if message_ts
            else self._latest_with(where.id, action_id, clicker.id)
        )
        if not message_ts:
            if message is None:
                raise LookupError(f"no message in {channel} has a button {action_id!r}")
            message_ts = message.ts
        if ephemeral is None:
            ephemeral = bool(message and message.ephemeral_to)
        found = payloads.find_button(message.blocks, action_id) if message else None
        element, found_block_id = found if found else ({}, secrets.token_hex(3))
        response_url = self.response_urls.issue(
            (message.ephemeral_to if message and message.ephemeral_to else clicker.id),
            where.id,
            original_ts=message_ts,
            original_ephemeral=ephemeral,
        )
        action = payloads.button_action(
            action_id=action_id,
            value=value,
            block_id=block_id or found_block_id,
            action_ts=payloads.action_ts(self.workspace.now()),
            text=element.get("text"),
        )
        payload = payloads.block_actions(
            verification_token=self.verification_token,
            user=clicker,
            channel=where,
            message_ts=message_ts,
            message=message,
            is_ephemeral=ephemeral,
            action=action,
            response_url=response_url,
            trigger_id=payloads.new_trigger_id(),
        )
        fields = {"payload": json.dumps(payload, separators=(",", ":"))}
        return self.sender.form("block_actions", fields, payload, Signing(timestamp, signature, sign), to=to)

    def click_button(self, message: Message, action_id: str, user: str, **signing: Any) -> httpx.Response:
        found = payloads.find_button(message.blocks, action_id)
        if found is None:
            raise LookupError(f"message {message.ts} has no button {action_id!r}")
        element, block_id = found
        return self.click(
            action_id,
            element.get("value"),
            user,
            message.channel,
            message.ts,
            ephemeral=message.ephemeral_to is not None,
            block_id=block_id,
            **signing,
        )

    def _latest_with(self, channel: str, action_id: str, user: str) -> Message | None:
        candidates = self.workspace.messages(channel) + self.workspace.ephemerals(user, channel)
        candidates.sort(key=lambda m: float(m.ts), reverse=True)
        return next((m for m in candidates if payloads.find_button(m.blocks, action_id)), None)

    def event(
        self,
        event: dict,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> httpx.Response:
        """Send one Events API event_callback now; with retry_num, as Slack's retry of an earlier delivery."""
        envelope = self._envelope(event, event_id)
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        body = json.dumps(envelope, separators=(",", ":")).encode()
        return self.sender.json("event_callback", body, envelope, Signing(timestamp, signature, sign), headers)

    def url_verification(self, challenge: str = "sandbox-challenge", **signing: Any) -> httpx.Response:
        body = payloads.url_verification(verification_token=self.verification_token, challenge=challenge)
        return self.sender.json("url_verification", json.dumps(body).encode(), body, Signing(**signing))

    def _envelope(self, event: dict, event_id: str | None) -> dict:
        event = {**event}
        event.setdefault("event_ts", self.workspace.next_ts())
        return payloads.event_callback(
            verification_token=self.verification_token,
            event=event,
            event_id=event_id or payloads.new_event_id(),
            event_time=int(self.workspace.now().timestamp()),
        )

    def _announce(self, event: dict) -> None:
        # Like Slack, only an app with a Request URL hears about the workspace; nobody queues for later.
        if not self.events_url or self._outbox is None:
            return
        envelope = self._envelope(event, None)
        body = json.dumps(envelope, separators=(",", ":")).encode()
        self._outbox.put(lambda: self.sender.json("event_callback", body, envelope))

    # --- waiting ---------------------------------------------------------------------------------

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until every event the sandbox queued has been delivered (and answered) by the app."""
        if self._outbox is not None:
            self._outbox.wait_idle(timeout)

    def wait_until(self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01) -> T:
        """Poll until predicate() is truthy and return it: for what the app does after it has acked."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)
