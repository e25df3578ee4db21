"""Background jobs by name. A job is stored before the ack and may run in another process or replica, so the queue
holds a registered name and JSON arguments, never a function or an object."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from bot.store.states import Transitions


class JobState(StrEnum):
    """A stored job's state; a job that ran to the end is deleted, so "done" is no state."""

    QUEUED = "queued"
    RUNNING = "running"
    FAILED = "failed"


JOB_MOVES = Transitions[JobState](
    "job",
    {
        JobState.QUEUED: {JobState.RUNNING},  # claimed by a worker
        # Its job raised, or its worker was lost: requeued while it has attempts left, failed after.
        JobState.RUNNING: {JobState.QUEUED, JobState.FAILED},
    },
)

JobFn = TypeVar("JobFn", bound=Callable[..., Any])

JOBS: dict[str, Callable[..., Any]] = {}
_NAMES: dict[Callable[..., Any], str] = {}


def job(fn: JobFn) -> JobFn:
    """Register `fn(rt, *args)` as a job the worker may run."""
    name = f"{fn.__module__.removeprefix('bot.')}.{fn.__qualname__}"
    JOBS[name] = fn
    _NAMES[fn] = name
    return fn


def name_of(fn: Callable[..., Any]) -> str:
    try:
        return _NAMES[fn]
    except KeyError:
        raise ValueError(f"{fn!r} is not a registered job (decorate it with @bot.runtime.jobs.job)") from None


def lookup(name: str) -> Callable[..., Any]:
    """The job stored under `name`; a name nothing registered (an older release's, say) is an error, never an import."""
    try:
        return JOBS[name]
    except KeyError:
        raise LookupError(f"no job named {name!r}") from None
