"""Status update drafts (DESIGN section 5): the `StatusDraft` model built from the stored timeline, and the guards
that keep a draft from misleading. Pure: events and the incident in, data out; rendering is `bot.slack.blocks`.

The rules a commander can rely on:
- **Facts** are observed events with a time and an evidence ref: alerts, changes, mitigations, and people's notes
  and decisions (the note itself is the evidence). Repeats of the same alert collapse into one fact with a count.
- A note or decision with speculative wording ("probably", "likely", "seems", "might", …, or "root cause is"
  before a decision records the root cause) is not a fact: it moves to the inferences with low confidence.
- A statement naming a person as a cause is reworded to the change ("<@U1>'s deploy broke it" → "the deploy
  broke it"); one that cannot be reworded is left out. Either way the draft says what the guard did.
- Untrusted text (alert names, commit messages) only appears in a fact's `quote`, rendered as quoted data; the
  Current finding is a person's statement or Steward's own count of firing alerts, never source text.
- Impact is stated by the latest note or decision mentioning "impact" or "customer(s)"; until one does, customer
  impact scope is an unknown. The root cause is unknown until a decision mentions "root cause" or "caused by".
  Rollback compatibility is unknown while a rollback is on the table: a note or decision mentions rolling back,
  or an event (an approval request) names `rollback_deployment`, and no rollback has been executed.
- The Status never says "resolved" while an attached alert fires.
- Everything in the draft passes through the redactor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from pydantic import BaseModel, Field

from bot.errors import UserError
from bot.incidents.service import COMMANDER, IncidentView
from bot.timeline.assembly import EventLike, Inference, alert_clusters, assemble

UPDATE_OWNERS = (COMMANDER, "comms")
HUMAN_KINDS = ("note", "decision")
ALERT_KINDS = ("alert", "alert_resolved")
ACTION_KINDS = ("mitigation", "action_executed")
MAX_FACTS = 20
MAX_INFERENCES = 8
DEMOTED_SHOWN = 3  # speculative statements shown among the inferences, newest first
# How many facts of each kind a draft keeps when the timeline is long: the newest of each, so an alert storm
# cannot push people's notes and the recent changes out of the update.
FACT_BUDGET = {"human": 8, "change": 5, "action": 3}

SPECULATIVE = re.compile(
    r"\b(probably|likely|seems?|seemingly|might|maybe|perhaps|possibly|presumably|i think|i guess|could be)\b", re.I
)
ROOT_CAUSE_CLAIM = re.compile(r"\broot[ -]?cause\s+(?:is|was)\b", re.I)
ROOT_CAUSE_RECORDED = re.compile(r"\b(root[ -]?cause|caused by)\b", re.I)
IMPACT = re.compile(r"\b(impact\w*|customers?)\b", re.I)
ROLLBACK = re.compile(r"\broll(?:ing|ed)?[ -]?back\b|\brollback\b", re.I)

_MENTION = r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|@[A-Za-z0-9._-]+"
_THING = (
    r"deploy(?:ment)?|change|commit|push|merge|PR|pull request|config(?:uration)?(?: change)?|migration"
    r"|release|rollout|code|patch|script|query|upgrade"
)
_BLAME = re.compile(
    r"\b(?:caus\w*|because|due to|broke|break\w*|fault\w*|blam\w*|responsible|screw\w*|mess\w* up|triggered)\b", re.I
)
_SEP = r"[^\w.;!?]+"  # between words of one clause: a person and a blame word in different clauses are unrelated
_POSSESSIVE = re.compile(rf"(?P<who>{_MENTION}|\b[A-Za-z][\w.-]*)['’]s\s+(?P<thing>{_THING})\b", re.I)


class Fact(BaseModel):
    at: datetime
    kind: str
    text: str  # Steward's words, or a person's for notes and decisions
    ref: str  # the evidence: an alert, a deploy, a note
    quote: str | None = None  # untrusted source text: only ever rendered as quoted data
    count: int = 1  # repeats of the same alert, collapsed


class StatusDraft(BaseModel):
    """The stable data of a status update; `bot.status.views` renders it."""

    incident_id: str
    title: str
    severity: str
    status: str
    impact: str
    started_at: datetime
    current_finding: str
    mitigation: str
    next_update_at: datetime | None
    facts: list[Fact] = Field(default_factory=list)
    facts_omitted: int = 0
    inferences: list[Inference] = Field(default_factory=list)
    inferences_omitted: int = 0
    unknowns: list[str] = Field(default_factory=list)
    firing_alerts: list[str] = Field(default_factory=list)
    guard_notes: list[str] = Field(default_factory=list)
    drafted_at: datetime

    @property
    def evidence_refs(self) -> list[str]:
        return sorted({f.ref for f in self.facts} | {r for i in self.inferences for r in i.refs})


class NotUpdateOwner(UserError):
    def __init__(self, view: IncidentView, what: str) -> None:
        commanders = ", ".join(f"<@{u}>" for u in view.roles.get(COMMANDER, [])) or "nobody yet"
        comms = ", ".join(f"<@{u}>" for u in view.roles.get("comms", [])) or "nobody yet"
        super().__init__(
            f"Only the incident commander ({commanders}) or comms ({comms}) can {what}. "
            f"The commander can add comms with `/incident role comms @someone`."
        )


def require_update_owner(view: IncidentView, user: str, what: str) -> None:
    """Status updates speak for the incident, so only its commander and comms publish them (and snooze their
    reminders); anyone may draft one."""
    if not any(user in view.roles.get(role, []) for role in UPDATE_OWNERS):
        raise NotUpdateOwner(view, what)


def firing_alerts(events: Sequence[EventLike]) -> list[str]:
    """The attached alerts still firing (latest state per fingerprint), named as the timeline names them."""
    return [
        f"{c.name} ({c.firing} of {c.count} firing)" if c.count > 1 else c.name
        for c in alert_clusters(events)
        if c.firing
    ]


def draft_status_update(
    view: IncidentView,
    events: Sequence[EventLike],
    *,
    now: datetime,
    cadence_minutes: int | None,
    redact: Callable[[str], str],
) -> StatusDraft:
    """The draft for `view` from its timeline (events in time order). `redact` is `Redactor.redact`."""
    timeline = _read(events)
    assembled = assemble(view.id, view.detected_at, view.services, timeline.for_assembly)
    firing = firing_alerts(list(timeline.latest_alerts.values()))
    services = {*view.services, *(e.service for e in timeline.changes if e.service)}
    people = {p.lower() for p in (*timeline.actors, *(u for holders in view.roles.values() for u in holders))}
    said = _said_by_people(timeline.human, people, services, timeline.root_cause_recorded)
    facts, omitted = _facts(timeline, said, people, services)
    resolved_while_firing = view.status == "resolved" and bool(firing)
    if resolved_while_firing:
        still = "1 attached alert still fires" if len(firing) == 1 else f"{len(firing)} attached alerts still fire"
        said.notes.append(f"Status shows monitoring, not resolved: {still}.")
    demoted = said.demoted[-DEMOTED_SHOWN:]
    correlations = assembled.inferences[: MAX_INFERENCES - len(demoted)]
    first = assembled.first_signal
    draft = StatusDraft(
        incident_id=view.id,
        title=view.title,
        severity=view.severity,
        status="monitoring" if resolved_while_firing else view.status,
        impact=said.impact or f"Not stated yet; {_alert_summary(firing, view.services)}.",
        started_at=min(first.at, view.detected_at) if first else view.detected_at,
        current_finding=said.finding or f"No finding recorded yet; {_alert_summary(firing, view.services)}.",
        mitigation=_mitigation(timeline, said),
        next_update_at=now + timedelta(minutes=cadence_minutes)
        if cadence_minutes and view.status != "resolved"
        else None,
        facts=facts,
        facts_omitted=omitted,
        inferences=[*correlations, *demoted],
        inferences_omitted=len(assembled.inferences) - len(correlations) + len(said.demoted) - len(demoted),
        unknowns=_unknowns(timeline, said, resolved_while_firing),
        firing_alerts=firing,
        guard_notes=said.notes,
        drafted_at=now,
    )
    return StatusDraft.model_validate(_redacted(draft.model_dump(), redact))


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """Every text in the draft through the redactor (field names are ours, so they are left alone)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value


