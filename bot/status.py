"""Status update drafts (DESIGN section 5): the `StatusDraft` model built from the stored timeline, and the guards
that keep a draft from misleading. Pure: events and the incident in, data out; rendering is `bot.blocks`.

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
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from bot.assembly import EventLike, Inference, alert_clusters, assemble
from bot.errors import UserError
from bot.incidents import COMMANDER, IncidentView

UPDATE_OWNERS = (COMMANDER, "comms")
HUMAN_KINDS = ("note", "decision")
ALERT_KINDS = ("alert", "alert_resolved")
ACTION_KINDS = ("mitigation", "action_executed")
MAX_FACTS = 20
# How many facts of each kind a draft keeps when the timeline is long: the newest of each, so an alert storm
# cannot push people's notes and the recent changes out of the update.
FACT_BUDGET = {"human": 8, "change": 5, "action": 3}

SPECULATIVE = re.compile(
    r"\b(probably|likely|seems?|seemingly|might|maybe|perhaps|possibly|presumably|i think|i guess|could be)\b", re.I)
ROOT_CAUSE_CLAIM = re.compile(r"\broot[ -]?cause\s+(?:is|was)\b", re.I)
ROOT_CAUSE_RECORDED = re.compile(r"\b(root[ -]?cause|caused by)\b", re.I)
IMPACT = re.compile(r"\b(impact\w*|customers?)\b", re.I)
ROLLBACK = re.compile(r"\broll(?:ing|ed)?[ -]?back\b|\brollback\b", re.I)

_MENTION = r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|@[A-Za-z0-9._-]+"
_THING = (r"deploy(?:ment)?|change|commit|push|merge|PR|pull request|config(?:uration)?(?: change)?|migration"
          r"|release|rollout|code|patch|script|query|upgrade")
_BLAME = re.compile(r"\b(?:caus\w*|because|due to|broke|break\w*|fault\w*|blam\w*|responsible|screw\w*|mess\w* up|triggered)\b",
                    re.I)
_SEP = r"[^\w.;!?]+"  # between words of one clause: a person and a blame word in different clauses are unrelated
_POSSESSIVE = re.compile(rf"(?P<who>{_MENTION}|\b[A-Za-z][\w.-]*)['’]s\s+(?P<thing>{_THING})\b", re.I)


class Fact(BaseModel):
    at: datetime
    kind: str
    text: str                   # Steward's words, or a person's for notes and decisions
    ref: str                    # the evidence: an alert, a deploy, a note
    quote: str | None = None    # untrusted source text: only ever rendered as quoted data
    count: int = 1              # repeats of the same alert, collapsed


class StatusDraft(BaseModel):
    """The stable data of a status update; `blocks.status_draft` and `blocks.status_update` render it."""

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
        super().__init__(f"Only the incident commander ({commanders}) or comms ({comms}) can {what}. "
                         f"The commander can add comms with `/incident role comms @someone`.")


def require_update_owner(view: IncidentView, user: str, what: str) -> None:
    """Status updates speak for the incident, so only its commander and comms publish them (and snooze their
    reminders); anyone may draft one."""
    if not any(user in view.roles.get(role, []) for role in UPDATE_OWNERS):
        raise NotUpdateOwner(view, what)


def firing_alerts(events: Sequence[EventLike]) -> list[str]:
    """The attached alerts still firing (latest state per fingerprint), named as the timeline names them."""
    return [f"{c.name} ({c.firing} of {c.count} firing)" if c.count > 1 else c.name
            for c in alert_clusters(events) if c.firing]


def draft_status_update(view: IncidentView, events: Sequence[EventLike], *, now: datetime, cadence_minutes: int | None,
                        redact: Callable[[str], Any]) -> StatusDraft:
    """The draft for `view` from its timeline (events in time order). `redact` is `Redactor.redact_mapping`."""
    assembled = assemble(view.id, view.detected_at, view.services, _assembly_input(events))
    firing = firing_alerts(events)
    guard_notes: list[str] = []
    people = _people(view, events)
    root_cause_recorded = any(e.kind == "decision" and ROOT_CAUSE_RECORDED.search(e.summary) for e in events)
    facts, demoted = _facts(events, people, set(view.services), root_cause_recorded, guard_notes)
    human = [f for f in facts if f.kind in HUMAN_KINDS]
    kept, omitted = _select(facts)
    first = assembled.first_signal
    status = view.status
    if status == "resolved" and firing:
        status = "monitoring"
        guard_notes.append(f"Status shows monitoring, not resolved: {len(firing)} attached alert(s) still fire.")
    draft = StatusDraft(
        incident_id=view.id, title=view.title, severity=view.severity, status=status,
        impact=_impact(human, firing, view.services),
        started_at=min(first.at, view.detected_at) if first else view.detected_at,
        current_finding=_finding(human, firing, view.services),
        mitigation=_mitigation(facts),
        next_update_at=now + timedelta(minutes=cadence_minutes) if cadence_minutes and view.status != "resolved" else None,
        facts=kept, facts_omitted=omitted,
        inferences=[*assembled.inferences, *demoted],
        unknowns=_unknowns(events, human, root_cause_recorded, view.status == "resolved" and firing),
        firing_alerts=firing, guard_notes=guard_notes, drafted_at=now,
    )
    return StatusDraft.model_validate(redact(draft.model_dump()))


def _assembly_input(events: Sequence[EventLike]) -> list[EventLike]:
    """Only what the draft reads from the assembled view (first signal, the changes before it and their
    correlations, mitigations, decisions): the error signatures over every alert annotation serve the timeline
    view, and on a long timeline they would cost most of the drafting time."""
    first = next((e for e in events if e.kind == "alert"), None)
    anchor = first.at if first else None
    keep = []
    for event in events:
        if event is first or event.kind in ("mitigation", "action_executed", "decision"):
            keep.append(event)
        elif event.kind == "change" and (anchor is None or event.at <= anchor):
            keep.append(event)
    return keep


def _people(view: IncidentView, events: Sequence[EventLike]) -> set[str]:
    """Who could be named: role holders and the actors the timeline knows (deployers, note authors)."""
    names = {u for holders in view.roles.values() for u in holders}
    for event in events:
        if event.actor:
            names.add(event.actor)
        actor = event.details.get("actor") if event.kind == "change" else None
        if isinstance(actor, str) and actor:
            names.add(actor)
    return {n.lower() for n in names}


def _facts(events: Sequence[EventLike], people: set[str], services: set[str], root_cause_recorded: bool,
           guard_notes: list[str]) -> tuple[list[Fact], list[Inference]]:
    facts: list[Fact] = []
    demoted: list[Inference] = []
    alerts: dict[tuple[str, str], Fact] = {}
    services = services | {e.service for e in events if e.service}
    for event in events:
        if event.kind in HUMAN_KINDS:
            fact = _human_fact(event, people, services, root_cause_recorded, guard_notes, demoted)
        elif event.kind in ALERT_KINDS:
            key = (event.kind, event.summary)
            if key in alerts:
                alerts[key].count += 1
                continue
            fact = alerts[key] = Fact(at=event.at, kind=event.kind, ref=_ref(event), quote=event.summary,
                                      text=f"Alert {'fired' if event.kind == 'alert' else 'resolved'}")
        elif event.kind == "change":
            description = event.details.get("description") or ""
            fact = Fact(at=event.at, kind="change", text=event.summary, ref=_ref(event),
                        quote=_blameless(description.splitlines()[0], people, services)[0] or None if description else None)
        elif event.kind in ACTION_KINDS:
            fact = Fact(at=event.at, kind=event.kind, text=event.summary, ref=_ref(event))
        else:
            continue
        if fact is not None:
            facts.append(fact)
    return facts, demoted


def _human_fact(event: EventLike, people: set[str], services: set[str], root_cause_recorded: bool,
                guard_notes: list[str], demoted: list[Inference]) -> Fact | None:
    when = event.at.strftime("%H:%M")
    text, named = _blameless(event.summary, people, services)
    if named == "dropped":
        guard_notes.append(f"Left out the {event.kind} of {when}: it names a person as a cause. Say what changed instead.")
        return None
    if named == "reworded":
        guard_notes.append(f"Reworded the {event.kind} of {when} to name the change, not a person, as the cause.")
    speculative = SPECULATIVE.search(text) or (not root_cause_recorded and ROOT_CAUSE_CLAIM.search(text))
    if speculative:
        demoted.append(Inference(statement=text, confidence="low", refs=[_ref(event)]))
        guard_notes.append(f"Moved the {event.kind} of {when} to the inferences: “{speculative.group(0)}” is not an "
                           f"observation{'' if SPECULATIVE.search(text) else ' before a decision records the root cause'}.")
        return None
    return Fact(at=event.at, kind=event.kind, text=text, ref=_ref(event))


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
    reworded = re.sub(rf"{person}(?=\s+(?:broke|caused|triggered|messed up|screwed up)\b)", "a change", reworded, flags=re.I)
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


def _select(facts: list[Fact]) -> tuple[list[Fact], int]:
    """At most MAX_FACTS, in time order: the first alert always, the newest of each kind within its budget,
    then the newest alerts."""
    if len(facts) <= MAX_FACTS:
        return facts, 0
    group = {**{k: "human" for k in HUMAN_KINDS}, "change": "change", **{k: "action" for k in ACTION_KINDS}}
    chosen: list[int] = []
    first_alert = next((i for i, f in enumerate(facts) if f.kind == "alert"), None)
    if first_alert is not None:
        chosen.append(first_alert)
    for name, budget in FACT_BUDGET.items():
        chosen += [i for i, f in enumerate(facts) if group.get(f.kind) == name][-budget:]
    rest = [i for i, f in enumerate(facts) if f.kind in ALERT_KINDS and i != first_alert]
    room = MAX_FACTS - len(chosen)
    chosen += rest[-room:] if room > 0 else []
    kept = [facts[i] for i in sorted(set(chosen))]
    return kept, len(facts) - len(kept)


def _alert_summary(firing: list[str], services: Sequence[str]) -> str:
    where = f" on {', '.join(services)}" if services else ""
    if not firing:
        return f"no attached alert is firing{where}"
    return f"{len(firing)} attached alert{'s' if len(firing) != 1 else ''} firing{where}"


def _impact(human: list[Fact], firing: list[str], services: Sequence[str]) -> str:
    stated = [f for f in human if IMPACT.search(f.text)]
    if stated:
        return stated[-1].text
    return f"Not stated yet; {_alert_summary(firing, services)}."


def _finding(human: list[Fact], firing: list[str], services: Sequence[str]) -> str:
    """The latest note, or a decision recording the root cause; else Steward's own count of firing alerts,
    never an alert's or a commit's text."""
    findings = [f for f in human if f.kind == "note" or ROOT_CAUSE_RECORDED.search(f.text)]
    if findings:
        return findings[-1].text
    summary = _alert_summary(firing, services)
    return f"No finding recorded yet; {summary}."


def _mitigation(facts: list[Fact]) -> str:
    done = [f for f in facts if f.kind in ACTION_KINDS]
    if done:
        return done[-1].text
    decided = [f for f in facts if f.kind == "decision" and not ROOT_CAUSE_RECORDED.search(f.text)]
    return f"Decided: {decided[-1].text}" if decided else "None in place yet."


def _unknowns(events: Sequence[EventLike], human: list[Fact], root_cause_recorded: bool, resolved_while_firing: bool) -> list[str]:
    unknowns = []
    if not root_cause_recorded:
        unknowns.append("Root cause: no decision records it yet.")
    if not any(IMPACT.search(f.text) for f in human):
        unknowns.append("Customer impact scope: no note states it yet.")
    if _rollback_on_the_table(events):
        unknowns.append("Rollback compatibility (schema, data, config): a rollback is on the table and unverified.")
    if resolved_while_firing:
        unknowns.append("Whether recovery holds: the incident was resolved by override while attached alerts fire.")
    return unknowns


def _rollback_on_the_table(events: Sequence[EventLike]) -> bool:
    proposed = executed = False
    for event in events:
        action = event.details.get("action") if isinstance(event.details, dict) else None
        if event.kind in HUMAN_KINDS and ROLLBACK.search(event.summary):
            proposed = True
        elif action == "rollback_deployment":
            proposed = True
            executed = executed or event.kind == "action_executed"
    return proposed and not executed
