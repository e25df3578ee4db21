"""`/incident` sub-commands: parsing the text, the registry of sub-commands, and running one to the messages it says."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from bot import blocks, incidents
from bot.assembly import assemble
from bot.declare import open_incident
from bot.errors import BadCommand, NotIncidentChannel, UserError
from bot.incidents import ROLES, SEVERITIES, STATUSES, view_of
from bot.messages import Ephemeral, Message, Post, RefreshCard
from bot.runtime import Runtime
from bot.store.models import Incident
from bot.timeline import events_for

OPTION_KEYS = ("sev", "service", "env", "to")
FLAGS = ("--dry-run",)
_OPTION = re.compile(r"^(%s):(\S+)$" % "|".join(OPTION_KEYS))
_OVERRIDE = re.compile(r"""--override\s+(?:"([^"]*)"|“([^”]*)”|'([^']*)'|(\S+))""")
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class CommandRequest:
    """A slash command as our own type: who, where, what they typed, and how to answer them."""

    user: str
    channel: str
    text: str
    response_url: str | None = None


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    words: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    override: str | None = None
    raw: str = ""  # everything after the sub-command, as typed: notes keep words that look like options

    @property
    def rest(self) -> str:
        return " ".join(self.words)


def parse_incident_command(text: str) -> ParsedCommand:
    """Split `/incident` text into sub-command, words, `key:value` options of known keys and `--` flags."""
    text = text.strip()
    override = None
    match = _OVERRIDE.search(text)
    if match:
        override = next(g for g in match.groups() if g is not None).strip()
        if not override:
            raise BadCommand('`--override` needs a reason in quotes, e.g. `--override "alert is a known false positive"`.')
        text = (text[: match.start()] + text[match.end():]).strip()
    tokens = text.split()
    if not tokens:
        return ParsedCommand(name="help")
    words, options, flags = [], {}, set()
    for token in tokens[1:]:
        option = _OPTION.match(token)
        if option:
            if option.group(1) in options:
                raise BadCommand(f"`{option.group(1)}:` is given twice.")
            options[option.group(1)] = option.group(2)
        elif token.startswith("--"):
            if token not in FLAGS:
                raise BadCommand(f"Unknown flag `{token}`.")
            flags.add(token)
        else:
            words.append(token)
    raw = text.split(None, 1)[1] if len(tokens) > 1 else ""
    return ParsedCommand(name=tokens[0].lower(), words=words, options=options, flags=frozenset(flags), override=override, raw=raw)


@dataclass
class Context:
    rt: Runtime
    request: CommandRequest
    session: Session | None = None
    incident: Incident | None = None

    def reply(self, text: str, blocks_: list | None = None) -> Ephemeral:
        return Ephemeral(user=self.request.user, channel=self.request.channel, text=text,
                         blocks=blocks_ or [], response_url=self.request.response_url)


Handler = Callable[[Context, ParsedCommand], list[Message]]


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    help: str
    in_incident: bool
    run: Handler


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(name: str, usage: str, help: str, in_incident: bool = True) -> Callable[[Handler], Handler]:
    """Register a sub-command; the help text is built from these, so it cannot drift from what exists."""

    def register(run: Handler) -> Handler:
        SUBCOMMANDS[name] = Subcommand(name, usage, help, in_incident, run)
        return run

    return register


def usage_lines() -> list[tuple[str, str]]:
    return [(s.usage, s.help) for s in SUBCOMMANDS.values()]


def help_reply(problem: str | None = None) -> tuple[str, list]:
    return blocks.help_blocks(usage_lines(), problem)


def check_command(parsed: ParsedCommand) -> Subcommand:
    spec = SUBCOMMANDS.get(parsed.name)
    if spec is None:
        raise BadCommand(f"`{parsed.name}` is not an `/incident` sub-command.")
    return spec


def run_command(rt: Runtime, user: str, channel: str, text: str, response_url: str | None) -> None:
    """One slash command, on the worker: run it and say what it returned (or what was wrong with it, and the help)."""
    request = CommandRequest(user=user, channel=channel, text=text, response_url=response_url)
    try:
        parsed = parse_incident_command(text)
        spec = check_command(parsed)
        if spec.in_incident:
            with rt.db.session() as session:
                incident = incidents.incident_in_channel(session, request.channel)
                if incident is None:
                    raise NotIncidentChannel(parsed.name)
                messages = spec.run(Context(rt, request, session, incident), parsed)
        else:
            messages = spec.run(Context(rt, request), parsed)
    except BadCommand as error:
        text, help_ = help_reply(str(error))
        messages = [Context(rt, request).reply(text, help_)]
    except UserError as error:
        text, error_ = blocks.error_blocks(str(error))
        messages = [Context(rt, request).reply(text, error_)]
    rt.slack.deliver(messages)


def _one_of(value: str | None, allowed: tuple[str, ...], what: str, normalise: Callable[[str], str] = str.lower) -> str:
    if value is None or normalise(value) not in allowed:
        shown = f"`{value}`" if value else "nothing"
        raise BadCommand(f"{what} must be one of {', '.join(allowed)}; got {shown}.")
    return normalise(value)


