"""Incident timelines: recording events (deduplicated per incident) and reading them back in order."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.store.models import TimelineEvent

TRUSTED = "trusted_platform"
HUMAN = "human"
UNTRUSTED = "untrusted_runtime_output"


def content_hash(kind: str, at: datetime, summary: str, details: dict[str, Any], evidence_ref: str | None) -> str:
    """What an evidence packet pins: a changed event must hash differently."""
    body = json.dumps(
        {"kind": kind, "at": at.isoformat(timespec="seconds"), "summary": summary, "details": details, "ref": evidence_ref},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record_event(
    session: Session,
    incident_id: str,
    *,
    at: datetime,
    kind: str,
    summary: str,
    source: str = "steward",
    trust: str = TRUSTED,
    actor: str | None = None,
    service: str | None = None,
    details: dict[str, Any] | None = None,
    evidence_ref: str | None = None,
    dedupe_key: str | None = None,
) -> TimelineEvent | None:
    """Add one event; returns None when an event with the same dedupe key is already on this timeline.

    Sources pass their natural key (deliveries repeat); people's events get a fresh one, since saying
    the same thing twice is two events.
    """
    details = details or {}
    digest = content_hash(kind, at, summary, details, evidence_ref)
    event = TimelineEvent(
        incident_id=incident_id,
        at=at,
        kind=kind,
        source=source,
        trust=trust,
        actor=actor,
        service=service,
        summary=summary,
        details=details,
        evidence_ref=evidence_ref,
        content_hash=digest,
        dedupe_key=dedupe_key or f"{kind}:{uuid.uuid4()}",
    )
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        return None
    return event


def events_for(session: Session, incident_id: str) -> list[TimelineEvent]:
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    return list(session.exec(query.order_by(TimelineEvent.at, TimelineEvent.id)))
