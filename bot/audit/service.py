"""The audit log (DESIGN section 8): one global hash chain of audit events, appended inside the caller's
transaction under a lock on the chain head, verified link by link, exported per incident as JSON lines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import rfc8785
from sqlalchemy import func, select, text
from sqlmodel import Session, col

from bot.clock import rfc3339_utc, utc
from bot.store.models import AuditEvent, AuditHead

GENESIS_HASH = AuditHead().hash  # the prev_hash of seq 1
# Every column but the two hashes; `hash` covers these plus prev_hash, so no field can change unseen.
HASHED_FIELDS: tuple[str, ...] = (
    "seq",
    "at",
    "incident_id",
    "actor",
    "action",
    "target",
    "environment",
    "decision",
    "rule",
    "evidence_hash",
    "approver",
    "reason",
    "telemetry_before",
    "telemetry_after",
    "details",
)
_STREAM_BATCH = 500

# Insert-if-missing first, so two replicas writing the very first event both find one row to lock.
_ENSURE_HEAD = text("INSERT INTO audithead (id, seq, hash) VALUES (1, 0, :genesis) ON CONFLICT (id) DO NOTHING")
# The row lock (PostgreSQL) or write lock (SQLite) taken here is held until the caller commits: that is what
# keeps two appenders from both extending the same head.
_ADVANCE_HEAD = text("UPDATE audithead SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
_SET_HEAD_HASH = text("UPDATE audithead SET hash = :hash WHERE id = 1")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # events found sound before the first broken link (all of them when ok)
    first_broken: int | None = None
    reason: str | None = None


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str | None = None,
    environment: str | None = None,
    decision: str | None = None,
    rule: str | None = None,
    evidence_hash: str | None = None,
    approver: str | None = None,
    reason: str | None = None,
    telemetry_before: dict[str, Any] | None = None,
    telemetry_after: dict[str, Any] | None = None,
    incident_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event in the caller's transaction; it is committed or rolled back with the rest.

    The chain head stays locked until that commit, so append as late in the transaction as possible."""
    fields: dict[str, Any] = {
        # Stored at the precision it is hashed at, so the stored row is exactly what the hash covers.
        "at": utc(at).replace(microsecond=0),
        "incident_id": incident_id,
        "actor": actor,
        "action": action,
        "target": target,
        "environment": environment,
        "decision": decision,
        "rule": rule,
        "evidence_hash": evidence_hash,
        "approver": approver,
        "reason": reason,
        "telemetry_before": _as_stored("telemetry_before", telemetry_before),
        "telemetry_after": _as_stored("telemetry_after", telemetry_after),
        "details": _as_stored("details", details or {}),
    }
    session.execute(_ENSURE_HEAD, {"genesis": GENESIS_HASH})
    seq, prev_hash = session.execute(_ADVANCE_HEAD).one()
    event = AuditEvent(seq=seq, prev_hash=prev_hash, hash=event_hash(prev_hash, {"seq": seq, **fields}), **fields)
    session.add(event)
    session.flush()
    session.execute(_SET_HEAD_HASH, {"hash": event.hash})
    return event


def event_hash(prev_hash: str, event: Any) -> str:
    """SHA-256 over the previous hash and the RFC 8785 canonical JSON of the event's hashed fields.

    `event` is an AuditEvent, a row, or a mapping of HASHED_FIELDS (as `export_jsonl` writes them)."""
    return hashlib.sha256(prev_hash.encode("ascii") + rfc8785.dumps(hashed_payload(event))).hexdigest()


def hashed_payload(event: Any) -> dict[str, Any]:
    values = event if isinstance(event, dict) else {name: getattr(event, name) for name in HASHED_FIELDS}
    payload = {name: values[name] for name in HASHED_FIELDS}
    if isinstance(payload["at"], datetime):
        payload["at"] = rfc3339_utc(payload["at"])
    return payload


