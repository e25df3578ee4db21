"""Saying things in Slack: the Web API client (with rate-limit and server-error retries) and delivery of messages."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot import metrics
from bot.slack.messages import Drawer, Ephemeral, Message, Post, Refresh

log = logging.getLogger(__name__)


def retry_handlers() -> list:
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def make_client(token: str, base_url: str) -> WebClient:
    return WebClient(token=token, base_url=base_url, timeout=10, retry_handlers=retry_handlers())


class SlackPort:
    """The one place Steward's flows talk to Slack. It only delivers: what a refresh shows is drawn by the domain
    (`drawers`, one per kind, registered at start). Delivery failures are logged with the reason and never undo
    what was already stored."""

    def __init__(self, client: WebClient, drawers: dict[type, Drawer] | None = None) -> None:
        self.client = client
        self.drawers = drawers or {}

    def deliver(self, messages: Iterable[Message]) -> None:
        for message in messages:
            try:
                if isinstance(message, Post):
                    self.post(message)
                elif isinstance(message, Ephemeral):
                    self.ephemeral(message)
                else:
                    self.refresh(message)
            except SlackApiError as error:
                self.failed(type(message).__name__, error)

    def post(self, message: Post) -> str:
        response = self.client.chat_postMessage(
            channel=message.channel,
            text=message.text,
            blocks=message.blocks or None,
            thread_ts=message.thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )
        return response["ts"]

    def ephemeral(self, message: Ephemeral) -> None:
        if message.response_url:
            webhook = WebhookClient(message.response_url, timeout=10, retry_handlers=retry_handlers())
            response = webhook.send(
                text=message.text,
                blocks=message.blocks or None,
                response_type="ephemeral",
                replace_original=message.replace_original,
            )
            if response.status_code >= 300:
                metrics.SLACK_API_FAILURES.labels(method="response_url", error=str(response.status_code)).inc()
                log.error("response_url answered %s: %s", response.status_code, response.body)
            return
        self.client.chat_postEphemeral(
            channel=message.channel, user=message.user, text=message.text, blocks=message.blocks or None
        )

    def refresh(self, message: Refresh) -> None:
        drawn = self.drawers[type(message)](message)
        if drawn.ts:
            self.client.chat_update(channel=drawn.channel, ts=drawn.ts, text=drawn.text, blocks=drawn.blocks)
            return
        # Never posted, or its first post failed (Slack was down): post it now, and remember where.
        ts = self.post(Post(channel=drawn.channel, text=drawn.text, blocks=drawn.blocks))
        drawn.posted(ts)
        if drawn.pin:
            self.client.pins_add(channel=drawn.channel, timestamp=ts)

    def create_channel(self, name: str) -> str:
        return self.client.conversations_create(name=name)["channel"]["id"]

    def invite(self, channel: str, user: str) -> None:
        try:
            self.client.conversations_invite(channel=channel, users=user)
        except SlackApiError as error:
            if error.response.get("error") != "already_in_channel":
                self.failed("conversations.invite", error)

    def join(self, channel: str) -> None:
        self.client.conversations_join(channel=channel)

    @staticmethod
    def failed(what: str, error: SlackApiError) -> None:
        reason = error.response.get("error", "unknown") if error.response is not None else str(error)
        metrics.SLACK_API_FAILURES.labels(method=what, error=str(reason)).inc()
        log.error("Slack call %s failed after retries: %s", what, reason)
