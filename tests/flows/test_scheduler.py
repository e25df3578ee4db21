"""Timers fire once however often, and wherever, the tick runs; one replica at a time leads the scheduler."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, text
from sqlmodel import select

from bot.clock import SystemClock
from bot.runtime.scheduler import TICK_JOB, LeaderLock, Scheduler, on_timer, run_due
from bot.runtime.worker import Worker
from bot.slack.messages import Post
from bot.store.db import Database
from bot.store.models import Timer
from tests.support.paths import ROOT


@dataclass
class SaidInSlack:
    """Stands in for SlackPort.deliver: what the timers said."""

    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, messages):
        with self.lock:
            self.messages += messages


@on_timer("test_probe")
def _probe(rt, session, timer):
    if timer.target == "broken":
        raise RuntimeError("a bug in a timer handler")
    return [Post(channel="C1", text=f"probe {timer.target}")]


@pytest.fixture
def frozen():
    """Time stands still until the test moves it: these tests call the tick themselves, no server or worker runs."""
    with freeze_time("2026-11-25 10:00:00+00:00") as frozen:
        yield frozen


@pytest.fixture
def rt(database_url, frozen):
    db = Database(database_url)
    db.upgrade()
    yield SimpleNamespace(db=db, clock=SystemClock(), slack=SaidInSlack())
    db.engine.dispose()


def add_timer(rt, target, due_in_minutes, kind="test_probe", state="pending"):
    with rt.db.session() as session:
        now = rt.clock.now()
        session.add(
            Timer(kind=kind, target=target, due_at=now + timedelta(minutes=due_in_minutes), state=state, created_at=now)
        )


def states(rt):
    with rt.db.session() as session:
        return {t.target: t.state for t in session.exec(select(Timer))}


def said(rt):
    return sorted(m.text for m in rt.slack.messages)


def test_a_due_timer_fires_once_however_many_ticks_race_for_it(rt, frozen):
    add_timer(rt, "overdue", -5)
    add_timer(rt, "due", 0)
    add_timer(rt, "later", 10)
    add_timer(rt, "cancelled", -5, state="cancelled")
    start = threading.Barrier(8)

    def tick():
        start.wait()
        run_due(rt)

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert said(rt) == ["probe due", "probe overdue"]
    assert states(rt) == {"overdue": "fired", "due": "fired", "later": "pending", "cancelled": "cancelled"}
    frozen.tick(timedelta(minutes=10))
    run_due(rt)
    run_due(rt)
    assert said(rt) == ["probe due", "probe later", "probe overdue"]


def test_a_failing_timer_stays_pending_and_the_others_still_fire(rt):
    add_timer(rt, "broken", -1)
    add_timer(rt, "fine", 0)
    run_due(rt)
    assert said(rt) == ["probe fine"]
    assert states(rt) == {"broken": "pending", "fine": "fired"}


def test_a_timer_whose_kind_has_no_handler_waits_for_one(rt):
    add_timer(rt, "someone-elses", -1, kind="not_registered_here")
    assert run_due(rt) == []
    assert states(rt) == {"someone-elses": "pending"}


def test_on_sqlite_the_one_process_leads_and_stores_its_tick_job(sqlite_url, clock):
    db = Database(sqlite_url)
    db.upgrade()
    scheduler = Scheduler(SimpleNamespace(db=db, clock=clock, slack=SaidInSlack(), worker=Worker(db, clock)))
    scheduler.start()
    try:
        assert scheduler.is_leader
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all() == [TICK_JOB]
    finally:
        scheduler.stop()
    assert not scheduler.is_leader


@pytest.mark.postgres
def test_the_leader_lock_is_held_by_one_connection_until_it_lets_go(postgres_url):
    first, second = LeaderLock(postgres_url), LeaderLock(postgres_url)
    try:
        assert first.acquire() and first.still_held()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()


class Replica:
    """A Steward replica's scheduler in its own process (tests/support/scheduler_replica.py), read line by line."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.scheduler_replica", url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip())

    def wait_for(self, wanted: str, timeout: float = 30) -> None:
        while not any(wanted in line for line in self.output):
            try:
                self.output.append(self.lines.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"replica never said {wanted!r}; it said: {self.output}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        while not self.lines.empty():
            self.output.append(self.lines.get())


def advisory_locks_held(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        held = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).scalar()
    engine.dispose()
    return held


def add_probe(url: str, target: str) -> None:
    """A timer only the replicas handle, due now: whoever runs the scheduler fires it."""
    db = Database(url)
    now = SystemClock().now()
    with db.session() as session:
        session.add(Timer(kind="probe", target=target, due_at=now, created_at=now))
    db.engine.dispose()


@pytest.mark.postgres
def test_one_of_two_replicas_runs_the_scheduler_and_the_other_takes_over_when_it_dies(postgres_url):
    Database(postgres_url).upgrade()
    first = Replica(postgres_url)
    second = None
    try:
        first.wait_for("this replica leads")
        second = Replica(postgres_url)
        second.wait_for("another replica leads")
        assert advisory_locks_held(postgres_url) == 1

        add_probe(postgres_url, "probe-1")
        first.wait_for("fired probe-1")

        first.process.kill()  # a crash: the server drops the dead session's lock
        first.process.wait(timeout=30)
        second.wait_for("this replica leads")
        add_probe(postgres_url, "probe-2")
        second.wait_for("fired probe-2")
        assert advisory_locks_held(postgres_url) == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert not any("fired probe-1" in line for line in second.output)
    assert not any("fired probe-2" in line for line in first.output)
