"""Argo CD notifications read into Changes. Argo CD posts whatever a template renders, so this
parser reads exactly the JSON of the templates in docs/argocd.md, one per trigger.

Go's text/template prints "<no value>" for a missing key, so that string reads as absent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.timeline.sources import ChangeIn, Fields, read_object
from bot.timeline.sources.models import ChangeKind

SOURCE = "argocd"
KIND: ChangeKind = "deployment"
TRIGGERS = ("sync-succeeded", "sync-failed", "sync-running", "health-degraded")
_NO_VALUE = "<no value>"
# Bodies from the first shared template (fixtures/argocd_notifications_cm.yaml) used the
# nonexistent `.notificationType` for `event`, which renders empty or as "<no value>".
_UNNAMED_EVENT = ("", _NO_VALUE)


def parse(body: bytes) -> ChangeIn:
    payload = read_object(body)
    operation = payload.optional_object("operationState")
    trigger = _trigger(payload, operation)
    app = payload.text("app")
    state = _state(payload, operation, trigger)
    sha = _revision(payload, operation)
    source = _source(payload)
    version = _text(source, "targetRevision")
    started_at = _time(operation, "startedAt") if operation else None
    finished_at = _time(operation, "finishedAt") if operation else None
    sent_at = _time(payload, "sentAt")
    at = _event_time(payload, trigger, started_at, finished_at, sent_at)
    return ChangeIn(
        source=SOURCE,
        kind=KIND,
        repository=_text(source, "repoURL"),
        application=app,
        version=version,
        sha=sha,
        state=state,
        summary=_summary(app, trigger, state, sha, version),
        actor=_initiator(operation),
        at=at,
        url=_link(payload),
        metadata=_metadata(payload, operation, trigger, source, sha, started_at, finished_at),
        dedupe_key=_dedupe_key(app, sha, trigger, operation, started_at, finished_at, sent_at),
        # Argo CD composes these fields itself; the operation message stays in metadata.
        trust="trusted_platform",
    )


def _text(fields: Fields, key: str) -> str | None:
    value = fields.optional_text(key)
    return None if value == _NO_VALUE else value


def _link(payload: Fields) -> str | None:
    # Without `argocdUrl` in the notifications context the link renders as "<no value>/...".
    url = _text(payload, "url")
    return None if url is None or _NO_VALUE in url else url


def _time(fields: Fields, key: str) -> datetime | None:
    return None if _text(fields, key) is None else fields.time(key)


def _trigger(payload: Fields, operation: Fields | None) -> str:
    if payload.raw("event") in _UNNAMED_EVENT:
        return _infer_trigger(payload, operation)
    return payload.choice("event", TRIGGERS)


def _infer_trigger(payload: Fields, operation: Fields | None) -> str:
    phase = _text(operation, "phase") if operation else None
    if phase == "Running":
        return "sync-running"
    if phase in ("Failed", "Error"):
        return "sync-failed"
    # The shared template sent one body for every trigger; degraded health is the news.
    if _text(payload, "healthStatus") == "Degraded":
        return "health-degraded"
    if phase == "Succeeded":
        return "sync-succeeded"
    payload.fail("event", "empty, and neither sync phase nor health says which trigger fired")


def _state(payload: Fields, operation: Fields | None, trigger: str) -> str:
    if trigger == "health-degraded":
        state = _text(payload, "healthStatus")
        if state is None:
            payload.fail("healthStatus", f"missing for trigger {trigger!r}")
        return state
    if operation is None:
        payload.fail("operationState", f"missing for trigger {trigger!r}")
    phase = _text(operation, "phase")
    if phase is None:
        operation.fail("phase", f"missing for trigger {trigger!r}")
    return phase


def _source(payload: Fields) -> Fields:
    """The application's source; a multi-source app has `sources` and its first one counts."""
    if _text(payload, "repoURL") is not None:
        return payload
    sources = payload.objects("sources")
    return sources[0] if sources else payload


def _revision(payload: Fields, operation: Fields | None) -> str | None:
    """The commit the event is about: the operation's result, its target, else the app's."""
    for fields in (_nested(operation, "syncResult"), _nested(operation, "operation", "sync")):
        if fields is not None:
            revision = _text(fields, "revision") or _first(fields.texts("revisions"))
            if revision:
                return revision
    return _text(payload, "syncRevision")


