"""Slack's front door: signed requests are stored as jobs and acked with an empty 200; what no listener handles gets
404 and what cannot be read gets 400, and neither is stored."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from bot.runtime.worker import JOB
from bot.sandbox.sender import signature
from tests.support.workspace import COMMANDER, GENERAL

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def stored_jobs(workspace) -> int:
    with workspace.stack.steward.runtime.db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(JOB)).scalar_one()


def test_a_command_is_acked_empty_and_its_reply_comes_through_the_response_url(workspace):
    response = workspace.slack.command("help", user=COMMANDER, channel=GENERAL)
    assert (response.status_code, response.text) == (200, "")
    workspace.settle()
    assert "/incident declare" in workspace.ephemeral_text(COMMANDER)
    assert stored_jobs(workspace) == 0  # done jobs are deleted


def test_url_verification_echoes_the_challenge_and_stores_nothing(workspace):
    body = json.dumps(
        {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    ).encode()
    response = workspace.slack.sender.json("url_verification", body, {})
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert stored_jobs(workspace) == 0


def test_slacks_ssl_check_is_answered_and_stores_nothing(workspace):
    response = workspace.slack.sender.form("ssl_check", {"ssl_check": "1", "token": "t"}, {})
    assert response.status_code == 200
    assert stored_jobs(workspace) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed request"),
        (b"[1, 2]", "the body is not an object"),
    ],
)
def test_an_unreadable_event_gets_400_with_the_reason_and_stores_nothing(workspace, body, reason):
    response = workspace.slack.sender.json("event_callback", body, {})
    assert response.status_code == 400
    assert reason in response.text
    assert stored_jobs(workspace) == 0


def test_what_no_listener_handles_gets_404_and_stores_nothing(workspace):
    assert workspace.slack.command("help", command="/other").status_code == 404
    payload = {
        "type": "block_actions",
        "user": {"id": COMMANDER},
        "channel": {"id": GENERAL},
        "actions": [{"action_id": "not_ours", "block_id": "b", "type": "button", "value": "v"}],
    }
    click = workspace.slack.sender.form("block_actions", {"payload": json.dumps(payload)}, {})
    assert click.status_code == 404
    assert "no listener for the action not_ours" in click.text
    event = workspace.slack.event({"type": "reaction_added", "user": COMMANDER, "reaction": "eyes"})
    assert event.status_code == 404
    assert stored_jobs(workspace) == 0


def test_a_note_whose_text_looks_like_other_fields_is_routed_by_the_real_ones(workspace):
    channel = workspace.declare()
    response = workspace.command("note saw command=/other&channel_id=C0ELSEWHERE in the logs", channel=channel)
    assert response.status_code == 200
    note = workspace.posts(channel)[-1]
    assert "saw command=/other" in note and "channel_id=C0ELSEWHERE in the logs" in note


def test_a_body_that_arrives_in_pieces_is_read_whole_before_its_signature_is_checked(workspace):
    body = urlencode(
        {
            "command": "/incident",
            "text": "help",
            "user_id": COMMANDER,
            "channel_id": GENERAL,
            "response_url": workspace.slack.response_urls.issue(COMMANDER, GENERAL),
        }
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(workspace.slack.signing_secret, timestamp, body),
    }
    pieces = iter([body[:40], body[40:90], body[90:]])  # sent chunked, so the server receives several parts
    response = httpx.post(f"{workspace.server.url}/slack/events", content=pieces, headers=headers)
    assert (response.status_code, response.text) == (200, "")
    workspace.settle()
    assert "/incident declare" in workspace.ephemeral_text(COMMANDER)
