"""The generic change event (DESIGN section 9) that any CD, config or flag tool can POST to
/webhooks/changes, read into a Change.

Fields: id, type, service and at are required; environment, version, previous_version, actor,
summary, url, files and metadata are optional, and so are two extras: sha (the commit) and
incident (an incident id such as INC-20261125-01 the change belongs to).
"""

from __future__ import annotations

from bot.timeline.sources import ChangeIn, Fields, explicit_incident_id, read_object
from bot.timeline.sources.models import ChangeKind, Trust

SOURCE = "generic"
TYPES: tuple[ChangeKind, ...] = ("deployment", "config_change", "flag_change")
_NOUNS = {
    "deployment": "Deployment",
    "config_change": "Config change",
    "flag_change": "Flag change",
}


def parse(body: bytes) -> ChangeIn:
    event = read_object(body)
    change_id = event.text("id")
    kind = event.choice("type", TYPES)
    service = event.text("service")
    environment = event.optional_text("environment")
    version = event.optional_text("version")
    summary, trust = _summary(event, kind, service, version, environment)
    return ChangeIn(
        source=SOURCE,
        kind=kind,
        service=service,
        environment=environment,
        version=version,
        previous_version=event.optional_text("previous_version"),
        sha=event.optional_text("sha"),
        files=event.texts("files"),
        summary=summary,
        actor=event.optional_text("actor"),
        at=event.time("at"),
        url=event.optional_text("url"),
        metadata=event.object("metadata").data if event.has("metadata") else {},
        dedupe_key=f"generic:{change_id}",
        incident_id=_incident(event),
        trust=trust,
    )


def _summary(event: Fields, kind: str, service: str, version: str | None, environment: str | None) -> tuple[str, Trust]:
    # The sender's words are data, like a commit message; our own sentence is not.
    text = event.optional_text("summary")
    if text and text.strip():
        return text.strip(), "untrusted_runtime_output"
    sentence = f"{_NOUNS[kind]} of {service}"
    if version:
        sentence += f" {version}"
    if environment:
        sentence += f" in {environment}"
    return sentence, "trusted_platform"


def _incident(event: Fields) -> str | None:
    # Unlike a label someone typed, this field exists only to name an incident: refuse junk.
    value = event.optional_text("incident")
    if value is not None and explicit_incident_id(value) is None:
        event.fail("incident", "expected an incident id like INC-20261125-01")
    return explicit_incident_id(value)
