"""Incidents: declaring them, their roles, severity and status, their channels, and triage of alerts no incident
holds; their views.

May import: timeline, runtime, slack (flows and views only), redact, config, store, clock, errors."""
