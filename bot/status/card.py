"""The incident's pinned card, drawn from what is stored: its state, roles and the last published update."""

from __future__ import annotations

from functools import partial

from sqlmodel import col, select

from bot.incidents import views as incident_views
from bot.incidents.service import channel_of, set_card, view_of
from bot.slack.messages import Drawn, RefreshCard
from bot.status import views as status_views
from bot.store.db import Database
from bot.store.models import Incident, StatusUpdate


def draw_card(db: Database, message: RefreshCard) -> Drawn:
    with db.session() as session:
        view = view_of(session, session.get_one(Incident, message.incident_id))
        latest = session.exec(
            select(StatusUpdate)
            .where(StatusUpdate.incident_id == message.incident_id, StatusUpdate.state == "published")
            .order_by(col(StatusUpdate.published_at).desc(), col(StatusUpdate.id).desc())
        ).first()
    text, card = incident_views.incident_card(
        view, last_update=status_views.last_update_line(latest) if latest else None
    )
    return Drawn(
        channel=channel_of(view),
        text=text,
        blocks=card,
        ts=view.card_ts,
        posted=partial(set_card, db, message.incident_id),
        pin=True,
    )
