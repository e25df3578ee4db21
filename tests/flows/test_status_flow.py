"""Status updates, resolution and update reminders, through /slack/events and the sandbox."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.runtime.scheduler import run_due
from bot.store.models import AuditEvent, Incident, StatusUpdate, TimelineEvent, Timer
from tests.support.senders import alert, github_deployment, minutes, resolved
from tests.support.workspace import COMMANDER, ENGINEER, OBSERVER, block_text


def stored(workspace, model, **where):
    with workspace.steward.runtime.db.session() as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.exec(query.order_by(*model.__table__.primary_key.columns)).all()


def draft_of(workspace, user):
    message = workspace.slack.last_ephemeral(user)
    assert message is not None and "status_publish" in str(message.blocks), workspace.ephemeral_text(user)
    return message


def click(workspace, message, action_id, user):
    response = workspace.slack.click_button(message, action_id, user=user)
    assert response.status_code == 200
    workspace.settle()


def updates_in(workspace, channel):
    return [p for p in workspace.posts(channel) if "📣 Status update" in p]


def reminders_in(workspace, channel):
    return [m for m in workspace.slack.messages(channel) if "a status update for" in block_text(m.blocks)]


def fire_reminders(workspace):
    run_due(workspace.steward.runtime)
    workspace.settle()


def incident_with_an_alert(workspace, clock, severity="SEV2"):
    workspace.sources.github(
        "deployment", github_deployment("acme/payment-api", "production", "v2.18.0", 5001, clock.now() - minutes(16))
    )
    channel = workspace.declare("Checkout errors", options=f"sev:{severity} service:payment-api")
    firing = alert("HighErrorRate", "payment-api", clock.now())
    workspace.sources.alerts(firing)
    workspace.settle()
    return channel, firing


def test_a_draft_reaches_only_the_requester_and_publishing_posts_records_and_schedules(workspace, clock):
    status_channel = workspace.slack.create_channel("status-updates", by=OBSERVER)
    channel, _ = incident_with_an_alert(workspace, clock)
    workspace.command("note customers in EU see 502 at checkout", by=ENGINEER, channel=channel)
    posted_before = workspace.posts(channel)
    clock.advance(minutes=2)

    workspace.command("status", by=COMMANDER, channel=channel)
    draft = draft_of(workspace, COMMANDER)
    shown = block_text(draft.blocks)
    assert "*Impact*\ncustomers in EU see 502 at checkout" in shown
    assert "_medium_ · Deploy payment-api v2.18.0 to production 16 min before the first alert; same service" in shown
    assert "Root cause: no decision records it yet." in shown
    assert workspace.posts(channel) == posted_before and workspace.slack.ephemerals(ENGINEER, channel) == []
    [row] = stored(workspace, StatusUpdate)
    assert (row.state, row.author) == ("draft", COMMANDER)

    click(workspace, draft, "status_publish", COMMANDER)
    [update] = updates_in(workspace, channel)
    assert "customers in EU see 502 at checkout" in update and f"Published by <@{COMMANDER}> at 10:02 UTC" in update
    assert [block_text(m.blocks) for m in workspace.slack.messages(status_channel)] == [update]
    assert workspace.slack.last_ephemeral(COMMANDER).ts == draft.ts
    assert "Published at 10:02 UTC to <#" in workspace.ephemeral_text(
        COMMANDER
    ) and "#status-updates" in workspace.ephemeral_text(COMMANDER)
    [row] = stored(workspace, StatusUpdate)
    post = next(m for m in workspace.slack.messages(channel) if "📣 Status update" in block_text(m.blocks))
    assert (row.state, row.published_at, row.slack_channel, row.slack_ts) == (
        "published",
        clock.now(),
        channel,
        post.ts,
    )
    assert [e.summary for e in stored(workspace, TimelineEvent, kind="status_update")] == [
        "Status update published: investigating"
    ]
    assert (
        f"Last update 10:02 UTC by <@{COMMANDER}> · 🔎 Investigating · next update by 10:32 UTC"
        in workspace.card(channel).text
    )
    [timer] = stored(workspace, Timer)
    assert (timer.kind, timer.state, timer.due_at) == (
        "update_reminder",
        "pending",
        clock.now() + timedelta(minutes=30),
    )


def test_publishing_twice_posts_once(workspace, clock):
    channel, _ = incident_with_an_alert(workspace, clock)
    workspace.command("status", channel=channel)
    draft = draft_of(workspace, COMMANDER)
    click(workspace, draft, "status_publish", COMMANDER)
    workspace.slack.click("status_publish", draft_value(draft), COMMANDER, channel, message_ts=draft.ts, ephemeral=True)
    workspace.settle()
    assert len(updates_in(workspace, channel)) == 1
    assert "This draft was already published; nothing more was done." in workspace.ephemeral_text(COMMANDER)
    assert len(stored(workspace, TimelineEvent, kind="status_update")) == 1


def draft_value(message):
    return next(
        e["value"]
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "status_publish"
    )


def test_only_the_commander_or_comms_publish(workspace, clock):
    channel, _ = incident_with_an_alert(workspace, clock)
    workspace.command("status", by=ENGINEER, channel=channel)
    draft = draft_of(workspace, ENGINEER)
    click(workspace, draft, "status_publish", ENGINEER)
    assert (
        f"Only the incident commander (<@{COMMANDER}>) or comms (nobody yet) can publish status updates"
        in workspace.ephemeral_text(ENGINEER)
    )
    assert updates_in(workspace, channel) == [] and stored(workspace, StatusUpdate)[0].state == "draft"

    workspace.command("role comms @bob", channel=channel)
    click(workspace, draft, "status_publish", ENGINEER)
    assert len(updates_in(workspace, channel)) == 1
    assert f"Published by <@{ENGINEER}>" in updates_in(workspace, channel)[0]


def test_discarding_replaces_the_draft_and_posts_nothing(workspace, clock):
    channel, _ = incident_with_an_alert(workspace, clock)
    workspace.command("status", channel=channel)
    draft = draft_of(workspace, COMMANDER)
    click(workspace, draft, "status_discard", COMMANDER)
    assert workspace.slack.last_ephemeral(COMMANDER).ts == draft.ts
    assert workspace.ephemeral_text(COMMANDER) == "🗑️ Draft discarded; nothing was posted."
    workspace.slack.click("status_publish", draft_value(draft), COMMANDER, channel, message_ts=draft.ts, ephemeral=True)
    workspace.settle()
    assert "This draft was already discarded" in workspace.ephemeral_text(COMMANDER)
    assert updates_in(workspace, channel) == [] and stored(workspace, StatusUpdate)[0].state == "discarded"


def test_resolving_is_refused_while_an_attached_alert_fires_whichever_way_it_is_asked(workspace, clock):
    channel, firing = incident_with_an_alert(workspace, clock)
    for command in ("resolve", "set status resolved"):
        workspace.command(command, channel=channel)
        refusal = workspace.ephemeral_text(COMMANDER)
        assert "Not resolved: 1 attached alert still fires: `HighErrorRate · payment-api`" in refusal
        assert '--override "&lt;reason&gt;"' in refusal or '--override "<reason>"' in refusal
    assert workspace.card(channel).status == "investigating"

    clock.advance(minutes=10)
    workspace.sources.alerts(resolved(firing, clock.now()))
    workspace.settle()
    workspace.command("set status resolved", channel=channel)
    assert workspace.card(channel).status == "resolved"
    assert any(f"<@{COMMANDER}> resolved *INC-20261125-01* at 10:10 UTC" in p for p in workspace.posts(channel))
    [incident] = stored(workspace, Incident)
    assert (incident.status, incident.resolved_at) == ("resolved", clock.now())
    workspace.command("resolve", channel=channel)
    assert "INC-20261125-01 is already resolved." in workspace.ephemeral_text(COMMANDER)


def test_the_commander_may_override_with_a_reason_the_timeline_records(workspace, clock):
    channel, _ = incident_with_an_alert(workspace, clock)
    workspace.command('resolve --override "the alert is a known false positive"', by=ENGINEER, channel=channel)
    assert f"Only the incident commander (<@{COMMANDER}>) can resolve the incident" in workspace.ephemeral_text(
        ENGINEER
    )
    workspace.command('resolve --override "the alert is a known false positive"', channel=channel)
    assert workspace.card(channel).status == "resolved"
    said = "\n".join(workspace.posts(channel))
    assert "Resolved by override while 1 attached alert still fires: `HighErrorRate · payment-api`" in said
    assert "> the alert is a known false positive" in said
    [event] = [e for e in stored(workspace, TimelineEvent, kind="status_changed") if e.details["to"] == "resolved"]
    assert event.actor == COMMANDER and event.details["override"] == "the alert is a known false positive"
    assert event.details["firing"] == ["HighErrorRate · payment-api"]
    [audited] = stored(workspace, AuditEvent, action="resolved")
    assert (audited.actor, audited.decision, audited.reason, audited.incident_id) == (
        COMMANDER,
        "override",
        "the alert is a known false positive",
        "INC-20261125-01",
    )


def test_a_published_update_brings_a_reminder_at_the_cadence_and_snoozing_moves_it(workspace, clock):
    channel, _ = incident_with_an_alert(workspace, clock, severity="SEV1")
    workspace.command("status", channel=channel)
    click(workspace, draft_of(workspace, COMMANDER), "status_publish", COMMANDER)

    clock.advance(minutes=14)
    fire_reminders(workspace)
    assert reminders_in(workspace, channel) == []
    clock.advance(minutes=1)
    fire_reminders(workspace)
    fire_reminders(workspace)
    [reminder] = reminders_in(workspace, channel)
    assert f"<@{COMMANDER}>: a status update for *INC-20261125-01* is due (SEV1: every 15 min)" in block_text(
        reminder.blocks
    )
    buttons = [(e["action_id"], e["value"]) for b in reminder.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [("reminder_snooze", "30"), ("reminder_snooze", "60"), ("reminder_snooze", "120")]

    workspace.slack.click("reminder_snooze", "60", OBSERVER, channel, message_ts=reminder.ts)
    workspace.settle()
    assert "or comms (nobody yet) can snooze update reminders" in workspace.ephemeral_text(OBSERVER)
    workspace.slack.click("reminder_snooze", "60", COMMANDER, channel, message_ts=reminder.ts)
    workspace.settle()
    [snoozed] = [m for m in workspace.slack.messages(channel) if m.ts == reminder.ts]
    assert f"<@{COMMANDER}> snoozed the update reminder for 60 min; the next one comes at 11:15 UTC" in block_text(
        snoozed.blocks
    )
    assert "reminder_snooze" not in str(snoozed.blocks)
    assert [(t.state, t.due_at) for t in stored(workspace, Timer)] == [
        ("fired", clock.now()),
        ("pending", clock.now() + minutes(60)),
    ]

    clock.advance(minutes=59)
    fire_reminders(workspace)
    assert reminders_in(workspace, channel) == []
    clock.advance(minutes=1)
    fire_reminders(workspace)
    assert len(reminders_in(workspace, channel)) == 1


def test_the_scheduler_tick_sends_a_due_reminder_once(workspace, clock):
    scheduler = workspace.steward.scheduler
    assert scheduler.is_leader
    channel, _ = incident_with_an_alert(workspace, clock, severity="SEV3")
    workspace.command("status", channel=channel)
    click(workspace, draft_of(workspace, COMMANDER), "status_publish", COMMANDER)
    clock.advance(minutes=60)
    for _ in range(2):
        scheduler.tick()
        workspace.settle()
    assert len(reminders_in(workspace, channel)) == 1
    assert [t.state for t in stored(workspace, Timer)] == ["fired"]


def test_sev4_updates_schedule_no_reminder(workspace, clock):
    channel = workspace.declare("Slow admin page", options="sev:SEV4")
    workspace.command("status", channel=channel)
    draft = draft_of(workspace, COMMANDER)
    assert "*Next update*\nnone scheduled" in block_text(draft.blocks)
    click(workspace, draft, "status_publish", COMMANDER)
    assert len(updates_in(workspace, channel)) == 1
    assert stored(workspace, Timer) == []


def test_resolving_stops_update_reminders(workspace, clock):
    channel, firing = incident_with_an_alert(workspace, clock)
    workspace.command("status", channel=channel)
    click(workspace, draft_of(workspace, COMMANDER), "status_publish", COMMANDER)
    workspace.sources.alerts(resolved(firing, clock.now()))
    workspace.settle()
    workspace.command("resolve", channel=channel)
    clock.advance(minutes=120)
    fire_reminders(workspace)
    assert reminders_in(workspace, channel) == []
    assert [t.state for t in stored(workspace, Timer)] == ["cancelled"]
