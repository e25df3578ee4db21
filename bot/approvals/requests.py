"""Approval requests: the evidence packet and its hash, the HMAC-scoped button token, the checks an Approve click
must pass (checks first, state change last), and compare-and-set moves between states."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlmodel import Session, col

from bot.approvals.actions import ACTIONS, Plan
from bot.approvals.evidence import EventRef, EvidencePacket, evidence_hash, short_hash
from bot.approvals.readiness import ReadinessCheck
from bot.approvals.states import RAN, REQUEST_MOVES, REQUEST_STARTS, RequestState
from bot.audit import service as audit
from bot.clock import rfc3339_utc
from bot.errors import UserError
from bot.incidents.service import view_of
from bot.policy.service import PolicyDecision, actor_denied
from bot.runtime.context import Runtime
from bot.store.models import ApprovalRequest, Incident, Setting, TimelineEvent, Timer

EVIDENCE_KINDS = ("alert", "alert_resolved", "change", "decision", "note")
EVIDENCE_EVENTS = 20
RATE_LIMIT = 5
RATE_WINDOW = timedelta(minutes=10)
KILL_SWITCH = "kill_switch"


class Refusal(UserError):
    """An Approve or Deny click that does not pass; said to the clicker only and written to the audit log.
    `state` is where the request moves because of it (expired, invalidated), if anywhere."""

    def __init__(self, message: str, state: RequestState | None = None) -> None:
        super().__init__(message)
        self.state = state


def evidence_refs(session: Session, incident_id: str) -> list[EventRef]:
    """The timeline events a request rests on: the latest alerts, changes, notes and decisions, pinned by content hash."""
    rows = session.execute(
        select(col(TimelineEvent.id), col(TimelineEvent.content_hash))
        .where(col(TimelineEvent.incident_id) == incident_id, col(TimelineEvent.kind).in_(EVIDENCE_KINDS))
        .order_by(col(TimelineEvent.at).desc(), col(TimelineEvent.id).desc())
        .limit(EVIDENCE_EVENTS)
    ).all()
    return [EventRef(id=str(row.id), content_hash=row.content_hash) for row in rows]


def build_packet(plan: Plan, refs: list[EventRef], requested_by: str, incident_id: str) -> EvidencePacket:
    return EvidencePacket(
        action=plan.action,
        target=plan.target,
        environment=plan.environment,
        service=plan.service,
        current_state=plan.current_state,
        proposed_state=plan.proposed_state,
        event_refs=refs,
        readiness=[ReadinessCheck(**c) for c in plan.readiness] if plan.readiness is not None else None,
        risk_flags=plan.risk_flags,
        alternatives=plan.alternatives,
        undo_path=plan.undo_path,
        expected_telemetry=plan.expected_telemetry,
        requested_by=requested_by,
        incident_id=incident_id,
        blast_radius=plan.blast_radius,
    )


def token(secret: str, request: ApprovalRequest) -> str:
    """HMAC over everything the approval is scoped to: id, action, target, environment, evidence hash, expiry."""
    scope = "|".join(
        [
            request.id,
            request.action,
            request.target,
            request.environment,
            request.evidence_hash,
            rfc3339_utc(request.expires_at),
        ]
    )
    return hmac.new(secret.encode(), scope.encode(), hashlib.sha256).hexdigest()[:32]


def valid_token(secret: str, request: ApprovalRequest | None, given: str) -> bool:
    return request is not None and hmac.compare_digest(token(secret, request), given)


def button_value(secret: str, request: ApprovalRequest) -> str:
    return f"{request.id}.{token(secret, request)}"


def sentence(request: ApprovalRequest) -> str:
    """The scoped sentence the approval message ends with and the confirm dialog repeats."""
    what = ACTIONS[request.action].sentence(request.params, request.environment, request.service)
    return (
        f"Approve {what}, evidence `{short_hash(request.evidence_hash)}`, "
        f"until {request.expires_at.strftime('%H:%M UTC')}."
    )


def create_request(
    session: Session,
    rt: Runtime,
    plan: Plan,
    decision: PolicyDecision,
    packet: EvidencePacket,
    requested_by: str,
    incident: Incident,
    state: RequestState = RequestState.PENDING,
) -> ApprovalRequest:
    if state not in REQUEST_STARTS:
        raise ValueError(f"an approval request cannot start {state}")
    now = rt.clock.now()
    request = ApprovalRequest(
        id=f"apr-{secrets.token_hex(5)}",
        incident_id=incident.id,
        action=plan.action,
        target=plan.target,
        environment=plan.environment,
        service=plan.service,
        params={**plan.params, "call": plan.call, "recommendation": plan.recommendation},
        packet=packet.model_dump(mode="json"),
        evidence_hash=evidence_hash(packet),
        decision=decision.decision,
        rule_id=decision.rule_id,
        required_roles=decision.approval_from,
        requested_by=requested_by,
        created_at=now,
        expires_at=(now + timedelta(seconds=rt.settings.approval_ttl_seconds)).replace(microsecond=0),
        state=state,
        slack_channel=incident.channel_id,
        # An allowed action is decided by the policy when requested, and counts for the rate limit from then.
        decided_by="policy" if state == RequestState.EXECUTING else None,
        decided_at=now if state == RequestState.EXECUTING else None,
    )
    session.add(request)
    if state == RequestState.PENDING:
        session.add(
            Timer(
                kind="approval_expiry",
                incident_id=incident.id,
                target=request.id,
                due_at=request.expires_at,
                created_at=now,
            )
        )
    session.flush()
    return request


def recomputed_hash(rt: Runtime, session: Session, request: ApprovalRequest) -> str:
    """The request's evidence as it stands now: the same events (with their current content), the target's
    current state and readiness. Events that arrived after the request are not part of it."""
    action = ACTIONS[request.action]
    stored = EvidencePacket.model_validate(request.packet)
    ids = [int(ref.id) for ref in stored.event_refs]
    hashes: dict[int, str] = {
        row.id: row.content_hash
        for row in session.execute(
            select(col(TimelineEvent.id), col(TimelineEvent.content_hash)).where(col(TimelineEvent.id).in_(ids))
        )
    }
    now: dict[str, Any] = {
        "event_refs": [{"id": ref.id, "content_hash": hashes.get(int(ref.id), "missing")} for ref in stored.event_refs],
        "current_state": action.current_state(rt, request.params),
    }
    if stored.readiness is not None:
        now["readiness"] = action.current_readiness(rt, session, request.params)
    return evidence_hash(EvidencePacket.model_validate({**request.packet, **now}))


def kill_switch_on(rt: Runtime, session: Session) -> bool:
    if rt.settings.steward_kill_switch:
        return True
    setting = session.get(Setting, KILL_SWITCH)
    return setting is not None and setting.value == "on"


def set_kill_switch(session: Session, on: bool, by: str, now: datetime) -> None:
    setting = session.get(Setting, KILL_SWITCH) or Setting(key=KILL_SWITCH, value="off")
    setting.value, setting.updated_by, setting.updated_at = ("on" if on else "off"), by, now
    session.add(setting)


def parse_value(value: str) -> tuple[str, str]:
    request_id, _, given = value.partition(".")
    if not request_id or not given:
        raise Refusal("This button is not one Steward made; nothing was done.")
    return request_id, given


def channel_of(request: ApprovalRequest) -> str:
    """The channel the request was made in; every request is made by a command in its incident's channel."""
    if request.slack_channel is None:
        raise LookupError(f"approval request {request.id} has no channel")
    return request.slack_channel


