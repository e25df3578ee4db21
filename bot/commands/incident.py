"""The incident sub-commands: declare, role, set, note, decide and timeline."""

from __future__ import annotations

import re

from bot.commands import status as status_commands
from bot.commands.parser import ParsedCommand, one_of
from bot.commands.registry import Context, IncidentContext, anywhere_subcommand, subcommand
from bot.errors import BadCommand
from bot.incidents import service as incidents
from bot.incidents import views as incident_views
from bot.incidents.declare import open_incident
from bot.incidents.service import ROLES, SEVERITIES, STATUSES, view_of
from bot.slack.messages import Message, Post, RefreshCard
from bot.timeline.assembly import assemble
from bot.timeline.record import events_for

_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


@anywhere_subcommand(
    "declare",
    "declare <title> [sev:SEV1..SEV4] [service:a,b] [env:production]",
    "start an incident: a new channel, you as commander",
)
def declare(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    if not parsed.words:
        raise BadCommand(
            "`declare` needs a title, e.g. `/incident declare Checkout errors sev:SEV2 service:payment-api`."
        )
    view, messages = open_incident(
        ctx.rt,
        user=ctx.request.user,
        title=parsed.rest,
        severity=one_of(parsed.options.get("sev", "SEV3"), SEVERITIES, "Severity", str.upper),
        services=[s for s in parsed.options.get("service", "").split(",") if s],
        environment=parsed.options.get("env", "production"),
    )
    return [*messages, ctx.reply(incident_views.declared_reply(view))]


@subcommand(
    "role",
    "role <incident_commander|sre_oncall|comms|database_owner|service_owner> <@user>",
    "give someone a role (commander only)",
)
def role(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    if len(parsed.words) != 2:
        raise BadCommand("`role` takes a role and a person, e.g. `/incident role sre_oncall @bob`.")
    role = one_of(parsed.words[0], ROLES, "The role")
    user = _USER.match(parsed.words[1])
    if not user:
        raise BadCommand(f"`{parsed.words[1]}` is not a Slack user; mention them with @.")
    if not incidents.assign_role(ctx.session, ctx.rt.clock, ctx.incident, ctx.request.user, role, user.group(1)):
        return [ctx.reply(f"<@{user.group(1)}> already is {role.replace('_', ' ')}.")]
    ctx.rt.slack.invite(ctx.channel, user.group(1))  # a role holder belongs in the channel
    text, line = incident_views.change_line(ctx.request.user, f"made <@{user.group(1)}> {role.replace('_', ' ')}.")
    return [ctx.in_channel(text, line), RefreshCard(ctx.incident.id)]


@subcommand(
    "set",
    "set severity <SEV1..SEV4> | set status <investigating|identified|mitigating|monitoring|resolved>",
    "change severity or status (commander only)",
)
def set_(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    what = parsed.words[0].lower() if parsed.words else None
    value = parsed.words[1] if len(parsed.words) == 2 else None
    if what == "severity":
        severity = one_of(value, SEVERITIES, "Severity", str.upper)
        changed = incidents.set_severity(ctx.session, ctx.rt.clock, ctx.incident, ctx.request.user, severity)
        said = f"set severity to *{severity}*."
    elif what == "status":
        status = one_of(value, STATUSES, "Status")
        if status == "resolved":  # one guarded path to resolution, whichever way it is asked for
            return status_commands.resolve.run(ctx, parsed)
        changed = incidents.set_status(ctx.session, ctx.rt.clock, ctx.incident, ctx.request.user, status)
        said = f"set status to *{status}*."
    else:
        raise BadCommand("Use `/incident set severity <SEV1..SEV4>` or `/incident set status <status>`.")
    if not changed:
        return [ctx.reply(f"Nothing to change: it already is {value}.")]
    text, line = incident_views.change_line(ctx.request.user, said)
    return [ctx.in_channel(text, line), RefreshCard(ctx.incident.id)]


@subcommand("note", "note <text>", "add a note to the timeline")
def note(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    return _record(ctx, parsed, decision=False)


@subcommand("decide", "decide <text>", "record a decision (commander only)")
def decide(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    return _record(ctx, parsed, decision=True)


def _record(ctx: IncidentContext, parsed: ParsedCommand, decision: bool) -> list[Message]:
    if not parsed.raw:
        raise BadCommand(f"`{parsed.name}` needs some text, e.g. `/incident {parsed.name} rolled back canary`.")
    record = incidents.record_decision if decision else incidents.record_note
    event = record(ctx.session, ctx.rt.clock, ctx.incident, ctx.request.user, parsed.raw)
    text, message = incident_views.note_message(ctx.request.user, event.summary, decision=decision)
    return [ctx.in_channel(text, message)]


@subcommand("timeline", "timeline", "show the assembled timeline (only to you; long ones continue in a thread)")
def timeline(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    view = view_of(ctx.session, ctx.incident)
    events = events_for(ctx.session, ctx.incident.id)
    assembled = assemble(view.id, view.detected_at, view.services, events)
    text, summary = incident_views.timeline_summary(view, assembled, events)
    messages: list[Message] = [ctx.reply(text, summary)]
    if len(events) > incident_views.SUMMARY_EVENTS and view.card_ts:
        messages += [
            Post(channel=ctx.channel, text=t, blocks=b, thread_ts=view.card_ts)
            for t, b in incident_views.timeline_thread(view, events)
        ]
    return messages
