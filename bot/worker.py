"""The worker that does slow work after a listener has acked: a thread pool that keeps each key's jobs in order."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot import metrics

log = logging.getLogger(__name__)


# Acks share the interpreter with the worker's threads. While requests keep arriving, a job waits for a gap
# of ACK_GAP seconds before it starts, but never longer than MAX_DEFER, so bursts are acked first and
# background work still moves.
ACK_GAP = 0.02
MAX_DEFER = 1.0


class Worker:
    """Jobs with the same key (a channel) run one after another, so a channel's messages keep their order;
    different keys run in parallel."""

    def __init__(self, threads: int = 4) -> None:
        self._last_request = 0.0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="steward-worker")
        self._lock = threading.Lock()
        self._queues: dict[str, deque[tuple[Callable[..., Any], tuple[Any, ...]]]] = {}
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def submit(self, key: str, job: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            self._pending += 1
            metrics.WORKER_PENDING.set(self._pending)
            queue = self._queues.get(key)
            if queue is not None:
                queue.append((job, args))
                return
            self._queues[key] = deque()
        self._pool.submit(self._run, key, job, args)

    def saw_request(self) -> None:
        """Called by the door on every request (a plain store: cheap on the hot path)."""
        self._last_request = time.monotonic()

    def _yield_to_acks(self) -> None:
        deadline = time.monotonic() + MAX_DEFER
        while time.monotonic() - self._last_request < ACK_GAP and time.monotonic() < deadline:
            time.sleep(0.005)

    def _run(self, key: str, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
        while True:
            self._yield_to_acks()
            try:
                job(*args)
                metrics.WORKER_JOBS.labels(outcome="ok").inc()
            except Exception:
                metrics.WORKER_JOBS.labels(outcome="error").inc()
                log.exception("worker job %s failed", getattr(job, "__name__", job))
            with self._lock:
                self._pending -= 1
                metrics.WORKER_PENDING.set(self._pending)
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    if self._pending == 0:
                        self._idle.notify_all()
                    return
                job, args = queue.popleft()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every submitted job has finished (tests and the scripted demo wait on this)."""
        with self._lock:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
