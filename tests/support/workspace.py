"""`Workspace`: drives Steward the way people do, through signed requests from the sandbox, and reads what they see."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from bot.sandbox.local import LocalStack
from tests.support.senders import Sources

COMMANDER = "U0COMMANDER"
ENGINEER = "U0ENGINEER"
OBSERVER = "U0OBSERVER"
GENERAL = "C0GENERAL"


@dataclass(frozen=True)
class Card:
    """The pinned incident card as a person reads it."""

    ts: str
    title: str
    fields: dict[str, str]
    text: str
    edited: bool

    @property
    def severity(self) -> str:
        return self.fields["Severity"].split()[-1]

    @property
    def status(self) -> str:
        return self.fields["Status"].split()[-1].lower()

    @property
    def commander(self) -> str:
        return self.fields["Commander"]


def block_text(blocks: list[dict]) -> str:
    """All the text of a message's blocks, the way it would read on screen."""
    parts: list[str] = []
    for block in blocks:
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"]["text"])
        for field in block.get("fields", []):
            parts.append(field["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                parts.append(element["text"])
            elif isinstance(element.get("text"), dict):
                parts.append(element["text"]["text"])
    return "\n".join(parts)


class Workspace:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.slack = stack.sandbox
        self.steward = stack.steward
        self.server = stack.server
        self.sources = Sources(stack.server.url)

    def settle(self) -> None:
        self.stack.settle()

    def command(self, text: str, by: str = COMMANDER, channel: str = GENERAL) -> httpx.Response:
        response = self.slack.command(text, user=by, channel=channel)
        self.settle()
        return response

    def channel_ids(self) -> list[str]:
        return [c.id for c in self.slack.channels]

    def declare(self, title: str = "Checkout errors", by: str = COMMANDER, options: str = "") -> str:
        before = set(self.channel_ids())
        response = self.command(f"declare {title} {options}".strip(), by=by)
        assert response.status_code == 200, response.text
        created = [c for c in self.channel_ids() if c not in before]
        assert created, f"no channel was created; Steward said: {self.ephemeral_text(by)}"
        return created[0]

    def ephemeral_text(self, user: str) -> str:
        message = self.slack.last_ephemeral(user)
        return block_text(message.blocks) or message.text if message else ""

    def posts(self, channel: str) -> list[str]:
        return [block_text(m.blocks) or m.text for m in self.slack.messages(channel)]

    def card(self, channel: str) -> Card:
        pins = self.slack.channel(channel).pins
        assert len(pins) == 1, f"expected one pinned card, found {len(pins)}"
        message = next(m for m in self.slack.messages(channel) if m.ts == pins[0])
        fields: dict[str, str] = {}
        title = ""
        for block in message.blocks:
            if block["type"] == "header":
                title = block["text"]["text"]
            for field in block.get("fields", []):
                name, _, value = field["text"].partition("\n")
                fields[name.strip("*")] = value
        return Card(ts=message.ts, title=title, fields=fields, text=block_text(message.blocks), edited=message.edited)

    def incident_id(self, channel: str) -> str:
        match = re.match(r"(INC-\d{8}-\d{2})", self.card(channel).title)
        assert match
        return match.group(1)
