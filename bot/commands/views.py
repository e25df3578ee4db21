"""Block Kit for the `/incident` help. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.blocks import Block, section


def help_blocks(usage: Sequence[tuple[str, str]], problem: str | None = None) -> tuple[str, list[Block]]:
    lines = "\n".join(f"`/incident {u}` — {d}" for u, d in usage)
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f"⚠️ {problem}"))
    blocks.append(section(f"*Steward — incident commands*\n{lines}"))
    text = (f"{problem}\n" if problem else "") + lines
    return text, blocks
