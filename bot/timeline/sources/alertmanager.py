"""Alertmanager webhook notifications (payload version "4") read into Signals.

Alertmanager repeats a group's notification every repeat_interval, so each Signal carries a
natural key (fingerprint, status, startsAt) that stays the same across those repeats.

A delivery is read twice at most. First msgspec decodes it against a schema of a well-formed notification, checking
it in the same pass in C (far cheaper per alert than reading it field by field in Python). What that refuses
is read again by the field reader, which says which field is wrong, and which also accepts the few bodies the schema
is stricter about (one that only `json` reads, a repeated key). Whatever the schema accepts, the field reader accepts
too and reads the same way; tests/test_sources.py checks both on every fixture.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from bot.timeline.sources import (
    AlertBatch,
    Fields,
    MalformedPayload,
    SignalIn,
    explicit_incident_id,
    quoted,
    read_object,
)
from bot.timeline.sources.timestamps import is_go_zero_time, parse_rfc3339

SOURCE = "alertmanager"
STATUSES = ("firing", "resolved")
# An alert without an alertname is legal when posted straight to Alertmanager's API; the
# batch still matters, so it gets a visible placeholder instead of being refused.
UNNAMED = "(no alertname)"

_Status = Literal["firing", "resolved"]
_Text = Annotated[str, msgspec.Meta(min_length=1)]
# orjson reads an integer beyond 64 bits as a float, which the field reader refuses; msgspec would read it.
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class _Alert(msgspec.Struct):
    status: _Status
    fingerprint: _Text
    startsAt: _Text
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    endsAt: str | None = None
    generatorURL: str | None = None


class _Notification(msgspec.Struct):
    version: Literal["4"]
    groupKey: _Text
    receiver: _Text
    status: _Status
    alerts: list[_Alert]
    groupLabels: dict[str, str] | None = None
    truncatedAlerts: _Count | None = None
    externalURL: str | None = None


_DECODER = msgspec.json.Decoder(_Notification)


class _LeftToTheReader(ValueError):
    """The schema accepted it but a rule beyond the schema refuses it: the field reader says why."""


def parse(body: bytes) -> AlertBatch:
    try:
        notification = _DECODER.decode(body)
        return AlertBatch(
            group_key=notification.groupKey,
            receiver=notification.receiver,
            status=notification.status,
            group_labels=notification.groupLabels or {},
            truncated_alerts=notification.truncatedAlerts or 0,
            external_url=notification.externalURL or None,
            signals=[_decoded_signal(alert) for alert in notification.alerts],
        )
    except (msgspec.DecodeError, ValueError):
        return _read(body)


def _decoded_signal(alert: _Alert) -> SignalIn:
    # A ValueError (a time that is not RFC 3339, a resolved alert without its end) sends the body to the field reader.
    ends_at = None if alert.endsAt is None else parse_rfc3339(alert.endsAt)
    if alert.status == "firing":
        ends_at = None
    elif ends_at is None or is_go_zero_time(ends_at):
        raise _LeftToTheReader("a resolved alert needs its end time")
    return _signal(
        alert.status,
        alert.labels or {},
        alert.annotations or {},
        alert.fingerprint,
        parse_rfc3339(alert.startsAt),
        ends_at,
        alert.generatorURL or None,
    )


def _read(body: bytes) -> AlertBatch:
    """The field reader: slower, and a refusal names the field."""
    payload = read_object(body)
    _require_version_4(payload)
    return AlertBatch(
        group_key=payload.text("groupKey"),
        receiver=payload.text("receiver"),
        status=payload.choice("status", STATUSES),
        group_labels=payload.string_map("groupLabels"),
        truncated_alerts=_truncated_alerts(payload),
        external_url=payload.optional_text("externalURL"),
        signals=[_read_signal(alert) for alert in payload.objects("alerts", required=True)],
    )


def _require_version_4(payload: Fields) -> None:
    # Grafana's Alertmanager-shaped webhook says "1" and differs in fields; refuse it by name.
    version = payload.raw("version")
    if version != "4":
        got = "missing" if version is None else f"got {quoted(version)}"
        raise MalformedPayload(f'version: expected "4", {got}')


def _truncated_alerts(payload: Fields) -> int:
    # Alertmanager before 0.22 did not send the field; nothing was truncated then.
    count = payload.optional_integer("truncatedAlerts") or 0
    if count < 0:
        payload.fail("truncatedAlerts", "negative")
    return count


def _read_signal(alert: Fields) -> SignalIn:
    status = alert.choice("status", STATUSES)
    labels = alert.string_map("labels")
    annotations = alert.string_map("annotations")
    fingerprint = alert.text("fingerprint")
    starts_at = alert.time("startsAt")
    return _signal(
        status,
        labels,
        annotations,
        fingerprint,
        starts_at,
        _ends_at(alert, status),
        alert.optional_text("generatorURL"),
    )


def _ends_at(alert: Fields, status: str) -> datetime | None:
    if status == "firing":
        # Alertmanager sends Go's zero time here; anything else is only an expiry estimate.
        if alert.has("endsAt"):
            alert.time("endsAt")
        return None
    ends_at = alert.time("endsAt")
    if is_go_zero_time(ends_at):
        alert.fail("endsAt", "a resolved alert needs its end time, got the zero time")
    return ends_at


def _signal(
    status: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    fingerprint: str,
    starts_at: datetime,
    ends_at: datetime | None,
    url: str | None,
) -> SignalIn:
    return SignalIn(
        source=SOURCE,
        fingerprint=fingerprint,
        name=labels.get("alertname") or UNNAMED,
        status=status,  # type: ignore[arg-type]
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        url=url,
        dedupe_key=f"alert:{fingerprint}:{status}:{starts_at.isoformat()}",
        incident_id=explicit_incident_id(labels.get("incident"), annotations.get("incident")),
    )