@dataclass
class _Timeline:
    """The events a draft reads, sorted in one pass over the timeline (which may hold tens of thousands)."""

    latest_alerts: dict[str, EventLike] = field(default_factory=dict)  # fingerprint -> its latest alert event
    alert_groups: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (kind, summary) -> [first, count]
    changes: list[EventLike] = field(default_factory=list)
    human: list[EventLike] = field(default_factory=list)
    actions: list[EventLike] = field(default_factory=list)
    # Only what the draft reads from the assembled view, the first signal and the changes before it (for their
    # correlations): the error signatures over every alert annotation serve the timeline view, and on a long
    # timeline they would cost most of the drafting time.
    for_assembly: list[EventLike] = field(default_factory=list)
    actors: set[str] = field(default_factory=set)
    root_cause_recorded: bool = False
    rollback_proposed: bool = False
    rollback_executed: bool = False


def _read(events: Sequence[EventLike]) -> _Timeline:
    t = _Timeline()
    first: EventLike | None = None
    fields = attrgetter("kind", "summary", "details", "actor")  # one call for four attributes, on every event
    for event in events:
        kind, summary, details, actor = fields(event)
        if kind in ALERT_KINDS:
            t.latest_alerts[details.get("fingerprint", summary)] = event
            t.alert_groups.setdefault((kind, summary), [event, 0])[1] += 1
            if first is None and kind == "alert":
                first = event
                t.for_assembly.append(event)
            continue
        if actor:
            t.actors.add(actor)
        if kind == "change":
            t.changes.append(event)
            if isinstance(details.get("actor"), str):
                t.actors.add(details["actor"])
            if first is None or event.at <= first.at:
                t.for_assembly.append(event)
        elif kind in HUMAN_KINDS:
            t.human.append(event)
            t.rollback_proposed = t.rollback_proposed or bool(ROLLBACK.search(summary))
            if kind == "decision":
                t.root_cause_recorded = t.root_cause_recorded or bool(ROOT_CAUSE_RECORDED.search(summary))
        elif kind in ACTION_KINDS:
            t.actions.append(event)
        if details.get("action") == "rollback_deployment":  # an approval request for it, or its execution
            t.rollback_proposed = True
            t.rollback_executed = t.rollback_executed or kind == "action_executed"
    return t


