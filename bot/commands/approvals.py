"""The approval sub-commands: mitigate, rollback, the kill switch and the incident's audit events."""

from __future__ import annotations

from bot.approvals import views as approval_views
from bot.approvals.flow import ActionAsk, flip_kill_switch, request_action
from bot.audit import service as audit
from bot.commands.parser import ParsedCommand
from bot.commands.registry import IncidentContext, subcommand
from bot.errors import BadCommand
from bot.slack.messages import Message


@subcommand(
    "mitigate",
    "mitigate flag <flag-key> off [env:<env>] [--dry-run]",
    "ask to turn a feature flag off (approval per policies.yml)",
)
def mitigate(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    if len(parsed.words) != 3 or parsed.words[0] != "flag" or parsed.words[2] != "off":
        raise BadCommand("Use `/incident mitigate flag <flag-key> off [env:<env>] [--dry-run]`.")
    return _ask(ctx, parsed, "disable_flag", parsed.words[1], version=None)


@subcommand(
    "rollback",
    "rollback <service> [to:<version>] [env:<env>] [--dry-run]",
    "ask to roll a service back (default: its previous successful deployment)",
)
def rollback(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    if len(parsed.words) != 1:
        raise BadCommand("Use `/incident rollback <service> [to:<version>] [env:<env>] [--dry-run]`.")
    return _ask(ctx, parsed, "rollback_deployment", parsed.words[0], version=parsed.options.get("to"))


def _ask(ctx: IncidentContext, parsed: ParsedCommand, name: str, target: str, version: str | None) -> list[Message]:
    ask = ActionAsk(
        name=name,
        target=target,
        environment=parsed.options.get("env"),
        version=version,
        dry_run="--dry-run" in parsed.flags,
    )
    return request_action(ctx.rt, ctx.session, ctx.incident, ctx.request.reply_to, ask)


@subcommand("killswitch", "killswitch on|off", "refuse (on) or allow (off) every write action (admins only)")
def killswitch(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    if parsed.words not in (["on"], ["off"]):
        raise BadCommand("Use `/incident killswitch on` or `/incident killswitch off`.")
    return flip_kill_switch(ctx.rt, ctx.session, ctx.incident, ctx.request.user, on=parsed.words[0] == "on")


@subcommand("audit", "audit", "this incident's audit events and the chain's verification (only to you)")
def audit_events(ctx: IncidentContext, parsed: ParsedCommand) -> list[Message]:
    events = audit.events_for_incident(ctx.session, ctx.incident.id)
    verified = audit.verify(ctx.session)
    text, said = approval_views.audit_view(ctx.incident.id, events, verified)
    return [ctx.reply(text, said)]
