"""Saying in Slack what the sources brought, without flooding: alerts within 30 seconds share one message that is
edited as they come and resolve; each deploy or config change is one line; strays go to the triage channel."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlmodel import col

from bot.runtime.context import Runtime
from bot.runtime.jobs import job
from bot.slack.messages import Post
from bot.store.models import AlertPost, Change, Signal
from bot.timeline import views as timeline_views
from bot.timeline.ingest import Ingested, signals_by_fingerprint

GROUP_WINDOW = timedelta(seconds=30)
RECENT_POSTS = 50


def announce(rt: Runtime, result: Ingested) -> None:
    """Hand each channel's announcements to the worker, keyed by channel so they stay in order."""
    for incident_id, fingerprints in result.alerts.items():
        channel = result.channels.get(incident_id)
        if channel:
            rt.worker.submit(channel, announce_alerts, channel, incident_id, fingerprints)
    for incident_id, change_ids in result.changes.items():
        channel = result.channels.get(incident_id)
        if channel:
            rt.worker.submit(channel, announce_changes, channel, change_ids)
    if result.unattached_alerts and rt.config.steward.triage_channel:
        triage = rt.config.steward.triage_channel
        rt.worker.submit(triage, announce_triage, triage, result.unattached_alerts)


@job
def announce_alerts(rt: Runtime, channel: str, incident_id: str, fingerprints: list[str]) -> None:
    now = rt.clock.now()
    with rt.db.session() as session:
        posts = list(
            session.execute(
                select(AlertPost)
                .where(col(AlertPost.channel_id) == channel)
                .order_by(col(AlertPost.id).desc())
                .limit(RECENT_POSTS)
            ).scalars()
        )
        touched: dict[int | None, AlertPost] = {}
        joining: list[str] = []
        for fingerprint in dict.fromkeys(fingerprints):
            post = next((p for p in posts if fingerprint in p.fingerprints), None)
            if post is not None:
                touched[post.id] = post
            else:
                joining.append(fingerprint)
        if joining:
            latest = posts[0] if posts else None
            if latest is not None and now - latest.last_at <= GROUP_WINDOW:
                latest.fingerprints = [*latest.fingerprints, *joining]
                latest.last_at = now
                touched[latest.id] = latest
            else:
                touched[None] = AlertPost(
                    channel_id=channel, ts="", incident_id=incident_id, opened_at=now, last_at=now, fingerprints=joining
                )
        signals = signals_by_fingerprint(session, [f for p in touched.values() for f in p.fingerprints])
        for post in touched.values():
            text, message = timeline_views.alert_message([signals[f] for f in post.fingerprints if f in signals])
            try:
                if post.ts:
                    rt.slack.client.chat_update(channel=channel, ts=post.ts, text=text, blocks=message)
                else:
                    post.ts = rt.slack.post(Post(channel=channel, text=text, blocks=message))
                    session.add(post)
            except SlackApiError as error:
                rt.slack.failed("alert message", error)


@job
def announce_changes(rt: Runtime, channel: str, change_ids: list[int]) -> None:
    with rt.db.session() as session:
        query = select(Change).where(col(Change.id).in_(change_ids)).order_by(col(Change.at))
        changes = session.execute(query).scalars()
        messages = [Post(channel=channel, text=t, blocks=b) for t, b in map(timeline_views.change_message, changes)]
    rt.slack.deliver(messages)


@job
def announce_triage(rt: Runtime, channel: str, signal_ids: list[int]) -> None:
    with rt.db.session() as session:
        query = select(Signal).where(col(Signal.id).in_(signal_ids)).order_by(col(Signal.id))
        signals = list(session.execute(query).scalars())
    if signals:
        text, message = timeline_views.triage_message(signals)
        rt.slack.deliver([Post(channel=channel, text=text, blocks=message)])