@subcommand("help", "help", "show this help", in_incident=False)
def _help(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    text, help_ = help_reply()
    return [ctx.reply(text, help_)]


@subcommand("declare", "declare <title> [sev:SEV1..SEV4] [service:a,b] [env:production]",
            "start an incident: a new channel, you as commander", in_incident=False)
def _declare(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    if not parsed.words:
        raise BadCommand("`declare` needs a title, e.g. `/incident declare Checkout errors sev:SEV2 service:payment-api`.")
    view, messages = open_incident(
        ctx.rt, user=ctx.request.user, title=parsed.rest,
        severity=_one_of(parsed.options.get("sev", "SEV3"), SEVERITIES, "Severity", str.upper),
        services=[s for s in parsed.options.get("service", "").split(",") if s],
        environment=parsed.options.get("env", "production"),
    )
    return [*messages, ctx.reply(blocks.declared_reply(view))]


def _in_channel(ctx: Context, text: str, blocks_: list) -> Post:
    return Post(channel=ctx.incident.channel_id, text=text, blocks=blocks_)


@subcommand("role", "role <incident_commander|sre_oncall|comms|database_owner|service_owner> <@user>",
            "give someone a role (commander only)")
def _role(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    if len(parsed.words) != 2:
        raise BadCommand("`role` takes a role and a person, e.g. `/incident role sre_oncall @bob`.")
    role = _one_of(parsed.words[0], ROLES, "The role")
    user = _USER.match(parsed.words[1])
    if not user:
        raise BadCommand(f"`{parsed.words[1]}` is not a Slack user; mention them with @.")
    if not incidents.assign_role(ctx.session, ctx.rt.clock, ctx.incident, ctx.request.user, role, user.group(1)):
        return [ctx.reply(f"<@{user.group(1)}> already is {role.replace('_', ' ')}.")]
    ctx.rt.slack.invite(ctx.incident.channel_id, user.group(1))  # a role holder belongs in the channel
    text, line = blocks.change_line(ctx.request.user, f"made <@{user.group(1)}> {role.replace('_', ' ')}.")
    return [_in_channel(ctx, text, line), RefreshCard(ctx.incident.id)]


@subcommand("set", "set severity <SEV1..SEV4> | set status <investigating|identified|mitigating|monitoring|resolved>",
            "change severity or status (commander only)")
def _set(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    what = parsed.words[0].lower() if parsed.words else None
    value = parsed.words[1] if len(parsed.words) == 2 else None
    if what == "severity":
        severity = _one_of(value, SEVERITIES, "Severity", str.upper)
        changed = incidents.set_severity(ctx.session, ctx.rt.clock, ctx.incident, ctx.request.user, severity)
        said = f"set severity to *{severity}*."
    elif what == "status":
        status = _one_of(value, STATUSES, "Status")
        if status == "resolved":  # one guarded path to resolution, whichever way it is asked for
            return SUBCOMMANDS["resolve"].run(ctx, parsed)
        changed = incidents.set_status(ctx.session, ctx.rt.clock, ctx.incident, ctx.request.user, status)
        said = f"set status to *{status}*."
    else:
        raise BadCommand("Use `/incident set severity <SEV1..SEV4>` or `/incident set status <status>`.")
    if not changed:
        return [ctx.reply(f"Nothing to change: it already is {value}.")]
    text, line = blocks.change_line(ctx.request.user, said)
    return [_in_channel(ctx, text, line), RefreshCard(ctx.incident.id)]


@subcommand("note", "note <text>", "add a note to the timeline")
def _note(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    return _record(ctx, parsed, decision=False)


@subcommand("decide", "decide <text>", "record a decision (commander only)")
def _decide(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    return _record(ctx, parsed, decision=True)


def _record(ctx: Context, parsed: ParsedCommand, decision: bool) -> list[Message]:
    if not parsed.raw:
        raise BadCommand(f"`{parsed.name}` needs some text, e.g. `/incident {parsed.name} rolled back canary`.")
    record = incidents.record_decision if decision else incidents.record_note
    event = record(ctx.session, ctx.rt.clock, ctx.incident, ctx.request.user, parsed.raw)
    text, message = blocks.note_message(ctx.request.user, event.summary, decision=decision)
    return [_in_channel(ctx, text, message)]


@subcommand("timeline", "timeline", "show the assembled timeline (only to you; long ones continue in a thread)")
def _timeline(ctx: Context, parsed: ParsedCommand) -> list[Message]:
    view = view_of(ctx.session, ctx.incident)
    events = events_for(ctx.session, ctx.incident.id)
    assembled = assemble(view.id, view.detected_at, view.services, events)
    text, summary = blocks.timeline_summary(view, assembled, events)
    messages: list[Message] = [ctx.reply(text, summary)]
    if len(events) > blocks.SUMMARY_EVENTS and view.card_ts:
        messages += [Post(channel=view.channel_id, text=t, blocks=b, thread_ts=view.card_ts)
                     for t, b in blocks.timeline_thread(view, events)]
    return messages


import bot.status_flow  # noqa: E402,F401  (registers its sub-commands: status, resolve)
import bot.approval_flow  # noqa: E402,F401  (registers its sub-commands: mitigate, rollback, killswitch, audit)
