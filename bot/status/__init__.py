"""Status updates: drafting with its guards (pure), publish and discard, resolving, update reminders, the incident's
pinned card, and their views.

May import: incidents, timeline, audit, runtime, slack (flows, the card and views only), redact, config, store."""
