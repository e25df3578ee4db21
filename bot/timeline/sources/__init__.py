"""Webhook sources: pure functions from a raw request body to Signals and Changes.

This module owns what the parsers share: `MalformedPayload`, the one error they raise (the
HTTP layer answers 400 with its reason), and `Fields`, which reads untrusted JSON key by key
so that every reason names the bad field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any, NoReturn

import orjson

from bot.timeline.sources.models import AlertBatch, ChangeIn, Ping, SignalIn
from bot.timeline.sources.timestamps import from_unix_seconds, parse_rfc3339

__all__ = [
    "AlertBatch",
    "ChangeIn",
    "Fields",
    "MalformedPayload",
    "Ping",
    "SignalIn",
    "explicit_incident_id",
    "quoted",
    "read_object",
]

_INCIDENT_ID = re.compile(r"INC-\d{8}-\d{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MAX_REASON = 300


class MalformedPayload(ValueError):
    """The body is not something this source sends; `reason` names the field, on one line."""

    def __init__(self, reason: str) -> None:
        # Reasons quote sender-controlled keys and values; keep them one short line for logs.
        reason = _CONTROL.sub(" ", reason)
        if len(reason) > _MAX_REASON:
            reason = reason[: _MAX_REASON - 1] + "…"
        super().__init__(reason)
        self.reason = reason


def quoted(value: object, limit: int = 60) -> str:
    """A value for a reason: repr'd so its type shows, and short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_object(body: bytes) -> Fields:
    """The body as a JSON object, or MalformedPayload saying why not.

    Read by orjson, faster than `json`; integers beyond 64 bits come back as floats, which no field
    takes. What orjson refuses goes to `json`, which reads what orjson will not (lone surrogates, numbers beyond a
    double) and otherwise says where the body goes wrong.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = _read_with_json(body)
    if not isinstance(data, dict):
        raise MalformedPayload(f"body: expected a JSON object, got {_json_type(data)}")
    return Fields(data)


def _read_with_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayload("body: not UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise MalformedPayload(f"body: not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except RecursionError:
        raise MalformedPayload("body: JSON nested too deeply") from None
    return data


def _refuse_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity; no sender we know emits them.
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def explicit_incident_id(*candidates: object) -> str | None:
    """The first candidate that is an incident id such as INC-20261125-01."""
    for candidate in candidates:
        if isinstance(candidate, str) and _INCIDENT_ID.fullmatch(candidate.strip()):
            return candidate.strip()
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class Fields:
    """One JSON object from an untrusted body; each accessor checks the type and names the
    path (`alerts[0].startsAt`) when it is wrong. Missing and null are the same thing."""

    def __init__(self, data: dict[str, Any], path: str = "") -> None:
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> NoReturn:
        raise MalformedPayload(f"{self.where(key)}: {problem}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def _present(self, key: str) -> Any:
        value = self.data.get(key)
        if value is None:
            self.fail(key, "missing")
        return value

    def _typed(self, key: str, value: Any, kind: type, noun: str) -> Any:
        if not _is_json_type(value, kind):
            self.fail(key, f"expected {noun}, got {_json_type(value)}")
        return value

    def text(self, key: str, *, allow_empty: bool = False) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            value = self._typed(key, self._present(key), str, "a string")  # raises, naming what is there instead
        if not value and not allow_empty:
            self.fail(key, "empty")
        return value

    def optional_text(self, key: str) -> str | None:
        """A string, or None when missing, null or empty."""
        value = self.data.get(key)
        if value is None:
            return None
        return self._typed(key, value, str, "a string") or None

    def choice(self, key: str, allowed: Collection[str]) -> str:
        value = self.text(key, allow_empty=True)
        if value not in allowed:
            expected = ", ".join(f'"{option}"' for option in sorted(allowed))
            self.fail(key, f"expected one of {expected}, got {quoted(value)}")
        return value

    def integer(self, key: str) -> int:
        return self._typed(key, self._present(key), int, "an integer")

    def optional_integer(self, key: str) -> int | None:
        value = self.data.get(key)
        return None if value is None else self._typed(key, value, int, "an integer")

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        return False if value is None else self._typed(key, value, bool, "a boolean")

    def object(self, key: str) -> Fields:
        value = self._typed(key, self._present(key), dict, "an object")
        return Fields(value, self.where(key))

    def optional_object(self, key: str) -> Fields | None:
        return self.object(key) if self.has(key) else None

    def objects(self, key: str, *, required: bool = False) -> list[Fields]:
        items = self._list(key, required)
        return [
            Fields(self._item(key, index, item, dict, "an object"), f"{self.where(key)}[{index}]")
            for index, item in enumerate(items)
        ]

    def texts(self, key: str) -> list[str]:
        """A list of strings; missing or null reads as empty."""
        items = self._list(key, required=False)
        return [self._item(key, index, item, str, "a string") for index, item in enumerate(items)]

    def string_map(self, key: str) -> dict[str, str]:
        """An object of string values (labels, annotations); missing or null reads as empty."""
        value = self.data.get(key)
        if value is None:
            return {}
        # Labels and annotations, a dozen to an alert: checked in one pass, and read entry by entry only to say
        # which one is wrong.
        if isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
            return dict(value)
        inner = self.object(key)
        return {name: inner.text(name, allow_empty=True) for name in inner.data}

    def time(self, key: str) -> datetime:
        text = self.text(key)
        try:
            return parse_rfc3339(text)
        except ValueError:
            self.fail(key, "not an RFC 3339 time")

    def optional_time(self, key: str) -> datetime | None:
        return self.time(key) if self.has(key) and self.data[key] != "" else None

    def unix_or_rfc3339(self, key: str) -> datetime | None:
        """GitHub writes some times as UNIX integers (push events) and others as strings."""
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return self.optional_time(key)
        try:
            return from_unix_seconds(self._typed(key, value, int, "a UNIX time or a string"))
        except ValueError:
            self.fail(key, "not a UNIX time")

    def _list(self, key: str, required: bool) -> list[Any]:
        if not required and not self.has(key):
            return []
        return self._typed(key, self._present(key), list, "an array")

    def _item(self, key: str, index: int, item: Any, kind: type, noun: str) -> Any:
        if not _is_json_type(item, kind):
            raise MalformedPayload(f"{self.where(key)}[{index}]: expected {noun}, got {_json_type(item)}")
        return item


def _is_json_type(value: Any, kind: type) -> bool:
    # True and False are ints to Python, but not to JSON.
    if isinstance(value, bool) and kind is not bool:
        return False
    return isinstance(value, kind)