def check_approval(
    rt: Runtime, session: Session, request: ApprovalRequest | None, given: str, clicker: str, clicker_is_agent: bool
) -> ApprovalRequest:
    """Every check an Approve click must pass, in order; a Refusal names the first that fails."""
    if request is None or not valid_token(rt.settings.steward_secret, request, given):
        raise Refusal("This approval button is not valid (its token does not match the request); nothing was done.")
    if request.state != RequestState.PENDING:
        raise Refusal(f"This request was already handled: it is {request.state}.")
    if rt.clock.now() >= request.expires_at:
        raise Refusal(
            f"This request expired at {request.expires_at.strftime('%H:%M UTC')}; request it again.",
            state=RequestState.EXPIRED,
        )
    roles = view_of(session, session.get_one(Incident, request.incident_id)).roles
    if clicker == request.requested_by:
        raise Refusal("You requested this action, so someone else must approve it.")
    if clicker_is_agent:
        raise Refusal("Bots and agents cannot approve production changes.")
    if not any(clicker in roles.get(role, []) for role in request.required_roles):
        holders = ", ".join(f"<@{u}>" for role in request.required_roles for u in roles.get(role, [])) or "nobody yet"
        wanted = " or ".join(r.replace("_", " ") for r in request.required_roles)
        raise Refusal(f"Only the {wanted} of this incident can approve this ({holders}).")
    denied = actor_denied(rt.config.policies, request.rule_id, actor_is_agent=clicker_is_agent)
    if denied:
        raise Refusal(denied)
    if recomputed_hash(rt, session, request) != request.evidence_hash:
        raise Refusal("The evidence changed since this was requested; request again.", state=RequestState.INVALIDATED)
    guard_write(rt, session, request.action)
    return request


