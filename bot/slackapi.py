"""Saying things in Slack: the Web API client (with rate-limit and server-error retries) and delivery of messages."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.webhook import WebhookClient
from sqlmodel import select

from bot import blocks, metrics
from bot.approvals import button_value, sentence
from bot.incidents import set_card, view_of
from bot.messages import Ephemeral, Message, Post, RefreshApproval, RefreshCard
from bot.store.db import Database
from bot.store.models import ApprovalRequest, Incident, StatusUpdate, TimelineEvent

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
    """The one place Steward's flows talk to Slack. Delivery failures are logged with the reason and never
    undo what was already stored."""

    def __init__(self, client: WebClient, db: Database, secret: str) -> None:
        self.client = client
        self.db = db
        self._secret = secret  # signs approval buttons as they are rendered

    def deliver(self, messages: Iterable[Message]) -> None:
        for message in messages:
            try:
                if isinstance(message, Post):
                    self.post(message)
                elif isinstance(message, Ephemeral):
                    self.ephemeral(message)
                elif isinstance(message, RefreshCard):
                    self.refresh_card(message.incident_id)
                elif isinstance(message, RefreshApproval):
                    self.refresh_approval(message.request_id)
            except SlackApiError as error:
                self.failed(type(message).__name__, error)

    def post(self, message: Post) -> str:
        response = self.client.chat_postMessage(
            channel=message.channel, text=message.text, blocks=message.blocks or None,
            thread_ts=message.thread_ts, unfurl_links=False, unfurl_media=False,
        )
        return response["ts"]

    def ephemeral(self, message: Ephemeral) -> None:
        if message.response_url:
            webhook = WebhookClient(message.response_url, timeout=10, retry_handlers=retry_handlers())
            response = webhook.send(
                text=message.text, blocks=message.blocks or None, response_type="ephemeral",
                replace_original=message.replace_original,
            )
            if response.status_code >= 300:
                metrics.SLACK_API_FAILURES.labels(method="response_url", error=str(response.status_code)).inc()
                log.error("response_url answered %s: %s", response.status_code, response.body)
            return
        self.client.chat_postEphemeral(channel=message.channel, user=message.user, text=message.text, blocks=message.blocks or None)

    def refresh_card(self, incident_id: str) -> None:
        with self.db.session() as session:
            view = view_of(session, session.get(Incident, incident_id))
            latest = session.exec(
                select(StatusUpdate).where(StatusUpdate.incident_id == incident_id, StatusUpdate.state == "published")
                .order_by(StatusUpdate.published_at.desc(), StatusUpdate.id.desc())  # type: ignore[union-attr]
            ).first()
        text, card = blocks.incident_card(view, last_update=blocks.last_update_line(latest) if latest else None)
        if view.card_ts:
            self.client.chat_update(channel=view.channel_id, ts=view.card_ts, text=text, blocks=card)
            return
        # The card could not be posted earlier (Slack was down); post it now so the channel has one.
        ts = self.post(Post(channel=view.channel_id, text=text, blocks=card))
        set_card(self.db, incident_id, ts)
        self.client.pins_add(channel=view.channel_id, timestamp=ts)

    def refresh_approval(self, request_id: str) -> None:
        """The approval message shows the request's state: buttons while pending, the outcome after."""
        with self.db.session() as session:
            request = session.get(ApprovalRequest, request_id)
            value = button_value(self._secret, request) if request.state == "pending" else None
            ids = [int(ref["id"]) for ref in request.packet.get("event_refs", [])]
            evidence = session.execute(select(TimelineEvent).where(TimelineEvent.id.in_(ids))
                                       .order_by(TimelineEvent.at.desc()).limit(8)).scalars().all()
            text, message = blocks.approval_message(request, sentence(request), value, evidence)
            if request.slack_ts:
                self.client.chat_update(channel=request.slack_channel, ts=request.slack_ts, text=text, blocks=message)
                return
            request.slack_ts = self.post(Post(channel=request.slack_channel, text=text, blocks=message))

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
