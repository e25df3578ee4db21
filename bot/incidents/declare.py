"""Declaring an incident end to end: store it, open its channel (next free name), invite the declarer,
attach what led up to it and pin the card. Used by `/incident declare` and the triage button."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.errors import BadCommand, UserError
from bot.incidents import service as incidents
from bot.incidents import views as incident_views
from bot.incidents.service import SEVERITIES, IncidentView, view_of
from bot.runtime.context import Runtime
from bot.runtime.logs import tag_incident
from bot.slack.messages import Message, Post, RefreshCard
from bot.store.models import Incident
from bot.timeline.ingest import attach_history


def check_services(rt: Runtime, services: list[str]) -> None:
    known = rt.config.services.services
    unknown = [s for s in services if s not in known]
    if unknown and known:
        raise BadCommand(f"Unknown service `{unknown[0]}`; known: {', '.join(known)}.")


def open_incident(
    rt: Runtime,
    *,
    user: str,
    title: str,
    severity: str = "SEV3",
    services: list[str] | None = None,
    environment: str = "production",
) -> tuple[IncidentView, list[Message]]:
    if severity not in SEVERITIES:
        raise BadCommand(f"Severity must be one of {', '.join(SEVERITIES)}; got `{severity}`.")
    services = services or []
    check_services(rt, services)
    incident = incidents.declare_incident(
        rt.db,
        rt.clock,
        title=rt.redactor.redact(title),
        declared_by=user,
        severity=severity,
        services=services,
        environment=environment,
    )
    tag_incident(incident.id)
    try:
        channel_id, name = _create_channel(rt, incident)
    except SlackApiError as error:
        incidents.forget_incident(rt.db, incident.id)
        reason = error.response.get("error", "unknown error")
        raise UserError(
            f"I couldn't create the incident channel (Slack said `{reason}`), so nothing was declared. Try again."
        ) from None
    except BaseException:
        incidents.forget_incident(rt.db, incident.id)  # no incident without a channel, whatever went wrong
        raise
    incidents.attach_channel(rt.db, incident.id, channel_id, name)
    rt.slack.invite(channel_id, user)
    with rt.db.session() as session:
        stored = session.get_one(Incident, incident.id)
        attached = attach_history(session, stored, rt.lookback)
        view = view_of(session, stored)
    messages: list[Message] = [RefreshCard(incident.id)]
    if attached:
        text, line = incident_views.history_attached(attached, rt.config.steward.lookback_minutes)
        messages.append(Post(channel=channel_id, text=text, blocks=line))
    return view, messages


def _create_channel(rt: Runtime, incident: Incident) -> tuple[str, str]:
    for attempt in range(1, 20):
        name = incidents.channel_name_for(rt.config.steward.channel_prefix, incident.id, incident.title, attempt)
        try:
            return rt.slack.create_channel(name), name
        except SlackApiError as error:
            if error.response.get("error") != "name_taken":
                raise
    raise UserError("Every channel name I tried was taken; rename old incident channels and try again.")