def _event_time(
    payload: Fields,
    trigger: str,
    started_at: datetime | None,
    finished_at: datetime | None,
    sent_at: datetime | None,
) -> datetime:
    # A sync is dated by its operation; degraded health by when Argo CD noticed it.
    order = {
        "sync-running": (started_at, sent_at),
        "health-degraded": (sent_at, finished_at, started_at),
    }.get(trigger, (finished_at, started_at, sent_at))
    at = next((moment for moment in order if moment is not None), None)
    if at is None:
        payload.fail("sentAt", "missing, and operationState has no time to date the event by")
    return at


def _dedupe_key(
    app: str,
    sha: str | None,
    trigger: str,
    operation: Fields | None,
    started_at: datetime | None,
    finished_at: datetime | None,
    sent_at: datetime | None,
) -> str:
    phase = (_text(operation, "phase") if operation else None) or ""
    operation_at = finished_at or started_at
    operation_time = operation_at.isoformat() if operation_at else ""
    parts = ["argocd", app, sha or "", trigger, phase, operation_time]
    # Health can degrade after a sync with the same operation; each notification of it is
    # news, and Argo CD's retries resend the same rendered body, so sentAt tells them apart.
    if trigger == "health-degraded":
        parts.append(sent_at.isoformat() if sent_at else "")
    return ":".join(parts)


def _summary(app: str, trigger: str, state: str, sha: str | None, version: str | None) -> str:
    what = "health" if trigger == "health-degraded" else "sync"
    summary = f"Argo CD {app}: {what} {state}"
    if sha:
        summary += f" at {sha[:7]}"
    if version and version != sha:
        summary += f" ({version})"
    return summary


def _initiator(operation: Fields | None) -> str | None:
    initiated_by = _nested(operation, "operation", "initiatedBy")
    return _text(initiated_by, "username") if initiated_by else None


def _metadata(
    payload: Fields,
    operation: Fields | None,
    trigger: str,
    source: Fields,
    sha: str | None,
    started_at: datetime | None,
    finished_at: datetime | None,
) -> dict[str, Any]:
    initiated_by = _nested(operation, "operation", "initiatedBy")
    history = _history(payload)
    return {
        "trigger": trigger,
        "project": _text(payload, "project"),
        "namespace": _text(payload, "namespace"),
        "path": _text(source, "path"),
        "sync_status": _text(payload, "syncStatus"),
        "health_status": _text(payload, "healthStatus"),
        "phase": _text(operation, "phase") if operation else None,
        # Argo CD's own words, which can quote Kubernetes errors: data for display only.
        "operation_message": _text(operation, "message") if operation else None,
        "started_at": started_at.isoformat() if started_at else None,
        "finished_at": finished_at.isoformat() if finished_at else None,
        "automated": initiated_by.flag("automated") if initiated_by else False,
        "history": history,
        **_previous_deploy(history, sha),
    }


def _history(payload: Fields) -> list[dict[str, Any]]:
    """Deploy history, oldest first as Argo CD keeps it; `id` is what its rollback API takes."""
    entries = []
    for entry in payload.objects("history"):
        deployed_at = _time(entry, "deployedAt")
        entries.append(
            {
                "id": entry.optional_integer("id"),
                "revision": _text(entry, "revision"),
                "deployed_at": deployed_at.isoformat() if deployed_at else None,
            }
        )
    return entries


def _previous_deploy(history: list[dict[str, Any]], sha: str | None) -> dict[str, Any]:
    """The newest deploy of another revision: what was running before this one."""
    for entry in reversed(history):
        if entry["revision"] != sha:
            return {"previous_revision": entry["revision"], "previous_history_id": entry["id"]}
    return {"previous_revision": None, "previous_history_id": None}


def _nested(fields: Fields | None, *keys: str) -> Fields | None:
    for key in keys:
        if fields is None:
            return None
        fields = fields.optional_object(key)
    return fields


def _first(values: list[str]) -> str | None:
    return values[0] if values else None
