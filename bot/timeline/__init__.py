"""The timeline: sources and their webhooks, ingest (redact, store once, attach), recorded events, the assembled view, and what is announced in Slack."""
