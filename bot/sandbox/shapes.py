"""How Slack renders workspace objects as JSON: the user, channel and message objects found in Web API
responses and in payloads sent to the app."""

from __future__ import annotations

from bot.sandbox.workspace import APP_ID, BOT_ID, BOT_USER, GENERAL, TEAM_ID, Channel, Message, User


def user_json(user: User) -> dict:
    display = "" if user.is_bot else user.name
    profile = {
        "real_name": user.real_name,
        "display_name": display,
        "real_name_normalized": user.real_name,
        "display_name_normalized": display,
        "team": TEAM_ID,
    }
    if user.bot_id:
        profile["bot_id"] = user.bot_id
    return {
        "id": user.id,
        "team_id": TEAM_ID,
        "name": user.name,
        "deleted": False,
        "real_name": user.real_name,
        "tz": "Europe/London",
        "is_admin": False,
        "is_owner": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 0,
        "profile": profile,
    }


def channel_json(channel: Channel, viewer: str = BOT_USER) -> dict:
    if channel.is_im:
        user = next(iter(channel.members - {BOT_USER}), channel.name)
        return {
            "id": channel.id,
            "created": channel.created,
            "is_im": True,
            "is_org_shared": False,
            "user": user,
            "is_user_deleted": False,
            "priority": 0,
        }
    return {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "creator": channel.creator,
        "is_archived": False,
        "is_general": channel.id == GENERAL,
        "unlinked": 0,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": TEAM_ID,
        "is_member": viewer in channel.members,
        "topic": {"value": channel.topic, "creator": "", "last_set": 0},
        "purpose": {"value": channel.purpose, "creator": "", "last_set": 0},
        "previous_names": [],
    }


def message_json(message: Message) -> dict:
    data: dict = {"type": "message", "user": message.user, "text": message.text, "ts": message.ts, "team": TEAM_ID}
    if message.user == BOT_USER:
        data.update(bot_id=BOT_ID, app_id=APP_ID)
    if message.blocks:
        data["blocks"] = message.blocks
    if message.thread_ts:
        data["thread_ts"] = message.thread_ts
    if message.edited:
        data["edited"] = {"user": message.user, "ts": message.ts}
    return data
