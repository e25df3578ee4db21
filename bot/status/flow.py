"""The status update and resolution flows: `/incident status` (a draft only the requester sees, with Publish and
Discard answering through the click's response_url), publishing and discarding it, and `/incident resolve`, the one
guarded path to resolution (`set status resolved` runs it too).

Resolving is audited (an override with its reason and the alerts still firing); subscribe to it with
`@on_resolved`, as approvals do to cancel their pending requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlmodel import Session, col

from bot.audit import service as audit
from bot.errors import UserError
from bot.incidents.service import channel_of, require_commander, view_of
from bot.redact.redactor import neutralise
from bot.runtime.context import Runtime
from bot.runtime.logs import tag_incident
from bot.slack import blocks
from bot.slack.messages import Ephemeral, Message, Post, RefreshCard, ReplyTo
from bot.status import reminders
from bot.status import views as status_views
from bot.status.draft import StatusDraft, draft_status_update, firing_alerts, require_update_owner
from bot.store.models import Incident, StatusUpdate
from bot.timeline.record import HUMAN, events_for, record_event


@dataclass(frozen=True)
class Resolution:
    incident_id: str
    actor: str
    at: datetime
    override: str | None  # the commander's reason, when alerts still fired
    firing: list[str] = field(default_factory=list)  # the attached alerts firing at resolution (untrusted names)


ResolvedHook = Callable[[Runtime, Session, Incident, Resolution], list[Message]]
RESOLVED_HOOKS: list[ResolvedHook] = []


def on_resolved(hook: ResolvedHook) -> ResolvedHook:
    """Run `hook` whenever an incident is resolved, in the resolving transaction; it returns messages to say."""
    RESOLVED_HOOKS.append(hook)
    return hook


class AlertsStillFiring(UserError):
    def __init__(self, firing: list[str]) -> None:
        names = ", ".join(f"`{neutralise(n)[:150]}`" for n in firing[:10])
        super().__init__(
            f"Not resolved: {status_views.alerts_still_firing(firing)}: {names}. "
            'Resolve them first or, if you are sure, `/incident resolve --override "<reason>"` '
            "(the reason is recorded in the timeline)."
        )


# --- drafting --------------------------------------------------------------------------------------------------


def start_draft(rt: Runtime, session: Session, incident: Incident, reply_to: ReplyTo) -> list[Message]:
    """A new draft, stored and shown only to the person who asked, with Publish and Discard."""
    draft = draft_for(rt, session, incident)
    stored = StatusUpdate(
        incident_id=incident.id,
        sections=draft.model_dump(mode="json"),
        evidence_refs=draft.evidence_refs,
        author=reply_to.user,
        created_at=draft.drafted_at,
    )
    session.add(stored)
    session.flush()
    text, shown = status_views.status_draft(draft, _id_of(stored), rt.config.steward.status_channel)
    return [reply_to.ephemeral(text, shown)]


def draft_for(rt: Runtime, session: Session, incident: Incident) -> StatusDraft:
    view = view_of(session, incident)
    return draft_status_update(
        view,
        events_for(session, incident.id),
        now=rt.clock.now(),
        cadence_minutes=reminders.cadence_minutes(rt.config, view.severity),
        redact=rt.redactor.redact,
    )


# --- publishing and discarding ---------------------------------------------------------------------------------


def publish_draft(rt: Runtime, user: str, channel: str, value: str, response_url: str | None) -> None:
    """The draft's Publish button."""
    try:
        messages = _publish(rt, user, channel, value, response_url)
    except UserError as error:
        messages = [_reply(user, channel, response_url, str(error))]
    rt.slack.deliver(messages)


def discard_draft(rt: Runtime, user: str, channel: str, value: str, response_url: str | None) -> None:
    """The draft's Discard button: the draft is replaced by a line saying nothing was posted."""
    try:
        with rt.db.session() as session:
            stored, _ = _draft_in(session, value, channel)
            if stored.author != user:
                raise UserError("This draft is someone else's; nothing was discarded.")
            _claim(session, stored, "discarded")
        messages = [_reply(user, channel, response_url, "🗑️ Draft discarded; nothing was posted.", replace=True)]
    except UserError as error:
        messages = [_reply(user, channel, response_url, str(error))]
    rt.slack.deliver(messages)


def _publish(rt: Runtime, user: str, channel: str, value: str, response_url: str | None) -> list[Message]:
    now = rt.clock.now()
    with rt.db.session() as session:
        stored, incident = _draft_in(session, value, channel)
        require_update_owner(view_of(session, incident), user, "publish status updates")
        draft = StatusDraft.model_validate(stored.sections)
        if draft.status == "resolved" and firing_alerts(events_for(session, incident.id)):
            raise UserError(
                "This draft says resolved, but attached alerts fire again; nothing was published. "
                "Draft again with `/incident status`."
            )
        cadence = reminders.cadence_minutes(rt.config, incident.severity)
        next_at = now + timedelta(minutes=cadence) if cadence and incident.status != "resolved" else None
        draft = draft.model_copy(update={"next_update_at": next_at})
        # The publisher becomes the author of record: they chose to say it.
        _claim(session, stored, "published", published_at=now, author=user, sections=draft.model_dump(mode="json"))
        record_event(
            session,
            incident.id,
            at=now,
            kind="status_update",
            actor=user,
            trust=HUMAN,
            summary=f"Status update published: {draft.status}",
            evidence_ref=f"status_update:{stored.id}",
            details={"status_update_id": stored.id, "status": draft.status},
        )
        if next_at:
            reminders.schedule_reminder(session, incident.id, next_at, now)
    posted = _post_update(rt, _id_of(stored), draft, user, now, channel)
    said = (
        status_views.status_published_reply(posted, now)
        if posted
        else "The update is recorded as published, but Slack refused to post it; try `/incident status` again."
    )
    return [RefreshCard(incident.id), _reply(user, channel, response_url, said, replace=True)]


