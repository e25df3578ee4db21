"""Slack retries Events API deliveries it thinks failed; each event_id is handled once, across replicas."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.store.db import Database
from bot.store.models import ProcessedEvent


def claim_event(db: Database, clock: Clock, event_id: str) -> bool:
    """True for the first delivery of `event_id`; False for a retry (the primary key says so)."""
    try:
        with db.session() as session:
            session.add(ProcessedEvent(event_id=event_id, received_at=clock.now()))
        return True
    except IntegrityError:
        return False
