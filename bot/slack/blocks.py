"""Block Kit builders: pure functions from our data to Slack message dicts, so messages are testable as data."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.timeline.assembly import AssembledTimeline
from bot.incidents.service import COMMANDER, IncidentView
from bot.redact.redactor import neutralise, quote_untrusted
from bot.store.models import Change, Signal
from bot.timeline.record import UNTRUSTED

Block = dict[str, Any]
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150

SEVERITY_MARK = {"SEV1": "🔴", "SEV2": "🟠", "SEV3": "🟡", "SEV4": "🔵"}
STATUS_MARK = {"investigating": "🔎", "identified": "🎯", "mitigating": "🛠️", "monitoring": "👀", "resolved": "✅"}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER_TEXT), "emoji": True}}


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION_TEXT)}}


def fields(pairs: dict[str, str]) -> Block:
    # Slack allows ten fields a section, 2,000 characters each.
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": _clip(f"*{k}*\n{v}", 2000)} for k, v in list(pairs.items())[:10]],
    }


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(t, MAX_SECTION_TEXT)} for t in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def mention(user: str | None) -> str:
    return f"<@{user}>" if user else "_unassigned_"


def hhmm(when: datetime) -> str:
    return when.strftime("%H:%M UTC")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def incident_card(incident: IncidentView, last_update: str | None = None) -> tuple[str, list[Block]]:
    """The pinned card; edited in place, so it always shows the current state."""
    roles = {role: holders for role, holders in incident.roles.items() if role != COMMANDER}
    role_lines = [f"{role.replace('_', ' ').capitalize()}: {', '.join(mention(u) for u in holders)}" for role, holders in roles.items()]
    blocks = [
        header(f"{incident.id} · {incident.title}"),
        fields(
            {
                "Severity": f"{SEVERITY_MARK.get(incident.severity, '')} {incident.severity}",
                "Status": f"{STATUS_MARK.get(incident.status, '')} {incident.status.capitalize()}",
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
    return f"Declared *{incident.id}* ({incident.severity}) in <#{incident.channel_id}>. You are the incident commander."


def change_line(actor: str, what: str) -> tuple[str, list[Block]]:
    text = f"{mention(actor)} {what}"
    return text, [section(text)]


def note_message(actor: str, text: str, decision: bool = False) -> tuple[str, list[Block]]:
    label = "🧭 *Decision*" if decision else "📝 *Note*"
    line = f"{label} from {mention(actor)}: {text}"
    return line, [section(line)]


EVENT_MARK = {
    "declared": "🚨", "role_assigned": "👤", "severity_changed": "📶", "status_changed": "🔁", "note": "📝",
    "decision": "🧭", "alert": "🔴", "alert_resolved": "✅", "change": "🚀", "status_update": "📣",
}
SUMMARY_EVENTS = 15


def event_line(event: Any) -> str:
    summary = neutralise(event.summary) if event.trust == UNTRUSTED else event.summary
    by = f" — {mention(event.actor)}" if event.actor and event.kind in ("note", "decision") else ""
    return _clip(f"`{hhmm(event.at)}` {EVENT_MARK.get(event.kind, '•')} {summary}{by}", 1000)


def _sections(lines: Sequence[str]) -> list[Block]:
    """Lines packed into as few sections as Slack's 3,000-character limit allows."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + len(line) + 1 > MAX_SECTION_TEXT:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return [section(c) for c in chunks]


def _bullets(title: str, lines: Sequence[str], limit: int = 8) -> list[Block]:
    if not lines:
        return []
    more = [f"_… and {len(lines) - limit} more_"] if len(lines) > limit else []
    return _sections([f"*{title}*", *(f"• {line}" for line in lines[:limit]), *more])


def _refs(refs: Sequence[str]) -> str:
    return ", ".join(f"`{neutralise(r)[:120]}`" for r in refs)


