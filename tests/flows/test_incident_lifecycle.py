"""Declare, roles, severity, status, notes, decisions and the timeline, through /slack/events and the sandbox."""

from __future__ import annotations

from sqlmodel import select

from bot.store.models import Incident, TimelineEvent
from tests.support.workspace import COMMANDER, ENGINEER, GENERAL, OBSERVER


def stored_events(workspace, incident_id):
    with workspace.steward.runtime.db.session() as session:
        return [
            e.kind
            for e in session.exec(
                select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id)
            )
        ]


def test_declare_creates_channel_invites_and_pins_a_card(workspace, clock):
    channel = workspace.declare("Checkout errors", options="sev:SEV2 service:payment-api")
    info = workspace.slack.channel(channel)
    assert info.name == "inc-20261125-01-checkout-errors"
    assert COMMANDER in info.members
    card = workspace.card(channel)
    assert card.title == "INC-20261125-01 · Checkout errors"
    assert card.severity == "SEV2"
    assert card.status == "investigating"
    assert card.commander == f"<@{COMMANDER}>"
    assert card.fields["Services"] == "payment-api"
    assert "Declared *INC-20261125-01*" in workspace.ephemeral_text(COMMANDER)


def test_second_incident_of_the_day_gets_the_next_number_and_channel(workspace):
    workspace.declare("First")
    second = workspace.declare("Second")
    assert workspace.slack.channel(second).name == "inc-20261125-02-second"
    assert workspace.incident_id(second) == "INC-20261125-02"


def test_name_taken_takes_the_next_free_name(workspace):
    workspace.slack.create_channel("inc-20261125-01-checkout-errors", by=OBSERVER)
    channel = workspace.declare("Checkout errors")
    assert workspace.slack.channel(channel).name == "inc-20261125-01-checkout-errors-2"


def test_card_is_edited_in_place_on_every_change(workspace):
    channel = workspace.declare("Checkout errors")
    first = workspace.card(channel)
    workspace.command("set severity SEV1", channel=channel)
    workspace.command("set status identified", channel=channel)
    workspace.command("role sre_oncall @bob", channel=channel)
    card = workspace.card(channel)
    assert card.ts == first.ts and card.edited
    assert (card.severity, card.status) == ("SEV1", "identified")
    assert f"Sre oncall: <@{ENGINEER}>" in card.text
    assert ENGINEER in workspace.slack.channel(channel).members  # a role holder is invited to the channel
    assert len(workspace.slack.calls_to("chat.update")) == 3
    posts = "\n".join(workspace.posts(channel))
    assert "set severity to *SEV1*" in posts and "set status to *identified*" in posts


def test_commander_role_replaces_the_commander(workspace):
    channel = workspace.declare("Checkout errors")
    workspace.command("role incident_commander @bob", channel=channel)
    assert workspace.card(channel).commander == f"<@{ENGINEER}>"
    workspace.command("set severity SEV1", by=COMMANDER, channel=channel)
    assert f"Only the incident commander (<@{ENGINEER}>) can change the severity" in workspace.ephemeral_text(COMMANDER)


def test_only_the_commander_changes_severity(workspace):
    channel = workspace.declare("Checkout errors")
    workspace.command("set severity SEV1", by=ENGINEER, channel=channel)
    assert f"Only the incident commander (<@{COMMANDER}>) can change the severity" in workspace.ephemeral_text(ENGINEER)
    assert workspace.card(channel).severity == "SEV3"
    assert stored_events(workspace, workspace.incident_id(channel)) == ["declared"]


def test_notes_from_anyone_and_decisions_from_the_commander(workspace):
    channel = workspace.declare("Checkout errors")
    workspace.command("note error rate 12% on /v1/charge since 10:02", by=ENGINEER, channel=channel)
    workspace.command("decide turn off checkout.new-routing", by=ENGINEER, channel=channel)
    workspace.command("decide turn off checkout.new-routing", by=COMMANDER, channel=channel)
    posts = "\n".join(workspace.posts(channel))
    assert f"*Note* from <@{ENGINEER}>: error rate 12% on /v1/charge since 10:02" in posts
    assert f"*Decision* from <@{COMMANDER}>: turn off checkout.new-routing" in posts
    assert "can record decisions" in workspace.ephemeral_text(ENGINEER)
    assert stored_events(workspace, workspace.incident_id(channel)) == ["declared", "note", "decision"]


def test_timeline_lists_recorded_events_in_order_only_to_the_requester(workspace, clock):
    channel = workspace.declare("Checkout errors")
    clock.advance(minutes=3)
    workspace.command("note first look: 502s from payments-gw", by=ENGINEER, channel=channel)
    clock.advance(minutes=2)
    workspace.command("set status identified", channel=channel)
    posted_before = len(workspace.slack.messages(channel))
    workspace.command("timeline", by=OBSERVER, channel=channel)
    text = workspace.ephemeral_text(OBSERVER)
    lines = [line for line in text.splitlines() if line.startswith("`")]
    assert [line[:11] for line in lines] == ["`10:00 UTC`", "`10:03 UTC`", "`10:05 UTC`"]
    assert "Declared SEV3: Checkout errors" in lines[0]
    assert "first look: 502s from payments-gw" in lines[1]
    assert "Status investigating → identified" in lines[2]
    assert len(workspace.slack.messages(channel)) == posted_before


def test_subcommands_outside_an_incident_channel_say_so(workspace):
    for text in ("note hello", "timeline", "set severity SEV1"):
        workspace.command(text, by=ENGINEER, channel=GENERAL)
        assert "works in an incident channel" in workspace.ephemeral_text(ENGINEER)
    assert workspace.slack.messages(GENERAL) == []


def test_unknown_subcommand_gets_help_naming_it(workspace):
    response = workspace.command("frobnicate now", by=ENGINEER)
    assert response.status_code == 200
    reply = workspace.ephemeral_text(ENGINEER)
    assert "`frobnicate` is not an `/incident` sub-command" in reply
    assert "/incident declare" in reply


def test_bad_values_are_named_and_nothing_is_stored(workspace):
    channel = workspace.declare("Checkout errors")
    workspace.command("set severity SEV9", channel=channel)
    assert "Severity must be one of SEV1, SEV2, SEV3, SEV4; got `SEV9`" in workspace.ephemeral_text(COMMANDER)
    workspace.command("role pilot @bob", channel=channel)
    assert "The role must be one of incident_commander" in workspace.ephemeral_text(COMMANDER)
    workspace.command("role sre_oncall bob", channel=channel)
    assert "`bob` is not a Slack user" in workspace.ephemeral_text(COMMANDER)
    workspace.command("declare", channel=GENERAL)
    assert "`declare` needs a title" in workspace.ephemeral_text(COMMANDER)
    workspace.command("declare Broken service:nope", channel=GENERAL)
    assert "Unknown service `nope`" in workspace.ephemeral_text(COMMANDER)
    assert stored_events(workspace, workspace.incident_id(channel)) == ["declared"]
    with workspace.steward.runtime.db.session() as session:
        assert len(session.exec(select(Incident)).all()) == 1


def test_channel_creation_failure_declares_nothing(workspace):
    workspace.slack.fail_next("conversations.create", error="invalid_auth")
    before = workspace.channel_ids()
    workspace.command("declare Checkout errors")
    assert "couldn't create the incident channel (Slack said `invalid_auth`)" in workspace.ephemeral_text(COMMANDER)
    assert workspace.channel_ids() == before
    with workspace.steward.runtime.db.session() as session:
        assert session.exec(select(Incident)).all() == []
