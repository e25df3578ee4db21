"""Tests of tests/support/monitoring.py against the real Alertmanager / Prometheus binaries.

A tiny local HTTP receiver (http.server in a thread) stands in for Steward's
webhook: it records every POST and serves /metrics for the Prometheus test.
Missing binaries make these tests FAIL (run scripts/install-monitoring.sh);
STEWARD_SKIP_MONITORING=1 skips them locally.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.support import monitoring

Alertmanager = monitoring.Alertmanager
Prometheus = monitoring.Prometheus
wait_for = monitoring.wait_for

pytestmark = pytest.mark.monitoring

TOKEN = "tok"
WEBHOOK_PATH = "/webhooks/alertmanager"
ZERO_TIME = "0001-01-01T00:00:00Z"


# --------------------------------------------------------------------------- receiver


class Receiver:
    """Records POSTs; serves ``steward_e2e_alert_active <value>`` on GET /metrics."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.metric_value = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(
                        {
                            "at": time.monotonic(),
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "json": json.loads(body) if body else None,
                        }
                    )
                self._reply(200, b"ok")

            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self._reply(404, b"not found")
                    return
                text = f"# TYPE steward_e2e_alert_active gauge\nsteward_e2e_alert_active {receiver.metric_value}\n"
                self._reply(200, text.encode(), "text/plain; version=0.0.4")

            def _reply(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host_port = f"127.0.0.1:{self.port}"
        self.webhook_url = f"http://{self.host_port}{WEBHOOK_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def posts(self, alertname: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            reqs = list(self.requests)
        out = []
        for r in reqs:
            body = r["json"] or {}
            if alertname is not None and body.get("groupLabels", {}).get("alertname") != alertname:
                continue
            if status is not None and body.get("status") != status:
                continue
            out.append(r)
        return out

    def wait_post(self, alertname: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        posts = wait_for(
            lambda: self.posts(alertname, status),
            timeout=timeout,
            message=f"{status} webhook POST for {alertname} (got {len(self.requests)} POSTs)",
        )
        return posts[0]


@pytest.fixture(autouse=True)
def _monitoring_binaries() -> None:
    monitoring.require_monitoring()  # skip on STEWARD_SKIP_MONITORING=1, else fail if missing


@pytest.fixture
def receiver():
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def alertmanager(receiver, tmp_path):
    am = Alertmanager(
        webhook_url=receiver.webhook_url,
        bearer_token=TOKEN,
        group_wait="1s",
        group_interval="1s",
        repeat_interval="1h",
        workdir=tmp_path / "am",
    )
    try:
        yield am.start()
    finally:
        am.close()


def _parse_ts(ts: str) -> datetime:
    # 0-9 fractional digits; Python 3.11 fromisoformat takes up to 6 -> trim.
    head, _, frac = ts.rstrip("Z").partition(".")
    frac = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{frac}+00:00")


def _assert_common(post: dict[str, Any], am: Alertmanager) -> dict[str, Any]:
    assert post["path"] == WEBHOOK_PATH
    headers = post["headers"]
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["user-agent"].startswith("Alertmanager/")
    assert headers["content-type"].startswith("application/json")
    body = post["json"]
    assert body["version"] == "4"
    assert body["receiver"] == "steward"
    assert body["externalURL"] == am.url
    assert body["truncatedAlerts"] == 0
    assert len(body["alerts"]) == 1
    return body


# --------------------------------------------------------------------------- tests


def test_config_templates_pass_amtool_and_promtool(tmp_path):
    am = Alertmanager(webhook_url="http://127.0.0.1:1/hook", bearer_token='s3cr"et', workdir=tmp_path / "am")
    prom = Prometheus(
        alertmanager_url="http://127.0.0.1:9/am-prefix",
        scrape_targets=["127.0.0.1:2"],
        workdir=tmp_path / "prom",
    )
    checked = False
    if os.access(monitoring.AMTOOL_BIN, os.X_OK):
        assert "SUCCESS" in am.check_config()
        checked = True
    if os.access(monitoring.PROMTOOL_BIN, os.X_OK):
        out = prom.check_config()
        assert "SUCCESS" in out and "2 rules found" in out
        checked = True
    # The rendered values survive YAML quoting either way.
    am_text = am.write_config().read_text()
    assert 'credentials: "s3cr\\"et"' in am_text
    assert '"/am-prefix"' in prom.write_config().read_text()
    if not checked:
        pytest.skip("amtool/promtool not installed; rendered configs not validated")


def test_alertmanager_fire_and_resolve_reach_webhook(receiver, alertmanager):
    am = alertmanager
    assert am.url == f"http://127.0.0.1:{am.port}"
    assert httpx.get(f"{am.url}/-/ready", trust_env=False).status_code == 200

    labels = {"alertname": "HighErrorRate", "service": "payment-api", "severity": "critical"}
    annotations = {"summary": "5xx ratio above 5% for payment-api"}
    t_fire = time.monotonic()
    am.fire(labels=labels, annotations=annotations)
    firing = receiver.wait_post("HighErrorRate", "firing", timeout=20)
    fire_latency = firing["at"] - t_fire

    body = _assert_common(firing, am)
    assert body["status"] == "firing"
    alert = body["alerts"][0]
    assert alert["status"] == "firing"
    assert alert["labels"] == labels
    assert alert["annotations"] == annotations
    assert alert["endsAt"] == ZERO_TIME
    assert len(alert["fingerprint"]) == 16
    assert body["groupLabels"] == {"alertname": "HighErrorRate", "service": "payment-api"}
    assert body["groupKey"] == '{}:{alertname="HighErrorRate", service="payment-api"}'
    starts_at = _parse_ts(alert["startsAt"])
    assert abs((datetime.now(UTC) - starts_at).total_seconds()) < 30

    t_resolve = time.monotonic()
    am.resolve(labels=labels, annotations=annotations)
    resolved = receiver.wait_post("HighErrorRate", "resolved", timeout=20)
    resolve_latency = resolved["at"] - t_resolve

    body = _assert_common(resolved, am)
    assert body["status"] == "resolved"
    ralert = body["alerts"][0]
    assert ralert["status"] == "resolved"
    assert ralert["labels"] == labels
    assert ralert["fingerprint"] == alert["fingerprint"]
    assert ralert["startsAt"] == alert["startsAt"]
    assert ralert["endsAt"] != ZERO_TIME
    ends_at = _parse_ts(ralert["endsAt"])
    assert starts_at <= ends_at <= datetime.now(UTC)
    print(
        f"alertmanager startup {am.startup_seconds:.2f}s, fire->webhook {fire_latency:.2f}s, "
        f"resolve->webhook {resolve_latency:.2f}s"
    )


def test_alertmanager_stop_leaves_nothing_behind(receiver, tmp_path):
    am = Alertmanager(webhook_url=receiver.webhook_url)
    am.start()
    pid, port, workdir = am.proc.pid, am.port, am.dir
    assert am.running() and workdir.is_dir()
    am.close()
    assert not am.running()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # no process left in its group
    assert not workdir.exists()  # own temp dir removed
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/-/ready", trust_env=False, timeout=2)


def test_start_failure_raises_with_log_tail(tmp_path):
    am = Alertmanager(webhook_url="http://127.0.0.1:1/hook", group_wait="not-a-duration", workdir=tmp_path)
    with pytest.raises(monitoring.MonitoringError, match="not-a-duration") as excinfo:
        am.start()
    assert "exited with code" in str(excinfo.value)
    assert not am.running()
    am.close()


def test_missing_binary_fails_with_install_hint(monkeypatch):
    monkeypatch.delenv(monitoring.SKIP_ENV, raising=False)
    monkeypatch.setattr(monitoring, "PROMETHEUS_BIN", "/nonexistent/prometheus")
    with pytest.raises(pytest.fail.Exception, match=r"scripts/install-monitoring\.sh"):
        monitoring.require_monitoring()
    monkeypatch.setenv(monitoring.SKIP_ENV, "1")
    with pytest.raises(pytest.skip.Exception):
        monitoring.require_monitoring()


@pytest.mark.timeout(60)
def test_prometheus_rules_fire_and_resolve_through_alertmanager(receiver, alertmanager, tmp_path):
    am = alertmanager
    receiver.metric_value = 1
    t0 = time.monotonic()
    with Prometheus(
        alertmanager_url=am.url,
        scrape_targets=[receiver.host_port],
        workdir=tmp_path / "prom",
    ) as prom:
        assert prom.url == f"http://127.0.0.1:{prom.port}"

        # vector(1) > 0 fires on the first evaluation.
        post = receiver.wait_post("StewardE2EAlwaysFiring", "firing", timeout=25)
        always_latency = post["at"] - t0
        body = _assert_common(post, am)
        alert = body["alerts"][0]
        assert alert["labels"] == {
            "alertname": "StewardE2EAlwaysFiring",
            "service": "checkout",
            "severity": "critical",
        }
        assert alert["annotations"]["description"] == "value=1"
        assert alert["endsAt"] == ZERO_TIME
        assert alert["generatorURL"].startswith(f"{prom.url}/graph?g0.expr=")

        # A rule on a metric the test controls fires, then resolves.
        post = receiver.wait_post("StewardE2EMetricAlert", "firing", timeout=15)
        metric_alert = _assert_common(post, am)["alerts"][0]
        assert metric_alert["labels"]["instance"] == receiver.host_port
        assert metric_alert["labels"]["job"] == "steward-e2e"
        assert metric_alert["labels"]["service"] == "payment-api"

        receiver.metric_value = 0
        t_resolve = time.monotonic()
        post = receiver.wait_post("StewardE2EMetricAlert", "resolved", timeout=15)
        resolve_latency = post["at"] - t_resolve
        body = _assert_common(post, am)
        assert body["alerts"][0]["status"] == "resolved"
        assert body["alerts"][0]["fingerprint"] == metric_alert["fingerprint"]
        assert body["alerts"][0]["endsAt"] != ZERO_TIME
        pid = prom.proc.pid
    assert not prom.running()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    print(
        f"prometheus startup {prom.startup_seconds:.2f}s, start->webhook {always_latency:.2f}s, "
        f"metric resolve->webhook {resolve_latency:.2f}s"
    )
