"""The only door to executors. Before the call: the policy decision and an audit event, and one Execution per
idempotency key. After it: the state read back, the request's outcome, timeline and audit events, telemetry
before and after. A request left executing by a crash is reconciled by reading the state back."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import CursorResult, select, update
from sqlmodel import Session, col

from bot.approvals.actions import ACTIONS, Outcome
from bot.approvals.evidence import short_hash
from bot.approvals.requests import about, sentence, transition
from bot.approvals.states import EXECUTION_MOVES, EXECUTION_OUTCOME, ExecutionOutcome, RequestState
from bot.audit import service as audit
from bot.errors import UserError
from bot.executors import ExecutorError
from bot.redact.redactor import neutralise
from bot.runtime.context import Runtime
from bot.runtime.logs import tag_incident
from bot.slack.messages import Message, Post, RefreshApproval
from bot.store.bulk import insert_new
from bot.store.models import ApprovalRequest, Execution
from bot.timeline.record import TRUSTED, record_event

log = logging.getLogger(__name__)
RECONCILE_AFTER = timedelta(minutes=2)
EXECUTIONS = Execution.metadata.tables["execution"]


def telemetry(rt: Runtime, service: str, at: datetime) -> dict[str, Any] | None:
    """Firing alerts of the service as Prometheus sees them, when a Prometheus URL is configured."""
    url = rt.config.steward.prometheus_url
    if not url:
        return None
    query = f'count(ALERTS{{alertstate="firing",service="{service}"}}) or vector(0)'
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/v1/query", params={"query": query}, timeout=5)
        response.raise_for_status()
        result = response.json()["data"]["result"]
        return {"at": at.isoformat(), "query": query, "firing_alerts": float(result[0]["value"][1]) if result else 0.0}
    except (httpx.HTTPError, KeyError, ValueError, IndexError) as error:
        return {"at": at.isoformat(), "query": query, "error": str(error)[:200]}


def execute(rt: Runtime, request_id: str, approver: str) -> list[Message]:
    """Run an approved (executing) request once. Returns what to say; never raises for an executor failure."""
    with rt.db.session() as session:
        request = session.get_one(ApprovalRequest, request_id)
        tag_incident(request.incident_id)
        action = ACTIONS[request.action]
        params = {**request.params, "environment": request.environment}
        key = action.idempotency_key(params, request.environment, request.incident_id)
        before = telemetry(rt, request.service, rt.clock.now())
        audit.append(
            session,
            at=rt.clock.now(),
            actor=approver,
            action="execution_started",
            **about(request),
            **_decided(request),
            telemetry_before=before,
            reason=params.get("call"),
        )
        inserted = insert_new(
            session,
            EXECUTIONS,
            [
                {
                    "idempotency_key": key,
                    "approval_id": request.id,
                    "executor": request.action,
                    "call": params.get("call", ""),
                    "started_at": rt.clock.now(),
                    "outcome": ExecutionOutcome.RUNNING,
                    "readback": {},
                    "error": None,
                }
            ],
            EXECUTIONS.c.id,
        )
        if not inserted and not _rerun_failed(session, key, request.id, rt.clock.now()):
            return _already_executed(rt, session, request, key, approver)
    message = (
        f"{sentence(request)[len('Approve ') :].rstrip('.')} — {request.incident_id}, approved by {approver}, "
        f"evidence {short_hash(request.evidence_hash)}"
    )
    try:
        outcome = action.execute(rt, params, message)
    except Exception as failure:
        reason = (
            str(failure) if isinstance(failure, (ExecutorError, UserError)) else f"{type(failure).__name__}: {failure}"
        )
        if not isinstance(failure, (ExecutorError, UserError)):
            log.exception("executor for %s raised", request_id)
        return _record(
            rt, request_id, key, approver, RequestState.FAILED, Outcome("failed", {}, {}), {}, reason, before
        )
    try:
        holds, readback = action.holds(rt, params)
        error = None
    except Exception as failure:
        holds, readback, error = False, {}, f"read-back failed: {failure}"
    state = (
        RequestState.EXECUTED
        if holds
        else RequestState.EXECUTING
        if outcome.state == ExecutionOutcome.WAITING
        else RequestState.UNKNOWN
    )
    return _record(rt, request_id, key, approver, state, outcome, readback, error, before)


def _rerun_failed(session: Session, key: str, request_id: str, now: datetime) -> bool:
    """A key whose earlier execution failed may run again: a failure claims nothing. True when this caller took it."""
    EXECUTION_MOVES.check(ExecutionOutcome.FAILED, ExecutionOutcome.RUNNING)
    rerun = session.execute(
        update(Execution)
        .where(col(Execution.idempotency_key) == key, col(Execution.outcome) == ExecutionOutcome.FAILED)
        .values(approval_id=request_id, outcome=ExecutionOutcome.RUNNING, started_at=now, finished_at=None, error=None)
    )
    return isinstance(rerun, CursorResult) and rerun.rowcount > 0


_OUTCOME_EVENTS = {
    RequestState.EXECUTED: "executed",
    RequestState.FAILED: "execution_failed",
    RequestState.EXECUTING: "execution_waiting",
    RequestState.UNKNOWN: "execution_unknown",
}


def _record(
    rt: Runtime,
    request_id: str,
    key: str,
    approver: str,
    state: RequestState,
    outcome: Outcome,
    readback: dict[str, Any],
    error: str | None,
    before: dict[str, Any] | None,
) -> list[Message]:
    now = rt.clock.now()
    with rt.db.session() as session:
        request = session.get_one(ApprovalRequest, request_id)
        result = {
            "outcome": outcome.state,
            "detail": outcome.detail,
            "readback": readback,
            "error": error,
            "waiting": outcome.state == ExecutionOutcome.WAITING,
        }
        after = telemetry(rt, request.service, now)
        if not transition(
            session,
            request,
            RequestState.EXECUTING,
            state,
            event=_OUTCOME_EVENTS[state],
            actor=approver,
            at=now,
            result=result,
            **_decided(request),
            telemetry_after=after,
            reason=error,
        ):
            # Reconciled by another replica meanwhile: its word stands; this outcome is only logged.
            log.warning("request %s was settled elsewhere while it ran here (outcome %s)", request_id, state)
            return []
        execution = session.execute(select(Execution).where(col(Execution.idempotency_key) == key)).scalar_one()
        execution.finished_at, execution.readback, execution.error = now, readback, error
        execution.outcome = EXECUTION_MOVES.check(ExecutionOutcome(execution.outcome), EXECUTION_OUTCOME[state])
        if state == RequestState.EXECUTED:
            what = ACTIONS[request.action].sentence(request.params, request.environment, request.service)
            record_event(
                session,
                request.incident_id,
                at=now,
                kind="action_executed",
                source="steward",
                trust=TRUSTED,
                actor=approver,
                service=request.service,
                summary=what[0].upper() + what[1:],
                details={"request": request.id, "readback": readback},
                evidence_ref=request.id,
            )
        text = outcome_line(request, state, approver, error)
        channel = request.slack_channel
    return [RefreshApproval(request_id), Post(channel=channel, text=text, blocks=[])] if channel else []


def outcome_line(request: ApprovalRequest, state: RequestState, approver: str, error: str | None) -> str:
    what = ACTIONS[request.action].sentence(request.params, request.environment, request.service)
    return {
        RequestState.EXECUTED: f"✅ Done: {what} (approved by <@{approver}>). Read back: the target state holds.",
        RequestState.FAILED: f"❌ Failed: {what} (approved by <@{approver}>): {neutralise(error or '')}. Nothing was claimed; the request is failed.",
        RequestState.EXECUTING: f"⏳ Waiting: {what} was handed to the platform, which waits for its own reviewers; Steward does not bypass them.",
        RequestState.UNKNOWN: f"⚠️ Unknown: {what} ran, but the read-back does not show the target state"
        + (f" ({neutralise(error)})" if error else "")
        + ". A human must check.",
    }[state]


def _already_executed(
    rt: Runtime, session: Session, request: ApprovalRequest, key: str, approver: str
) -> list[Message]:
    """Another request with the same idempotency key already ran: this one does not call the executor again."""
    first = session.execute(select(Execution).where(col(Execution.idempotency_key) == key)).scalar_one()
    transition(
        session,
        request,
        RequestState.EXECUTING,
        RequestState.EXECUTED if first.outcome == ExecutionOutcome.SUCCEEDED else RequestState.UNKNOWN,
        event="execution_skipped_duplicate",
        actor=approver,
        at=rt.clock.now(),
        result={"duplicate_of": first.approval_id, "outcome": first.outcome},
        **_decided(request),
        reason=f"idempotency key {key} already used",
    )
    text = (
        f"Already done under {first.approval_id} (same action, target and incident): nothing ran again."
        if first.outcome == ExecutionOutcome.SUCCEEDED
        else f"The same action for this incident is {first.outcome} under {first.approval_id}; nothing ran again."
    )
    return (
        [RefreshApproval(request.id), Post(channel=request.slack_channel, text=text)] if request.slack_channel else []
    )


def _decided(request: ApprovalRequest) -> dict[str, Any]:
    """The audit fields of the gateway's events beyond `about`: how the request was decided, and by whom."""
    return {"decision": request.decision, "rule": request.rule_id, "approver": request.decided_by}


