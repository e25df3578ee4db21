"""Talking to Slack: the port (it only delivers; what a refresh shows is drawn by the domain), the message shapes
flows return, and Block Kit primitives. Each domain's views build its messages from these.

May import: redact, config, policy, store, clock, metrics. Imported only by commands, flows, views and runtime."""
