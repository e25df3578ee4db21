"""Alertmanager webhook notifications (payload version "4") read into Signals.

Alertmanager repeats a group's notification every repeat_interval, so each Signal carries a
natural key (fingerprint, status, startsAt) that stays the same across those repeats.
"""
from __future__ import annotations

from datetime import datetime

from bot.sources import (
    AlertBatch,
    Fields,
    MalformedPayload,
    SignalIn,
    explicit_incident_id,
    quoted,
    read_object,
)
from bot.sources.timestamps import is_go_zero_time

SOURCE = "alertmanager"
STATUSES = ("firing", "resolved")
# An alert without an alertname is legal when posted straight to Alertmanager's API; the
# batch still matters, so it gets a visible placeholder instead of being refused.
UNNAMED = "(no alertname)"


def parse(body: bytes) -> AlertBatch:
    payload = read_object(body)
    _require_version_4(payload)
    return AlertBatch(
        group_key=payload.text("groupKey"),
        receiver=payload.text("receiver"),
        status=payload.choice("status", STATUSES),
        group_labels=payload.string_map("groupLabels"),
        truncated_alerts=_truncated_alerts(payload),
        external_url=payload.optional_text("externalURL"),
        signals=[_signal(alert) for alert in payload.objects("alerts", required=True)],
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


def _signal(alert: Fields) -> SignalIn:
    status = alert.choice("status", STATUSES)
    labels = alert.string_map("labels")
    annotations = alert.string_map("annotations")
    fingerprint = alert.text("fingerprint")
    starts_at = alert.time("startsAt")
    return SignalIn(
        source=SOURCE,
        fingerprint=fingerprint,
        name=labels.get("alertname") or UNNAMED,
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=_ends_at(alert, status),
        url=alert.optional_text("generatorURL"),
        dedupe_key=f"alert:{fingerprint}:{status}:{starts_at.isoformat()}",
        incident_id=explicit_incident_id(labels.get("incident"), annotations.get("incident")),
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
