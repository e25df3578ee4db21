"""Thin Slack listeners: parse, ack, hand work to bot/, render with bot.slack.blocks."""
