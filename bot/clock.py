"""The one clock. Everything that reads the time takes a Clock, so tests move time instead of sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; shared between threads, so guarded by a lock."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


def utc(value: datetime) -> datetime:
    """Normalise a datetime to aware UTC; naive values are taken as UTC (SQLite drops tzinfo)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339_utc(value: datetime) -> str:
    """A time as the packet stores it: UTC, seconds precision, `Z` suffix ("2026-11-25T10:08:00Z").
    Sub-second digits are dropped so a re-read from a store with other precision hashes the same."""
    return utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
