"""Thin Slack listeners: the door (signature check, store the request as a job, ack) and the Bolt listeners that
parse a payload, call bot/ and return. No domain logic here.

May import bot; bot never imports handlers (bot.cli, the console entry point, excepted)."""
