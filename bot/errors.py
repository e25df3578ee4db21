"""Errors with a sentence for a person: config mistakes and refusals a Slack user can cause."""

from __future__ import annotations


class ConfigError(Exception):
    """A config file is wrong; the message names the file and the key."""


class UserError(Exception):
    """Something a user asked for that Steward refuses; `str(error)` is shown to them as is."""


class NotIncidentChannel(UserError):
    def __init__(self, subcommand: str) -> None:
        super().__init__(
            f"`/incident {subcommand}` works in an incident channel. "
            "Run it in the incident's channel, or start one with `/incident declare <title>`."
        )


class NotAllowed(UserError):
    def __init__(self, what: str, role: str, holders: list[str]) -> None:
        who = ", ".join(f"<@{u}>" for u in holders) or "nobody yet"
        super().__init__(f"Only the {role.replace('_', ' ')} ({who}) can {what}.")


class BadCommand(UserError):
    """A malformed sub-command; the message names the bad part and shows the usage."""
