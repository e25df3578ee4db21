"""Incident timelines: recording events (deduplicated per incident) and reading them back in order."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, type_coerce
from sqlmodel import Session

from bot.store.bulk import insert_new
from bot.store.models import TimelineEvent, table_of
from bot.store.types import FastJSON, json_text

TRUSTED = "trusted_platform"
HUMAN = "human"
UNTRUSTED = "untrusted_runtime_output"

TIMELINE_EVENT = table_of(TimelineEvent)


def content_hash(kind: str, at: datetime, summary: str, details: dict[str, Any], evidence_ref: str | None) -> str:
    """What an evidence packet pins: a changed event must hash differently."""
    body = json_text(
        {
            "kind": kind,
            "at": at.isoformat(timespec="seconds"),
            "summary": summary,
            "details": details,
            "ref": evidence_ref,
        },
        default=str,
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def event_row(
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
) -> dict[str, Any]:
    """One timeline event as a row. Sources pass their natural key (deliveries repeat); people's events get
    a fresh one, since saying the same thing twice is two events."""
    details = details or {}
    return {
        "incident_id": incident_id,
        "at": at,
        "kind": kind,
        "source": source,
        "trust": trust,
        "actor": actor,
        "service": service,
        "summary": summary,
        "details": details,
        "evidence_ref": evidence_ref,
        "content_hash": content_hash(kind, at, summary, details, evidence_ref),
        "dedupe_key": dedupe_key or f"{kind}:{uuid.uuid4()}",
    }


def insert_events(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Add events; those whose dedupe key is already on their incident's timeline are skipped. Returns new ids."""
    return [id_ for (id_,) in insert_new(session, TIMELINE_EVENT, rows, TIMELINE_EVENT.c.id)]


def record_event(session: Session, incident_id: str, **fields: Any) -> TimelineEvent | None:
    """Add one event; None when an event with the same dedupe key is already on this timeline."""
    row = event_row(incident_id, **fields)
    ids = insert_events(session, [row])
    return TimelineEvent(id=ids[0], **row) if ids else None


class TimelineRow(NamedTuple):
    """An event as the timeline's readers (assembly, status drafts, timeline messages) use it."""

    id: int
    at: datetime
    kind: str
    service: str | None
    actor: str | None
    summary: str
    details: dict[str, Any]
    evidence_ref: str | None
    trust: str


def events_for(session: Session, incident_id: str) -> list[TimelineRow]:
    """The incident's events in time order. Timelines grow to tens of thousands of events, so this reads only the
    columns readers use, and returns named tuples: ORM objects cost more to build than the assembly that reads them,
    and SQLAlchemy rows answer by name far slower (bench/README.md, timeline)."""
    table = TIMELINE_EVENT
    columns = [
        type_coerce(table.c.details, FastJSON()) if name == "details" else table.c[name] for name in TimelineRow._fields
    ]
    query = select(*columns).where(table.c.incident_id == incident_id).order_by(table.c.at, table.c.id)
    # Built row by row from the result, not from `.all()`: a list of SQLAlchemy rows held beside the named tuples
    # doubles the memory the read touches.
    return [TimelineRow._make(row) for row in session.execute(query)]
