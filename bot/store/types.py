"""Column types that keep values the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out: SQLite forgets the zone, and naive times compare wrongly with aware ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else utc_instant(value)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # Not value.replace(tzinfo=...): that parses keywords, on every row read (bench/README.md, timeline).
            return datetime.combine(value.date(), value.time(), UTC)
        return value.astimezone(UTC)


def utc_instant(value: datetime) -> datetime:
    """The instant a stored time holds, in UTC; a naive time is refused, since it names no instant."""
    if value.tzinfo is None:
        raise ValueError("naive datetime stored; use bot.clock")
    return value.astimezone(UTC)


class FastJSON(TypeDecorator[Any]):
    """JSON read with orjson, which long timelines need (bench/README.md, timeline); written as `JSON` writes it
    (the engine's serializer, `json_text`).
    Where the driver decodes JSON itself (psycopg) nothing changes. Integers beyond 64 bits come back as floats."""

    impl = JSON
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: object) -> Callable[[Any], Any] | None:
        # Replaces JSON's decoding rather than adding to it, so this overrides the processor itself.
        if dialect.supports_native_json_deserialization:
            return super().result_processor(dialect, coltype)
        return _loads


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # What json.dumps writes beyond JSON (NaN, Infinity, lone surrogates): json reads it back as written.
        return json.loads(text)


# Types json refuses without a `default` are refused here too, rather than written in orjson's own form.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_SORTED = _OPTIONS | orjson.OPT_SORT_KEYS


def json_text(value: Any, default: Callable[[Any], Any] | None = None, *, sort_keys: bool = False) -> str:
    """`value` as compact JSON, written by orjson (the engine writes JSON columns with it); by `json` when
    orjson refuses it (integers beyond 64 bits, lone surrogates, keys that are not strings), so whatever `json`
    writes is still written. NaN and the infinities, which JSON has no word for, are written as null."""
    try:
        return orjson.dumps(value, default=default, option=_SORTED if sort_keys else _OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default, sort_keys=sort_keys, separators=(",", ":"))
