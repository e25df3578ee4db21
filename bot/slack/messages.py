"""What Steward says: outgoing messages that flows return and `bot.slack.port` delivers, so flows never call Slack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Blocks = list[dict[str, Any]]


@dataclass(frozen=True)
class Post:
    """A message in a channel (or a thread of it)."""

    channel: str
    text: str
    blocks: Blocks = field(default_factory=list)
    thread_ts: str | None = None


@dataclass(frozen=True)
class Ephemeral:
    """Seen only by `user`; sent through the interaction's response_url when there is one."""

    user: str
    channel: str
    text: str
    blocks: Blocks = field(default_factory=list)
    response_url: str | None = None
    replace_original: bool = False


@dataclass(frozen=True)
class ReplyTo:
    """Who asked, where, and how to answer them alone."""

    user: str
    channel: str
    response_url: str | None = None

    def ephemeral(self, text: str, blocks: Blocks | None = None) -> Ephemeral:
        return Ephemeral(
            user=self.user, channel=self.channel, text=text, blocks=blocks or [], response_url=self.response_url
        )


@dataclass(frozen=True)
class RefreshCard:
    """Edit the incident's pinned card in place to show its current state."""

    incident_id: str


@dataclass(frozen=True)
class RefreshApproval:
    """Post the approval message, or edit it in place to show the request's current state."""

    request_id: str


Message = Post | Ephemeral | RefreshCard | RefreshApproval
Refresh = RefreshCard | RefreshApproval


@dataclass(frozen=True)
class Drawn:
    """A message drawn afresh from what is stored: edited in place where it was posted (`ts`), otherwise posted
    and its ts handed to `posted`, so the next refresh edits it."""

    channel: str
    text: str
    blocks: Blocks
    ts: str | None
    posted: Callable[[str], None]
    pin: bool = False  # pinned when first posted


Drawer = Callable[[Any], Drawn]  # draws one kind of Refresh; the runtime registers one per kind