def timeline_summary(incident: IncidentView, view: AssembledTimeline, events: Sequence[Any]) -> tuple[str, list[Block]]:
    """The assembled timeline, shown to the requester: what changed before the first signal, what it looks like,
    what was decided; correlations only as inferences with their confidence and refs."""
    first = view.first_signal
    first_text = f"{neutralise(first.summary)} at {hhmm(first.at)}" if first else "no alert attached yet"
    out: list[Block] = [
        header(f"Timeline · {incident.id}"),
        section(f"*Detected* {hhmm(view.detected_at)} · *First signal* {first_text}"),
    ]
    out += _bullets("Changes before the first signal", [
        f"`{hhmm(c.at)}` {c.summary} — *{c.minutes_before} min before*" for c in view.recent_changes])
    out += _bullets("Inferences (correlation, not proof)", [
        f"_{i.confidence}_ · {i.statement}" + (f" · refs {_refs(i.refs)}" if i.refs else "") for i in view.inferences])
    out += _bullets("Symptom clusters", [
        f"{neutralise(c.name)} — {c.count} alert{'s' if c.count != 1 else ''}, {c.firing} firing" if c.kind == "alert"
        else f"`{neutralise(c.name)[:200]}` ×{c.count}" for c in view.symptom_clusters])
    out += _bullets("Mitigation", [event_line(e) for e in view.current_mitigation])
    out += _bullets("Decisions", [event_line(e) for e in view.decisions])
    recent = events[-SUMMARY_EVENTS:]
    out.append(divider())
    out += _sections([f"*Events* ({len(events)})", *(event_line(e) for e in recent)] if events else ["_Nothing recorded yet._"])
    if len(events) > len(recent):
        out.append(context(f"The {len(events) - len(recent)} earlier events are in the thread under the incident card."))
    return f"Timeline of {incident.id}: {len(events)} events", out[:MAX_BLOCKS]


def timeline_thread(incident: IncidentView, events: Sequence[Any]) -> list[tuple[str, list[Block]]]:
    """The full event list as thread messages, each within Slack's block limit."""
    sections = _sections([event_line(e) for e in events])
    per_message = MAX_BLOCKS - 1
    messages = []
    for start in range(0, len(sections), per_message):
        part = sections[start:start + per_message]
        text = f"Full timeline of {incident.id} ({len(events)} events), part {start // per_message + 1}"
        messages.append((text, [context(text), *part]))
    return messages


def help_blocks(usage: Sequence[tuple[str, str]], problem: str | None = None) -> tuple[str, list[Block]]:
    lines = "\n".join(f"`/incident {u}` — {d}" for u, d in usage)
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f"⚠️ {problem}"))
    blocks.append(section(f"*Steward — incident commands*\n{lines}"))
    text = (f"{problem}\n" if problem else "") + lines
    return text, blocks


def error_blocks(message: str) -> tuple[str, list[Block]]:
    return message, [section(f"⚠️ {message}")]


def joined_channel_help() -> tuple[str, list[Block]]:
    text = (
        "👋 I'm Steward. This isn't an incident channel, so I'll stay quiet here. "
        "Start an incident with `/incident declare <title>`; `/incident help` lists everything."
    )
    return text, [section(text)]


def mention_help() -> tuple[str, list[Block]]:
    text = "I act on `/incident` commands only; `/incident help` lists them. Mentions are not instructions."
    return text, [section(text)]


ALERT_MARK = {"firing": "🔴", "resolved": "✅"}


def alert_message(signals: Sequence[Signal]) -> tuple[str, list[Block]]:
    """Alerts that arrived together: one message, edited as more arrive and as they resolve.

    Names, labels and annotations come from the monitoring system: untrusted, shown inert.
    """
    firing = sum(1 for s in signals if s.status == "firing")
    title = f"🔔 {len(signals)} alert{'s' if len(signals) != 1 else ''}" + (f" · {firing} firing" if firing else " · all resolved")
    out: list[Block] = [section(f"*{title}*")]
    shown = signals[: MAX_BLOCKS - 3]
    for signal in shown:
        when = f"since {hhmm(signal.starts_at)}" if signal.status == "firing" else f"resolved {hhmm(signal.ends_at or signal.starts_at)}"
        labels = ", ".join(f"{k}={v}" for k, v in sorted(signal.labels.items()) if k != "alertname")
        summary = signal.annotations.get("summary") or signal.annotations.get("description") or ""
        line = f"{ALERT_MARK.get(signal.status, '•')} *{neutralise(signal.name)}* {when}\n`{neutralise(labels)}`"
        if summary:
            line += "\n" + quote_untrusted(summary, limit=300)
        out.append(section(line))
    if len(signals) > len(shown):
        out.append(context(f"and {len(signals) - len(shown)} more"))
    return f"{title}: " + ", ".join(s.name for s in signals[:10]), out


