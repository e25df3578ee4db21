"""The sandbox workspace's state: users, channels, messages, ephemeral messages and pins, held in memory.

Every read and write goes through one lock because the HTTP server, the event outbox and the test thread
all touch it; reads hand out copies so a test never sees a message change under its feet.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TEAM_ID = "T0STEWARD"
TEAM_NAME = "Steward Sandbox"
TEAM_DOMAIN = "steward-sandbox"
APP_ID = "A0STEWARD"
BOT_USER = "U0STEWARD"
BOT_ID = "B0STEWARD"
COMMANDER = "U0COMMANDER"
ENGINEER = "U0ENGINEER"
OBSERVER = "U0OBSERVER"
GENERAL = "C0GENERAL"

# Slack's rule for conversations.create: lowercase letters, digits, hyphens and underscores, at most 80.
_CHANNEL_NAME = re.compile(r"[a-z0-9_-]+")
_MAX_CHANNEL_NAME = 80


class SlackError(Exception):
    """Something Slack would refuse, carrying Slack's own error code (and any extra response fields)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    is_bot: bool = False
    bot_id: str | None = None


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool
    creator: str
    created: int
    members: set[str] = field(default_factory=set)
    pins: list[str] = field(default_factory=list)
    topic: str = ""
    purpose: str = ""
    is_im: bool = False


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict] = field(default_factory=list)
    thread_ts: str | None = None
    edited: bool = False
    ephemeral_to: str | None = None


DEFAULT_USERS = (
    User(COMMANDER, "alice", "Alice Commander"),
    User(ENGINEER, "bob", "Bob Engineer"),
    User(OBSERVER, "carol", "Carol Observer"),
    User(BOT_USER, "steward", "Steward", is_bot=True, bot_id=BOT_ID),
)


def resolve_clock(clock: Any) -> Callable[[], datetime]:
    """Accept a Clock (anything with .now()), a bare callable returning a datetime, or None for real time."""
    if clock is None:
        return lambda: datetime.now(UTC)
    if hasattr(clock, "now"):
        return clock.now
    if callable(clock):
        return clock
    raise TypeError(f"clock must be a callable or have .now(), not {clock!r}")