def verify(session: Session) -> VerifyResult:
    """Walk the chain in seq order, streaming, and name the first link that does not hold.

    The head is read first and only events up to it are walked: events appended meanwhile by another
    replica are not yet part of what this walk promises, and must not look like a broken tail."""
    head = session.get(AuditHead, 1)
    if head is None:
        return _headless(session)
    previous_seq, previous_hash = 0, GENESIS_HASH
    for row in _stream(session, head.seq):
        problem = _link_problem(row, previous_seq, previous_hash)
        if problem:
            return VerifyResult(ok=False, checked=previous_seq, first_broken=row.seq, reason=problem)
        previous_seq, previous_hash = row.seq, row.hash
    if previous_seq != head.seq:
        return VerifyResult(
            ok=False,
            checked=previous_seq,
            first_broken=previous_seq + 1,
            reason=f"the chain ends at seq {previous_seq} but its head is at seq {head.seq}: "
            f"seq {previous_seq + 1} is missing",
        )
    if previous_hash != head.hash:
        return VerifyResult(
            ok=False,
            checked=previous_seq,
            first_broken=head.seq,
            reason=f"the chain head's hash does not match the hash of seq {head.seq}",
        )
    return VerifyResult(ok=True, checked=previous_seq)


def events_for_incident(session: Session, incident_id: str) -> list[AuditEvent]:
    statement = select(AuditEvent).where(col(AuditEvent.incident_id) == incident_id).order_by(col(AuditEvent.seq))
    return list(session.execute(statement).scalars())


def export_jsonl(session: Session, incident_id: str, out: TextIO) -> int:
    """Write the incident's audit events as JSON lines, one per event, in seq order; returns how many.

    Each line carries the hashed fields exactly as hashed plus prev_hash and hash, so a reader can
    recompute every event's hash with `event_hash(line["prev_hash"], line)`."""
    count = 0
    for event in events_for_incident(session, incident_id):
        out.write(json.dumps(export_record(event)) + "\n")
        count += 1
    return count


def export_record(event: AuditEvent) -> dict[str, Any]:
    return {**hashed_payload(event), "prev_hash": event.prev_hash, "hash": event.hash}


def _link_problem(row: Any, previous_seq: int, previous_hash: str) -> str | None:
    if row.seq != previous_seq + 1:
        missing = f"seq {previous_seq + 1}" if row.seq == previous_seq + 2 else f"seq {previous_seq + 1}..{row.seq - 1}"
        return f"seq {row.seq} follows seq {previous_seq}: {missing} is missing"
    if row.prev_hash != previous_hash:
        after = f"seq {previous_seq}" if previous_seq else "the chain's genesis"
        return f"prev_hash does not match the hash of {after}"
    if utc(row.at).microsecond:
        return "at has sub-second digits, which append never writes: the event was altered after it was written"
    if event_hash(row.prev_hash, row) != row.hash:
        return "hash does not match the event's contents: the event was altered after it was written"
    return None


def _stream(session: Session, last_seq: int) -> Iterator[Any]:
    # Plain rows, fetched in batches (a server-side cursor on PostgreSQL), so a long chain is never all in memory.
    table = AuditEvent.metadata.tables["auditevent"]
    statement = (
        select(table).where(table.c.seq <= last_seq).order_by(table.c.seq).execution_options(yield_per=_STREAM_BATCH)
    )
    yield from session.execute(statement)


def _headless(session: Session) -> VerifyResult:
    first = session.execute(select(func.min(AuditEvent.seq))).scalar()
    if first is None:
        return VerifyResult(ok=True, checked=0)
    return VerifyResult(
        ok=False, checked=0, first_broken=first, reason="audit events exist but the chain head is missing"
    )


def _as_stored(name: str, value: Any) -> Any:
    """The value as the JSON column gives it back (tuples become lists, keys strings), so the hash taken now
    matches the one recomputed from the stored row; values JSON cannot hold are refused here."""
    if value is None:
        return None
    try:
        stored = json.loads(json.dumps(value, allow_nan=False))
        rfc8785.dumps(stored)
    except (TypeError, ValueError) as error:
        raise ValueError(f"audit field {name}: {error}") from None
    return stored
