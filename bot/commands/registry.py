"""The sub-command registry: what a sub-command is (name, usage, help, where it runs, its handler) and the
`@subcommand` decorator that describes one. It registers nothing by itself and imports no flow: `bot.commands.run`
lists the sub-commands explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from bot.commands.parser import CommandRequest, ParsedCommand
from bot.errors import BadCommand
from bot.runtime.context import Runtime
from bot.slack.messages import Blocks, Ephemeral, Message, Post
from bot.store.models import Incident


@dataclass
class Context:
    """What a sub-command runs with. In an incident channel, `session` and `incident` are set (`in_incident`)."""

    rt: Runtime
    request: CommandRequest
    session: Session | None = None
    incident: Incident | None = None

    def reply(self, text: str, blocks_: Blocks | None = None) -> Ephemeral:
        return self.request.reply_to.ephemeral(text, blocks_)

    def in_channel(self, text: str, blocks_: Blocks) -> Post:
        return Post(channel=self.incident.channel_id, text=text, blocks=blocks_)


Handler = Callable[[Context, ParsedCommand], list[Message]]


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    help: str
    in_incident: bool
    run: Handler


def subcommand(name: str, usage: str, help: str, in_incident: bool = True) -> Callable[[Handler], Subcommand]:
    """Describe a sub-command; the help text is built from these, so it cannot drift from what exists."""

    def describe(run: Handler) -> Subcommand:
        return Subcommand(name, usage, help, in_incident, run)

    return describe


class Registry:
    """The sub-commands by name, in the order the help lists them."""

    def __init__(self, *subcommands: Subcommand) -> None:
        self.by_name = {spec.name: spec for spec in subcommands}

    def find(self, parsed: ParsedCommand) -> Subcommand:
        spec = self.by_name.get(parsed.name)
        if spec is None:
            raise BadCommand(f"`{parsed.name}` is not an `/incident` sub-command.")
        return spec

    def usage_lines(self) -> list[tuple[str, str]]:
        return [(spec.usage, spec.help) for spec in self.by_name.values()]