def reconcile(rt: Runtime) -> list[Message]:
    """At start: requests a crash left executing are settled by reading the state back, and said in the channel.
    Only those executing for longer than RECONCILE_AFTER: a younger one may be running on another replica."""
    settled_before = rt.clock.now() - RECONCILE_AFTER
    with rt.db.session() as session:
        stuck = [
            r.id
            for r in session.execute(
                select(ApprovalRequest).where(
                    col(ApprovalRequest.state) == RequestState.EXECUTING,
                    col(ApprovalRequest.decided_at) < settled_before,
                )
            ).scalars()
            if not r.result.get("waiting")
        ]
    messages: list[Message] = []
    for request_id in stuck:
        with rt.db.session() as session:
            request = session.get_one(ApprovalRequest, request_id)
            params = {**request.params, "environment": request.environment}
            try:
                holds, readback = ACTIONS[request.action].holds(rt, params)
            except ExecutorError as error:
                holds, readback = False, {"error": str(error)}
            state = RequestState.EXECUTED if holds else RequestState.UNKNOWN
            transition(
                session,
                request,
                RequestState.EXECUTING,
                state,
                event=f"reconciled_{state}",
                actor="steward",
                at=rt.clock.now(),
                result={**request.result, "reconciled": True, "readback": readback},
                **_decided(request),
                reason="found executing at start",
            )
            what = ACTIONS[request.action].sentence(request.params, request.environment, request.service)
            text = (
                f"🔁 After a restart I found {what} unfinished; the read-back shows the target state, so it is executed."
                if holds
                else f"⚠️ After a restart I found {what} unfinished and cannot confirm it took effect. "
                "A human must check the target; the request is marked unknown."
            )
            if request.slack_channel:
                messages += [RefreshApproval(request_id), Post(channel=request.slack_channel, text=text)]
    return messages
