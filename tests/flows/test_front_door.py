"""Requests that are not provably from Slack get 401 and change nothing."""

from __future__ import annotations

import time

import pytest

from tests.support.workspace import COMMANDER, GENERAL

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _nothing_happened(workspace, channels_before):
    workspace.settle()
    assert workspace.channel_ids() == channels_before
    assert workspace.slack.calls_to("conversations.create") == []
    assert workspace.slack.ephemerals(COMMANDER) == []


def test_wrong_signature_is_refused(workspace):
    before = workspace.channel_ids()
    response = workspace.slack.command("declare Forged", user=COMMANDER, channel=GENERAL, signature="v0=" + "0" * 64)
    assert response.status_code == 401
    _nothing_happened(workspace, before)


def test_missing_signature_is_refused(workspace):
    before = workspace.channel_ids()
    response = workspace.slack.command("declare Unsigned", user=COMMANDER, channel=GENERAL, sign=False)
    assert response.status_code == 401
    _nothing_happened(workspace, before)


@pytest.mark.parametrize("skew", [-330, 330, -3600])  # past the 300 s window, even if the request is slow
def test_timestamp_more_than_five_minutes_off_is_refused(workspace, skew):
    before = workspace.channel_ids()
    response = workspace.slack.command(
        "declare Replayed", user=COMMANDER, channel=GENERAL, timestamp=int(time.time()) + skew
    )
    assert response.status_code == 401
    _nothing_happened(workspace, before)


def test_a_correctly_signed_request_is_accepted(workspace):
    response = workspace.slack.command("help", user=COMMANDER, channel=GENERAL)
    assert response.status_code == 200
    workspace.settle()
    assert "/incident declare" in workspace.ephemeral_text(COMMANDER)
