"""End to end with the real thing: Debian's Alertmanager posts to Steward's webhook, Steward tells the channel."""

from __future__ import annotations

import httpx
import pytest

from bot.sandbox.local import WEBHOOK_TOKEN
from tests.support.monitoring import Alertmanager, require_monitoring
from tests.support.workspace import block_text

pytestmark = [pytest.mark.monitoring, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

LABELS = {"alertname": "PaymentErrorRateHigh", "service": "payment-api", "severity": "critical"}


def alert_text(workspace, channel):
    return "\n".join(block_text(m.blocks) for m in workspace.slack.messages(channel) if "🔔" in block_text(m.blocks))


def test_an_alert_fired_and_resolved_through_alertmanager_reaches_the_incident_channel(workspace):
    require_monitoring()
    channel = workspace.declare("Payment errors", options="service:payment-api")
    webhook = f"{workspace.server.url}/webhooks/alertmanager"
    with Alertmanager(webhook_url=webhook, bearer_token=WEBHOOK_TOKEN, group_wait="1s", group_interval="1s") as am:
        am.fire(labels=LABELS, annotations={"summary": "payment-api 5xx above 5%"})
        workspace.slack.wait_until(lambda: "🔴 *PaymentErrorRateHigh*" in alert_text(workspace, channel), timeout=30)
        assert "payment-api 5xx above 5%" in alert_text(workspace, channel)
        am.resolve(labels=LABELS, annotations={"summary": "payment-api 5xx above 5%"})
        workspace.slack.wait_until(
            lambda: "✅ *PaymentErrorRateHigh* resolved" in alert_text(workspace, channel), timeout=30
        )
    alert_posts = [m for m in workspace.slack.messages(channel) if "🔔" in block_text(m.blocks)]
    assert len(alert_posts) == 1 and alert_posts[0].edited


def refused_deliveries(workspace) -> float:
    metrics = httpx.get(f"{workspace.server.url}/metrics").text
    line = next(
        (
            line
            for line in metrics.splitlines()
            if line.startswith('steward_webhooks_total{outcome="401",source="alertmanager"}')
        ),
        None,
    )
    return float(line.split()[-1]) if line else 0.0


def test_alertmanager_with_the_wrong_token_is_refused(workspace):
    require_monitoring()
    channel = workspace.declare("Payment errors", options="service:payment-api")
    before = refused_deliveries(workspace)
    webhook = f"{workspace.server.url}/webhooks/alertmanager"
    with Alertmanager(webhook_url=webhook, bearer_token="not-the-token", group_wait="1s") as am:
        am.fire(labels=LABELS)
        workspace.slack.wait_until(lambda: refused_deliveries(workspace) > before, timeout=30)
    workspace.settle()
    assert alert_text(workspace, channel) == ""
