"""Update reminders: the next-update timer a published update schedules (cadence by severity, from steward.yml),
what a due one says in the channel, and snoozing it. Resolving cancels them.

A reminder fires once; the next publish, or a snooze, schedules the next. Like publishing, snoozing belongs to
the people who owe the update: the incident commander and comms.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from bot.config import Config
from bot.errors import UserError
from bot.incidents.service import incident_in_channel, is_severity, view_of
from bot.runtime.context import Runtime
from bot.runtime.logs import tag_incident
from bot.runtime.scheduler import on_timer
from bot.slack.messages import Ephemeral, Message, Post
from bot.status import views as status_views
from bot.status.draft import require_update_owner
from bot.store.models import Incident, Timer
from bot.timeline.record import HUMAN, record_event

REMINDER = "update_reminder"
SNOOZE_MINUTES = (30, 60, 120)


def cadence_minutes(config: Config, severity: str) -> int | None:
    """Minutes between updates for a severity; None (SEV4 by default) means no reminders."""
    if not is_severity(severity):
        return None
    return config.steward.update_cadence_minutes.get(severity) or None


def schedule_reminder(session: Session, incident_id: str, due_at: datetime, now: datetime) -> Timer:
    """The incident's one pending reminder, due at `due_at` (any earlier pending one is cancelled)."""
    cancel_reminders(session, incident_id)
    timer = Timer(kind=REMINDER, incident_id=incident_id, due_at=due_at, created_at=now)
    session.add(timer)
    session.flush()
    return timer


def cancel_reminders(session: Session, incident_id: str) -> int:
    cancel = (
        update(Timer)
        .where(col(Timer.kind) == REMINDER, col(Timer.incident_id) == incident_id, col(Timer.state) == "pending")
        .values(state="cancelled")
    )
    return session.exec(cancel).rowcount


@on_timer(REMINDER)
def remind(rt: Runtime, session: Session, timer: Timer) -> list[Message]:
    incident = session.get(Incident, timer.incident_id)
    if incident is None or incident.status == "resolved" or incident.channel_id is None:
        return []
    view = view_of(session, incident)
    text, reminder = status_views.update_reminder(view, cadence_minutes(rt.config, view.severity))
    return [Post(channel=incident.channel_id, text=text, blocks=reminder)]


def snooze_reminder(rt: Runtime, user: str, channel: str, value: str, response_url: str | None) -> None:
    """The reminder's snooze button: the next reminder comes `value` minutes from now, and the reminder message
    says who snoozed it (its buttons gone)."""
    try:
        minutes, until = _snooze(rt, user, channel, value)
        text, line = status_views.reminder_snoozed(user, minutes, until)
        messages: list[Message] = [
            Ephemeral(
                user=user, channel=channel, text=text, blocks=line, response_url=response_url, replace_original=True
            )
        ]
    except UserError as error:
        messages = [Ephemeral(user=user, channel=channel, text=str(error), response_url=response_url)]
    rt.slack.deliver(messages)


def _snooze(rt: Runtime, user: str, channel: str, value: str) -> tuple[int, datetime]:
    if not value.isdigit() or int(value) not in SNOOZE_MINUTES:
        raise UserError("That button's data is not something I sent; nothing was snoozed.")
    minutes = int(value)
    with rt.db.session() as session:
        incident = incident_in_channel(session, channel)
        if incident is None:
            raise UserError("This reminder's incident is not in this channel; nothing was snoozed.")
        tag_incident(incident.id)
        require_update_owner(view_of(session, incident), user, "snooze update reminders")
        if incident.status == "resolved":
            raise UserError(f"{incident.id} is resolved; there are no more update reminders.")
        now = rt.clock.now()
        until = now + timedelta(minutes=minutes)
        schedule_reminder(session, incident.id, until, now)
        record_event(
            session,
            incident.id,
            at=now,
            kind="reminder_snoozed",
            actor=user,
            trust=HUMAN,
            summary=f"Update reminder snoozed for {minutes} min",
            details={"minutes": minutes},
        )
    return minutes, until
