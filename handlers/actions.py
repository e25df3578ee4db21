"""Button listeners (block_actions), run by the worker on a stored request: ack, then hand the click to its flow.

`CLICKS` maps the action ids of DESIGN section 9 to the flows that handle them; every flow takes
(runtime, user, channel, button value, response_url).
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App

from bot.approvals.flow import approve, deny
from bot.incidents.triage import declare_from_alert
from bot.runtime.context import Runtime
from bot.status.flow import discard_draft, publish_draft
from bot.status.reminders import snooze_reminder

ClickFlow = Callable[[Runtime, str, str, str, str | None], None]
CLICKS: dict[str, ClickFlow] = {
    "approval_approve": approve,
    "approval_deny": deny,
    "status_publish": publish_draft,
    "status_discard": discard_draft,
    "reminder_snooze": snooze_reminder,
    "triage_declare": declare_from_alert,
}


def _listener(rt: Runtime, flow: ClickFlow) -> Callable[[Ack, dict, dict], None]:
    # Bolt injects arguments by parameter name, so the listener spells them out.
    def click(ack: Ack, body: dict, action: dict) -> None:
        ack()
        user, channel = body["user"]["id"], body["channel"]["id"]
        flow(rt, user, channel, action.get("value", ""), body.get("response_url"))

    return click


def register(app: App, rt: Runtime) -> None:
    for action_id, flow in CLICKS.items():
        app.action(action_id)(_listener(rt, flow))
