"""Block Kit primitives: pure functions from text to Slack blocks, clipped to Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.redact.redactor import neutralise

Block = dict[str, Any]


MAX_BLOCKS = 50


MAX_SECTION_TEXT = 3000


MAX_HEADER_TEXT = 150


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER_TEXT), "emoji": True}}


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION_TEXT)}}


def fields(pairs: dict[str, str]) -> Block:
    # Slack allows ten fields a section, 2,000 characters each.
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": _clip(f"*{k}*\n{v}", 2000)} for k, v in list(pairs.items())[:10]],
    }


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(t, MAX_SECTION_TEXT)} for t in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def mention(user: str | None) -> str:
    return f"<@{user}>" if user else "_unassigned_"


def hhmm(when: datetime) -> str:
    return when.strftime("%H:%M UTC")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sections(lines: Sequence[str]) -> list[Block]:
    """Lines packed into as few sections as Slack's 3,000-character limit allows."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + len(line) + 1 > MAX_SECTION_TEXT:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return [section(c) for c in chunks]


def _bullets(title: str, lines: Sequence[str], limit: int = 8) -> list[Block]:
    if not lines:
        return []
    more = [f"_… and {len(lines) - limit} more_"] if len(lines) > limit else []
    return _sections([f"*{title}*", *(f"• {line}" for line in lines[:limit]), *more])


def _refs(refs: Sequence[str]) -> str:
    return ", ".join(f"`{neutralise(r)[:120]}`" for r in refs)


def error_blocks(message: str) -> tuple[str, list[Block]]:
    return message, [section(f"⚠️ {message}")]


def button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": _clip(label, 75)},
    }
    if style:
        element["style"] = style
    return element


def _listed(title: str, lines: Sequence[str], limit: int = 8) -> list[Block]:
    """A list of the update's fixed structure: shown even when empty, so a reader sees it was considered."""
    return _bullets(title, lines, limit) if lines else [section(f"*{title}*\n_none_")]
