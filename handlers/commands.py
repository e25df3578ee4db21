"""The `/incident` listener: parse, ack at once, hand the work to the worker."""
from __future__ import annotations

from slack_bolt import Ack, App

from bot.commands import CommandRequest, check_command, help_reply, parse_incident_command, run_command
from bot.errors import BadCommand
from bot.runtime import Runtime

COMMAND = "/incident"


def register(app: App, rt: Runtime) -> None:
    @app.command(COMMAND)
    def incident_command(ack: Ack, command: dict) -> None:
        request = CommandRequest(
            user=command["user_id"], channel=command["channel_id"],
            text=command.get("text", ""), response_url=command.get("response_url"),
        )
        try:
            parsed = parse_incident_command(request.text)
            check_command(parsed)
        except BadCommand as error:
            text, help_ = help_reply(str(error))
            ack(text=text, blocks=help_)
            return
        if parsed.name == "help":
            text, help_ = help_reply()
            ack(text=text, blocks=help_)
            return
        ack()
        rt.worker.submit(request.channel, run_command, rt, request, parsed)
