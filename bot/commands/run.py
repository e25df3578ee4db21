"""Running one `/incident` command, and the list of sub-commands: each is registered here, explicitly, in the
order the help shows them."""

from __future__ import annotations

from bot.commands import approvals, incident, status
from bot.commands import views as command_views
from bot.commands.parser import CommandRequest, ParsedCommand, parse_incident_command
from bot.commands.registry import Context, IncidentContext, IncidentSubcommand, Registry, anywhere_subcommand
from bot.errors import BadCommand, NotIncidentChannel, UserError
from bot.incidents import service as incidents
from bot.runtime.context import Runtime
from bot.runtime.logs import tag_incident
from bot.slack import blocks
from bot.slack.messages import Blocks, Message


def help_reply(problem: str | None = None) -> tuple[str, Blocks]:
    return command_views.help_blocks(SUBCOMMANDS.usage_lines(), problem)


@anywhere_subcommand("help", "help", "show this help")
def help_(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    text, help_blocks = help_reply()
    return [ctx.reply(text, help_blocks)]


SUBCOMMANDS = Registry(
    help_,
    incident.declare,
    incident.role,
    incident.set_,
    incident.note,
    incident.decide,
    incident.timeline,
    status.status,
    status.resolve,
    approvals.mitigate,
    approvals.rollback,
    approvals.killswitch,
    approvals.audit_events,
)


def run_command(rt: Runtime, user: str, channel: str, text: str, response_url: str | None) -> None:
    """One slash command, on the worker: run it and say what it returned (or what was wrong with it, and the help)."""
    request = CommandRequest(user=user, channel=channel, text=text, response_url=response_url)
    try:
        parsed = parse_incident_command(text)
        spec = SUBCOMMANDS.find(parsed)
        if isinstance(spec, IncidentSubcommand):
            with rt.db.session() as session:
                incident = incidents.incident_in_channel(session, request.channel)
                if incident is None:
                    raise NotIncidentChannel(parsed.name)
                tag_incident(incident.id)
                messages = spec.run(IncidentContext(rt, request, session, incident), parsed)
        else:
            messages = spec.run(Context(rt, request), parsed)
    except BadCommand as error:
        text, help_ = help_reply(str(error))
        messages = [Context(rt, request).reply(text, help_)]
    except UserError as error:
        text, error_ = blocks.error_blocks(str(error))
        messages = [Context(rt, request).reply(text, error_)]
    rt.slack.deliver(messages)
