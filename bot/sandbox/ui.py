"""The sandbox workspace in a browser: the page at `/` (static files in `static/`) and the JSON routes it uses
to read the workspace as one person sees it and to act as that person, through the same signed commands and
clicks the tests send.

A scripted scenario (the demo's) can be attached: `page.replay` starts it, `page.progress` tells the page
which step is playing so it can follow along, and `page.outside` names what the page shows from outside Slack
(the demo's flag file), read on every poll.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.sandbox.workspace import BOT_USER, COMMANDER, ENGINEER, GENERAL, OBSERVER, Channel, Message, SlackError

if TYPE_CHECKING:
    from bot.sandbox.sandbox import SlackSandbox

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
# What each sandbox person stands for in the demo; the switcher lists humans in this order.
TITLES = {COMMANDER: "incident commander", ENGINEER: "engineer", OBSERVER: "observer"}
# Slack's own answer when an app fails to acknowledge a command in time.
FAILED_COMMAND = '{command} failed with the error "{error}"'
INSTALLED_COMMANDS = ("/incident",)


class ScenarioProgress:
    """Where a scripted scenario is, for the page: written by the thread playing it, read by every poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {
            "plays": 0,
            "running": False,
            "step": 0,
            "total": 0,
            "caption": "",
            "user": None,
            "channel": None,
            "source": None,
            "problem": None,
        }

    def begin(self, total: int) -> None:
        with self._lock:
            self._state.update(
                plays=self._state["plays"] + 1, running=True, step=0, total=total, caption="", source=None, problem=None
            )

    def at(self, step: int, caption: str, user: str | None, channel: str | None, source: str | None = None) -> None:
        """Step `step` is playing: `user` acts in `channel`, or `source` (a system such as GitHub) acts while the
        page shows that person's view of that channel."""
        with self._lock:
            self._state.update(step=step, caption=caption, user=user, channel=channel, source=source)

    def end(self, problem: str | None = None) -> None:
        with self._lock:
            self._state.update(running=False, problem=problem)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)


class WorkspacePage:
    def __init__(self, sandbox: SlackSandbox) -> None:
        self.sandbox = sandbox
        self.workspace = sandbox.workspace
        self.progress = ScenarioProgress()
        # Set by whoever has a scenario to play: starts it in the background, False if it is already playing.
        self.replay: Callable[[], bool] | None = None
        self.autoplay = False  # play the scenario once, when the page is first opened
        # Set by whoever has files to show beside the workspace: [{"name": ..., "text": ...}], one short line each.
        self.outside: Callable[[], list[dict[str, str]]] | None = None
        self._viewed = False
        self._lock = threading.Lock()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/ui/state", self.state, methods=["GET"]),
            Route("/ui/command", self.command, methods=["POST"]),
            Route("/ui/click", self.click, methods=["POST"]),
            Route("/ui/replay", self.start_replay, methods=["POST"]),
            Mount("/ui/static", app=StaticFiles(directory=STATIC), name="ui-static"),
        ]

    # --- reading ---------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def state(self, request: Request) -> Response:
        """The workspace as `user` sees it with `channel` open. With `since` equal to the current version the
        answer is only `{"changed": false}`: the page polls twice a second."""
        user = request.query_params.get("user") or COMMANDER
        if user not in TITLES:
            return _refuse(400, "unknown user")
        self._autoplay_once()
        view = self.view(user, request.query_params.get("channel") or None)
        version = hashlib.sha1(json.dumps(view, sort_keys=True).encode()).hexdigest()[:16]
        if request.query_params.get("since") == version:
            return JSONResponse({"changed": False, "version": version})
        return JSONResponse({"changed": True, "version": version, **view})

    def view(self, user: str, channel_id: str | None) -> dict[str, Any]:
        ws = self.workspace
        channels = [c for c in ws.channels() if _visible_to(c, user)]
        scenario = self.progress.snapshot() if self.replay else None
        wanted = channel_id or (scenario or {}).get("channel") or GENERAL
        current = next((c for c in channels if c.id == wanted), None) or ws.channel(GENERAL)
        messages = ws.messages(current.id) + ws.ephemerals(user, current.id)
        people = {u.id: {"name": u.name, "real_name": u.real_name, "is_bot": u.is_bot} for u in ws.users()}
        return {
            "user": user,
            "users": [
                {"id": uid, "name": people[uid]["name"], "title": title}
                for uid, title in TITLES.items()
                if uid in people
            ],
            "people": people,
            "channel_names": {c.id: c.name for c in ws.channels() if not c.is_im},
            "channels": [self._channel_entry(c, user) for c in sorted(channels, key=lambda c: (c.is_im, c.name))],
            "channel": {
                "id": current.id,
                "name": _display_name(current),
                "is_private": current.is_private,
                "is_im": current.is_im,
                "is_member": user in current.members,
                "topic": current.topic,
                "purpose": current.purpose,
                "members": len(current.members - {BOT_USER}),
                "pins": list(current.pins),
            },
            "messages": _threaded(messages, set(current.pins)),
            "scenario": scenario,
            "outside": self.outside() if self.outside else [],
        }

    def _channel_entry(self, channel: Channel, user: str) -> dict[str, Any]:
        seen = self.workspace.messages(channel.id) + self.workspace.ephemerals(user, channel.id)
        latest = max((m.ts for m in seen), key=float, default=None)
        return {
            "id": channel.id,
            "name": _display_name(channel),
            "is_private": channel.is_private,
            "is_im": channel.is_im,
            "is_member": user in channel.members,
            "latest": latest,
        }

    def _autoplay_once(self) -> None:
        with self._lock:
            first, self._viewed = not self._viewed, True
        if first and self.autoplay and self.replay is not None:
            self.replay()

    # --- acting ----------------------------------------------------------------------------------

    async def command(self, request: Request) -> Response:
        """What the message box sends: a slash command goes to the app signed like Slack's; anything else is
        posted as the person's own message."""
        body, problem = await _json_body(request)
        if problem:
            return problem
        user, channel, text = body.get("user"), body.get("channel"), str(body.get("text", "")).strip()
        if user not in TITLES or not text:
            return _refuse(400, "a person and some text are needed")
        try:
            where = self.workspace.channel(str(channel))
        except SlackError:
            return _refuse(404, "no such channel")
        if not _visible_to(where, user):
            return _refuse(403, "that channel is private")
        name, _, rest = text.partition(" ")
        if text.startswith("/") and name not in INSTALLED_COMMANDS:
            return _refuse(400, f"{name} is not a valid command. In this workspace only /incident is installed.")
        if user not in where.members:  # Slack has a person previewing a channel join it before typing there
            self.workspace.add_members(where.id, [user], inviter=None)
        if not text.startswith("/"):
            self.workspace.post(where.id, user, _escape(text))
            return JSONResponse({"ok": True})
        try:
            response = await run_in_threadpool(
                self.sandbox.command, rest.strip(), user=user, channel=where.id, command=name
            )
        except httpx.HTTPError as error:
            log.warning("the app did not answer %s: %s", name, error)
            return _refuse(502, FAILED_COMMAND.format(command=name, error="operation_timeout"))
        if response.status_code != 200:
            return _refuse(502, FAILED_COMMAND.format(command=name, error=f"http_service_error {response.status_code}"))
        return JSONResponse({"ok": True})

    async def click(self, request: Request) -> Response:
        body, problem = await _json_body(request)
        if problem:
            return problem
        found = _texts(body, "user", "channel", "ts", "action_id")
        if found is None or found[0] not in TITLES:
            return _refuse(400, "a person, a channel, a message and a button are needed")
        user, channel, ts, action_id = found
        message = self.workspace.find_any(channel, ts)
        if message is None or message.ephemeral_to not in (None, user):
            return _refuse(404, "that message is gone")
        try:
            response = await run_in_threadpool(self.sandbox.click_button, message, action_id, user)
        except LookupError:
            return _refuse(404, "that button is gone")
        except httpx.HTTPError as error:
            log.warning("the app did not answer a click on %s: %s", action_id, error)
            return _refuse(502, "The app did not answer in time.")
        if response.status_code != 200:
            return _refuse(502, f"The app answered HTTP {response.status_code}.")
        return JSONResponse({"ok": True})

    async def start_replay(self, request: Request) -> Response:
        _, problem = await _json_body(request)
        if problem:
            return problem
        if self.replay is None:
            return _refuse(404, "this workspace has no scenario")
        with self._lock:
            self._viewed = True
        if not self.replay():
            return _refuse(409, "the scenario is already playing")
        return JSONResponse({"ok": True})