def change_message(change: Change) -> tuple[str, list[Block]]:
    verb = {"deployment": "🚀 Deploy", "deployment_status": "🚀 Deploy", "config_change": "⚙️ Config change", "flag_change": "🚩 Flag change"}[change.kind]
    parts = [f"{verb} *{neutralise(change.service or 'unmapped service')}*"]
    if change.version:
        parts.append(f"`{neutralise(change.version)}`")
    if change.environment:
        parts.append(f"in {neutralise(change.environment)}")
    if change.state:
        parts.append(f"— {neutralise(change.state)}")
    if change.actor:
        parts.append(f"by {neutralise(change.actor)}")
    line = " ".join(parts) + f" · {hhmm(change.at)}"
    out = [section(line)]
    if change.summary:
        out.append(context(quote_untrusted(change.summary.splitlines()[0] if change.summary else "", limit=200)))
    return line, out


def triage_message(signals: Sequence[Signal]) -> tuple[str, list[Block]]:
    """Alerts no open incident covers, with a button per service that declares one prefilled."""
    text, out = alert_message(signals)
    out[0] = section(f"*🔔 {len(signals)} alert{'s' if len(signals) != 1 else ''} with no open incident*")
    buttons = []
    for service, signal in {s.service or "": s for s in reversed(signals)}.items():
        value = json.dumps({"title": signal.annotations.get("summary") or signal.name, "service": service or None,
                            "severity": severity_of(signal.labels.get("severity"))}, separators=(",", ":"))
        if len(value) > 2000:
            value = json.dumps({"title": signal.name[:200], "service": service or None, "severity": "SEV3"})
        buttons.append({"type": "button", "action_id": "triage_declare", "style": "danger", "value": value,
                        "text": {"type": "plain_text", "text": _clip(f"Declare incident{f' · {service}' if service else ''}", 75)}})
    out.append({"type": "actions", "elements": buttons[:25]})
    return f"Alerts with no open incident: {text}", out


SEVERITY_OF_LABEL = {"critical": "SEV2", "page": "SEV2", "error": "SEV3", "high": "SEV2", "warning": "SEV3", "info": "SEV4"}


def severity_of(label: str | None) -> str:
    return SEVERITY_OF_LABEL.get((label or "").lower(), "SEV3")


def history_attached(count: int, minutes: int) -> tuple[str, list[Block]]:
    text = (f"🧷 Attached {count} earlier event{'s' if count != 1 else ''} (alerts and changes of this incident's services "
            f"from the last {minutes} minutes) to the timeline. `/incident timeline` shows them.")
    return text, [context(text)]


# --- Status updates, reminders and resolution (DESIGN section 5) ------------------------------------------------

from bot.status.draft import MAX_FACTS, StatusDraft  # noqa: E402
from bot.store.models import StatusUpdate  # noqa: E402

FACT_LABEL = {"note": "Note: ", "decision": "Decision: "}
SNOOZE_CHOICES = (("30", "Snooze 30 min"), ("60", "Snooze 1 h"), ("120", "Snooze 2 h"))


def button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    element: Block = {"type": "button", "action_id": action_id, "value": value,
                      "text": {"type": "plain_text", "text": _clip(label, 75)}}
    if style:
        element["style"] = style
    return element


def _status_word(status: str) -> str:
    return f"{STATUS_MARK.get(status, '')} {status.capitalize()}"


