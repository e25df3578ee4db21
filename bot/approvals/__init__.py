"""Scoped approvals: the actions registry, evidence packets, readiness, request states (one transition table),
requests, the gateway (the only door to executors), the approval message and its views, and the flows.

May import: status, incidents, timeline, executors (the gateway and the actions registry only), audit, runtime,
slack (flows and views only), redact, config, policy, store, clock. Above it: commands, app."""
