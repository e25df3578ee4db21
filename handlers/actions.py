"""Button listeners (block_actions): ack at once, hand the click to the worker.

`ACTIONS` holds the action ids of DESIGN section 9 that this app handles.
"""
from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App

from bot.runtime import Runtime
from bot.triage import declare_from_alert

Listener = Callable[[Runtime, Ack, dict, dict], None]
ACTIONS: dict[str, Listener] = {}


def on_action(action_id: str) -> Callable[[Listener], Listener]:
    def register(listener: Listener) -> Listener:
        ACTIONS[action_id] = listener
        return listener

    return register


@on_action("triage_declare")
def triage_declare(rt: Runtime, ack: Ack, body: dict, action: dict) -> None:
    ack()
    user, channel = body["user"]["id"], body["channel"]["id"]
    rt.worker.submit(channel, declare_from_alert, rt, user, channel, action.get("value", ""), body.get("response_url"))


def _bind(rt: Runtime, listener: Listener) -> Callable[[Ack, dict, dict], None]:
    # Bolt injects arguments by parameter name, so the bound listener spells them out.
    def run(ack: Ack, body: dict, action: dict) -> None:
        listener(rt, ack, body, action)

    return run


def register(app: App, rt: Runtime) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id)(_bind(rt, listener))
