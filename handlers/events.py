"""Events API listeners, run by the worker on a stored request: ack, then act (deduplicated by event_id).

`EVENTS` is what the app subscribes to; a test holds manifest.yml's `bot_events` to it.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext

from bot.incidents.channels import on_bot_joined, on_channel_created, on_mention
from bot.runtime.context import Runtime

Listener = Callable[[Runtime, Ack, dict, dict, BoltContext], None]
EVENTS: dict[str, Listener] = {}


def listens_to(name: str) -> Callable[[Listener], Listener]:
    def register(listener: Listener) -> Listener:
        EVENTS[name] = listener
        return listener

    return register


@listens_to("channel_created")
def channel_created(rt: Runtime, ack: Ack, body: dict, event: dict, context: BoltContext) -> None:
    ack()
    channel = event["channel"]
    on_channel_created(rt, body["event_id"], channel["id"], channel["name"])


@listens_to("member_joined_channel")
def member_joined_channel(rt: Runtime, ack: Ack, body: dict, event: dict, context: BoltContext) -> None:
    ack()
    if event.get("user") == context.bot_user_id:
        on_bot_joined(rt, body["event_id"], event["channel"])


@listens_to("app_mention")
def app_mention(rt: Runtime, ack: Ack, body: dict, event: dict, context: BoltContext) -> None:
    ack()
    thread = event.get("thread_ts") or event["ts"]
    on_mention(rt, body["event_id"], event["channel"], thread)


def _bind(rt: Runtime, listener: Listener) -> Callable[[Ack, dict, dict, BoltContext], None]:
    # Bolt injects arguments by parameter name, so the bound listener spells them out.
    def run(ack: Ack, body: dict, event: dict, context: BoltContext) -> None:
        listener(rt, ack, body, event, context)

    return run


def register(app: App, rt: Runtime) -> None:
    for name, listener in EVENTS.items():
        app.event(name)(_bind(rt, listener))
