"""The transition tables of approval requests, executions and jobs, move by move: every legal move passes, every
other one raises IllegalTransition. The legal moves are written out here, apart from the tables, so a table that
gains or loses a move fails this test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import product

import pytest
from sqlmodel import select

from bot.approvals.requests import move
from bot.approvals.states import EXECUTION_MOVES, REQUEST_MOVES, ExecutionOutcome, RequestState
from bot.runtime.jobs import JOB_MOVES, JobState
from bot.store.models import ApprovalRequest, Incident, Timer
from bot.store.states import IllegalTransition, Transitions

R, E, J = RequestState, ExecutionOutcome, JobState

LEGAL: list[tuple[Transitions, type[StrEnum], set[tuple[StrEnum, StrEnum]]]] = [
    (
        REQUEST_MOVES,
        RequestState,
        {
            (R.PENDING, R.EXECUTING),
            (R.PENDING, R.DENIED),
            (R.PENDING, R.EXPIRED),
            (R.PENDING, R.INVALIDATED),
            (R.PENDING, R.CANCELLED),
            (R.EXECUTING, R.EXECUTING),
            (R.EXECUTING, R.EXECUTED),
            (R.EXECUTING, R.FAILED),
            (R.EXECUTING, R.UNKNOWN),
        },
    ),
    (
        EXECUTION_MOVES,
        ExecutionOutcome,
        {
            (E.RUNNING, E.SUCCEEDED),
            (E.RUNNING, E.WAITING),
            (E.RUNNING, E.FAILED),
            (E.RUNNING, E.UNKNOWN),
            (E.FAILED, E.RUNNING),
        },
    ),
    (JOB_MOVES, JobState, {(J.QUEUED, J.RUNNING), (J.RUNNING, J.QUEUED), (J.RUNNING, J.FAILED)}),
]
CASES = [
    pytest.param(table, frm, to, (frm, to) in legal, id=f"{table.kind}: {frm}->{to}")
    for table, states, legal in LEGAL
    for frm, to in product(states, repeat=2)
]


@pytest.mark.parametrize(("table", "frm", "to", "legal"), CASES)
def test_a_move_passes_exactly_when_the_table_holds_it(table, frm, to, legal):
    if legal:
        assert table.check(frm, to) is to
    else:
        with pytest.raises(IllegalTransition, match=f"from '{frm}' to '{to}'"):
            table.check(frm, to)


def test_stored_states_keep_their_strings():
    """No migration: the rows hold the same words they held before the states were types."""
    assert [s.value for s in RequestState] == [
        "pending",
        "executing",
        "executed",
        "failed",
        "unknown",
        "denied",
        "expired",
        "invalidated",
        "cancelled",
    ]
    assert [s.value for s in ExecutionOutcome] == ["running", "succeeded", "waiting", "failed", "unknown"]
    assert [s.value for s in JobState] == ["queued", "running", "failed"]


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stored_request(db, state: RequestState) -> str:
    with db.session() as session:
        session.add(
            Incident(id="INC-20260301-01", title="Checkout errors", detected_at=NOW, declared_by="U1", created_at=NOW)
        )
        session.flush()  # the rows have no relationships, so nothing else orders the incident first
        session.add(
            ApprovalRequest(
                id="apr-1",
                incident_id="INC-20260301-01",
                action="flag",
                target="checkout.new-routing",
                environment="production",
                service="payment-api",
                evidence_hash="0" * 64,
                decision="approval_required",
                requested_by="U1",
                created_at=NOW,
                expires_at=NOW + timedelta(minutes=15),
                state=state,
            )
        )
        session.add(
            Timer(
                kind="approval_expiry",
                incident_id="INC-20260301-01",
                target="apr-1",
                due_at=NOW + timedelta(minutes=15),
                created_at=NOW,
            )
        )
        session.commit()
    return "apr-1"


def stored_state(db, request_id: str) -> tuple[str, str]:
    with db.session() as session:
        request = session.get(ApprovalRequest, request_id)
        timer = session.exec(select(Timer).where(Timer.target == request_id)).one()
        return request.state, timer.state


def test_only_the_first_of_two_racing_moves_moves_a_request_and_its_expiry_is_cancelled(db):
    request_id = stored_request(db, RequestState.PENDING)
    with db.session() as session:
        assert move(session, request_id, R.PENDING, R.DENIED, by="U2", now=NOW)
        assert not move(session, request_id, R.PENDING, R.EXPIRED, by=None, now=NOW)
        session.commit()
    assert stored_state(db, request_id) == ("denied", "cancelled")


def test_an_illegal_move_raises_and_leaves_the_stored_request_as_it_was(db):
    request_id = stored_request(db, RequestState.PENDING)
    with db.session() as session, pytest.raises(IllegalTransition, match="approval request cannot move"):
        move(session, request_id, R.PENDING, R.EXECUTED, by=None, now=NOW)
    assert stored_state(db, request_id) == ("pending", "pending")
