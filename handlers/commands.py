"""The `/incident` listener, run by the worker on a stored request: ack, then run the command."""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.commands.run import run_command
from bot.runtime.context import Runtime

COMMAND = "/incident"


def register(app: App, rt: Runtime) -> None:
    @app.command(COMMAND)
    def incident_command(ack: Ack, command: dict) -> None:
        ack()
        run_command(rt, command["user_id"], command["channel_id"], command.get("text", ""), command.get("response_url"))