class Workspace:
    """One Slack workspace (team T0STEWARD) with its humans, the Steward bot user and #general."""

    def __init__(self, clock: Any = None) -> None:
        self.now = resolve_clock(clock)
        self._lock = threading.RLock()
        self._users: dict[str, User] = {u.id: u for u in DEFAULT_USERS}
        self._channels: dict[str, Channel] = {}
        self._messages: list[Message] = []
        self._ephemerals: list[Message] = []
        self._last_ts = 0
        self._next_channel = 1
        self._listeners: list[Callable[[dict], None]] = []
        humans = {u.id for u in DEFAULT_USERS if not u.is_bot}
        self._channels[GENERAL] = Channel(GENERAL, "general", False, COMMANDER, self._epoch(), members=humans)

    # --- observers -------------------------------------------------------------------------------

    def on_event(self, listener: Callable[[dict], None]) -> None:
        """Register a callback for Events API payloads (the inner `event`) the workspace produces."""
        self._listeners.append(listener)

    def _emit(self, event: dict) -> None:
        for listener in self._listeners:
            listener(event)

    # --- users -----------------------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        with self._lock:
            self._users[user.id] = user
            return user

    def user(self, user_id: str) -> User:
        with self._lock:
            if user_id not in self._users:
                raise SlackError("user_not_found")
            return self._users[user_id]

    def user_by_name(self, name: str) -> User | None:
        with self._lock:
            return next((u for u in self._users.values() if u.name.lower() == name.lower()), None)

    def users(self) -> list[User]:
        with self._lock:
            return list(self._users.values())

    # --- channels --------------------------------------------------------------------------------

    def channel(self, channel_id: str) -> Channel:
        """A copy of the channel; `channel_not_found` if there is none."""
        with self._lock:
            return copy.deepcopy(self._channel(channel_id))

    def channel_by_name(self, name: str) -> Channel | None:
        with self._lock:
            found = next((c for c in self._channels.values() if c.name == name.lstrip("#")), None)
            return copy.deepcopy(found)

    def channels(self) -> list[Channel]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._channels.values()]

    def _channel(self, channel_id: str) -> Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def create_channel(self, name: str, creator: str, is_private: bool = False) -> Channel:
        with self._lock:
            self._check_channel_name(name)
            channel_id = f"C{self._next_channel:09d}"
            self._next_channel += 1
            channel = Channel(channel_id, name, is_private, creator, self._epoch(), members={creator})
            self._channels[channel_id] = channel
            # Slack announces public channels to the whole workspace; private ones only to their members.
            if not is_private:
                self._emit(
                    {"type": "channel_created", "channel": channel_created_view(channel), "event_ts": self._next_ts()}
                )
            return copy.deepcopy(channel)

    def _check_channel_name(self, name: str) -> None:
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > _MAX_CHANNEL_NAME:
            raise SlackError("invalid_name_maxlength")
        if not _CHANNEL_NAME.fullmatch(name):
            raise SlackError("invalid_name_specials")
        if not re.search(r"[a-z0-9]", name):
            raise SlackError("invalid_name_punctuation")
        if any(c.name == name for c in self._channels.values()):
            raise SlackError("name_taken")

    def set_topic(self, channel_id: str, topic: str | None = None, purpose: str | None = None) -> Channel:
        with self._lock:
            channel = self._channel(channel_id)
            if topic is not None:
                channel.topic = topic
            if purpose is not None:
                channel.purpose = purpose
            return copy.deepcopy(channel)

    def open_dm(self, user_id: str) -> Channel:
        """The bot's direct-message channel with a user, opened on first use as Slack does."""
        with self._lock:
            self.user(user_id)
            for channel in self._channels.values():
                if channel.is_im and channel.members == {BOT_USER, user_id}:
                    return copy.deepcopy(channel)
            channel_id = "D" + user_id[1:]
            channel = Channel(
                channel_id, user_id, True, BOT_USER, self._epoch(), members={BOT_USER, user_id}, is_im=True
            )
            self._channels[channel_id] = channel
            return copy.deepcopy(channel)

    def add_members(self, channel_id: str, user_ids: list[str], inviter: str | None) -> list[str]:
        """Add users to a channel; returns those who were not members yet. Slack tells the bot when it joins."""
        with self._lock:
            channel = self._channel(channel_id)
            for user_id in user_ids:
                self.user(user_id)
            added = [u for u in dict.fromkeys(user_ids) if u not in channel.members]
            channel.members.update(added)
            if BOT_USER in added:
                event = {
                    "type": "member_joined_channel",
                    "user": BOT_USER,
                    "channel": channel.id,
                    "channel_type": "G" if channel.is_private else "C",
                    "team": TEAM_ID,
                }
                if inviter:
                    event["inviter"] = inviter
                event["event_ts"] = self._next_ts()
                self._emit(event)
            return added

    # --- messages --------------------------------------------------------------------------------

    def post(
        self, channel_id: str, user: str, text: str, blocks: list[dict] | None = None, thread_ts: str | None = None
    ) -> Message:
        with self._lock:
            self._channel(channel_id)
            message = Message(self._next_ts(), channel_id, user, text or "", [], thread_ts or None)
            message.blocks = with_block_ids(blocks or [], message.ts)
            self._messages.append(message)
            return copy.deepcopy(message)

    def post_ephemeral(
        self,
        channel_id: str,
        to: str,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        sender: str = BOT_USER,
    ) -> Message:
        with self._lock:
            self._channel(channel_id)
            message = Message(self._next_ts(), channel_id, sender, text or "", [], thread_ts or None, ephemeral_to=to)
            message.blocks = with_block_ids(blocks or [], message.ts)
            self._ephemerals.append(message)
            return copy.deepcopy(message)

    def update(
        self, channel_id: str, ts: str, text: str | None, blocks: list[dict] | None, ephemeral_to: str | None = None
    ) -> Message:
        """Edit a message in place (same ts). Text or blocks left as None are kept, as chat.update does."""
        with self._lock:
            message = self._find(channel_id, ts, ephemeral_to)
            if text is not None:
                message.text = text
            if blocks is not None:
                message.blocks = with_block_ids(blocks, message.ts)
            message.edited = True
            return copy.deepcopy(message)

    def delete(self, channel_id: str, ts: str, ephemeral_to: str | None = None) -> Message:
        with self._lock:
            message = self._find(channel_id, ts, ephemeral_to)
            if ephemeral_to:
                self._ephemerals.remove(message)
            else:
                self._messages.remove(message)
                channel = self._channels[channel_id]
                if ts in channel.pins:
                    channel.pins.remove(ts)
            return copy.deepcopy(message)

    def pin(self, channel_id: str, ts: str) -> None:
        with self._lock:
            channel = self._channel(channel_id)
            self._find(channel_id, ts)
            if ts in channel.pins:
                raise SlackError("already_pinned")
            channel.pins.append(ts)

    def message(self, channel_id: str, ts: str, ephemeral_to: str | None = None) -> Message:
        with self._lock:
            return copy.deepcopy(self._find(channel_id, ts, ephemeral_to))

    def find_any(self, channel_id: str, ts: str) -> Message | None:
        """The channel message or ephemeral with this ts, whichever exists."""
        with self._lock:
            for message in (*self._messages, *self._ephemerals):
                if message.channel == channel_id and message.ts == ts:
                    return copy.deepcopy(message)
            return None

    def _find(self, channel_id: str, ts: str, ephemeral_to: str | None = None) -> Message:
        self._channel(channel_id)
        pool = self._ephemerals if ephemeral_to else self._messages
        for message in pool:
            if message.channel == channel_id and message.ts == ts and message.ephemeral_to == ephemeral_to:
                return message
        raise SlackError("message_not_found")

    def messages(self, channel_id: str | None = None) -> list[Message]:
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages if channel_id in (None, m.channel)]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """The parent then its replies, like conversations.replies."""
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._messages
                if m.channel == channel_id and (m.ts == ts or m.thread_ts == ts)
            ]

    def ephemerals(self, user_id: str | None = None, channel_id: str | None = None) -> list[Message]:
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._ephemerals
                if user_id in (None, m.ephemeral_to) and channel_id in (None, m.channel)
            ]

    # --- time ------------------------------------------------------------------------------------

    def _epoch(self) -> int:
        return int(self.now().timestamp())

    def next_ts(self) -> str:
        return self._next_ts()

    def _next_ts(self) -> str:
        """Slack message ids: seconds from the clock, then a counter so two posts never share a ts."""
        with self._lock:
            floor = self._epoch() * 1_000_000
            self._last_ts = max(floor, self._last_ts) + 100
            return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"


def with_block_ids(blocks: list[dict], seed: str) -> list[dict]:
    """Slack gives every block without a block_id a short random one; ours are derived from the ts so
    reruns are reproducible."""
    result = copy.deepcopy(blocks)
    for index, block in enumerate(result):
        if isinstance(block, dict) and "block_id" not in block:
            digest = hashlib.sha1(f"{seed}/{index}".encode()).hexdigest()
            block["block_id"] = digest[:5]
    return result


def channel_created_view(channel: Channel) -> dict:
    return {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": True,
        "created": channel.created,
        "creator": channel.creator,
        "is_shared": False,
        "is_org_shared": False,
        "context_team_id": TEAM_ID,
    }
