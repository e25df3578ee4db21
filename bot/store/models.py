"""The tables of DESIGN section 3. Rows are plain data; the rules live in the domain modules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Table, Text, UniqueConstraint, inspect
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _json(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_type=JSON)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a table model, for statements that skip the ORM (SQLModel leaves `__table__` untyped)."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


class Incident(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)  # INC-YYYYMMDD-NN
    title: str
    severity: str = "SEV3"
    status: str = "investigating"
    channel_id: str | None = Field(default=None, unique=True)
    channel_name: str | None = None
    card_ts: str | None = None
    services: list[str] = _json(list)
    environment: str = "production"
    detected_at: datetime = _when()
    declared_by: str
    created_at: datetime = _when()
    resolved_at: datetime | None = _when(default=None)


class RoleAssignment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("incident_id", "role", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True)
    role: str
    user_id: str
    assigned_at: datetime = _when()


class TimelineEvent(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("incident_id", "dedupe_key"),
        Index("ix_timeline_incident_at", "incident_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id")
    at: datetime = _when()
    kind: str
    source: str
    service: str | None = None
    actor: str | None = None
    summary: str
    details: dict[str, Any] = _json()
    evidence_ref: str | None = None
    content_hash: str
    trust: str
    dedupe_key: str


class ProcessedEvent(SQLModel, table=True):
    """Slack Events API deliveries already handled; Slack retries the same event_id."""

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = _when()


class Signal(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source: str
    fingerprint: str = Field(index=True)
    name: str
    status: str
    labels: dict[str, str] = _json()
    annotations: dict[str, str] = _json()
    starts_at: datetime = _when()
    ends_at: datetime | None = _when(default=None)
    url: str | None = None
    service: str | None = Field(default=None, index=True)
    environment: str | None = None
    dedupe_key: str = Field(unique=True)
    received_at: datetime = _when()


class Change(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source: str
    kind: str
    service: str | None = Field(default=None, index=True)
    environment: str | None = None
    version: str | None = None
    previous_version: str | None = None
    sha: str | None = None
    state: str | None = None
    files: list[str] = _json(list)
    summary: str
    actor: str | None = None
    at: datetime = _when()
    url: str | None = None
    meta: dict[str, Any] = _json()
    trust: str = "trusted_platform"
    dedupe_key: str = Field(unique=True)
    received_at: datetime = _when()


class AlertPost(SQLModel, table=True):
    """One alert message in a channel; alerts arriving within 30 seconds of it are added to it, not posted anew."""

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(index=True)
    ts: str
    incident_id: str | None = Field(default=None, foreign_key="incident.id")
    opened_at: datetime = _when()
    last_at: datetime = _when()
    fingerprints: list[str] = _json(list)


class StatusUpdate(SQLModel, table=True):
    """A status update: drafted for one person, then published to the channel or discarded."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True)
    sections: dict[str, Any] = _json()
    evidence_refs: list[str] = _json(list)
    state: str = "draft"  # draft | published | discarded
    author: str
    created_at: datetime = _when()
    published_at: datetime | None = _when(default=None)
    slack_channel: str | None = None
    slack_ts: str | None = None


class Timer(SQLModel, table=True):
    """Something due at a time (an update reminder, an approval's expiry). The scheduler's tick claims due timers
    with a compare-and-set, so a tick that runs twice, or on two replicas, acts once."""

    __table_args__ = (Index("ix_timer_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    incident_id: str | None = Field(default=None, foreign_key="incident.id")
    target: str | None = None
    due_at: datetime = _when()
    state: str = "pending"  # pending | fired | cancelled
    payload: dict[str, Any] = _json()
    created_at: datetime = _when()
    fired_at: datetime | None = _when(default=None)


class ApprovalRequest(SQLModel, table=True):
    """One exact action on one target in one environment, bound to one evidence hash, until it expires."""

    id: str = Field(primary_key=True, max_length=32)
    incident_id: str = Field(foreign_key="incident.id", index=True)
    action: str
    target: str
    environment: str
    service: str
    params: dict[str, Any] = _json()
    packet: dict[str, Any] = _json()
    evidence_hash: str
    decision: str
    rule_id: str | None = None
    required_roles: list[str] = _json(list)
    requested_by: str
    created_at: datetime = _when()
    expires_at: datetime = _when()
    state: str = "pending"  # a bot.approvals.states.RequestState; its moves are that module's REQUEST_MOVES
    decided_by: str | None = None
    decided_at: datetime | None = _when(default=None)
    result: dict[str, Any] = _json()
    slack_channel: str | None = None
    slack_ts: str | None = None


class Execution(SQLModel, table=True):
    """A call to an executor; one per idempotency key, whatever races or re-requests happen."""

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True)
    approval_id: str | None = Field(default=None, foreign_key="approvalrequest.id")
    executor: str
    call: str
    started_at: datetime = _when()
    finished_at: datetime | None = _when(default=None)
    outcome: str = "running"  # a bot.approvals.states.ExecutionOutcome; its moves are EXECUTION_MOVES
    readback: dict[str, Any] = _json()
    error: str | None = None


class AuditEvent(SQLModel, table=True):
    """One link of the global hash chain: each event's hash covers the previous one's."""

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _when()
    incident_id: str | None = Field(default=None, index=True)
    actor: str
    action: str
    target: str | None = None
    environment: str | None = None
    decision: str | None = None
    rule: str | None = None
    evidence_hash: str | None = None
    approver: str | None = None
    reason: str | None = None
    telemetry_before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    telemetry_after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    details: dict[str, Any] = _json()
    prev_hash: str
    hash: str


class AuditHead(SQLModel, table=True):
    """The chain's head, one row, locked while appending so replicas never fork the chain."""

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    hash: str = "0" * 64


class Setting(SQLModel, table=True):
    """Switches every replica must see, such as the kill switch."""

    key: str = Field(primary_key=True, max_length=64)
    value: str
    updated_by: str | None = None
    updated_at: datetime = _when()


class Job(SQLModel, table=True):
    """Work a listener acked and handed on, stored by the worker's flusher within milliseconds of the ack (see
    bot/runtime/worker.py for the window a crash can lose); jobs with the same key run one at a time in id order, on
    whichever worker claims them."""

    __table_args__ = (Index("ix_job_state_id", "state", "id"), Index("ix_job_key_id", "key", "id"))

    id: int | None = Field(default=None, primary_key=True)
    key: str  # a channel, usually: its jobs keep their order
    name: str  # a function registered with bot.runtime.jobs.job
    args: str = Field(sa_type=Text)  # a JSON array, encoded once when submitted
    state: str = "queued"  # a bot.runtime.jobs.JobState; its moves are JOB_MOVES (done jobs are deleted)
    attempts: int = 0
    enqueued_at: datetime = _when()
    claimed_at: datetime | None = _when(default=None)
    claimed_by: str | None = None
    error: str | None = None
    request_id: str | None = None  # of the Slack request or webhook delivery it came from: its log lines carry it
