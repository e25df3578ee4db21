"""Web API failures: rate limits and server errors are retried; what still fails is logged and loses nothing stored."""

from __future__ import annotations

import logging

from sqlmodel import select

from bot.store.models import TimelineEvent
from tests.support.workspace import ENGINEER


def notes(workspace):
    with workspace.steward.runtime.db.session() as session:
        return [e.summary for e in session.exec(select(TimelineEvent).where(TimelineEvent.kind == "note"))]


def test_rate_limited_post_is_retried_after_retry_after(workspace):
    channel = workspace.declare("Checkout errors")
    workspace.slack.fail_next("chat.postMessage", error="ratelimited", retry_after=1)
    workspace.command("note retried after 429", by=ENGINEER, channel=channel)
    statuses = [c.status for c in workspace.slack.calls_to("chat.postMessage")][-2:]
    assert statuses == [429, 200]
    assert any("retried after 429" in p for p in workspace.posts(channel))


def test_server_error_is_retried(workspace):
    channel = workspace.declare("Checkout errors")
    workspace.slack.fail_next("chat.postMessage", error="http_500")
    workspace.command("note retried after 500", by=ENGINEER, channel=channel)
    assert [c.status for c in workspace.slack.calls_to("chat.postMessage")][-2:] == [500, 200]
    assert any("retried after 500" in p for p in workspace.posts(channel))


def test_a_post_that_cannot_be_made_is_logged_and_the_note_kept(workspace, caplog):
    channel = workspace.declare("Checkout errors")
    workspace.slack.fail_next("chat.postMessage", error="invalid_auth")
    with caplog.at_level(logging.ERROR, logger="bot.slack.port"):
        workspace.command("note kept even when Slack refuses", by=ENGINEER, channel=channel)
    assert "kept even when Slack refuses" in notes(workspace)
    assert not any("kept even when Slack refuses" in p for p in workspace.posts(channel))
    assert "invalid_auth" in caplog.text
