"""Reading a timeline back (`events_for`): the incident's events in time order, with their details as written,
on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, timedelta

from bot.clock import ManualClock
from bot.incidents.service import declare_incident
from bot.store.db import Database
from bot.timeline.record import HUMAN, UNTRUSTED, events_for, record_event


def test_events_come_back_in_time_order_with_their_details(db, clock):
    incident = declare_incident(db, clock, title="checkout errors", declared_by="U0ALICE", services=["payment-api"])
    details = {
        "name": "HighErrorRate",
        "labels": {"service": "payment-api"},
        "count": 2**63 - 1,
        "ratio": 0.1,
        "annotations": {"description": 'timeout after 3000ms — ünïcode "quoted"\nsecond line'},
        "none": None,
    }
    with db.session() as session:
        record_event(
            session,
            incident.id,
            at=clock.now() + timedelta(minutes=2),
            kind="alert",
            trust=UNTRUSTED,
            service="payment-api",
            summary="HighErrorRate firing",
            details=details,
            evidence_ref="alert:fp1",
        )
        record_event(
            session,
            incident.id,
            at=clock.now() + timedelta(minutes=1),
            kind="note",
            trust=HUMAN,
            actor="U0ALICE",
            summary="customers see errors",
        )
    with db.session() as session:
        events = events_for(session, incident.id)
    note, alert = events[-2:]
    assert (note.summary, note.actor, note.details, note.at) == (
        "customers see errors",
        "U0ALICE",
        {},
        clock.now() + timedelta(minutes=1),
    )
    assert alert.details == details and alert.evidence_ref == "alert:fp1" and alert.trust == UNTRUSTED
    assert all(event.at.tzinfo is UTC for event in events)
    assert [event.at for event in events] == sorted(event.at for event in events)


def test_values_json_writes_beyond_json_read_back_as_written(sqlite_url):
    # SQLite keeps JSON as text, so whatever json.dumps wrote (NaN, lone surrogates) must read back; PostgreSQL
    # refuses such documents on write.
    db, clock = Database(sqlite_url), ManualClock()
    db.upgrade()
    incident = declare_incident(db, clock, title="odd values", declared_by="U0ALICE")
    with db.session() as session:
        record_event(
            session,
            incident.id,
            at=clock.now(),
            kind="alert",
            summary="odd",
            details={"ratio": float("nan"), "limit": float("inf"), "text": "half a pair \ud800"},
        )
    with db.session() as session:
        details = events_for(session, incident.id)[-1].details
    db.engine.dispose()
    assert math.isnan(details["ratio"]) and details["limit"] == math.inf and details["text"] == "half a pair \ud800"
