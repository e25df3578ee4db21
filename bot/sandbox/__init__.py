"""A local Slack workspace for tests and the demo: a real HTTP stand-in for the Web API and response_urls,
and Slack's side of slash commands, button clicks and events, signed like Slack signs them; the demo script and the
local stack the tests start.

May import anything in bot. Nothing in the runtime imports it (an import-linter contract); the demo and the tests
hand it the door from handlers."""

from bot.sandbox.calls import Call
from bot.sandbox.sandbox import SlackSandbox
from bot.sandbox.sender import Delivery
from bot.sandbox.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER,
    COMMANDER,
    ENGINEER,
    GENERAL,
    OBSERVER,
    TEAM_ID,
    Channel,
    Message,
    SlackError,
    User,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER",
    "COMMANDER",
    "ENGINEER",
    "GENERAL",
    "OBSERVER",
    "TEAM_ID",
    "Call",
    "Channel",
    "Delivery",
    "Message",
    "SlackError",
    "SlackSandbox",
    "User",
]
