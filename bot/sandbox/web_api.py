"""The Slack Web API stand-in behind `/api/<method>`: one function per method, registered by name, answering
with Slack's envelope (`{"ok": true, ...}` or `{"ok": false, "error": ...}` on HTTP 200), Slack's auth rules,
injected failures, and a record of every call.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.sandbox import block_kit
from bot.sandbox.calls import CallLog
from bot.sandbox.faults import HTTP_500, Faults
from bot.sandbox.shapes import channel_json, message_json, user_json
from bot.sandbox.workspace import BOT_ID, BOT_USER, TEAM_DOMAIN, TEAM_ID, TEAM_NAME, Channel, SlackError, Workspace

# Form-encoded callers send these as JSON strings; decoding them makes the recorded params readable.
_JSON_FIELDS = ("blocks", "attachments", "view")


class Args:
    """A method's arguments as Slack reads them: strings from forms, native values from JSON bodies."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value in (None, "") else value

    def require(self, name: str, error: str = "invalid_arguments") -> Any:
        value = self.get(name)
        if value is None:
            raise SlackError(error)
        return value

    def flag(self, name: str) -> bool:
        return str(self.values.get(name, "")).lower() in ("1", "true")


Handler = Callable[[Workspace, Args], dict]
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name] = handler
        return handler

    return register


class WebApi:
    def __init__(self, workspace: Workspace, calls: CallLog, faults: Faults, bot_token: str) -> None:
        self.workspace = workspace
        self.calls = calls
        self.faults = faults
        self.bot_token = bot_token

    def routes(self) -> list[Route]:
        return [Route("/api/{method}", self.endpoint, methods=["GET", "POST"])]

    async def endpoint(self, request: Request) -> Response:
        name = request.path_params["method"]
        headers: dict[str, str]
        try:
            args, token = await _read(request)
        except ValueError:
            args, token = {}, None
            status, body, headers = 200, {"ok": False, "error": "invalid_json"}, {}
        else:
            status, body, headers = self.answer(name, args, token)
        self.calls.record(name, args, status, body)
        if status == 500:
            return PlainTextResponse("Internal Server Error", status_code=500)
        return JSONResponse(body, status_code=status, headers=headers)

    def answer(self, name: str, args: dict, token: str | None) -> tuple[int, dict, dict]:
        fault = self.faults.take(name)
        if fault is not None:
            body = {"ok": False, "error": HTTP_500} if fault.status == 500 else fault.body
            return fault.status, body, fault.headers
        handler = METHODS.get(name)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.bot_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        try:
            return 200, {"ok": True, **handler(self.workspace, Args(args))}, {}
        except SlackError as error:
            return 200, {"ok": False, "error": error.error, **error.extra}, {}


async def _read(request: Request) -> tuple[dict, str | None]:
    """Arguments from the query string and the body; the token from `Authorization: Bearer` or, for forms
    only, a `token` field (Slack ignores a token inside a JSON body)."""
    args: dict[str, Any] = dict(request.query_params)
    token = None
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            raw = await request.body()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            body.pop("token", None)
            args.update(body)
        elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            args.update({k: v for k, v in form.multi_items() if isinstance(v, str)})
    form_token = args.pop("token", None)
    token = token or form_token
    for name in _JSON_FIELDS:
        if isinstance(args.get(name), str):
            try:
                args[name] = json.loads(args[name])
            except ValueError:
                pass
    return args, token


# --- helpers shared by the methods -------------------------------------------------------------------


def _visible(ws: Workspace, channel_id: str | None) -> Channel:
    """The channel as the bot sees it: a private channel it is not in does not exist for it."""
    if not channel_id:
        raise SlackError("channel_not_found")
    if channel_id[0] in "UW":
        return ws.open_dm(channel_id)
    # Slack takes a channel name ("#general" or "general") wherever it takes an id for posting.
    named = (
        ws.channel_by_name(channel_id.lstrip("#")) if channel_id[0] not in "CGD" or channel_id.startswith("#") else None
    )
    channel = named or ws.channel(channel_id)
    if channel.is_private and BOT_USER not in channel.members:
        raise SlackError("channel_not_found")
    return channel


def _member(ws: Workspace, channel_id: str | None) -> Channel:
    channel = _visible(ws, channel_id)
    if BOT_USER not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def _content(args: Args, required: bool = True) -> tuple[str | None, list[dict] | None]:
    text, blocks = args.get("text"), args.values.get("blocks")
    if blocks is not None:
        found = block_kit.problems(blocks)
        if found:
            raise SlackError(
                "invalid_blocks", errors=found, response_metadata={"messages": [f"[ERROR] {p}" for p in found]}
            )
    if required and not text and not blocks and not args.get("attachments"):
        raise SlackError("no_text")
    if text is not None and len(str(text)) > block_kit.MAX_TEXT:
        raise SlackError("msg_too_long")
    return (None if text is None else str(text)), blocks


# --- the methods -------------------------------------------------------------------------------------


@method("auth.test")
def auth_test(ws: Workspace, args: Args) -> dict:
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": "steward",
        "team_id": TEAM_ID,
        "user_id": BOT_USER,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


@method("chat.postMessage")
def chat_post_message(ws: Workspace, args: Args) -> dict:
    channel = _visible(ws, args.get("channel"))
    text, blocks = _content(args)
    message = ws.post(channel.id, BOT_USER, text or "", blocks, args.get("thread_ts"))
    return {"channel": channel.id, "ts": message.ts, "message": message_json(message)}


