"""What Steward does when channels appear or it is added to one."""

from __future__ import annotations

from bot.incidents import service as incidents
from bot.incidents import views as incident_views
from bot.runtime.context import Runtime
from bot.runtime.deliveries import claim_event
from bot.slack.messages import Post


def on_channel_created(rt: Runtime, event_id: str, channel_id: str, name: str) -> None:
    """Join channels that carry the incident prefix, so channels people create by hand get Steward too."""
    if not claim_event(rt.db, rt.clock, event_id):
        return
    if name.startswith(rt.config.steward.channel_prefix):
        rt.slack.join(channel_id)


def on_bot_joined(rt: Runtime, event_id: str, channel_id: str) -> None:
    if not claim_event(rt.db, rt.clock, event_id):
        return
    if _is_incident(rt, channel_id):
        return
    text, help_ = incident_views.joined_channel_help()
    rt.slack.deliver([Post(channel=channel_id, text=text, blocks=help_)])


def on_mention(rt: Runtime, event_id: str, channel_id: str, thread_ts: str) -> None:
    if not claim_event(rt.db, rt.clock, event_id):
        return
    text, help_ = (
        incident_views.joined_channel_help() if not _is_incident(rt, channel_id) else incident_views.mention_help()
    )
    rt.slack.deliver([Post(channel=channel_id, text=text, blocks=help_, thread_ts=thread_ts)])


def _is_incident(rt: Runtime, channel_id: str) -> bool:
    with rt.db.session() as session:
        return incidents.incident_in_channel(session, channel_id) is not None