def _fact_line(fact: Any) -> str:
    count = f" ×{fact.count}" if fact.count > 1 else ""
    line = f"`{hhmm(fact.at)}` {FACT_LABEL.get(fact.kind, '')}{fact.text}{count} · {_refs([fact.ref])}"
    # Alert names and commit messages come from the sources: data, quoted and inert, never our words.
    return line + ("\n" + quote_untrusted(fact.quote, limit=200) if fact.quote else "")


def _listed(title: str, lines: Sequence[str], limit: int = 8) -> list[Block]:
    """A list of the update's fixed structure: shown even when empty, so a reader sees it was considered."""
    return _bullets(title, lines, limit) if lines else [section(f"*{title}*\n_none_")]


def _status_body(draft: StatusDraft) -> list[Block]:
    next_update = hhmm(draft.next_update_at) if draft.next_update_at else "none scheduled"
    out = [
        fields({"Status": _status_word(draft.status), "Severity": f"{SEVERITY_MARK.get(draft.severity, '')} {draft.severity}",
                "Start time": hhmm(draft.started_at), "Next update": next_update}),
        section(f"*Impact*\n{draft.impact}"),
        section(f"*Current finding*\n{draft.current_finding}"),
        section(f"*Mitigation*\n{draft.mitigation}"),
    ]
    out += _listed("Facts", [_fact_line(f) for f in draft.facts], limit=MAX_FACTS)
    if draft.facts_omitted:
        out.append(context(f"{draft.facts_omitted} earlier facts are in `/incident timeline`."))
    out += _listed("Inferences (not established)", [
        f"_{i.confidence}_ · {i.statement}" + (f" · rests on {_refs(i.refs)}" if i.refs else "") for i in draft.inferences])
    if draft.inferences_omitted:
        out.append(context(f"{draft.inferences_omitted} older inferences not shown; `/incident timeline` lists the correlations."))
    out += _listed("Unknowns", draft.unknowns)
    if draft.firing_alerts:
        out.append(context("Still firing: " + ", ".join(f"`{neutralise(n)[:150]}`" for n in draft.firing_alerts[:10])))
    return out


def status_draft(draft: StatusDraft, update_id: int, status_channel: str | None = None) -> tuple[str, list[Block]]:
    """The draft, shown to the requester only, with Publish and Discard (they answer through response_url)."""
    where = "this channel" + (f" and #{status_channel.lstrip('#')}" if status_channel else "")
    out = [header(f"Draft status update · {draft.incident_id}"),
           context(f"Only you can see this draft. Publish posts it to {where}; only the commander or comms can.")]
    out += _status_body(draft)
    if draft.guard_notes:
        out.append(context(*(f"🛡️ {note}" for note in draft.guard_notes)))
    out.append({"type": "actions", "elements": [button("status_publish", "Publish", str(update_id), "primary"),
                                                 button("status_discard", "Discard", str(update_id))]})
    return f"Draft status update for {draft.incident_id}: {draft.status}", out[:MAX_BLOCKS]


def status_update(draft: StatusDraft, publisher: str, published_at: datetime, channel_id: str | None) -> tuple[str, list[Block]]:
    """The published update, in the incident channel and copied to the status channel."""
    where = f" · <#{channel_id}>" if channel_id else ""
    out = [header(f"📣 Status update · {draft.incident_id} · {draft.title}")]
    out += _status_body(draft)
    out.append(context(f"Published by {mention(publisher)} at {hhmm(published_at)}{where}"))
    text = f"Status update for {draft.incident_id}: {draft.status} — {_clip(draft.current_finding, 200)}"
    return text, out[:MAX_BLOCKS]


def last_update_line(update: StatusUpdate) -> str:
    """The card's "last update" line: when, by whom, what it said the status was, when the next is due."""
    draft = StatusDraft.model_validate(update.sections)
    next_update = f" · next update by {hhmm(draft.next_update_at)}" if draft.next_update_at else ""
    return (f"📣 Last update {hhmm(update.published_at)} by {mention(update.author)} · "
            f"{_status_word(draft.status)}{next_update}")


