"""RFC 3339 times as webhook senders write them, read into aware UTC datetimes.

Senders disagree on precision (Prometheus sends milliseconds, Alertmanager's own API
nanoseconds, GitHub whole seconds), and Python 3.11 reads at most six fractional digits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

# RFC 3339 section 5.6; its ABNF is case-insensitive, so "t" and "z" are valid too.
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<fraction>\d{1,9}))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)

# Go's zero time.Time: Alertmanager's endsAt for an alert that is still firing.
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


# Most times in a delivery were read before: every firing alert ends at Go's zero time, and Alertmanager re-sends a
# group's alerts, start times and all, on every repeat_interval.
@lru_cache(maxsize=4096)
def parse_rfc3339(text: str) -> datetime:
    """The instant `text` names, in UTC; ValueError when it is not an RFC 3339 date-time."""
    if _RFC3339.fullmatch(text) is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    # fromisoformat reads any number of fractional digits and truncates past six, not rounds: rounding 59.9999995
    # would carry into the next minute, and a re-delivered alert must give the same instant (it is part of the dedupe
    # key). It does not read a lower-case "t" or "z".
    try:
        moment = datetime.fromisoformat(text.upper())
        return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"not an RFC 3339 time: {text!r}") from error


def from_unix_seconds(seconds: int) -> datetime:
    """A UNIX timestamp in UTC; ValueError when it is out of range."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise ValueError(f"not a UNIX time: {seconds!r}") from error


def is_go_zero_time(moment: datetime) -> bool:
    return moment == GO_ZERO_TIME
