"""Incidents: declaring them, their roles, severity and status, and the notes and decisions people record."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeGuard, get_args

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.errors import NotAllowed, UserError
from bot.store.db import Database
from bot.store.models import Incident, RoleAssignment, TimelineEvent
from bot.timeline.record import HUMAN, record_event

COMMANDER = "incident_commander"
ROLES = (COMMANDER, "sre_oncall", "comms", "database_owner", "service_owner")
STATUSES = ("investigating", "identified", "mitigating", "monitoring", "resolved")
Severity = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)


def is_severity(value: str) -> TypeGuard[Severity]:
    return value in SEVERITIES


@dataclass(frozen=True)
class IncidentView:
    """What the incident card shows: a snapshot, so rendering never touches the database."""

    id: str
    title: str
    severity: str
    status: str
    environment: str
    services: list[str]
    channel_id: str | None
    card_ts: str | None
    detected_at: datetime
    roles: dict[str, list[str]] = field(default_factory=dict)

    @property
    def commander(self) -> str | None:
        holders = self.roles.get(COMMANDER, [])
        return holders[0] if holders else None


def view_of(session: Session, incident: Incident) -> IncidentView:
    roles: dict[str, list[str]] = {}
    query = select(RoleAssignment).where(RoleAssignment.incident_id == incident.id).order_by(col(RoleAssignment.id))
    for assignment in session.exec(query):
        roles.setdefault(assignment.role, []).append(assignment.user_id)
    return IncidentView(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        environment=incident.environment,
        services=list(incident.services),
        channel_id=incident.channel_id,
        card_ts=incident.card_ts,
        detected_at=incident.detected_at,
        roles=roles,
    )


def channel_name_for(prefix: str, incident_id: str, title: str, attempt: int = 1) -> str:
    """`inc-20261125-01-checkout-errors`, then `-2`, `-3` … when Slack says the name is taken."""
    day, number = incident_id.split("-")[1:3]
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    base = f"{prefix}{day}-{number}"
    suffix = "" if attempt == 1 else f"-{attempt}"
    room = 80 - len(base) - len(suffix) - 1
    slug = slug[:room].rstrip("-")
    return f"{base}-{slug}{suffix}" if slug else f"{base}{suffix}"


def declare_incident(
    db: Database,
    clock: Clock,
    *,
    title: str,
    declared_by: str,
    severity: str = "SEV3",
    services: list[str] | None = None,
    environment: str = "production",
) -> Incident:
    """Store a new incident with the declarer as commander.

    Ids are the day's next number; two declarations racing for the same number meet the primary key,
    and the loser takes the next one.
    """
    now = clock.now()
    day = now.strftime("%Y%m%d")
    for _ in range(50):
        try:
            with db.session() as session:
                taken = session.exec(select(func.max(Incident.id)).where(col(Incident.id).like(f"INC-{day}-%"))).one()
                number = int(taken.rsplit("-", 1)[1]) + 1 if taken else 1
                incident = Incident(
                    id=f"INC-{day}-{number:02d}",
                    title=title,
                    severity=severity,
                    services=services or [],
                    environment=environment,
                    detected_at=now,
                    declared_by=declared_by,
                    created_at=now,
                )
                session.add(incident)
                session.flush()
                session.add(
                    RoleAssignment(incident_id=incident.id, role=COMMANDER, user_id=declared_by, assigned_at=now)
                )
                record_event(
                    session,
                    incident.id,
                    at=now,
                    kind="declared",
                    actor=declared_by,
                    trust=HUMAN,
                    summary=f"Declared {severity}: {title}",
                    dedupe_key="declared",
                )
            return incident
        except IntegrityError:
            continue
    raise RuntimeError(f"could not allocate an incident id for {day}")


def channel_of(incident: Incident | IncidentView) -> str:
    """The incident's channel. A declaration whose channel cannot be created is undone, so every incident the other
    flows see has one."""
    if incident.channel_id is None:
        raise LookupError(f"{incident.id} has no channel")
    return incident.channel_id


def attach_channel(db: Database, incident_id: str, channel_id: str, channel_name: str) -> None:
    with db.session() as session:
        incident = session.get_one(Incident, incident_id)
        incident.channel_id = channel_id
        incident.channel_name = channel_name


def forget_incident(db: Database, incident_id: str) -> None:
    """Undo a declaration whose channel could not be created, so no incident exists without a channel."""
    with db.session() as session:
        for model in (TimelineEvent, RoleAssignment):
            for row in session.exec(select(model).where(model.incident_id == incident_id)):
                session.delete(row)
        session.flush()
        incident = session.get(Incident, incident_id)
        if incident is not None:
            session.delete(incident)


def set_card(db: Database, incident_id: str, card_ts: str) -> None:
    with db.session() as session:
        session.get_one(Incident, incident_id).card_ts = card_ts


def incident_in_channel(session: Session, channel_id: str) -> Incident | None:
    return session.exec(select(Incident).where(Incident.channel_id == channel_id)).first()


def require_commander(session: Session, incident: Incident, actor: str, what: str) -> None:
    commanders = view_of(session, incident).roles.get(COMMANDER, [])
    if actor not in commanders:
        raise NotAllowed(what, COMMANDER, commanders)


def assign_role(session: Session, clock: Clock, incident: Incident, actor: str, role: str, user: str) -> bool:
    """`incident_commander` replaces the holder; other roles add a holder. Returns False if nothing changed."""
    require_commander(session, incident, actor, "assign roles")
    existing = session.exec(
        select(RoleAssignment).where(RoleAssignment.incident_id == incident.id, RoleAssignment.role == role)
    ).all()
    if any(a.user_id == user for a in existing):
        return False
    if role == COMMANDER:
        for assignment in existing:
            session.delete(assignment)
        session.flush()
    now = clock.now()
    session.add(RoleAssignment(incident_id=incident.id, role=role, user_id=user, assigned_at=now))
    record_event(
        session,
        incident.id,
        at=now,
        kind="role_assigned",
        actor=actor,
        trust=HUMAN,
        summary=f"<@{user}> is {role.replace('_', ' ')}",
        details={"role": role, "user": user},
    )
    return True


def set_severity(session: Session, clock: Clock, incident: Incident, actor: str, severity: str) -> bool:
    return _change(session, clock, incident, actor, "severity", severity)


def set_status(session: Session, clock: Clock, incident: Incident, actor: str, status: str) -> bool:
    if status == "resolved":
        # Resolving has one guarded path (bot.status.flow.resolve_incident: firing alerts, override, reminders);
        # `set status resolved` is routed there before it gets here.
        raise UserError("Resolve with `/incident resolve`: it checks for firing alerts first.")
    return _change(session, clock, incident, actor, "status", status)


def _change(session: Session, clock: Clock, incident: Incident, actor: str, attribute: str, value: str) -> bool:
    """A commander's change of severity or status, on the timeline; False when it already was that."""
    require_commander(session, incident, actor, f"change the {attribute}")
    previous = getattr(incident, attribute)
    if previous == value:
        return False
    setattr(incident, attribute, value)
    record_event(
        session,
        incident.id,
        at=clock.now(),
        kind=f"{attribute}_changed",
        actor=actor,
        trust=HUMAN,
        summary=f"{attribute.capitalize()} {previous} → {value}",
        details={"from": previous, "to": value},
    )
    return True


def record_note(session: Session, clock: Clock, incident: Incident, actor: str, text: str) -> TimelineEvent:
    return _said(
        record_event(session, incident.id, at=clock.now(), kind="note", actor=actor, trust=HUMAN, summary=text)
    )


def record_decision(session: Session, clock: Clock, incident: Incident, actor: str, text: str) -> TimelineEvent:
    require_commander(session, incident, actor, "record decisions")
    return _said(
        record_event(session, incident.id, at=clock.now(), kind="decision", actor=actor, trust=HUMAN, summary=text)
    )


def _said(event: TimelineEvent | None) -> TimelineEvent:
    # People's events get a fresh dedupe key (bot.timeline.record.event_row), so none is ever skipped as a repeat.
    if event is None:
        raise RuntimeError("a person's timeline event was skipped as a duplicate")
    return event