def status_published_reply(channels: Sequence[str], at: datetime) -> str:
    return f"✅ Published at {hhmm(at)} to {' and '.join(channels)}."


def update_reminder(incident: IncidentView, cadence_minutes: int | None) -> tuple[str, list[Block]]:
    every = f" ({incident.severity}: every {cadence_minutes} min)" if cadence_minutes else ""
    text = (f"⏰ {mention(incident.commander)}: a status update for *{incident.id}* is due{every}. "
            "`/incident status` drafts one.")
    # Slack wants action ids unique within a block and the contract names one, `reminder_snooze`: a block each.
    return text, [section(text), *({"type": "actions", "elements": [button("reminder_snooze", label, value)]}
                                   for value, label in SNOOZE_CHOICES)]


def reminder_snoozed(user: str, minutes: int, until: datetime) -> tuple[str, list[Block]]:
    text = f"⏰ {mention(user)} snoozed the update reminder for {minutes} min; the next one comes at {hhmm(until)}."
    return text, [context(text)]


def resolved_message(incident_id: str, actor: str, at: datetime, override: str | None,
                     firing: Sequence[str]) -> tuple[str, list[Block]]:
    text = f"✅ {mention(actor)} resolved *{incident_id}* at {hhmm(at)}. Update reminders stopped."
    out = [section(text)]
    if override:
        still = ", ".join(f"`{neutralise(n)[:150]}`" for n in firing[:10])
        out.append(section(f"⚠️ Resolved by override while {alerts_still_firing(firing)}: {still}\n"
                           f"*Reason*\n{quote_untrusted(override, limit=500)}"))
    return text, out


def alerts_still_firing(firing: Sequence[str]) -> str:
    return "1 attached alert still fires" if len(firing) == 1 else f"{len(firing)} attached alerts still fire"


STATE_WORDS = {
    "pending": "⏳ Waiting for approval", "approved": "👍 Approved", "denied": "🚫 Denied", "expired": "⌛ Expired",
    "invalidated": "♻️ Invalidated: the evidence changed; request again", "cancelled": "🛑 Cancelled (incident resolved)",
    "executing": "⚙️ Executing", "executed": "✅ Executed", "failed": "❌ Failed", "unknown": "⚠️ Unknown: a human must check",
}


def _state_text(state: dict[str, Any]) -> str:
    shown = {k: v for k, v in state.items() if k not in ("definition", "file", "off_variant")} or state
    return neutralise(", ".join(f"{k}: {v}" for k, v in shown.items()))[:500] or "unknown"


