"""The assembled timeline of DESIGN section 4: first signal, the changes before it, symptom clusters, mitigations,
decisions, and correlations stated as inferences with a confidence and the refs they rest on — never as facts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import BaseModel, Field

from bot.timeline.record import TimelineRow

Confidence = Literal["low", "medium", "high"]
CLOSE_BEFORE_MINUTES = 30
ALERT_KEY_LABELS = ("service", "environment", "env")
NOT_ERROR_LINES = {"summary", "runbook_url", "dashboard", "dashboard_url"}
MAX_CLUSTER_LINES = 5000

# Variable parts of error lines, masked before clustering so one failure reads as one signature
# (one alternation, so each word is scanned once).
_MASK = re.compile(
    r"(?P<IP>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b)"
    r"|(?P<UUID>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<HEX>\b(?:0x)?[0-9a-fA-F]{12,}\b)"
    r"|(?P<NUM>(?<![\w.])[-+]?\d+(?:\.\d+)?(?:ms|s|%)?(?![\w.]))"
)


EventLike = TimelineRow  # what the assembly reads, as `events_for` returns it (anything with those fields will do)


class EventRef(BaseModel):
    id: int
    at: datetime
    kind: str
    summary: str
    service: str | None
    ref: str | None
    actor: str | None = None
    trust: str


class RecentChange(EventRef):
    minutes_before: int


class Inference(BaseModel):
    statement: str
    confidence: Confidence
    refs: list[str]


class SymptomCluster(BaseModel):
    kind: Literal["alert", "error_signature"]
    name: str
    count: int
    firing: int = 0
    first_at: datetime | None = None


class AssembledTimeline(BaseModel):
    incident_id: str
    detected_at: datetime
    events_total: int
    first_signal: EventRef | None = None
    recent_changes: list[RecentChange] = Field(default_factory=list)
    inferences: list[Inference] = Field(default_factory=list)
    symptom_clusters: list[SymptomCluster] = Field(default_factory=list)
    current_mitigation: list[EventRef] = Field(default_factory=list)
    decisions: list[EventRef] = Field(default_factory=list)


def _ref(event: EventLike, cls: type[EventRef] = EventRef, **extra: Any) -> Any:
    return cls(
        id=event.id,
        at=event.at,
        kind=event.kind,
        summary=event.summary,
        service=event.service,
        ref=event.evidence_ref,
        actor=event.actor,
        trust=event.trust,
        **extra,
    )


def assemble(
    incident_id: str, detected_at: datetime, services: Sequence[str], events: Sequence[EventLike]
) -> AssembledTimeline:
    """Pure: events in time order in, the assembled view out."""
    alerts = [e for e in events if e.kind == "alert"]
    first = alerts[0] if alerts else None
    anchor = first.at if first else detected_at
    changes = [e for e in events if e.kind == "change" and e.at <= anchor]
    recent = [
        _ref(c, RecentChange, minutes_before=int((anchor - c.at).total_seconds() // 60)) for c in reversed(changes)
    ]
    return AssembledTimeline(
        incident_id=incident_id,
        detected_at=detected_at,
        events_total=len(events),
        first_signal=_ref(first) if first else None,
        recent_changes=recent,
        inferences=correlate(recent, _ref(first) if first else None, services),
        symptom_clusters=alert_clusters(events) + error_signatures(events),
        current_mitigation=[_ref(e) for e in events if e.kind in ("mitigation", "action_executed")],
        decisions=[_ref(e) for e in events if e.kind == "decision"],
    )


def correlate(recent: Sequence[RecentChange], first: EventRef | None, services: Sequence[str]) -> list[Inference]:
    """A change before the first alert is a candidate cause, stated as an inference: timing is not proof.

    Same service and close in time gives medium; anything else low; correlation alone never gives high.
    """
    if first is None:
        return []
    inferences = []
    for change in recent:
        same_service = change.service is not None and change.service == first.service
        close = change.minutes_before <= CLOSE_BEFORE_MINUTES
        confidence: Confidence = "medium" if same_service and close else "low"
        relation = (
            "same service"
            if same_service
            else (f"{change.service} is also in this incident" if change.service in services else "different service")
        )
        statement = f"{change.summary} {change.minutes_before} min before the first alert; {relation}"
        inferences.append(
            Inference(statement=statement, confidence=confidence, refs=[r for r in (change.ref, first.ref) if r])
        )
    return inferences


def alert_clusters(events: Sequence[EventLike]) -> list[SymptomCluster]:
    """Alerts by name and key labels, counting distinct alerts and how many still fire."""
    latest: dict[str, tuple[str, EventLike]] = {}
    firsts: dict[str, datetime] = {}
    for event in events:
        if event.kind != "alert" and event.kind != "alert_resolved":
            continue
        details = event.details
        labels = details.get("labels") or {}
        key = " · ".join([details.get("name", event.summary), *filter(None, map(labels.get, ALERT_KEY_LABELS))])
        latest[details.get("fingerprint", event.summary)] = (key, event)
        if key not in firsts:
            firsts[key] = event.at
    counts: Counter[str] = Counter()
    firing: Counter[str] = Counter()
    for key, event in latest.values():
        counts[key] += 1
        firing[key] += event.kind == "alert"
    return [
        SymptomCluster(kind="alert", name=k, count=n, firing=firing[k], first_at=firsts[k])
        for k, n in counts.most_common()
    ]


def error_signatures(events: Sequence[EventLike]) -> list[SymptomCluster]:
    """Error lines from alert annotations grouped into signatures with drain3.

    Lines are masked and de-duplicated first, so drain3 sees each distinct shape once, whatever the volume.
    """
    lines: Counter[str] = Counter()
    mask = _masker()
    for line, count in _error_lines(events).items():
        lines[mask(line)] += count
    if not lines:
        return []
    miner = _miner()
    templates: dict[int, int] = Counter()
    for line, count in lines.most_common(MAX_CLUSTER_LINES):
        templates[miner.add_log_message(line)["cluster_id"]] += count
    names = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return [
        SymptomCluster(kind="error_signature", name=names[i], count=n) for i, n in Counter(templates).most_common(10)
    ]


def _error_lines(events: Sequence[EventLike]) -> Counter[str]:
    """The non-blank lines of alert annotations that may hold errors, counted, in the order they first appear (drain3's
    clusters depend on the order it sees lines in)."""
    values = Counter(
        [
            value
            for event in events
            if event.kind == "alert"
            for key, value in event.details.get("annotations", {}).items()
            if key not in NOT_ERROR_LINES and isinstance(value, str)
        ]
    )
    lines: Counter[str] = Counter()
    for value, count in values.items():
        for line in value.splitlines():
            if line := line.strip():
                lines[line] += count
    return lines


def _masker() -> Callable[[str], str]:
    """Masks lines word by word, each distinct word once: error lines differ in a word or two. Splitting at spaces
    changes nothing, since no mask spans a space and a space reads like the line's start or end to `_MASK`."""
    masked = _MaskedWords()
    return lambda line: " ".join(map(masked.__getitem__, line[:500].split(" ")))


class _MaskedWords(dict[str, str]):
    # A dict with __missing__ rather than a function: known words are looked up without a Python call.
    def __missing__(self, word: str) -> str:
        self[word] = masked = _MASK.sub(_mask_name, word)
        return masked


def _mask_name(match: re.Match[str]) -> str:
    return f"<{match.lastgroup}>"


def _miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.masking_instructions = [MaskingInstruction(r"<(?:IP|UUID|HEX|NUM)>", "*")]
    config.drain_sim_th = 0.5
    return TemplateMiner(config=config)
