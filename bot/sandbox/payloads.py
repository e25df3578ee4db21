"""The bodies Slack sends to an app's Request URL, built the way Slack builds them: slash-command forms
(with Slack's escaping of the typed text), block_actions payloads and Events API envelopes."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from bot.sandbox.shapes import message_json
from bot.sandbox.workspace import APP_ID, BOT_USER, TEAM_DOMAIN, TEAM_ID, Channel, Message, User, Workspace

# A URL, an @mention or a #channel, in that order so that a `#` inside a URL stays part of the URL.
_TOKENS = re.compile(
    r"(?P<url>https?://[^\s<>]+)"
    r"|(?<![\w@])@(?P<user>[a-z0-9][a-z0-9._-]*[a-z0-9]|[a-z0-9])"
    r"|(?<![\w&#])#(?P<channel>[a-z0-9][a-z0-9_-]*)",
    re.IGNORECASE,
)
_SPECIAL_MENTIONS = {"here", "channel", "everyone"}


def escape_text(text: str, workspace: Workspace, should_escape: bool = True) -> str:
    """What the app receives for what the user typed. Slack always escapes &, < and >; with the app's
    "escape channels, users, and links" setting on, it also turns @name, #channel and URLs into its
    `<@U…|name>`, `<#C…|name>` and `<https://…>` markup."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not should_escape:
        return escaped

    def markup(match: re.Match) -> str:
        if match["url"]:
            return f"<{match['url']}>"
        if match["user"]:
            name = match["user"]
            if name.lower() in _SPECIAL_MENTIONS:
                return f"<!{name.lower()}>"
            user = workspace.user_by_name(name)
            return f"<@{user.id}|{user.name}>" if user else match[0]
        channel = workspace.channel_by_name(match["channel"].lower())
        return f"<#{channel.id}|{channel.name}>" if channel and not channel.is_im else match[0]

    return _TOKENS.sub(markup, escaped)


def channel_name_for_command(channel: Channel) -> str:
    """Slash commands name private channels `privategroup` and DMs `directmessage`, not by their name."""
    if channel.is_im:
        return "directmessage"
    return "privategroup" if channel.is_private else channel.name


def slash_command(
    *,
    verification_token: str,
    user: User,
    channel: Channel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    return {
        "token": verification_token,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel.id,
        "channel_name": channel_name_for_command(channel),
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions(
    *,
    verification_token: str,
    user: User,
    channel: Channel,
    message_ts: str,
    message: Message | None,
    is_ephemeral: bool,
    action: dict,
    response_url: str,
    trigger_id: str,
) -> dict:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": verification_token,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel.id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": channel_name_for_command(channel)},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    # Slack leaves the message out for ephemeral messages: the app only has the container to go on.
    if message is not None and not is_ephemeral:
        payload["message"] = message_json(message)
    return payload


def button_action(
    *, action_id: str, value: str | None, block_id: str, action_ts: str, text: dict | None = None
) -> dict:
    action = {
        "action_id": action_id,
        "block_id": block_id,
        "text": text or {"type": "plain_text", "text": action_id, "emoji": True},
        "type": "button",
        "action_ts": action_ts,
    }
    if value is not None:
        action["value"] = value
    return action


def event_callback(*, verification_token: str, event: dict, event_id: str, event_time: int) -> dict:
    return {
        "token": verification_token,
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }


def url_verification(*, verification_token: str, challenge: str) -> dict:
    return {"token": verification_token, "challenge": challenge, "type": "url_verification"}


def new_event_id() -> str:
    # Random rather than counted: a fresh sandbox must never repeat an id a long-lived store has seen.
    return "Ev" + secrets.token_hex(5).upper()


def new_trigger_id() -> str:
    return f"{secrets.randbelow(10**11)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def action_ts(now: datetime) -> str:
    return f"{now.timestamp():.6f}"


def find_button(blocks: list[dict], action_id: str) -> tuple[dict, str] | None:
    """The element with this action_id and the block_id of the block holding it."""
    for block in blocks:
        candidates = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, block.get("block_id", "")
    return None