def guard_write(rt: Runtime, session: Session, action: str) -> None:
    """What every write action must pass, approved or allowed: the kill switch and the per-action rate limit."""
    if kill_switch_on(rt, session):
        raise Refusal("The kill switch is on: Steward refuses every write action until an admin turns it off.")
    recent = session.execute(
        select(func.count())
        .select_from(ApprovalRequest)
        .where(
            col(ApprovalRequest.action) == action,
            col(ApprovalRequest.state).in_(RAN),
            col(ApprovalRequest.decided_at) >= rt.clock.now() - RATE_WINDOW,
        )
    ).scalar_one()
    if recent >= RATE_LIMIT:
        raise Refusal(
            f"Rate limit: {RATE_LIMIT} {action} actions ran in the last {int(RATE_WINDOW.total_seconds() // 60)} "
            "minutes; wait, or ask an admin."
        )


def move(
    session: Session,
    request_id: str,
    frm: RequestState,
    to: RequestState,
    *,
    by: str | None,
    now: datetime,
    result: dict[str, Any] | None = None,
) -> bool:
    """Compare-and-set from `frm` to `to`, a move REQUEST_MOVES must hold: True only for the one caller that moved
    the request; every other racer gets False."""
    REQUEST_MOVES.check(frm, to)
    values: dict[str, Any] = {"state": to}
    if by is not None:
        values.update(decided_by=by, decided_at=now)
    if result is not None:
        values["result"] = result
    outcome = session.execute(
        update(ApprovalRequest)
        .where(col(ApprovalRequest.id) == request_id, col(ApprovalRequest.state) == frm)
        .values(**values)
    )
    moved = isinstance(outcome, CursorResult) and outcome.rowcount == 1
    if moved and frm == RequestState.PENDING:
        session.execute(
            update(Timer)
            .where(col(Timer.kind) == "approval_expiry", col(Timer.target) == request_id, col(Timer.state) == "pending")
            .values(state="cancelled")
        )
    return moved


def about(request: ApprovalRequest) -> dict[str, Any]:
    """The audit fields every event about a request carries."""
    return {
        "target": f"{request.action}:{request.target}",
        "environment": request.environment,
        "evidence_hash": request.evidence_hash,
        "incident_id": request.incident_id,
        "details": {"request": request.id},
    }


def transition(
    session: Session,
    request: ApprovalRequest,
    frm: RequestState,
    to: RequestState,
    *,
    event: str,
    actor: str,
    at: datetime,
    decided_by: str | None = None,
    result: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move the request and, when this caller moved it, append the audit event `event` in the same transaction.
    `fields` are the event's fields beyond those `about` gives. False (and no event) when a racer moved it first."""
    if not move(session, request.id, frm, to, by=decided_by, now=at, result=result):
        return False
    audit.append(session, at=at, actor=actor, action=event, **{**about(request), **fields})
    return True


def pending_for(session: Session, incident_id: str) -> list[ApprovalRequest]:
    return list(
        session.execute(
            select(ApprovalRequest).where(
                col(ApprovalRequest.incident_id) == incident_id, col(ApprovalRequest.state) == RequestState.PENDING
            )
        ).scalars()
    )