def approval_message(request: Any, sentence: str, button_value: str | None, evidence: Sequence[Any]) -> tuple[str, list[Block]]:
    """Everything the seed's approval packet lists, ending with the scoped sentence; buttons only while pending."""
    packet = request.packet
    title = {"disable_flag": f"Turn flag {request.target} off", "rollback_deployment": f"Roll back {request.target}"}.get(
        request.action, request.action)
    out: list[Block] = [
        header(f"Approval request · {title}"),
        fields({
            "Action": f"`{request.action}`", "Environment": request.environment, "Service": request.service,
            "Requested by": mention(request.requested_by),
            "Current state": _state_text(packet.get("current_state", {})),
            "Proposed state": _state_text(packet.get("proposed_state", {})),
            "Policy": f"`{request.rule_id}` · {request.decision.replace('_', ' ')}",
            "Who may approve": " or ".join(r.replace("_", " ") for r in request.required_roles) or "—",
        }),
    ]
    if evidence:
        out += _bullets("Evidence (pinned timeline events)", [event_line(e) for e in evidence])
    if packet.get("readiness"):
        out += _bullets("Rollback readiness", [f"{c['name']}: *{c['answer']}* ({neutralise(c['source'])})" for c in packet["readiness"]], limit=8)
    recommendation = request.params.get("recommendation")
    if recommendation:
        out.append(section(f"*Recommendation* {recommendation['recommendation'].replace('_', ' ')} "
                           f"(confidence {recommendation['confidence']})"
                           + "".join(f"\n• safer next step: {s}" for s in recommendation.get("safe_next_step", [])[:3])))
    out += _bullets("Risk flags", [neutralise(f) for f in packet.get("risk_flags", [])])
    out += _bullets("Alternatives considered", [neutralise(a) for a in packet.get("alternatives", [])])
    out.append(section(f"*Undo path* {neutralise(packet.get('undo_path', ''))}\n*Expected telemetry* "
                       + "; ".join(neutralise(t) for t in packet.get("expected_telemetry", []))
                       + f"\n*Blast radius* {neutralise(packet.get('blast_radius') or 'not assessed')}"))
    out.append(section(f"*Exact call*\n```{neutralise(request.params.get('call', ''))[:1500]}```"))
    out.append(section(f"*{sentence}*"))
    if button_value:
        out.append({"type": "actions", "block_id": f"approval:{request.id}", "elements": [
            {"type": "button", "action_id": "approval_approve", "style": "primary", "value": button_value,
             "text": {"type": "plain_text", "text": "Approve"},
             "confirm": {"title": {"type": "plain_text", "text": "Approve this exact action?"},
                         "text": {"type": "mrkdwn", "text": sentence}, "style": "primary",
                         "confirm": {"type": "plain_text", "text": "Approve"}, "deny": {"type": "plain_text", "text": "Cancel"}}},
            {"type": "button", "action_id": "approval_deny", "style": "danger", "value": button_value,
             "text": {"type": "plain_text", "text": "Deny"}},
        ]})
        out.append(context(f"Request `{request.id}` · evidence `{request.evidence_hash[:12]}` · expires {hhmm(request.expires_at)}"))
    else:
        decided = f" by {mention(request.decided_by)} at {hhmm(request.decided_at)}" if request.decided_by and request.decided_at else ""
        error = request.result.get("error")
        out.append(context(f"{STATE_WORDS.get(request.state, request.state)}{decided}" + (f" · {neutralise(error)[:300]}" if error else "")
                           + f" · request `{request.id}`"))
    return f"Approval request: {sentence}", out[:MAX_BLOCKS]


def dry_run(plan: Any, decision: Any, packet: dict[str, Any], digest: str) -> tuple[str, list[Block]]:
    """What would happen, shown only to the requester: nothing is created and nothing runs."""
    reasons = "\n".join(f"• {neutralise(r)}" for r in decision.reasons)
    packet_json = json.dumps(packet, indent=1, sort_keys=True)
    text = f"Dry run: {plan.action} {plan.target} in {plan.environment} → {decision.decision}"
    return text, [
        header(f"Dry run · {plan.action} {plan.target}"),
        section(f"*Policy decision* `{decision.decision}` · rule `{decision.rule_id}`\n{reasons}"),
        section(f"*Exact call*\n```{neutralise(plan.call)[:1500]}```"),
        section(f"*Evidence packet* (hash `{digest[:12]}`)\n```{neutralise(packet_json)[:2800]}```"),
        context("Dry run: no request was created and nothing ran. Audited as a dry run."),
    ]


def audit_view(incident_id: str, events: Sequence[Any], verified: Any) -> tuple[str, list[Block]]:
    chain = (f"✅ Audit chain intact ({verified.checked} events checked)" if verified.ok
             else f"❌ Audit chain broken at seq {verified.first_broken}: {verified.reason}")
    lines = [f"`{e.seq}` `{hhmm(e.at)}` *{e.action}* by {mention(e.actor) if e.actor.startswith('U') else e.actor}"
             + (f" · {neutralise(e.target)}" if e.target else "") + (f" · {e.decision}" if e.decision else "")
             + (f" · evidence `{e.evidence_hash[:12]}`" if e.evidence_hash else "")
             + (f" · {neutralise(e.reason)[:200]}" if e.reason else "") for e in events[-40:]]
    out = [header(f"Audit · {incident_id}"), section(chain)]
    out += _sections(lines) if lines else [section("_No audit events for this incident yet._")]
    return f"Audit of {incident_id}: {len(events)} events; {chain}", out[:MAX_BLOCKS]
