"""The sub-command registry: what a sub-command is (name, usage, help, where it runs, its handler) and the
decorators that describe one, `@subcommand` (runs in an incident channel) and `@anywhere_subcommand`. It registers
nothing by itself and imports no flow: `bot.commands.run` lists the sub-commands explicitly."""

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
    """What any sub-command runs with: the runtime and the request."""

    rt: Runtime
    request: CommandRequest

    def reply(self, text: str, blocks_: Blocks | None = None) -> Ephemeral:
        return self.request.reply_to.ephemeral(text, blocks_)


@dataclass
class IncidentContext(Context):
    """What a sub-command run in an incident channel gets: the open session and the channel's incident."""

    session: Session
    incident: Incident

    @property
    def channel(self) -> str:
        # The incident was found by the channel the command came from, so that channel is the incident's.
        return self.request.channel

    def in_channel(self, text: str, blocks_: Blocks) -> Post:
        return Post(channel=self.channel, text=text, blocks=blocks_)


Handler = Callable[[Context, ParsedCommand], list[Message]]
IncidentHandler = Callable[[IncidentContext, ParsedCommand], list[Message]]


@dataclass(frozen=True)
class Subcommand:
    """A sub-command that runs anywhere."""

    name: str
    usage: str
    help: str
    run: Handler


@dataclass(frozen=True)
class IncidentSubcommand:
    """A sub-command that runs only in an incident channel, with that incident."""

    name: str
    usage: str
    help: str
    run: IncidentHandler


AnySubcommand = Subcommand | IncidentSubcommand


def subcommand(name: str, usage: str, help: str) -> Callable[[IncidentHandler], IncidentSubcommand]:
    """Describe a sub-command run in an incident channel; the help text is built from these, so it cannot drift
    from what exists."""

    def describe(run: IncidentHandler) -> IncidentSubcommand:
        return IncidentSubcommand(name, usage, help, run)

    return describe


def anywhere_subcommand(name: str, usage: str, help: str) -> Callable[[Handler], Subcommand]:
    """Describe a sub-command that needs no incident (`help`, `declare`)."""

    def describe(run: Handler) -> Subcommand:
        return Subcommand(name, usage, help, run)

    return describe


class Registry:
    """The sub-commands by name, in the order the help lists them."""

    def __init__(self, *subcommands: AnySubcommand) -> None:
        self.by_name = {spec.name: spec for spec in subcommands}

    def find(self, parsed: ParsedCommand) -> AnySubcommand:
        spec = self.by_name.get(parsed.name)
        if spec is None:
            raise BadCommand(f"`{parsed.name}` is not an `/incident` sub-command.")
        return spec

    def usage_lines(self) -> list[tuple[str, str]]:
        return [(spec.usage, spec.help) for spec in self.by_name.values()]