def _post_update(rt: Runtime, update_id: int, draft: StatusDraft, user: str, at: datetime, channel: str) -> list[str]:
    """Post to the incident channel (keeping its ts) and copy to the status channel; returns where it went."""
    text, shown = status_views.status_update(draft, user, at, channel)
    posted = []
    ts = _post(rt, Post(channel=channel, text=text, blocks=shown))
    if ts:
        posted.append(f"<#{channel}>")
        with rt.db.session() as session:
            session.exec(
                update(StatusUpdate).where(col(StatusUpdate.id) == update_id).values(slack_channel=channel, slack_ts=ts)
            )
    status_channel = rt.config.steward.status_channel
    # chat.postMessage takes a channel name, so steward.yml can name the status channel as people know it.
    if status_channel and _post(rt, Post(channel=status_channel, text=text, blocks=shown)):
        posted.append(f"#{status_channel.lstrip('#')}")
    return posted


def _post(rt: Runtime, post: Post) -> str | None:
    try:
        return rt.slack.post(post)
    except SlackApiError as error:
        rt.slack.failed("chat.postMessage", error)
        return None


def _draft_in(session: Session, value: str, channel: str) -> tuple[StatusUpdate, Incident]:
    stored = session.get(StatusUpdate, int(value)) if value.isdigit() else None
    incident = session.get(Incident, stored.incident_id) if stored else None
    if stored is None or incident is None or incident.channel_id != channel:
        raise UserError("That button's data is not a draft of this channel's incident; nothing was done.")
    tag_incident(incident.id)
    return stored, incident


def _claim(session: Session, stored: StatusUpdate, state: str, **values: object) -> None:
    """draft → published | discarded as a compare-and-set, so a second click (or a race) changes nothing."""
    claim = (
        update(StatusUpdate)
        .where(col(StatusUpdate.id) == stored.id, col(StatusUpdate.state) == "draft")
        .values(state=state, **values)
    )
    moved = session.exec(claim).rowcount
    if moved != 1:
        session.refresh(stored)
        raise UserError(
            f"This draft was already {stored.state}; nothing more was done."
            + (" `/incident status` drafts a new one." if stored.state == "discarded" else "")
        )


def _id_of(stored: StatusUpdate) -> int:
    if stored.id is None:  # the database gives the id at flush; every update here has been flushed or read back
        raise RuntimeError("a status update without an id: it was never flushed")
    return stored.id


def _reply(user: str, channel: str, response_url: str | None, text: str, replace: bool = False) -> Ephemeral:
    """To the clicker only: replacing the draft with what happened, or (a refusal) a new message beside it."""
    shown = [blocks.section(text)] if replace else blocks.error_blocks(text)[1]
    return Ephemeral(
        user=user, channel=channel, text=text, blocks=shown, response_url=response_url, replace_original=replace
    )


# --- resolving ---------------------------------------------------------------------------------------------------


def resolve(rt: Runtime, session: Session, incident: Incident, actor: str, override: str | None) -> list[Message]:
    """Resolve (guarded by `resolve_incident`), say so in the channel, and run what resolving ends elsewhere."""
    resolution = resolve_incident(rt, session, incident, actor, override)
    text, said = status_views.resolved_message(
        incident.id, resolution.actor, resolution.at, resolution.override, resolution.firing
    )
    messages: list[Message] = [Post(channel=channel_of(incident), text=text, blocks=said), RefreshCard(incident.id)]
    for hook in RESOLVED_HOOKS:
        messages += hook(rt, session, incident, resolution)
    return messages


def resolve_incident(rt: Runtime, session: Session, incident: Incident, actor: str, override: str | None) -> Resolution:
    """Resolve, unless attached alerts fire and the commander gave no override reason; stops update reminders."""
    require_commander(session, incident, actor, "resolve the incident")
    if incident.status == "resolved":
        raise UserError(f"{incident.id} is already resolved.")
    firing = firing_alerts(events_for(session, incident.id))
    if firing and not override:
        raise AlertsStillFiring(firing)
    reason = rt.redactor.redact(override) if firing and override else None
    now = rt.clock.now()
    previous, incident.status, incident.resolved_at = incident.status, "resolved", now
    summary = f"Status {previous} → resolved" + (
        f" by override while {len(firing)} attached alert(s) fire: {reason}" if reason else ""
    )
    record_event(
        session,
        incident.id,
        at=now,
        kind="status_changed",
        actor=actor,
        trust=HUMAN,
        summary=summary,
        details={"from": previous, "to": "resolved", "override": reason, "firing": firing},
    )
    reminders.cancel_reminders(session, incident.id)
    audit.append(
        session,
        at=now,
        actor=actor,
        action="resolved",
        target=incident.id,
        environment=incident.environment,
        decision="override" if reason else None,
        reason=reason,
        incident_id=incident.id,
        details={"firing": firing} if reason else {},
    )
    return Resolution(incident_id=incident.id, actor=actor, at=now, override=reason, firing=firing if reason else [])
