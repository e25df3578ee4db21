"""The durable worker: acked jobs are stored, survive a worker that stops, run in order per key, and a failure or a
crash is recorded instead of lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text, update

from bot.runtime.jobs import job
from bot.runtime.worker import JOB, LEASE, LEASE_CLOCK, MAX_ATTEMPTS, Worker
from bot.store.models import Job
from tests.support.monitoring import wait_for

RAN: list[tuple[str, ...]] = []
GATE = threading.Event()


@job
def record(rt, *args: str) -> None:
    RAN.append((rt.name, *args))


@job
def slow_record(rt, *args: str) -> None:
    GATE.wait(10)
    RAN.append((rt.name, *args))


@job
def explode(rt, reason: str) -> None:
    raise RuntimeError(reason)


@pytest.fixture(autouse=True)
def _fresh():
    RAN.clear()
    GATE.clear()
    yield
    GATE.set()


@contextmanager
def running(db, clock, name: str = "first") -> Iterator[Worker]:
    w = Worker(db, clock)
    w.run_here(SimpleNamespace(name=name, db=db))
    try:
        yield w
    finally:
        GATE.set()
        w.shutdown()


def stored_not_run(db, clock, *notes: str) -> None:
    """What a worker that acked and stored these notes, then died before running them, leaves behind."""
    stopped = Worker(db, clock)
    for note in notes:
        stopped.submit("C1", record, note)
    stopped.shutdown()


def jobs_in(db) -> list[tuple[str, str, str | None]]:
    with db.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(select(JOB.c.name, JOB.c.state, JOB.c.error).order_by(JOB.c.id))]


def test_a_submitted_job_runs_and_leaves_nothing_behind(db, clock):
    with running(db, clock) as w:
        w.submit("C1", record, "note", "hello")
        assert w.wait_idle(10)
        assert RAN == [("first", "note", "hello")]
        assert jobs_in(db) == []


def test_jobs_stored_before_a_worker_stops_are_run_by_the_next_one(db, clock):
    stored_not_run(db, clock, "one", "two")
    assert [state for _, state, _ in jobs_in(db)] == ["queued", "queued"]
    assert RAN == []

    with running(db, clock, name="restarted") as w:
        assert w.wait_idle(10)
        assert RAN == [("restarted", "one"), ("restarted", "two")]


def test_one_keys_jobs_run_in_order_while_another_key_is_not_held_up(db, clock):
    with running(db, clock) as w:
        w.submit("C1", slow_record, "c1-first")
        w.submit("C1", record, "c1-second")
        w.submit("C2", record, "c2-only")
        deadline = time.monotonic() + 10
        while ("first", "c2-only") not in RAN and time.monotonic() < deadline and not db.url.startswith("sqlite"):
            time.sleep(0.01)
        GATE.set()
        assert w.wait_idle(10)
        assert RAN.index(("first", "c1-first")) < RAN.index(("first", "c1-second"))
        if not db.url.startswith("sqlite"):  # on SQLite one thread runs the jobs, so C2 waits its turn
            assert RAN.index(("first", "c2-only")) < RAN.index(("first", "c1-first"))


def test_a_failing_job_is_kept_with_its_error_and_the_keys_next_job_still_runs(db, clock):
    with running(db, clock) as w:
        w.submit("C1", explode, "the executor said no")
        w.submit("C1", record, "after")
        assert w.wait_idle(10)
        assert jobs_in(db) == [("test_worker.explode", "failed", "RuntimeError: the executor said no")]
        assert RAN == [("first", "after")]


def test_a_job_whose_worker_crashed_runs_again_once_its_lease_runs_out(db, clock):
    stored_not_run(db, clock, "interrupted", "next")
    with db.engine.begin() as connection:  # what a crashed worker leaves: claimed, running, its lease not renewed
        connection.execute(
            update(JOB)
            .where(JOB.c.id == select(JOB.c.id).order_by(JOB.c.id).limit(1).scalar_subquery())
            .values(
                state="running",
                claimed_by="crashed",
                attempts=1,
                claimed_at=LEASE_CLOCK.now() - LEASE - timedelta(seconds=1),
            )
        )
    with running(db, clock, name="survivor") as w:
        assert w.wait_idle(10)
        assert RAN == [("survivor", "interrupted"), ("survivor", "next")]


def test_a_job_abandoned_too_often_is_failed_not_retried_forever(db, clock):
    stored_not_run(db, clock, "poison")
    with db.engine.begin() as connection:
        connection.execute(
            update(JOB).values(
                state="running",
                claimed_by="crashed",
                attempts=MAX_ATTEMPTS,
                claimed_at=LEASE_CLOCK.now() - LEASE - timedelta(seconds=1),
            )
        )
    with running(db, clock) as w:
        assert w.wait_idle(10)
        assert jobs_in(db) == [("test_worker.record", "failed", f"abandoned by its worker {MAX_ATTEMPTS} times")]
        assert RAN == []


def test_a_running_jobs_lease_is_renewed_so_a_live_worker_keeps_it(db, clock, monkeypatch):
    monkeypatch.setattr("bot.runtime.worker.LEASE", timedelta(seconds=0.3))
    with running(db, clock) as w:
        w.submit("C1", slow_record, "long")
        started = LEASE_CLOCK.now()
        # Three leases: without renewal another sweep would requeue it and it would run twice.
        wait_for(
            lambda: claimed_at(db) > started + 3 * timedelta(seconds=0.3),
            timeout=10,
            interval=0.02,
            message="the running job's lease renewed past three leases",
        )
        GATE.set()
        assert w.wait_idle(10)
        assert RAN == [("first", "long")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_jobs_the_database_refuses_are_kept_and_stored_when_it_recovers(db, clock, caplog):
    with db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE job RENAME TO job_away"))
    with running(db, clock) as w:
        w.submit("C1", record, "kept")
        wait_for(
            lambda: "could not store 1 job(s)" in caplog.text,
            timeout=10,
            interval=0.02,
            message="the flusher's first refused commit",
        )
        assert RAN == []
        assert w.has_queued(record)  # kept in memory: the scheduler must not submit its tick again
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE job_away RENAME TO job"))
        assert w.wait_idle(15)
        assert RAN == [("first", "kept")]


def test_only_registered_functions_with_json_arguments_can_be_submitted(db, clock):
    with running(db, clock) as w:
        with pytest.raises(ValueError, match="not a registered job"):
            w.submit("C1", print, "x")
        with pytest.raises(TypeError):
            w.submit("C1", record, object())
        assert w.wait_idle(2) and jobs_in(db) == []


def test_a_stored_job_naming_no_registered_function_fails_with_that_reason(db, clock):
    with db.engine.begin() as connection:
        connection.execute(
            Job.__table__.insert().values(
                key="C1",
                name="gone.in_an_older_release",
                args="[]",
                state="queued",
                attempts=0,
                enqueued_at=clock.now(),
            )
        )
    with running(db, clock) as w:
        assert w.wait_idle(10)
        assert jobs_in(db) == [
            ("gone.in_an_older_release", "failed", "LookupError: no job named 'gone.in_an_older_release'")
        ]


def claimed_at(db):
    """When the one running job's lease was last taken or renewed (aware UTC); the earliest time before it runs."""
    with db.engine.connect() as connection:
        value = connection.execute(select(JOB.c.claimed_at).where(JOB.c.state == "running")).scalar()
    return value or datetime.min.replace(tzinfo=UTC)
