"""The timeline: sources and their webhooks, ingest (redact, store once, attach), recorded events, the assembled
view, the service catalog, what is announced in Slack, and their views.

May import: runtime, slack (webhooks, announce and views only), redact, config, store, clock."""
