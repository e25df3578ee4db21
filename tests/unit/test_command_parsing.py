"""Parsing `/incident` text: pure, table-driven."""

from __future__ import annotations

import pytest

from bot.commands.parser import parse_incident_command
from bot.commands.run import SUBCOMMANDS, help_reply
from bot.errors import BadCommand


@pytest.mark.parametrize(
    ("text", "name", "words", "options", "flags", "override"),
    [
        ("", "help", [], {}, set(), None),
        (
            "declare Checkout errors sev:SEV2 service:payment-api,checkout-web",
            "declare",
            ["Checkout", "errors"],
            {"sev": "SEV2", "service": "payment-api,checkout-web"},
            set(),
            None,
        ),
        ("DECLARE  spaced   title ", "declare", ["spaced", "title"], {}, set(), None),
        ("note see https://grafana/x?a=b:c", "note", ["see", "https://grafana/x?a=b:c"], {}, set(), None),
        ("note ratio:3 is not an option", "note", ["ratio:3", "is", "not", "an", "option"], {}, set(), None),
        (
            "rollback payment-api to:v2.17.3 env:production --dry-run",
            "rollback",
            ["payment-api"],
            {"to": "v2.17.3", "env": "production"},
            {"--dry-run"},
            None,
        ),
        (
            'resolve --override "alert is a known false positive"',
            "resolve",
            [],
            {},
            set(),
            "alert is a known false positive",
        ),
        ("resolve --override “smart quotes work”", "resolve", [], {}, set(), "smart quotes work"),
        ("role sre_oncall <@U0ENGINEER|bob>", "role", ["sre_oncall", "<@U0ENGINEER|bob>"], {}, set(), None),
    ],
)
def test_parses_words_options_and_flags(text, name, words, options, flags, override):
    parsed = parse_incident_command(text)
    assert (parsed.name, parsed.words, parsed.options, set(parsed.flags), parsed.override) == (
        name,
        words,
        options,
        flags,
        override,
    )


def test_notes_keep_option_looking_words_as_typed():
    assert parse_incident_command("note saw sev:SEV1 pages in env:staging").raw == "saw sev:SEV1 pages in env:staging"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("declare x sev:SEV1 sev:SEV2", "`sev:` is given twice"),
        ("rollback x --force", "Unknown flag `--force`"),
        ('resolve --override ""', "`--override` needs a reason"),
    ],
)
def test_malformed_options_name_the_bad_part(text, complaint):
    with pytest.raises(BadCommand, match=complaint):
        parse_incident_command(text)


def test_unknown_subcommand_is_named():
    with pytest.raises(BadCommand, match="`frobnicate` is not an `/incident` sub-command"):
        SUBCOMMANDS.find(parse_incident_command("frobnicate now"))


def test_help_lists_every_registered_subcommand():
    text, _ = help_reply()
    for name in SUBCOMMANDS.by_name:
        assert f"`/incident {name}" in text
