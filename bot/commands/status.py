"""The status sub-commands: draft a status update, resolve the incident."""

from __future__ import annotations

from bot.commands.parser import ParsedCommand
from bot.commands.registry import IncidentContext, subcommand
from bot.slack.messages import Message
from bot.status.flow import resolve as resolve_incident
from bot.status.flow import start_draft


@subcommand("status", "status", "draft a status update from the timeline (only to you, with Publish and Discard)")
def status(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    return start_draft(ctx.rt, ctx.session, ctx.incident, ctx.request.reply_to)


@subcommand(
    "resolve",
    'resolve [--override "<reason>"]',
    "resolve the incident (commander only; refused while attached alerts fire)",
)
def resolve(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    return resolve_incident(ctx.rt, ctx.session, ctx.incident, ctx.request.user, parsed.override)
