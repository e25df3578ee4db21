"""manifest.yml and the listeners the app registers cannot drift apart."""

from __future__ import annotations

import pytest
import yaml

from handlers.commands import COMMAND
from handlers.events import EVENTS
from tests.support.paths import ROOT
from tests.support.workspace import COMMANDER

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
NEEDED_SCOPES = {
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:manage",
    "channels:join",
    "channels:read",
    "groups:read",
    "pins:write",
    "users:read",
    "app_mentions:read",
}


def test_manifest_declares_exactly_the_registered_commands_and_events(workspace):
    commands = MANIFEST["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [COMMAND]
    assert all(c["should_escape"] is True for c in commands)
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == set(EVENTS)
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == NEEDED_SCOPES


def test_every_manifest_event_and_command_has_a_listener(workspace):
    for name in MANIFEST["settings"]["event_subscriptions"]["bot_events"]:
        event = {
            "type": name,
            "user": "U0OBSERVER",
            "channel": "C0GENERAL",
            "ts": "1.000001",
            "event_ts": "1.000001",
            "text": "hi",
        }
        if name == "channel_created":
            event["channel"] = {"id": "C0NEWONE", "name": "random", "created": 1, "creator": "U0OBSERVER"}
        assert workspace.slack.event(event).status_code == 200, name
    assert workspace.slack.command("help", user=COMMANDER, command=COMMAND).status_code == 200
    # Bolt answers 404 to what no listener handles, which is how drift would show.
    assert workspace.slack.command("help", user=COMMANDER, command="/other").status_code == 404
