"""Timers and the replica that runs them: `Timer` rows claimed when due, the `@on_timer` registry of what a due
timer does, and APScheduler's `tick` job, run by the one replica holding the leader lock (DESIGN section 2).

APScheduler 3 job stores must never be shared between running schedulers, so only the leader starts one: on
PostgreSQL the holder of a session advisory lock on a dedicated connection (the others retry for it); on SQLite
the one process. Correctness never rests on there being one leader, though: `run_due` claims each timer with a
compare-and-set, so a tick that runs twice, or on two replicas during a handover, acts once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, create_engine, text, update
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

from bot.runtime.context import Runtime
from bot.runtime.jobs import job
from bot.slack.messages import Message
from bot.store.models import Timer

log = logging.getLogger(__name__)
TIMERS = Timer.metadata.tables["timer"]
# APScheduler says "Running job …" at INFO on every tick; our own lines say what matters.
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

TICK_SECONDS = 15.0
RETRY_SECONDS = 5.0
TICK_JOB = "steward-tick"
# One bigint names the lock for every Steward replica of a database (advisory locks are per database).
LEADER_LOCK_KEY = int.from_bytes(hashlib.sha256(b"steward.scheduler.leader").digest()[:8], "big", signed=True)

TimerHandler = Callable[[Runtime, Session, Timer], list[Message]]
TIMER_HANDLERS: dict[str, TimerHandler] = {}


def on_timer(kind: str) -> Callable[[TimerHandler], TimerHandler]:
    """Register what a due timer of `kind` does. The handler runs in the transaction that claimed the timer and
    returns the messages to deliver once it commits."""

    def register(handler: TimerHandler) -> TimerHandler:
        TIMER_HANDLERS[kind] = handler
        return handler

    return register


@job
def run_due(rt: Runtime, now: datetime | None = None) -> list[int]:
    """Fire every pending timer due by `now` whose kind has a handler; returns the ids this call fired."""
    now = now or rt.clock.now()
    with rt.db.session() as session:
        due = session.exec(
            select(TIMERS.c.id)
            .where(TIMERS.c.state == "pending", TIMERS.c.due_at <= now, TIMERS.c.kind.in_(list(TIMER_HANDLERS)))
            .order_by(TIMERS.c.due_at, TIMERS.c.id)
        ).all()
    fired = []
    for timer_id in due:
        messages = _fire(rt, timer_id, now)
        if messages is not None:
            fired.append(timer_id)
        if messages:
            rt.slack.deliver(messages)
    return fired


def _fire(rt: Runtime, timer_id: int, now: datetime) -> list[Message] | None:
    """Claim the timer (pending → fired) and act, in one transaction: only the claimer acts, and a handler that
    fails leaves the timer pending for the next tick."""
    try:
        with rt.db.session() as session:
            claim = (
                update(TIMERS)
                .where(TIMERS.c.id == timer_id, TIMERS.c.state == "pending")
                .values(state="fired", fired_at=now)
            )
            if session.exec(claim).rowcount != 1:
                return None
            timer = session.get_one(Timer, timer_id)  # claimed just now, in this transaction: it is there
            return TIMER_HANDLERS[timer.kind](rt, session, timer)
    except Exception:
        log.exception("timer %s failed; it stays pending and the next tick retries it", timer_id)
        return None


class LeaderLock:
    """Leadership of one database's replicas: a PostgreSQL session advisory lock, held on a dedicated connection
    for as long as this replica leads. The server drops it when that connection ends, so a crashed leader frees
    it. On SQLite there is one process, and it leads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = None if url.startswith("sqlite") else create_engine(url, poolclass=NullPool)
        self._connection: Connection | None = None
        self._held = False

    @property
    def single_process(self) -> bool:
        return self._engine is None

    def acquire(self) -> bool:
        if self._engine is None:
            return True
        try:
            if self._connection is None:
                self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            query = text("SELECT pg_try_advisory_lock(:key)")
            self._held = bool(self._connection.execute(query, {"key": LEADER_LOCK_KEY}).scalar())
            return self._held
        except Exception as error:
            log.warning("scheduler: could not try the leader lock: %s", error)
            self._close()
        return False

    def still_held(self) -> bool:
        if self._engine is None:
            return True
        if self._connection is None:  # closed when a check failed; only acquire() connects again
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            return True
        except Exception:
            self._close()
            return False

    def release(self) -> None:
        # Unlock explicitly: a closed session's lock goes only when its server process has ended, a moment later.
        # Closing alone still releases it, whatever state the connection is in.
        if self._connection is not None and self._held:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY})
            except Exception:
                pass
        self._close()
        if self._engine is not None:
            self._engine.dispose()

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:
                pass
            self._connection = None
        self._held = False


