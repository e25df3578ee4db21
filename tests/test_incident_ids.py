"""Incident ids stay unique when declarations race, on the real PostgreSQL."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from bot.clock import ManualClock
from bot.incidents.service import declare_incident
from bot.store.db import Database


@pytest.mark.postgres
def test_racing_declarations_get_distinct_consecutive_ids(postgres_url):
    db = Database(postgres_url)
    db.upgrade()
    clock = ManualClock()
    racers = 8
    barrier = Barrier(racers)

    def declare(n: int) -> str:
        barrier.wait()
        return declare_incident(db, clock, title=f"race {n}", declared_by="U0COMMANDER").id

    with ThreadPoolExecutor(racers) as pool:
        ids = list(pool.map(declare, range(racers)))
    db.engine.dispose()
    assert sorted(ids) == [f"INC-20261125-{n:02d}" for n in range(1, racers + 1)]


def test_ids_restart_each_day(sqlite_url):
    db = Database(sqlite_url)
    db.upgrade()
    clock = ManualClock()
    assert declare_incident(db, clock, title="a", declared_by="U1").id == "INC-20261125-01"
    clock.advance(days=1)
    assert declare_incident(db, clock, title="b", declared_by="U1").id == "INC-20261126-01"
