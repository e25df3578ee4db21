"""Prometheus metrics Steward exports on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SLACK_REQUESTS = Counter("steward_slack_requests_total", "Requests received on /slack/events", ["status"])
WORKER_JOBS = Counter("steward_worker_jobs_total", "Worker jobs finished", ["outcome"])
WORKER_PENDING = Gauge(
    "steward_worker_pending_jobs", "Jobs stored and not yet done, queued or running, on every replica"
)
SLACK_API_FAILURES = Counter(
    "steward_slack_api_failures_total", "Slack Web API calls that failed after retries", ["method", "error"]
)
WEBHOOKS = Counter("steward_webhooks_total", "Webhook deliveries by source and answer", ["source", "outcome"])
