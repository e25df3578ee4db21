"""What Steward says: outgoing messages that flows return and `bot.slackapi` delivers, so flows never call Slack."""
from __future__ import annotations

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
class RefreshCard:
    """Edit the incident's pinned card in place to show its current state."""

    incident_id: str




@dataclass(frozen=True)
class RefreshApproval:
    """Post the approval message, or edit it in place to show the request's current state."""

    request_id: str


Message = Post | Ephemeral | RefreshCard | RefreshApproval
