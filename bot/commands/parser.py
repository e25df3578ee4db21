"""Parsing `/incident` text into our own types: the sub-command, its words, `key:value` options and flags. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.errors import BadCommand
from bot.slack.messages import ReplyTo

OPTION_KEYS = ("sev", "service", "env", "to")
FLAGS = ("--dry-run",)
_OPTION = re.compile(rf"^({'|'.join(OPTION_KEYS)}):(\S+)$")
_OVERRIDE = re.compile(r"""--override\s+(?:"([^"]*)"|“([^”]*)”|'([^']*)'|(\S+))""")


@dataclass(frozen=True)
class CommandRequest:
    """A slash command as our own type: who, where, what they typed, and how to answer them."""

    user: str
    channel: str
    text: str
    response_url: str | None = None

    @property
    def reply_to(self) -> ReplyTo:
        return ReplyTo(user=self.user, channel=self.channel, response_url=self.response_url)


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
            raise BadCommand(
                '`--override` needs a reason in quotes, e.g. `--override "alert is a known false positive"`.'
            )
        text = (text[: match.start()] + text[match.end() :]).strip()
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
    return ParsedCommand(
        name=tokens[0].lower(), words=words, options=options, flags=frozenset(flags), override=override, raw=raw
    )


def one_of(value: str | None, allowed: tuple[str, ...], what: str, normalise: Callable[[str], str] = str.lower) -> str:
    if value is None or normalise(value) not in allowed:
        shown = f"`{value}`" if value else "nothing"
        raise BadCommand(f"{what} must be one of {', '.join(allowed)}; got {shown}.")
    return normalise(value)