@method("chat.postEphemeral")
def chat_post_ephemeral(ws: Workspace, args: Args) -> dict:
    channel = _visible(ws, args.get("channel"))
    user = ws.user(args.require("user", "user_not_found"))
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks = _content(args)
    message = ws.post_ephemeral(channel.id, user.id, text or "", blocks, args.get("thread_ts"))
    return {"message_ts": message.ts}


@method("chat.update")
def chat_update(ws: Workspace, args: Args) -> dict:
    channel = _visible(ws, args.get("channel"))
    original = ws.message(channel.id, args.require("ts", "message_not_found"))
    if original.user != BOT_USER:
        raise SlackError("cant_update_message")
    text, blocks = _content(args, required=False)
    message = ws.update(channel.id, original.ts, text, blocks)
    return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": message_json(message)}


@method("chat.delete")
def chat_delete(ws: Workspace, args: Args) -> dict:
    channel = _visible(ws, args.get("channel"))
    original = ws.message(channel.id, args.require("ts", "message_not_found"))
    if original.user != BOT_USER:
        raise SlackError("cant_delete_message")
    ws.delete(channel.id, original.ts)
    return {"channel": channel.id, "ts": original.ts}


@method("pins.add")
def pins_add(ws: Workspace, args: Args) -> dict:
    channel = _member(ws, args.get("channel"))
    ws.pin(channel.id, args.require("timestamp", "no_item_specified"))
    return {}


@method("conversations.create")
def conversations_create(ws: Workspace, args: Args) -> dict:
    channel = ws.create_channel(str(args.get("name", "")), BOT_USER, is_private=args.flag("is_private"))
    return {"channel": channel_json(channel)}


@method("conversations.join")
def conversations_join(ws: Workspace, args: Args) -> dict:
    channel = _visible(ws, args.get("channel"))
    if BOT_USER in channel.members:
        return {
            "channel": channel_json(channel),
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    ws.add_members(channel.id, [BOT_USER], inviter=None)
    return {"channel": channel_json(ws.channel(channel.id))}


@method("conversations.invite")
def conversations_invite(ws: Workspace, args: Args) -> dict:
    channel = _member(ws, args.get("channel"))
    users = [u.strip() for u in str(args.require("users", "no_user")).split(",") if u.strip()]
    if not users:
        raise SlackError("no_user")
    for user_id in users:
        ws.user(user_id)
    if BOT_USER in users:
        raise SlackError("cant_invite_self")
    if all(u in channel.members for u in users):
        raise SlackError("already_in_channel")
    ws.add_members(channel.id, users, inviter=BOT_USER)
    return {"channel": channel_json(ws.channel(channel.id))}


@method("conversations.info")
def conversations_info(ws: Workspace, args: Args) -> dict:
    return {"channel": channel_json(_visible(ws, args.get("channel")))}


@method("conversations.members")
def conversations_members(ws: Workspace, args: Args) -> dict:
    channel = _visible(ws, args.get("channel"))
    return {"members": sorted(channel.members), "response_metadata": {"next_cursor": ""}}


@method("conversations.open")
def conversations_open(ws: Workspace, args: Args) -> dict:
    users = [u.strip() for u in str(args.require("users", "users_list_not_supplied")).split(",") if u.strip()]
    if len(users) != 1:
        raise SlackError("not_implemented", detail="the sandbox opens one-to-one direct messages only")
    return {"channel": {"id": ws.open_dm(users[0]).id}}


@method("conversations.setTopic")
def conversations_set_topic(ws: Workspace, args: Args) -> dict:
    channel = _member(ws, args.get("channel"))
    return {"channel": channel_json(ws.set_topic(channel.id, topic=str(args.get("topic", ""))))}


@method("conversations.setPurpose")
def conversations_set_purpose(ws: Workspace, args: Args) -> dict:
    channel = _member(ws, args.get("channel"))
    return {"channel": channel_json(ws.set_topic(channel.id, purpose=str(args.get("purpose", ""))))}


@method("conversations.history")
def conversations_history(ws: Workspace, args: Args) -> dict:
    channel = _member(ws, args.get("channel"))
    top_level = [m for m in ws.messages(channel.id) if m.thread_ts in (None, m.ts)]
    return {
        "messages": [message_json(m) for m in reversed(top_level)],
        "has_more": False,
        "response_metadata": {"next_cursor": ""},
    }


@method("conversations.replies")
def conversations_replies(ws: Workspace, args: Args) -> dict:
    channel = _member(ws, args.get("channel"))
    thread = ws.thread(channel.id, args.require("ts", "thread_not_found"))
    if not thread:
        raise SlackError("thread_not_found")
    return {"messages": [message_json(m) for m in thread], "has_more": False, "response_metadata": {"next_cursor": ""}}


@method("users.info")
def users_info(ws: Workspace, args: Args) -> dict:
    return {"user": user_json(ws.user(args.require("user", "user_not_found")))}


@method("views.open")
def views_open(ws: Workspace, args: Args) -> dict:
    args.require("trigger_id", "invalid_trigger_id")
    view = args.require("view")
    if not isinstance(view, dict) or "type" not in view:
        raise SlackError("invalid_arguments")
    return {"view": {"id": "V" + secrets.token_hex(5).upper(), "team_id": TEAM_ID, **view}}
