"""The approval flows: `/incident mitigate` and `/incident rollback` (with `--dry-run`), Approve and Deny clicks,
expiry, cancellation on resolve, the kill switch and `/incident audit`. Every production change goes through
`bot.approvals.gateway`; every decision, refusal and state change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.approvals import gateway
from bot.approvals import views as approval_views
from bot.approvals.actions import ACTIONS
from bot.approvals.evidence import evidence_hash, missing_evidence
from bot.approvals.requests import (
    Refusal,
    about,
    build_packet,
    channel_of,
    check_approval,
    create_request,
    evidence_refs,
    guard_write,
    move,
    parse_value,
    pending_for,
    set_kill_switch,
    transition,
    valid_token,
)
from bot.approvals.states import RequestState
from bot.audit import service as audit
from bot.errors import UserError
from bot.incidents.service import view_of
from bot.policy.service import PolicyInput, evaluate
from bot.runtime.context import Runtime
from bot.runtime.jobs import job
from bot.runtime.logs import tag_incident
from bot.runtime.scheduler import on_timer
from bot.slack import blocks
from bot.slack.messages import Ephemeral, Message, Post, RefreshApproval, ReplyTo
from bot.status.flow import Resolution, on_resolved
from bot.store.models import ApprovalRequest, Incident, Timer

AGENT_PREFIXES = ("B",)


def is_agent(rt: Runtime, user: str) -> bool:
    """Bots (and Steward itself) are agents; asked of Slack, since a button value or a name proves nothing."""
    if user.startswith(AGENT_PREFIXES):
        return True
    try:
        return bool(rt.slack.client.users_info(user=user)["user"].get("is_bot"))
    except SlackApiError:
        return True  # fail closed: someone we cannot look up does not approve production changes


@dataclass(frozen=True)
class ActionAsk:
    """Someone asking, in an incident, for one action on one target."""

    name: str
    target: str
    environment: str | None = None  # the incident's own when not given
    version: str | None = None
    dry_run: bool = False


def request_action(
    rt: Runtime, session: Session, incident: Incident, reply_to: ReplyTo, ask: ActionAsk
) -> list[Message]:
    user, name, target, version = reply_to.user, ask.name, ask.target, ask.version
    environment = ask.environment or incident.environment
    plan = ACTIONS[name].plan(rt, session, target=target, environment=environment, version=version)
    criticality = rt.config.services.services[plan.service].criticality
    facts = PolicyInput(
        action=name,
        environment=environment,
        service=plan.service,
        criticality=criticality,
        incident_mode=incident.status != "resolved" and (not incident.services or plan.service in incident.services),
        actor_is_agent=is_agent(rt, user),
        actor=user,
        **plan.policy_facts,
    )
    decision = evaluate(rt.config.policies, facts)
    packet = build_packet(plan, evidence_refs(session, incident.id), user, incident.id)
    digest = evidence_hash(packet)
    missing = missing_evidence(packet, decision.evidence_required) if decision.decision != "deny" else []
    now = rt.clock.now()
    common: dict[str, Any] = dict(
        at=now,
        actor=user,
        target=f"{name}:{plan.target}",
        environment=environment,
        rule=decision.rule_id,
        evidence_hash=digest,
        incident_id=incident.id,
    )
    if ask.dry_run:
        audit.append(
            session,
            action="dry_run",
            decision=decision.decision,
            reason="; ".join(decision.reasons),
            **common,
            details={"call": plan.call},
        )
        text, said = approval_views.dry_run(plan, decision, packet.model_dump(mode="json"), digest)
        return [reply_to.ephemeral(text, said)]
    if decision.decision == "deny" or missing:
        reasons = decision.reasons + ([f"evidence missing: {', '.join(missing)}"] if missing else [])
        if plan.recommendation and plan.recommendation["safe_next_step"]:
            reasons.append("safer next step: " + "; ".join(plan.recommendation["safe_next_step"]))
        audit.append(session, action="request_refused", decision="deny", reason="; ".join(reasons), **common)
        # Returned, not raised: the refusal's audit event must commit with this transaction.
        return [
            _refusal_reply(reply_to, f"Refused by policy (`{decision.rule_id or 'no rule'}`): " + "; ".join(reasons))
        ]
    state = RequestState.PENDING if decision.decision == "approval_required" else RequestState.EXECUTING
    if state == RequestState.EXECUTING:
        try:
            guard_write(rt, session, name)
        except Refusal as refusal:
            audit.append(session, action="request_refused", decision="allow", reason=str(refusal), **common)
            return [_refusal_reply(reply_to, str(refusal))]
    request = create_request(session, rt, plan, decision, packet, user, incident, state=state)
    audit.append(
        session,
        action="approval_requested" if state == RequestState.PENDING else "policy_allowed",
        decision=decision.decision,
        reason="; ".join(decision.reasons),
        **common,
        details={"request": request.id},
    )
    if state == RequestState.PENDING:
        return [
            RefreshApproval(request.id),
            reply_to.ephemeral(
                f"Approval requested: `{request.id}`. "
                f"An approver ({' or '.join(decision.approval_from)}) must approve it."
            ),
        ]
    session.commit()  # the gateway works in its own transactions; the allowed request must exist first
    return [RefreshApproval(request.id), *gateway.execute(rt, request.id, approver=user)]


def _refusal_reply(reply_to: ReplyTo, text: str) -> Ephemeral:
    return reply_to.ephemeral(text, blocks.error_blocks(text)[1])


def _reply(user: str, channel: str, response_url: str | None, text: str) -> Ephemeral:
    return Ephemeral(
        user=user, channel=channel, text=text, blocks=blocks.error_blocks(text)[1], response_url=response_url
    )


def _refused(rt: Runtime, request_id: str | None, user: str, refusal: Refusal, click: str) -> list[Message]:
    """A refusal reaches the clicker only, is audited, and moves the request when it must (expired, invalidated)."""
    messages: list[Message] = []
    with rt.db.session() as session:
        request = session.get(ApprovalRequest, request_id) if request_id else None
        if (
            request is not None
            and refusal.state
            and move(session, request.id, RequestState.PENDING, refusal.state, by=None, now=rt.clock.now())
        ):
            messages.append(RefreshApproval(request.id))
        # A refusal is audited whether or not it moved the request, so it is not a transition's event.
        fields: dict[str, Any] = about(request) if request else {"details": {"request": None}}
        fields["details"]["moved_to"] = refusal.state
        audit.append(session, at=rt.clock.now(), actor=user, action=f"{click}_refused", reason=str(refusal), **fields)
    return messages


def approve(rt: Runtime, user: str, channel: str, value: str, response_url: str | None) -> None:
    request_id: str | None = None
    try:
        request_id, given = parse_value(value)
        agent = is_agent(rt, user)
        with rt.db.session() as session:
            request = check_approval(rt, session, session.get(ApprovalRequest, request_id), given, user, agent)
            tag_incident(request.incident_id)
            if not transition(
                session,
                request,
                RequestState.PENDING,
                RequestState.EXECUTING,
                event="approved",
                actor=user,
                at=rt.clock.now(),
                decided_by=user,
                decision=request.decision,
                rule=request.rule_id,
                approver=user,
            ):
                raise Refusal("This request was already handled by someone else.")
    except (Refusal, UserError) as error:
        # A check that could not be made (the target unreadable, the config incomplete) refuses like a failed one.
        refusal = error if isinstance(error, Refusal) else Refusal(f"Not approved: {error}")
        rt.slack.deliver(
            [*_refused(rt, request_id, user, refusal, "approval"), _reply(user, channel, response_url, str(refusal))]
        )
        return
    rt.slack.deliver(gateway.execute(rt, request_id, approver=user))


def deny(rt: Runtime, user: str, channel: str, value: str, response_url: str | None) -> None:
    request_id: str | None = None
    try:
        request_id, given = parse_value(value)
        with rt.db.session() as session:
            request = session.get(ApprovalRequest, request_id)
            if request is None or not valid_token(rt.settings.steward_secret, request, given):
                raise Refusal("This button is not valid; nothing was done.")
            tag_incident(request.incident_id)
            roles = view_of(session, session.get_one(Incident, request.incident_id)).roles
            if user != request.requested_by and not any(user in roles.get(r, []) for r in request.required_roles):
                raise Refusal("Only an approver of this request, or whoever requested it, can deny it.")
            if not transition(
                session,
                request,
                RequestState.PENDING,
                RequestState.DENIED,
                event="denied",
                actor=user,
                at=rt.clock.now(),
                decided_by=user,
                decision=request.decision,
                rule=request.rule_id,
            ):
                raise Refusal(f"This request was already handled: it is {request.state}.")
            post = Post(channel=channel_of(request), text=f"🚫 <@{user}> denied `{request.id}`; nothing ran.")
    except Refusal as refusal:
        rt.slack.deliver(
            [*_refused(rt, request_id, user, refusal, "denial"), _reply(user, channel, response_url, str(refusal))]
        )
        return
    rt.slack.deliver([RefreshApproval(request_id), post])


@on_timer("approval_expiry")
def _expire(rt: Runtime, session: Session, timer: Timer) -> list[Message]:
    request = session.get(ApprovalRequest, timer.target)
    if request is None or not transition(
        session,
        request,
        RequestState.PENDING,
        RequestState.EXPIRED,
        event="expired",
        actor="steward",
        at=rt.clock.now(),
    ):
        return []
    return [RefreshApproval(request.id)]


@on_resolved
def _cancel_pending(rt: Runtime, session: Session, incident: Incident, resolution: Resolution) -> list[Message]:
    messages: list[Message] = []
    for request in pending_for(session, incident.id):
        if transition(
            session,
            request,
            RequestState.PENDING,
            RequestState.CANCELLED,
            event="cancelled",
            actor=resolution.actor,
            at=resolution.at,
            decided_by=resolution.actor,
            reason="incident resolved",
        ):
            messages.append(RefreshApproval(request.id))
    return messages


def flip_kill_switch(rt: Runtime, session: Session, incident: Incident, user: str, on: bool) -> list[Message]:
    """Admins only: on, Steward refuses every write action until it is turned off again."""
    admins = rt.config.steward.admins
    if user not in admins:
        raise UserError(
            f"Only Steward's admins ({', '.join(f'<@{a}>' for a in admins) or 'none configured'}) can flip the kill switch."
        )
    now = rt.clock.now()
    set_kill_switch(session, on, user, now)
    audit.append(session, at=now, actor=user, action=f"kill_switch_{'on' if on else 'off'}", incident_id=incident.id)
    text = (
        f"🛑 <@{user}> turned the kill switch *on*: Steward refuses every write action."
        if on
        else f"🟢 <@{user}> turned the kill switch *off*."
    )
    if rt.settings.steward_kill_switch and not on:
        text += " (STEWARD_KILL_SWITCH=1 is still set in the environment, so writes stay refused.)"
    if incident.channel_id is None:  # the kill switch is flipped by a command in the incident's channel
        raise LookupError(f"{incident.id} has no channel")
    return [Post(channel=incident.channel_id, text=text, blocks=[blocks.section(text)])]


@job
def reconcile_at_start(rt: Runtime) -> None:
    rt.slack.deliver(gateway.reconcile(rt))
