"""Scoped approvals: the actions registry, evidence packets, readiness, requests and their states, the gateway (the only door to executors) and the flows."""
