"""Incident ids stay unique when declarations race, on the real PostgreSQL, and restart each day."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from freezegun import freeze_time

from bot.clock import ManualClock, SystemClock
from bot.incidents.service import declare_incident
from bot.store.db import Database

DAY = "2026-11-25 10:00:00+00:00"


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
    with freeze_time(DAY) as frozen:
        assert declare_incident(db, SystemClock(), title="a", declared_by="U1").id == "INC-20261125-01"
        frozen.tick(timedelta(days=1))
        assert declare_incident(db, SystemClock(), title="b", declared_by="U1").id == "INC-20261126-01"