class _AppEngineJobStore(SQLAlchemyJobStore):
    """The job store on the app's own engine, which it must not dispose of when the scheduler stops."""

    def shutdown(self) -> None:
        pass


# The tick job is stored in the database, so it names the scheduler it belongs to rather than holding it.
_SCHEDULERS: dict[str, Scheduler] = {}


def tick(key: str) -> None:
    """The stored APScheduler job. A job left behind by an earlier leader names a scheduler this process does not
    have until the new leader replaces it at start; then it does nothing."""
    scheduler = _SCHEDULERS.get(key)
    if scheduler is not None:
        scheduler.tick()


class Scheduler:
    """This replica's part: try for the leader lock, and while holding it run APScheduler with the tick job."""

    def __init__(self, rt: Runtime, tick_seconds: float = TICK_SECONDS, retry_seconds: float = RETRY_SECONDS) -> None:
        self.rt = rt
        self.tick_seconds = tick_seconds
        self.retry_seconds = retry_seconds
        self.key = f"{os.getpid()}-{id(self)}"
        self._lock = LeaderLock(rt.db.url)
        self._aps: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        return self._aps is not None

    def start(self) -> None:
        _SCHEDULERS[self.key] = self
        if not self._try_to_lead():
            log.info("scheduler: another replica leads; retrying for the lock every %s s", self.retry_seconds)
        if self._lock.single_process:
            return
        self._thread = threading.Thread(target=self._watch, name="steward-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.retry_seconds + 10)
        self._follow()
        self._lock.release()
        _SCHEDULERS.pop(self.key, None)

    def tick(self) -> None:
        """Hand `run_due` to the worker (a tick still queued there makes this one redundant)."""
        if not self.rt.worker.has_queued(run_due):
            # A key of its own: a tick must not wait behind one a crashed replica left running (run_due is
            # idempotent, so two may overlap).
            self.rt.worker.submit(f"steward-timers-{uuid.uuid4().hex}", run_due)

    def _watch(self) -> None:
        while not self._stop.wait(self.retry_seconds):
            if self.is_leader and not self._lock.still_held():
                log.error("scheduler: lost the leader lock (database connection gone); stopping the scheduler")
                self._follow()
            elif not self.is_leader:
                self._try_to_lead()

    def _try_to_lead(self) -> bool:
        if not self._lock.acquire():
            return False
        try:
            self._lead()
            return True
        except Exception:
            # Holding the lock without running the scheduler would leave every replica without one.
            log.exception("scheduler: could not start the scheduler; letting go of the leader lock")
            self._lock.release()
            return False

    def _lead(self) -> None:
        # The engine is the app's: the job store lives in the same database, read by this scheduler only.
        store = _AppEngineJobStore(engine=self.rt.db.engine)
        aps = BackgroundScheduler(
            jobstores={"default": store},
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        aps.add_job(tick, "interval", seconds=self.tick_seconds, id=TICK_JOB, args=[self.key], replace_existing=True)
        aps.start()
        self._aps = aps
        log.info("scheduler: this replica leads (tick every %s s)", self.tick_seconds)

    def _follow(self) -> None:
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=False)  # the tick only hands work to the worker: nothing to wait for
