"""The triage channel's Declare button: an incident prefilled from the alert that had none."""

from __future__ import annotations

import json

from bot.errors import UserError
from bot.incidents import views as incident_views
from bot.incidents.declare import open_incident
from bot.runtime.context import Runtime
from bot.slack.messages import Ephemeral


def declare_from_alert(rt: Runtime, user: str, channel: str, value: str, response_url: str | None) -> None:
    def reply(text: str) -> Ephemeral:
        return Ephemeral(user=user, channel=channel, text=text, response_url=response_url)

    try:
        prefill = json.loads(value)
        services = [prefill["service"]] if prefill.get("service") else []
        known = rt.config.services.services
        view, messages = open_incident(
            rt,
            user=user,
            title=str(prefill["title"])[:150],
            severity=prefill.get("severity", "SEV3"),
            services=[s for s in services if s in known] if known else services,
        )
        messages.append(reply(incident_views.declared_reply(view)))
    except (ValueError, KeyError, TypeError):
        messages = [reply("That button's data is not something I sent; nothing was declared.")]
    except UserError as error:
        messages = [reply(str(error))]
    rt.slack.deliver(messages)