@dataclass
class _Said:
    """What people said that the draft uses, after the guards."""

    facts: list[Fact] = field(default_factory=list)
    demoted: list[Inference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_out: int = 0
    impact: str | None = None
    finding: str | None = None
    decided: str | None = None


def _said_by_people(
    human: Sequence[EventLike], people: set[str], services: set[str], root_cause_recorded: bool
) -> _Said:
    """The newest notes and decisions through the guards: the newest few become facts; further back, only the
    latest statement of impact, finding and decision is looked for."""
    said = _Said()
    for event in reversed(human):
        in_window = len(said.facts) < FACT_BUDGET["human"]
        if not in_window and None not in (said.impact, said.finding, said.decided):
            break
        text = _guarded(event, people, services, root_cause_recorded, said if in_window else None)
        if text is None:
            continue
        if in_window:
            said.facts.append(Fact(at=event.at, kind=event.kind, text=text, ref=_ref(event)))
        records_cause = event.kind == "decision" and ROOT_CAUSE_RECORDED.search(text)
        if said.impact is None and IMPACT.search(text):
            said.impact = text
        if said.finding is None and (event.kind == "note" or records_cause):
            said.finding = text
        if said.decided is None and event.kind == "decision" and not records_cause:
            said.decided = text
    for found in (said.facts, said.demoted, said.notes):
        found.reverse()
    return said


def _guarded(
    event: EventLike, people: set[str], services: set[str], root_cause_recorded: bool, said: _Said | None
) -> str | None:
    """The statement as a fact may say it, or None; what the guards did is told to `said` when given."""
    when = event.at.strftime("%H:%M UTC")
    text, named = _blameless(event.summary, people, services)
    if named == "dropped":
        if said is not None:
            said.left_out += 1
            said.notes.append(
                f"Left out the {event.kind} of {when}: it names a person as a cause. Say what changed instead."
            )
        return None
    speculative = SPECULATIVE.search(text) or (not root_cause_recorded and ROOT_CAUSE_CLAIM.search(text))
    if speculative:
        if said is not None:
            said.left_out += 1
            said.demoted.append(Inference(statement=text, confidence="low", refs=[_ref(event)]))
            said.notes.append(
                f"Moved the {event.kind} of {when} to the inferences: “{speculative.group(0)}” is not an "
                f"observation{'' if SPECULATIVE.search(text) else ' before a decision records the root cause'}."
            )
        return None
    if named == "reworded" and said is not None:
        said.notes.append(f"Reworded the {event.kind} of {when} to name the change, not a person, as the cause.")
    return text


def _blameless(text: str, people: set[str], services: set[str]) -> tuple[str, str]:
    """Reword a statement that names a person as a cause to name the change; ("", "dropped") when it cannot.

    Only a person near a blame word counts: "<@U1> is rolling back" names a person, not a cause.
    """
    if not _BLAME.search(text):
        return text, "clean"
    services = {s.lower() for s in services}

    def the_thing(match: re.Match[str]) -> str:
        who = match["who"].lower()
        is_person = who.startswith(("<@", "@")) or who in people or (who.isalpha() and who not in services)
        return f"the {match['thing']}" if is_person else match[0]

    person = _person_pattern(people)
    reworded = _POSSESSIVE.sub(the_thing, text)
    reworded = re.sub(rf"\b(caused|triggered|broken|started)\s+by\s+{person}", r"\1 by a change", reworded, flags=re.I)
    reworded = re.sub(
        rf"{person}(?=\s+(?:broke|caused|triggered|messed up|screwed up)\b)", "a change", reworded, flags=re.I
    )
    near = rf"{person}(?:{_SEP}\w+){{0,2}}{_SEP}{_BLAME.pattern}|{_BLAME.pattern}(?:{_SEP}\w+){{0,2}}{_SEP}{person}"
    if re.search(near, reworded, flags=re.I):
        return "", "dropped"
    return reworded, "clean" if reworded == text else "reworded"


def _person_pattern(people: set[str]) -> str:
    names = [re.escape(p) for p in sorted(people, key=len, reverse=True) if len(p) > 2]
    named = rf"|(?<![\w@<|]){'|'.join(names)}(?![\w>])" if names else ""
    return rf"(?:{_MENTION}{named})"


def _ref(event: EventLike) -> str:
    return event.evidence_ref or f"{event.kind}:{event.id}"


def _facts(t: _Timeline, said: _Said, people: set[str], services: set[str]) -> tuple[list[Fact], int]:
    """At most MAX_FACTS, in time order: the newest of each kind within its budget and the first alert always,
    then the newest alerts; returns them and how many were left for the timeline."""
    changes = [_change_fact(e, people, services) for e in t.changes[-FACT_BUDGET["change"] :]]
    actions = [Fact(at=e.at, kind=e.kind, text=e.summary, ref=_ref(e)) for e in t.actions[-FACT_BUDGET["action"] :]]
    groups = list(t.alert_groups.values())
    room = max(MAX_FACTS - len(said.facts) - len(changes) - len(actions), 1)
    shown = groups[:1] + groups[1:][-(room - 1) :] if room > 1 else groups[:1]
    alerts = [
        Fact(
            at=e.at,
            kind=e.kind,
            ref=_ref(e),
            quote=e.summary,
            count=n,
            text=f"Alert {'fired' if e.kind == 'alert' else 'resolved'}",
        )
        for e, n in shown
    ]
    facts = sorted([*alerts, *changes, *actions, *said.facts], key=lambda f: f.at)
    candidates = len(groups) + len(t.changes) + len(t.actions) + len(t.human) - said.left_out
    return facts, candidates - len(facts)


def _change_fact(event: EventLike, people: set[str], services: set[str]) -> Fact:
    description = event.details.get("description") or ""
    quote = _blameless(description.splitlines()[0], people, services)[0] if description.strip() else ""
    return Fact(at=event.at, kind="change", text=event.summary, ref=_ref(event), quote=quote or None)


def _alert_summary(firing: list[str], services: Sequence[str]) -> str:
    where = f" on {', '.join(services)}" if services else ""
    if not firing:
        return f"no attached alert is firing{where}"
    return f"{len(firing)} attached alert{'s' if len(firing) != 1 else ''} firing{where}"


def _mitigation(t: _Timeline, said: _Said) -> str:
    if t.actions:
        return t.actions[-1].summary
    return f"Decided: {said.decided}" if said.decided else "None in place yet."


def _unknowns(t: _Timeline, said: _Said, resolved_while_firing: bool) -> list[str]:
    unknowns = []
    if not t.root_cause_recorded:
        unknowns.append("Root cause: no decision records it yet.")
    if said.impact is None:
        unknowns.append("Customer impact scope: no note states it yet.")
    if t.rollback_proposed and not t.rollback_executed:
        unknowns.append("Rollback compatibility (schema, data, config): a rollback is on the table and unverified.")
    if resolved_while_firing:
        unknowns.append("Whether recovery holds: the incident was resolved by override while attached alerts fire.")
    return unknowns
