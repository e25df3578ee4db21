"""Block Kit for status updates: the draft with Publish and Discard, the published update, reminders and resolution. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.incidents.service import IncidentView
from bot.incidents.views import SEVERITY_MARK, status_word
from bot.redact.redactor import neutralise, quote_untrusted
from bot.slack.blocks import (
    MAX_BLOCKS,
    Block,
    _clip,
    _listed,
    _refs,
    button,
    context,
    fields,
    header,
    hhmm,
    mention,
    section,
)
from bot.status.draft import MAX_FACTS, StatusDraft
from bot.store.models import StatusUpdate

FACT_LABEL = {"note": "Note: ", "decision": "Decision: "}


SNOOZE_CHOICES = (("30", "Snooze 30 min"), ("60", "Snooze 1 h"), ("120", "Snooze 2 h"))


def _fact_line(fact: Any) -> str:
    count = f" ×{fact.count}" if fact.count > 1 else ""
    line = f"`{hhmm(fact.at)}` {FACT_LABEL.get(fact.kind, '')}{fact.text}{count} · {_refs([fact.ref])}"
    # Alert names and commit messages come from the sources: data, quoted and inert, never our words.
    return line + ("\n" + quote_untrusted(fact.quote, limit=200) if fact.quote else "")


def _status_body(draft: StatusDraft) -> list[Block]:
    next_update = hhmm(draft.next_update_at) if draft.next_update_at else "none scheduled"
    out = [
        fields(
            {
                "Status": status_word(draft.status),
                "Severity": f"{SEVERITY_MARK.get(draft.severity, '')} {draft.severity}",
                "Start time": hhmm(draft.started_at),
                "Next update": next_update,
            }
        ),
        section(f"*Impact*\n{draft.impact}"),
        section(f"*Current finding*\n{draft.current_finding}"),
        section(f"*Mitigation*\n{draft.mitigation}"),
    ]
    out += _listed("Facts", [_fact_line(f) for f in draft.facts], limit=MAX_FACTS)
    if draft.facts_omitted:
        out.append(context(f"{draft.facts_omitted} earlier facts are in `/incident timeline`."))
    out += _listed(
        "Inferences (not established)",
        [
            f"_{i.confidence}_ · {i.statement}" + (f" · rests on {_refs(i.refs)}" if i.refs else "")
            for i in draft.inferences
        ],
    )
    if draft.inferences_omitted:
        out.append(
            context(
                f"{draft.inferences_omitted} older inferences not shown; `/incident timeline` lists the correlations."
            )
        )
    out += _listed("Unknowns", draft.unknowns)
    if draft.firing_alerts:
        out.append(context("Still firing: " + ", ".join(f"`{neutralise(n)[:150]}`" for n in draft.firing_alerts[:10])))
    return out


def status_draft(draft: StatusDraft, update_id: int, status_channel: str | None = None) -> tuple[str, list[Block]]:
    """The draft, shown to the requester only, with Publish and Discard (they answer through response_url)."""
    where = "this channel" + (f" and #{status_channel.lstrip('#')}" if status_channel else "")
    out = [
        header(f"Draft status update · {draft.incident_id}"),
        context(f"Only you can see this draft. Publish posts it to {where}; only the commander or comms can."),
    ]
    out += _status_body(draft)
    if draft.guard_notes:
        out.append(context(*(f"🛡️ {note}" for note in draft.guard_notes)))
    out.append(
        {
            "type": "actions",
            "elements": [
                button("status_publish", "Publish", str(update_id), "primary"),
                button("status_discard", "Discard", str(update_id)),
            ],
        }
    )
    return f"Draft status update for {draft.incident_id}: {draft.status}", out[:MAX_BLOCKS]


def status_update(
    draft: StatusDraft, publisher: str, published_at: datetime, channel_id: str | None
) -> tuple[str, list[Block]]:
    """The published update, in the incident channel and copied to the status channel."""
    where = f" · <#{channel_id}>" if channel_id else ""
    out = [header(f"📣 Status update · {draft.incident_id} · {draft.title}")]
    out += _status_body(draft)
    out.append(context(f"Published by {mention(publisher)} at {hhmm(published_at)}{where}"))
    text = f"Status update for {draft.incident_id}: {draft.status} — {_clip(draft.current_finding, 200)}"
    return text, out[:MAX_BLOCKS]


def status_published_reply(channels: Sequence[str], at: datetime) -> str:
    return f"✅ Published at {hhmm(at)} to {' and '.join(channels)}."


def update_reminder(incident: IncidentView, cadence_minutes: int | None) -> tuple[str, list[Block]]:
    every = f" ({incident.severity}: every {cadence_minutes} min)" if cadence_minutes else ""
    text = (
        f"⏰ {mention(incident.commander)}: a status update for *{incident.id}* is due{every}. "
        "`/incident status` drafts one."
    )
    # Slack wants action ids unique within a block and the contract names one, `reminder_snooze`: a block each.
    return text, [
        section(text),
        *(
            {"type": "actions", "elements": [button("reminder_snooze", label, value)]}
            for value, label in SNOOZE_CHOICES
        ),
    ]


def reminder_snoozed(user: str, minutes: int, until: datetime) -> tuple[str, list[Block]]:
    text = f"⏰ {mention(user)} snoozed the update reminder for {minutes} min; the next one comes at {hhmm(until)}."
    return text, [context(text)]


def resolved_message(
    incident_id: str, actor: str, at: datetime, override: str | None, firing: Sequence[str]
) -> tuple[str, list[Block]]:
    text = f"✅ {mention(actor)} resolved *{incident_id}* at {hhmm(at)}. Update reminders stopped."
    out = [section(text)]
    if override:
        still = ", ".join(f"`{neutralise(n)[:150]}`" for n in firing[:10])
        out.append(
            section(
                f"⚠️ Resolved by override while {alerts_still_firing(firing)}: {still}\n"
                f"*Reason*\n{quote_untrusted(override, limit=500)}"
            )
        )
    return text, out


def alerts_still_firing(firing: Sequence[str]) -> str:
    return "1 attached alert still fires" if len(firing) == 1 else f"{len(firing)} attached alerts still fire"


def last_update_line(update: StatusUpdate) -> str:
    """The card's "last update" line: when, by whom, what it said the status was, when the next is due."""
    if update.published_at is None:
        raise ValueError(f"status update {update.id} is not published; only a published one has a last-update line")
    draft = StatusDraft.model_validate(update.sections)
    next_update = f" · next update by {hhmm(draft.next_update_at)}" if draft.next_update_at else ""
    return (
        f"📣 Last update {hhmm(update.published_at)} by {mention(update.author)} · "
        f"{status_word(draft.status)}{next_update}"
    )
