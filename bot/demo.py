"""`steward demo --script`: a scripted incident against the local Slack stand-in, printed as people would see it."""
from __future__ import annotations

import json
import logging
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from bot.local import LocalStack, start_local

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "config"
PEOPLE = {"U0COMMANDER": "alice (incident commander)", "U0ENGINEER": "bob (engineer)", "U0STEWARD": "Steward"}

SCRIPT = [
    ("U0COMMANDER", None, "declare Checkout errors on payment-api sev:SEV2 service:payment-api"),
    ("U0COMMANDER", "incident", "role sre_oncall @bob"),
    ("U0ENGINEER", "incident", "note 502s from payments-gw on /v1/charge since 10:02"),
    ("U0COMMANDER", "incident", "set status identified"),
    ("U0COMMANDER", "incident", "decide turn off checkout.new-routing and watch error rate"),
    ("U0COMMANDER", "incident", "timeline"),
]


def render_blocks(blocks: Iterable[dict[str, Any]]) -> list[str]:
    """Block Kit as plain text lines, close to how Slack lays it out."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"【 {block['text']['text']} 】")
        elif kind == "section":
            if "text" in block:
                lines.extend(block["text"]["text"].splitlines())
            for field in block.get("fields", []):
                name, _, value = field["text"].partition("\n")
                lines.append(f"{name.strip('*')}: {value}")
        elif kind == "context":
            lines.append("  " + " · ".join(e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)))
        elif kind == "divider":
            lines.append("  ────")
        elif kind == "actions":
            lines.append("  " + "  ".join(f"[ {e['text']['text']} ]" for e in block.get("elements", [])))
    return lines


def _who(user: str) -> str:
    return PEOPLE.get(user, user)


def _readable(stack: LocalStack, line: str) -> str:
    """Mentions the way Slack shows them: `<@U0ENGINEER>` as @bob, `<#C1>` as #its-name."""
    line = re.sub(r"<@(U[A-Z0-9]+)(?:\|[^>]*)?>", lambda m: "@" + stack.sandbox.user(m.group(1)).name, line)
    return re.sub(r"<#(C[A-Z0-9]+)(?:\|[^>]*)?>", lambda m: "#" + stack.sandbox.channel(m.group(1)).name, line)


def _print_new_calls(stack: LocalStack, seen: int, out: TextIO) -> int:
    calls = stack.sandbox.calls
    for call in calls[seen:]:
        params = call.params
        if call.status >= 300 or not call.response.get("ok", True):
            continue
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        body = [_readable(stack, line) for line in render_blocks(blocks) or [params.get("text", "")]]
        if call.method == "conversations.create":
            out.write(f"  ➜ Steward created #{params['name']}\n")
        elif call.method == "pins.add":
            out.write("  📌 Steward pinned the incident card\n")
        elif call.method in ("chat.postMessage", "chat.update"):
            channel = stack.sandbox.channel(params["channel"]).name
            verb = "edited the card" if call.method == "chat.update" else "posted"
            out.write(f"  #{channel} · Steward {verb}:\n")
            out.writelines(f"      {line}\n" for line in body)
        elif call.method in ("chat.postEphemeral", "response_url"):
            out.write("  (only you can see this) Steward:\n")
            out.writelines(f"      {line}\n" for line in body)
    return len(calls)


def run_script(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="steward-demo-") as scratch:
        stack = start_local(f"sqlite:///{scratch}/steward.db", EXAMPLE_CONFIG)
        try:
            seen = len(stack.sandbox.calls)
            incident_channel = None
            out.write("Steward demo — a scripted incident against the local Slack stand-in\n\n")
            for user, where, text in SCRIPT:
                channel = incident_channel if where == "incident" else "C0GENERAL"
                channel_name = stack.sandbox.channel(channel).name
                before = {c.id for c in stack.sandbox.channels}
                out.write(f"{_who(user)} in #{channel_name} › /incident {text}\n")
                response = stack.sandbox.command(text, user=user, channel=channel)
                stack.settle()
                if response.text:
                    out.write("  (only you can see this) Steward:\n      " + response.text.replace("\n", "\n      ") + "\n")
                seen = _print_new_calls(stack, seen, out)
                created = [c.id for c in stack.sandbox.channels if c.id not in before]
                incident_channel = incident_channel or (created[0] if created else None)
                out.write("\n")
        finally:
            stack.stop()
    return 0
