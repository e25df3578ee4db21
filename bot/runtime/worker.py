"""The worker: slow work the door acked, stored and then run, in order per key.

The door acks at once and submits a job; a flusher thread stores the jobs of concurrent requests in one
transaction (a group commit): a lone job at once, a flood's once every 25 ms. The ack path costs a list append,
and once stored a job survives a crash or a restart. (The ack does not wait for the commit: on SQLite the commit
queues behind the worker's writes, under a flood for up to seconds, and Slack's requests would queue with it. A
crash before the commit loses those jobs; a database that refuses the commit only delays them.) Jobs run on
threads that claim them from the `job` table, either here (tests, the demo) or in a child process
(`steward serve`), where they cannot take the interpreter lock from the thread that acks.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from sqlalchemy import Delete, Update, bindparam, delete, func, select, update

from bot import metrics
from bot.clock import Clock, SystemClock
from bot.runtime import jobs, logs
from bot.runtime.jobs import JOB_MOVES, JobState
from bot.store.bulk import insert_new
from bot.store.db import Database
from bot.store.models import Job
from bot.store.types import UTCDateTime

if TYPE_CHECKING:
    from bot.runtime.context import Runtime

log = logging.getLogger(__name__)

JOB = Job.metadata.tables["job"]
ACTIVE = (JobState.QUEUED, JobState.RUNNING)
POLL_SECONDS = 1.0  # how often an idle runner looks for jobs another replica stored (a local submit rings at once)
# A running job's worker renews its lease while it lives; a job whose lease ran out was abandoned by a worker that
# crashed, and runs again, at most MAX_ATTEMPTS times. Until then its key's later jobs wait, so the lease is short.
# Leases are the machine's time, not the incident clock, which tests move by hours while jobs run.
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 3
RUNNER_THREADS = 4
FLUSH_RETRY_FIRST, FLUSH_RETRY_MAX = 0.1, 5.0
FLUSH_INTERVAL = 0.025
LEASE_CLOCK = SystemClock()


def _claim_statement() -> Any:
    """The oldest queued job whose key has nothing older queued or running, moved to running in one statement
    (on PostgreSQL, rows another claimer holds are skipped, so two claimers never take the same job). Built once:
    building it costs more than running it."""
    earlier = JOB.alias("earlier")
    head = JOB.alias("head")
    next_id = (
        select(head.c.id)
        .where(
            head.c.state == JobState.QUEUED,
            ~select(earlier.c.id)
            .where(earlier.c.key == head.c.key, earlier.c.id < head.c.id, earlier.c.state.in_(ACTIVE))
            .exists(),
        )
        .order_by(head.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(JOB)
        .where(JOB.c.id == next_id, JOB.c.state == JobState.QUEUED)
        .values(
            state=JOB_MOVES.check(JobState.QUEUED, JobState.RUNNING),
            claimed_at=bindparam("now", type_=UTCDateTime()),
            claimed_by=bindparam("worker"),
            attempts=JOB.c.attempts + 1,
        )
        .returning(JOB.c.id, JOB.c.name, JOB.c.args, JOB.c.request_id)
    )


CLAIM = _claim_statement()


class Doorbell(Protocol):
    """threading.Event, or multiprocessing's when the runners are in a child process."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class Worker:
    def __init__(self, db: Database, clock: Clock, doorbell: Doorbell | None = None) -> None:
        self.db = db
        self.clock = clock
        self.doorbell: Doorbell = doorbell if doorbell is not None else threading.Event()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._buffer: list[dict[str, Any]] = []
        self._submitted = 0  # sequence number of the last submitted job
        self._flushed = 0  # ... and of the last one stored
        self._stopping = False
        self._stopped = threading.Event()
        self._flusher_idle = False
        self._flusher = threading.Thread(target=self._flush_loop, name="steward-job-flusher", daemon=True)
        self._flusher.start()
        self._runners: list[threading.Thread] = []
        self._running = 0
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._process_stop: Any = None  # multiprocessing's Event, once there are child processes

    # --- the door's side --------------------------------------------------------------------------------------

    def submit(self, key: str, fn: Callable[..., Any], *args: Any) -> None:
        """Queue `fn(rt, *args)`; the arguments must be JSON (checked here, where the caller can see the error).
        The job keeps the request id of the request (or job) submitting it, for its log lines."""
        row = {
            "key": key,
            "name": jobs.name_of(fn),
            "args": orjson.dumps(args).decode(),
            "state": JobState.QUEUED,
            "attempts": 0,
            "enqueued_at": self.clock.now(),
            "request_id": logs.current_request_id(),
        }
        with self._lock:
            self._buffer.append(row)
            self._submitted += 1
            if self._flusher_idle:  # waking a busy flusher costs the ack path for nothing
                self._wake.notify()

    def _flush_loop(self) -> None:
        retry = FLUSH_RETRY_FIRST
        last_flush, crowded = 0.0, False
        while True:
            with self._lock:
                while not self._buffer and not self._stopping:
                    self._flusher_idle = True
                    self._wake.wait()
                self._flusher_idle = False
                if not self._buffer:
                    return
            # A lone job is stored at once. Once jobs arrive faster than they are committed (the last batch held
            # several), they share one commit per interval: each commit costs as much as dozens of rows, on the
            # process that acks.
            wait = last_flush + FLUSH_INTERVAL - time.monotonic()
            if crowded and wait > 0:
                time.sleep(wait)
            last_flush = time.monotonic()
            with self._lock:
                batch, self._buffer = self._buffer, []
                last = self._submitted
            crowded = len(batch) > 1
            try:
                # One statement for the batch (insert_new): the driver's executemany took the interpreter lock back
                # from the thread that acks once for every row, and under a flood that cost a tenth of the acks and
                # a tenth of their p99; it also held SQLite's write lock long enough to starve the runners.
                with self.db.session() as session:
                    insert_new(session, JOB, batch, JOB.c.id)
            except Exception:  # keep them and try again: these jobs were acked
                log.exception("could not store %d job(s); retrying in %.1f s", len(batch), retry)
                with self._lock:
                    self._buffer[:0] = batch
                    if self._stopping:
                        log.error("stopping with %d acked job(s) not stored", len(self._buffer))
                        return
                time.sleep(retry)
                retry = min(retry * 2, FLUSH_RETRY_MAX)
                continue
            retry = FLUSH_RETRY_FIRST
            with self._lock:
                self._flushed = last
            self.doorbell.set()

    # --- the runners' side ------------------------------------------------------------------------------------

    def run_here(self, rt: Runtime) -> None:
        """Claim and run jobs on threads of this process. SQLite takes one writer at a time, so on SQLite one thread:
        more would only wait for its lock, and make the door's commits wait longer."""
        threads = 1 if self.db.url.startswith("sqlite") else RUNNER_THREADS
        worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        for number in range(threads):
            thread = threading.Thread(
                target=self._run_loop, args=(rt, worker_id), name=f"steward-worker-{number}", daemon=True
            )
            thread.start()
            self._runners.append(thread)
        heartbeat = threading.Thread(
            target=self._renew_leases, args=(worker_id,), name="steward-worker-leases", daemon=True
        )
        heartbeat.start()
        self._runners.append(heartbeat)

    def run_in_processes(self, count: int, target: Callable[..., None], *args: Any) -> None:
        """Run the jobs in `count` child processes, each `target(*args, doorbell, stop, parent_pid)` building its own
        runtime. They share one doorbell, so every commit wakes them all, and one stop."""
        context = multiprocessing.get_context("spawn")  # a fork would copy this process's threads' locks mid-use
        self.doorbell = context.Event()
        self._process_stop = context.Event()
        for number in range(count):
            process = context.Process(
                target=target,
                args=(*args, self.doorbell, self._process_stop, os.getpid()),
                name=f"steward-worker-{number}",
                daemon=True,
            )
            process.start()
            self._processes.append(process)

    def _run_loop(self, rt: Runtime, worker_id: str) -> None:
        last_sweep = 0.0
        while not self._stopping:
            self.doorbell.clear()
            try:
                claimed = self._claim(worker_id)
                if claimed is None and time.monotonic() - last_sweep > LEASE.total_seconds() / 4:
                    last_sweep = time.monotonic()
                    self._requeue_abandoned()
            except Exception:  # the database is away: the jobs wait there for it, and so does this thread
                log.exception("could not claim a job")
                claimed = None
            if claimed is None:
                self.doorbell.wait(POLL_SECONDS)
                continue
            job_id, name, args, request_id = claimed
            with self._lock:
                self._running += 1
            try:
                with logs.job_context(job_id, request_id):
                    self._run(rt, worker_id, job_id, name, args)
            finally:
                with self._lock:
                    self._running -= 1

    def _claim(self, worker_id: str) -> tuple[int, str, list[Any], str | None] | None:
        with self.db.engine.begin() as connection:
            row = connection.execute(CLAIM, {"now": LEASE_CLOCK.now(), "worker": worker_id}).first()
        return None if row is None else (row.id, row.name, orjson.loads(row.args), row.request_id)

    def _run(self, rt: Runtime, worker_id: str, job_id: int, name: str, args: list[Any]) -> None:
        outcome: Update | Delete
        try:
            jobs.lookup(name)(rt, *args)
        except Exception as error:
            metrics.WORKER_JOBS.labels(outcome="error").inc()
            log.exception("job %s (%s) failed", job_id, name)
            outcome = update(JOB).values(
                state=JOB_MOVES.check(JobState.RUNNING, JobState.FAILED),
                error=f"{type(error).__name__}: {error}"[:2000],
            )
        else:
            metrics.WORKER_JOBS.labels(outcome="ok").inc()
            outcome = delete(JOB)
        with self.db.engine.begin() as connection:
            connection.execute(outcome.where(JOB.c.id == job_id, JOB.c.claimed_by == worker_id))

    def _renew_leases(self, worker_id: str) -> None:
        mine = (JOB.c.claimed_by == worker_id) & (JOB.c.state == JobState.RUNNING)
        while not self._stopping:
            self._stopped.wait(LEASE.total_seconds() / 3)
            try:
                with self.db.engine.begin() as connection:
                    connection.execute(update(JOB).where(mine).values(claimed_at=LEASE_CLOCK.now()))
            except Exception:  # the next beat tries again; a lease lost meanwhile only means a job runs twice
                log.exception("could not renew the leases of running jobs")

    def _requeue_abandoned(self) -> None:
        cutoff = LEASE_CLOCK.now() - LEASE
        stale = (JOB.c.state == JobState.RUNNING) & (JOB.c.claimed_at < cutoff)
        with self.db.engine.begin() as connection:
            connection.execute(
                update(JOB)
                .where(stale, JOB.c.attempts >= MAX_ATTEMPTS)
                .values(
                    state=JOB_MOVES.check(JobState.RUNNING, JobState.FAILED),
                    error=f"abandoned by its worker {MAX_ATTEMPTS} times",
                )
            )
            moved = connection.execute(
                update(JOB)
                .where(stale)
                .values(state=JOB_MOVES.check(JobState.RUNNING, JobState.QUEUED), claimed_by=None)
            ).rowcount
        if moved:
            log.warning("requeued %d job(s) whose worker stopped while running them", moved)

    # --- both ---------------------------------------------------------------------------------------------------

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every submitted job is stored and none is queued or running (tests and the demo wait here)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                local_idle = self._flushed == self._submitted and self._running == 0
            if local_idle and self.outstanding() == 0:
                return True
            time.sleep(0.005)
        return False

    def has_queued(self, fn: Callable[..., Any]) -> bool:
        """Whether a job of this function waits to be claimed (stored or about to be)."""
        name = jobs.name_of(fn)
        with self._lock:
            if any(row["name"] == name for row in self._buffer):
                return True
        query = select(JOB.c.id).where(JOB.c.name == name, JOB.c.state == JobState.QUEUED).limit(1)
        with self.db.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def outstanding(self) -> int:
        """Jobs stored and not yet done, by every worker of this database."""
        with self.db.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(JOB).where(JOB.c.state.in_(ACTIVE))).scalar_one()

    def shutdown(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        self._stopped.set()
        self._flusher.join(timeout=30)
        self.doorbell.set()
        for thread in self._runners:
            thread.join(timeout=30)
        if self._processes:
            self._process_stop.set()
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
