"""Ingesting signals and changes: redact, store once (natural keys), attach to the open incidents they concern.

Stored whether or not an incident is open, so a later declaration sees what led up to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session, col

from bot.clock import Clock
from bot.redact.redactor import Redactor, neutralise
from bot.store.bulk import insert_new
from bot.store.models import Change, Incident, Signal, table_of
from bot.timeline.catalog import ServiceCatalog
from bot.timeline.record import TRUSTED, UNTRUSTED, event_row, insert_events
from bot.timeline.sources import AlertBatch, ChangeIn, SignalIn

ANNOUNCED_STATES = {None, "success", "failure", "error", "waiting"}
SIGNAL = table_of(Signal)
CHANGE = table_of(Change)


@dataclass(frozen=True)
class OpenIncident:
    id: str
    channel_id: str | None
    services: frozenset[str]
    environment: str | None
    since: datetime

    def covers(self, service: str | None, environment: str | None, at: datetime, named: str | None) -> bool:
        if named is not None:
            return named == self.id
        return (
            service in self.services
            and (environment is None or self.environment is None or environment == self.environment)
            and at >= self.since
        )


@dataclass
class Ingested:
    """What a batch changed, for announcing it: new alerts per incident, new changes per incident, strays."""

    stored: int = 0
    duplicates: int = 0
    alerts: dict[str, list[str]] = field(default_factory=dict)  # incident id -> fingerprints
    changes: dict[str, list[int]] = field(default_factory=dict)  # incident id -> change ids
    unattached_alerts: list[int] = field(default_factory=list)  # ids of firing signals with no open incident
    channels: dict[str, str] = field(default_factory=dict)  # incident id -> channel id


# Read on every delivery: five columns as plain rows, not whole ORM objects, from a statement built once, run on the
# session's connection (the ORM's own execute costs more).
_INCIDENT = table_of(Incident)
_OPEN_INCIDENTS = select(*_INCIDENT.c["id", "channel_id", "services", "environment", "detected_at"]).where(
    _INCIDENT.c.status != "resolved"
)


class OpenIncidents:
    """The open incidents, found by the incident id or the service a signal or change names instead of each being
    asked in turn: a delivery brings a hundred alerts, most of them for services with no open incident."""

    def __init__(self, incidents: Iterable[OpenIncident]) -> None:
        self.by_id: dict[str, list[OpenIncident]] = {}
        self.by_service: dict[str | None, list[OpenIncident]] = {}
        for incident in incidents:
            self.by_id[incident.id] = [incident]
            for service in incident.services:
                self.by_service.setdefault(service, []).append(incident)

    def covering(
        self, service: str | None, environment: str | None, at: datetime, named: str | None
    ) -> list[OpenIncident]:
        candidates = self.by_service.get(service, ()) if named is None else self.by_id.get(named, ())
        return [incident for incident in candidates if incident.covers(service, environment, at, named)]


def open_incidents(session: Session, lookback: timedelta) -> OpenIncidents:
    return OpenIncidents(
        OpenIncident(id_, channel_id, frozenset(services), environment, detected_at - lookback)
        for id_, channel_id, services, environment, detected_at in session.connection().execute(_OPEN_INCIDENTS)
    )


class Ingestor:
    def __init__(self, catalog: ServiceCatalog, redactor: Redactor, clock: Clock, lookback: timedelta) -> None:
        self.catalog = catalog
        self.redactor = redactor
        self.clock = clock
        self.lookback = lookback

    def signal_rows(self, signals: Sequence[SignalIn], now: datetime) -> list[dict[str, Any]]:
        # The generator URL is the sender's text too (a PromQL expression, at times a user:password@ host).
        texts, mappings = self.redactor.redact_flat(
            [*(s.name for s in signals), *(s.url or "" for s in signals)],
            [*(s.labels for s in signals), *(s.annotations for s in signals)],
        )
        count = len(signals)
        return [
            self._signal_row(signal, now, name, url or None, labels, annotations)
            for signal, name, url, labels, annotations in zip(
                signals, texts[:count], texts[count:], mappings[:count], mappings[count:], strict=True
            )
        ]

    def _signal_row(
        self,
        signal: SignalIn,
        now: datetime,
        name: str,
        url: str | None,
        labels: dict[str, str],
        annotations: dict[str, str],
    ) -> dict[str, Any]:
        return {
            "source": signal.source,
            "fingerprint": signal.fingerprint,
            "name": name,
            "status": signal.status,
            "labels": labels,
            "annotations": annotations,
            "starts_at": signal.starts_at,
            "ends_at": signal.ends_at,
            "url": url,
            "service": self.catalog.service_of_signal(signal),
            "environment": self.catalog.environment_of_signal(signal),
            "dedupe_key": signal.dedupe_key,
            "received_at": now,
        }

    def ingest_alerts(self, session: Session, batch: AlertBatch) -> Ingested:
        rows = self.signal_rows(batch.signals, self.clock.now())
        new = dict(insert_new(session, SIGNAL, rows, SIGNAL.c.dedupe_key, SIGNAL.c.id))
        result = Ingested(stored=len(new), duplicates=len(rows) - len(new))
        fresh = [(row, s) for row, s in zip(rows, batch.signals, strict=True) if row["dedupe_key"] in new]
        if not fresh:
            return result
        incidents = open_incidents(session, self.lookback)
        events: list[dict[str, Any]] = []
        for row, signal in fresh:
            at = row["ends_at"] if row["status"] == "resolved" and row["ends_at"] else row["starts_at"]
            matched = incidents.covering(row["service"], row["environment"], at, signal.incident_id)
            for incident in matched:
                events.append(alert_event(incident.id, row, at))
                result.alerts.setdefault(incident.id, []).append(row["fingerprint"])
                if incident.channel_id is not None:
                    result.channels[incident.id] = incident.channel_id
            if not matched and row["status"] == "firing":
                result.unattached_alerts.append(new[row["dedupe_key"]])
        insert_events(session, events)
        return result

    def change_rows(self, change: ChangeIn, now: datetime) -> list[dict[str, Any]]:
        rows = []
        pairs = self.catalog.services_of_change(change)
        for service, environment in pairs:
            key = change.dedupe_key if len(pairs) == 1 else f"{change.dedupe_key}:{service}"
            rows.append(
                {
                    "source": change.source,
                    "kind": change.kind,
                    "service": service,
                    "environment": environment,
                    "version": change.version,
                    "previous_version": change.previous_version,
                    "sha": change.sha,
                    "state": change.state,
                    "files": change.files,
                    "summary": self.redactor.redact(change.summary),
                    "actor": change.actor,
                    "at": change.at,
                    "url": change.url,
                    "meta": self.redactor.redact_mapping({**change.metadata, **_hints(change)}),
                    "trust": change.trust,
                    "dedupe_key": key,
                    "received_at": now,
                }
            )
        return rows

    def ingest_changes(self, session: Session, changes: Sequence[ChangeIn]) -> Ingested:
        now = self.clock.now()
        pairs = [(row, change) for change in changes for row in self.change_rows(change, now)]
        ids = dict(insert_new(session, CHANGE, [row for row, _ in pairs], CHANGE.c.dedupe_key, CHANGE.c.id))
        new_keys = set(ids)
        result = Ingested(stored=len(new_keys), duplicates=len(pairs) - len(new_keys))
        fresh = [(row, change) for row, change in pairs if row["dedupe_key"] in new_keys]
        if not fresh:
            return result
        incidents = open_incidents(session, self.lookback)
        events = []
        for row, change in fresh:
            for incident in incidents.covering(row["service"], row["environment"], row["at"], change.incident_id):
                events.append(change_event(incident.id, row))
                if row["state"] in ANNOUNCED_STATES:
                    result.changes.setdefault(incident.id, []).append(ids[row["dedupe_key"]])
                if incident.channel_id is not None:
                    result.channels[incident.id] = incident.channel_id
        insert_events(session, events)
        return result


def _hints(change: ChangeIn) -> dict[str, Any]:
    hints = {"repository": change.repository, "application": change.application}
    return {k: v for k, v in hints.items() if v}


def alert_event(incident_id: str, signal: dict[str, Any], at: datetime) -> dict[str, Any]:
    resolved = signal["status"] == "resolved"
    where = f" on {signal['service']}" if signal["service"] else ""
    return event_row(
        incident_id,
        at=at,
        kind="alert_resolved" if resolved else "alert",
        source=signal["source"],
        trust=UNTRUSTED,
        service=signal["service"],
        summary=f"{signal['name']}{where} {'resolved' if resolved else 'firing'}",
        details={
            "fingerprint": signal["fingerprint"],
            "name": signal["name"],
            "labels": signal["labels"],
            "annotations": signal["annotations"],
            "status": signal["status"],
        },
        evidence_ref=signal["url"] or f"alert:{signal['fingerprint']}",
        dedupe_key=signal["dedupe_key"],
    )


CHANGE_WORDS = {
    "deployment": "Deploy",
    "deployment_status": "Deploy",
    "config_change": "Config change",
    "flag_change": "Flag change",
}


def change_event(incident_id: str, change: dict[str, Any]) -> dict[str, Any]:
    # Service and version come from the sender's payload: stored inert, since this summary is rendered as trusted.
    parts = [CHANGE_WORDS[change["kind"]], neutralise(change["service"] or "an unmapped service")]
    if change["version"]:
        parts.append(neutralise(change["version"]))
    if change["environment"]:
        environment = neutralise(change["environment"])
        parts.append(f"to {environment}" if change["kind"] != "config_change" else f"in {environment}")
    if change["kind"] == "deployment_status" and change["state"]:
        parts.append(f"— {neutralise(change['state'])}")
    return event_row(
        incident_id,
        at=change["at"],
        kind="change",
        source=change["source"],
        trust=TRUSTED,
        service=change["service"],
        summary=" ".join(parts),
        details={
            "change_kind": change["kind"],
            "version": change["version"],
            "previous_version": change["previous_version"],
            "sha": change["sha"],
            "state": change["state"],
            "files": change["files"][:50],
            "actor": change["actor"],
            "description": change["summary"],
            "description_trust": change["trust"],
            "metadata": change["meta"],
        },
        evidence_ref=change["url"] or change["dedupe_key"],
        dedupe_key=change["dedupe_key"],
    )


def attach_history(session: Session, incident: Incident, lookback: timedelta) -> int:
    """On declaration: the stored signals and changes of its services since `detected_at - lookback`."""
    target = OpenIncident(
        incident.id,
        incident.channel_id,
        frozenset(incident.services),
        incident.environment,
        incident.detected_at - lookback,
    )
    if not target.services:
        return 0
    events = []
    signals = session.execute(
        select(Signal).where(
            col(Signal.service).in_(target.services),
            or_(col(Signal.starts_at) >= target.since, col(Signal.ends_at) >= target.since),
        )
    ).scalars()
    for signal in signals:
        row = signal.model_dump()
        at = row["ends_at"] if row["status"] == "resolved" and row["ends_at"] else row["starts_at"]
        if target.covers(row["service"], row["environment"], at, None):
            events.append(alert_event(incident.id, row, at))
    changes = session.execute(
        select(Change).where(col(Change.service).in_(target.services), col(Change.at) >= target.since)
    ).scalars()
    for change in changes:
        row = change.model_dump()
        if target.covers(row["service"], row["environment"], row["at"], None):
            events.append(change_event(incident.id, row))
    return len(insert_events(session, events))


def signals_by_fingerprint(session: Session, fingerprints: Iterable[str]) -> dict[str, Signal]:
    """The latest stored state of each alert."""
    latest: dict[str, Signal] = {}
    query = select(Signal).where(col(Signal.fingerprint).in_(set(fingerprints))).order_by(col(Signal.id))
    for signal in session.execute(query).scalars():
        latest[signal.fingerprint] = signal
    return latest
