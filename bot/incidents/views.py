"""Block Kit for incidents: the pinned card and its last-update line, changes and notes, the assembled timeline, help. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.incidents.service import COMMANDER, IncidentView
from bot.redact.redactor import neutralise
from bot.slack.blocks import (
    MAX_BLOCKS,
    Block,
    _bullets,
    _clip,
    _refs,
    _sections,
    context,
    divider,
    fields,
    header,
    hhmm,
    mention,
    section,
)
from bot.timeline.assembly import AssembledTimeline
from bot.timeline.record import UNTRUSTED

SEVERITY_MARK = {"SEV1": "🔴", "SEV2": "🟠", "SEV3": "🟡", "SEV4": "🔵"}


STATUS_MARK = {"investigating": "🔎", "identified": "🎯", "mitigating": "🛠️", "monitoring": "👀", "resolved": "✅"}


def status_word(status: str) -> str:
    return f"{STATUS_MARK.get(status, '')} {status.capitalize()}"


def incident_card(incident: IncidentView, last_update: str | None = None) -> tuple[str, list[Block]]:
    """The pinned card; edited in place, so it always shows the current state."""
    roles = {role: holders for role, holders in incident.roles.items() if role != COMMANDER}
    role_lines = [
        f"{role.replace('_', ' ').capitalize()}: {', '.join(mention(u) for u in holders)}"
        for role, holders in roles.items()
    ]
    blocks = [
        header(f"{incident.id} · {incident.title}"),
        fields(
            {
                "Severity": f"{SEVERITY_MARK.get(incident.severity, '')} {incident.severity}",
                "Status": status_word(incident.status),
                "Commander": mention(incident.commander),
                "Services": ", ".join(incident.services) or "_none named_",
                "Environment": incident.environment,
                "Detected": hhmm(incident.detected_at),
            }
        ),
    ]
    if role_lines:
        blocks.append(section("\n".join(role_lines)))
    blocks.append(context(last_update or "No status update published yet · `/incident help` lists the commands"))
    text = f"{incident.id} · {incident.title} — {incident.severity}, {incident.status}, commander {mention(incident.commander)}"
    return text, blocks


def declared_reply(incident: IncidentView) -> str:
    return (
        f"Declared *{incident.id}* ({incident.severity}) in <#{incident.channel_id}>. You are the incident commander."
    )


def change_line(actor: str, what: str) -> tuple[str, list[Block]]:
    text = f"{mention(actor)} {what}"
    return text, [section(text)]


def note_message(actor: str, text: str, decision: bool = False) -> tuple[str, list[Block]]:
    label = "🧭 *Decision*" if decision else "📝 *Note*"
    line = f"{label} from {mention(actor)}: {text}"
    return line, [section(line)]


EVENT_MARK = {
    "declared": "🚨",
    "role_assigned": "👤",
    "severity_changed": "📶",
    "status_changed": "🔁",
    "note": "📝",
    "decision": "🧭",
    "alert": "🔴",
    "alert_resolved": "✅",
    "change": "🚀",
    "status_update": "📣",
}


SUMMARY_EVENTS = 15


def event_line(event: Any) -> str:
    summary = neutralise(event.summary) if event.trust == UNTRUSTED else event.summary
    by = f" — {mention(event.actor)}" if event.actor and event.kind in ("note", "decision") else ""
    return _clip(f"`{hhmm(event.at)}` {EVENT_MARK.get(event.kind, '•')} {summary}{by}", 1000)


def timeline_summary(incident: IncidentView, view: AssembledTimeline, events: Sequence[Any]) -> tuple[str, list[Block]]:
    """The assembled timeline, shown to the requester: what changed before the first signal, what it looks like,
    what was decided; correlations only as inferences with their confidence and refs."""
    first = view.first_signal
    first_text = f"{neutralise(first.summary)} at {hhmm(first.at)}" if first else "no alert attached yet"
    out: list[Block] = [
        header(f"Timeline · {incident.id}"),
        section(f"*Detected* {hhmm(view.detected_at)} · *First signal* {first_text}"),
    ]
    out += _bullets(
        "Changes before the first signal",
        [f"`{hhmm(c.at)}` {c.summary} — *{c.minutes_before} min before*" for c in view.recent_changes],
    )
    out += _bullets(
        "Inferences (correlation, not proof)",
        [f"_{i.confidence}_ · {i.statement}" + (f" · refs {_refs(i.refs)}" if i.refs else "") for i in view.inferences],
    )
    out += _bullets(
        "Symptom clusters",
        [
            f"{neutralise(c.name)} — {c.count} alert{'s' if c.count != 1 else ''}, {c.firing} firing"
            if c.kind == "alert"
            else f"`{neutralise(c.name)[:200]}` ×{c.count}"
            for c in view.symptom_clusters
        ],
    )
    out += _bullets("Mitigation", [event_line(e) for e in view.current_mitigation])
    out += _bullets("Decisions", [event_line(e) for e in view.decisions])
    recent = events[-SUMMARY_EVENTS:]
    out.append(divider())
    out += _sections(
        [f"*Events* ({len(events)})", *(event_line(e) for e in recent)] if events else ["_Nothing recorded yet._"]
    )
    if len(events) > len(recent):
        out.append(
            context(f"The {len(events) - len(recent)} earlier events are in the thread under the incident card.")
        )
    return f"Timeline of {incident.id}: {len(events)} events", out[:MAX_BLOCKS]


def timeline_thread(incident: IncidentView, events: Sequence[Any]) -> list[tuple[str, list[Block]]]:
    """The full event list as thread messages, each within Slack's block limit."""
    sections = _sections([event_line(e) for e in events])
    per_message = MAX_BLOCKS - 1
    messages = []
    for start in range(0, len(sections), per_message):
        part = sections[start : start + per_message]
        text = f"Full timeline of {incident.id} ({len(events)} events), part {start // per_message + 1}"
        messages.append((text, [context(text), *part]))
    return messages


def joined_channel_help() -> tuple[str, list[Block]]:
    text = (
        "👋 I'm Steward. This isn't an incident channel, so I'll stay quiet here. "
        "Start an incident with `/incident declare <title>`; `/incident help` lists everything."
    )
    return text, [section(text)]


def mention_help() -> tuple[str, list[Block]]:
    text = "I act on `/incident` commands only; `/incident help` lists them. Mentions are not instructions."
    return text, [section(text)]


def history_attached(count: int, minutes: int) -> tuple[str, list[Block]]:
    text = (
        f"🧷 Attached {count} earlier event{'s' if count != 1 else ''} (alerts and changes of this incident's services "
        f"from the last {minutes} minutes) to the timeline. `/incident timeline` shows them."
    )
    return text, [context(text)]
