"""The approval message, drawn from the request's current state: Approve and Deny buttons (signed for exactly
this request) while it is pending, the outcome after."""

from __future__ import annotations

from sqlmodel import col, select

from bot.approvals import views as approval_views
from bot.approvals.requests import button_value, channel_of, sentence
from bot.approvals.states import RequestState
from bot.slack.messages import Drawn, RefreshApproval
from bot.store.db import Database
from bot.store.models import ApprovalRequest, TimelineEvent


def draw_approval(db: Database, secret: str, message: RefreshApproval) -> Drawn:
    with db.session() as session:
        request = session.get_one(ApprovalRequest, message.request_id)
        value = button_value(secret, request) if request.state == RequestState.PENDING else None
        ids = [int(ref["id"]) for ref in request.packet.get("event_refs", [])]
        evidence = (
            session.execute(
                select(TimelineEvent)
                .where(col(TimelineEvent.id).in_(ids))
                .order_by(col(TimelineEvent.at).desc())
                .limit(8)
            )
            .scalars()
            .all()
        )
        text, drawn = approval_views.approval_message(request, sentence(request), value, evidence)
        return Drawn(
            channel=channel_of(request),
            text=text,
            blocks=drawn,
            ts=request.slack_ts,
            posted=lambda ts: _remember(db, message.request_id, ts),
        )


def _remember(db: Database, request_id: str, ts: str) -> None:
    with db.session() as session:
        session.get_one(ApprovalRequest, request_id).slack_ts = ts
