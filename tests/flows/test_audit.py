"""The audit chain: every event's hash covers the one before, any change to a stored event is named by
verify, and concurrent writers (threads, replicas) extend one chain without forking it."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from bot.audit import service as audit
from bot.clock import ManualClock
from bot.store.db import Database
from bot.store.models import AuditEvent, AuditHead

INCIDENT = "INC-20261125-01"
OTHER_INCIDENT = "INC-20261125-02"
EVENTS = AuditEvent.__table__


def record(db: Database, clock: ManualClock, incident: str = INCIDENT, **overrides: Any) -> AuditEvent:
    """One audit event with every field filled, in its own transaction, as the gateway would write it."""
    fields: dict[str, Any] = dict(
        actor="U0ALICE",
        action="approval_approved",
        target="checkout.new-routing",
        environment="production",
        decision="approval_required",
        rule="flag-off-production",
        evidence_hash="3f9a1c2b7d4e" + "0" * 52,
        approver="U0BOB",
        reason="checkout errors after the routing change",
        telemetry_before={"error_rate": 0.31},
        telemetry_after={"error_rate": 0.02},
        incident_id=incident,
        details={"request": "AR-1", "call": ["flagd", "off"]},
    )
    fields.update(overrides)
    with db.session() as session:
        event = audit.append(session, at=clock.advance(seconds=7), **fields)
    return event


def verify(db: Database) -> audit.VerifyResult:
    with db.session() as session:
        return audit.verify(session)


def head(db: Database) -> AuditHead:
    with db.session() as session:
        found = session.get(AuditHead, 1)
        assert found is not None
        return found


def stored(db: Database) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def change(db: Database, seq: int, /, **values: Any) -> None:
    """What someone with database access would do: an UPDATE that bypasses Steward."""
    with db.session() as session:
        session.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(**values))


def test_appended_events_form_an_intact_chain(db, clock):
    first, second, third = (record(db, clock) for _ in range(3))
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert (head(db).seq, head(db).hash) == (3, third.hash)
    assert verify(db) == audit.VerifyResult(ok=True, checked=3)


def test_an_empty_log_is_intact(db):
    assert verify(db) == audit.VerifyResult(ok=True, checked=0)


def test_the_hash_covers_every_field_and_the_previous_hash(db, clock):
    event = record(db, clock)
    assert set(audit.HASHED_FIELDS) == set(AuditEvent.model_fields) - {"prev_hash", "hash"}
    payload = audit.hashed_payload(event)
    for name in audit.HASHED_FIELDS:
        assert audit.event_hash(event.prev_hash, {**payload, name: "something else"}) != event.hash, name
    assert audit.event_hash("1" * 64, payload) != event.hash


def _tampered(field: str, original: Any) -> list[Any]:
    if field == "at":
        return [original + timedelta(seconds=1), original + timedelta(microseconds=1)]
    if isinstance(original, dict):
        return [{**original, "tampered": True}, None] if field != "details" else [{**original, "tampered": True}]
    if field in ("prev_hash", "hash"):
        return ["f" * 64]
    nullable = AuditEvent.model_fields[field].default is None
    return [f"{original}-tampered", *([None] if nullable else [])]


TAMPERABLE = [name for name in audit.HASHED_FIELDS if name != "seq"] + ["prev_hash", "hash"]


def test_changing_any_field_of_any_event_names_that_seq(db, clock):
    for _ in range(3):
        record(db, clock)
    originals = {event.seq: event for event in stored(db)}
    for seq, event in originals.items():
        for field in TAMPERABLE:
            original = getattr(event, field)
            for value in _tampered(field, original):
                change(db, seq, **{field: value})
                result = verify(db)
                assert (result.ok, result.first_broken, result.checked) == (False, seq, seq - 1), (seq, field, value)
                change(db, seq, **{field: original})
    assert verify(db).ok


def test_renumbering_an_event_breaks_the_chain_where_it_was(db, clock):
    for _ in range(3):
        record(db, clock)
    change(db, 2, seq=99)
    result = verify(db)
    assert (result.ok, result.first_broken) == (False, 3)
    assert result.reason == "seq 3 follows seq 1: seq 2 is missing"


def test_deleting_an_event_breaks_the_chain_at_the_next_seq(db, clock):
    for _ in range(4):
        record(db, clock)
    with db.session() as session:
        session.execute(delete(EVENTS).where(EVENTS.c.seq == 2))
    result = verify(db)
    assert (result.ok, result.checked, result.first_broken) == (False, 1, 3)
    assert result.reason == "seq 3 follows seq 1: seq 2 is missing"


def test_deleting_the_newest_events_is_caught_by_the_head(db, clock):
    for _ in range(4):
        record(db, clock)
    with db.session() as session:
        session.execute(delete(EVENTS).where(EVENTS.c.seq >= 3))
    result = verify(db)
    assert (result.ok, result.checked, result.first_broken) == (False, 2, 3)
    assert "head is at seq 4" in result.reason


def test_a_rolled_back_transaction_leaves_no_event_and_no_head_change(db, clock):
    kept = record(db, clock)
    with pytest.raises(RuntimeError), db.session() as session:
        audit.append(session, at=clock.now(), actor="U0ALICE", action="approval_approved", incident_id=INCIDENT)
        raise RuntimeError("the executor call failed before commit")
    assert [event.seq for event in stored(db)] == [1]
    assert (head(db).seq, head(db).hash) == (1, kept.hash)
    assert record(db, clock).seq == 2
    assert verify(db).ok


def test_times_are_stored_at_the_precision_they_are_hashed_at(db, clock):
    clock.advance(microseconds=654321)
    event = record(db, clock)
    assert event.at.microsecond == 0 and stored(db)[0].at == event.at
    assert verify(db).ok


@pytest.mark.parametrize("details", [{"x": float("nan")}, {"when": ManualClock().now()}, {"big": 2**60}])
def test_values_json_cannot_hold_exactly_are_refused(db, clock, details):
    with pytest.raises(ValueError, match="audit field details"):
        record(db, clock, details=details)
    assert verify(db) == audit.VerifyResult(ok=True, checked=0)


def test_an_incidents_events_export_as_json_lines_whose_hashes_recompute(db, clock):
    record(db, clock)
    record(db, clock, incident=OTHER_INCIDENT)
    record(db, clock, action="execution_succeeded")
    with db.session() as session:
        assert [event.seq for event in audit.events_for_incident(session, INCIDENT)] == [1, 3]
        out = io.StringIO()
        assert audit.export_jsonl(session, INCIDENT, out) == 2
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [1, 3]
    assert {line["incident_id"] for line in lines} == {INCIDENT}
    assert lines[1]["action"] == "execution_succeeded" and lines[1]["at"].endswith("Z")
    assert all(audit.event_hash(line["prev_hash"], line) == line["hash"] for line in lines)


def _append_concurrently(databases: list[Database], clock: ManualClock, threads: int, each: int) -> list[BaseException]:
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(database: Database, worker: int) -> None:
        try:
            start.wait()
            for n in range(each):
                with database.session() as session:
                    audit.append(
                        session,
                        at=clock.now(),
                        actor=f"U{worker}",
                        action="policy_decision",
                        incident_id=INCIDENT,
                        details={"worker": worker, "n": n},
                    )
        except BaseException as error:  # reported to the test thread below
            errors.append(error)

    pool = [threading.Thread(target=writer, args=(databases[i % len(databases)], i)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return errors


def _assert_one_unforked_chain(db: Database, length: int) -> None:
    events = stored(db)
    assert [event.seq for event in events] == list(range(1, length + 1))
    assert len({event.prev_hash for event in events}) == length, "two events extend the same link"
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))
    assert head(db).seq == length
    assert verify(db) == audit.VerifyResult(ok=True, checked=length)


@pytest.mark.parametrize("replicas", [1, 2], ids=["one-engine", "two-replicas"])
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"], indirect=True
)
def test_concurrent_appends_extend_one_chain(db, clock, replicas):
    # A fresh database: the writers also race to create the chain head.
    databases = [db] + [Database(db.url) for _ in range(replicas - 1)]
    try:
        errors = _append_concurrently(databases, clock, threads=4, each=25)
    finally:
        for extra in databases[1:]:
            extra.engine.dispose()
    assert errors == []
    _assert_one_unforked_chain(db, 100)