def _visible_to(channel: Channel, user: str) -> bool:
    """Public channels and those the person is in; a direct message only to its two members."""
    if channel.is_im or channel.is_private:
        return user in channel.members
    return True


def _display_name(channel: Channel) -> str:
    # A direct message carries the bot's name for the person in it, as Slack's sidebar shows it.
    return "Steward" if channel.is_im else channel.name


def _threaded(messages: list[Message], pins: set[str]) -> list[dict[str, Any]]:
    """Top-level messages in order, each carrying its thread replies; ephemerals mixed in by time."""
    ordered = sorted(messages, key=lambda m: float(m.ts))
    parents = {m.ts for m in ordered if m.thread_ts in (None, m.ts)}
    top: list[dict[str, Any]] = []
    replies: dict[str, list[dict[str, Any]]] = {}
    for message in ordered:
        entry: dict[str, Any] = {
            "ts": message.ts,
            "user": message.user,
            "text": message.text,
            "blocks": message.blocks,
            "edited": message.edited,
            "ephemeral": message.ephemeral_to is not None,
            "pinned": message.ts in pins and message.ephemeral_to is None,
        }
        if message.thread_ts and message.thread_ts != message.ts and message.thread_ts in parents:
            replies.setdefault(message.thread_ts, []).append(entry)
        else:
            top.append(entry)
    for entry in top:
        entry["replies"] = replies.get(entry["ts"], [])
    return top


def _escape(text: str) -> str:
    """A person's message is stored as Slack stores it: &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _texts(body: dict[str, Any], *keys: str) -> list[str] | None:
    """The values of `keys`, when each is a non-empty string."""
    texts = [value for value in (body.get(key) for key in keys) if isinstance(value, str) and value]
    return texts if len(texts) == len(keys) else None


async def _json_body(request: Request) -> tuple[dict[str, Any], Response | None]:
    # JSON only: a page on another site cannot send it to this loopback port without a CORS preflight.
    if not request.headers.get("content-type", "").startswith("application/json"):
        return {}, _refuse(415, "send JSON")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}, _refuse(400, "invalid JSON")
    return (body, None) if isinstance(body, dict) else ({}, _refuse(400, "send a JSON object"))


def _refuse(status: int, error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status)
