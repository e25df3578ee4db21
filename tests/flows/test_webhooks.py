"""The webhook door: credentials, malformed payloads, store failures and re-deliveries."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlmodel import select

from bot.store.db import Database
from bot.store.models import Change, Signal
from tests.support.paths import FIXTURES
from tests.support.senders import alert, alertmanager_body, github_deployment


def signals(workspace):
    with workspace.steward.runtime.db.session() as session:
        return session.exec(select(Signal)).all()


def changes(workspace):
    with workspace.steward.runtime.db.session() as session:
        return session.exec(select(Change)).all()


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_alertmanager_without_the_right_bearer_is_refused(workspace, clock, token):
    response = workspace.sources.alerts(alert("HighErrorRate", "payment-api", clock.now()), token=token)
    assert response.status_code == 401
    assert signals(workspace) == []


def test_an_endpoint_whose_secret_is_not_configured_refuses_everything(workspace, clock):
    workspace.steward.runtime.settings.webhook_token = None
    assert workspace.sources.alerts(alert("HighErrorRate", "payment-api", clock.now()), token="").status_code == 401
    assert (
        workspace.sources.change(
            id="c1", type="deployment", service="payment-api", at=clock.now(), token=""
        ).status_code
        == 401
    )
    workspace.steward.runtime.settings.github_webhook_secret = None
    assert workspace.sources.github("ping", {"zen": "x", "hook_id": 1}, secret="").status_code == 401
    assert signals(workspace) == [] and changes(workspace) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (json.dumps({"version": "3", "alerts": []}).encode(), "version"),
        (
            alertmanager_body(
                {
                    "status": "firing",
                    "labels": {"alertname": "X"},
                    "annotations": {},
                    "startsAt": "yesterday",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": "abc",
                }
            ),
            "startsAt",
        ),
    ],
)
def test_malformed_alertmanager_payload_is_400_with_a_reason(workspace, body, reason):
    response = workspace.sources.alerts(body=body)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert "\n" not in response.json()["error"]
    assert signals(workspace) == []


def test_the_real_fixture_is_stored_once_however_often_it_is_delivered(workspace):
    body = (FIXTURES / "alertmanager_webhook_firing.json").read_bytes()
    first = workspace.sources.alerts(body=body)
    again = workspace.sources.alerts(body=body)
    assert first.status_code == again.status_code == 200
    assert first.json()["stored"] == len(json.loads(body)["alerts"])
    assert again.json() == {"stored": 0, "duplicates": first.json()["stored"]}
    assert len(signals(workspace)) == first.json()["stored"]


def test_a_store_failure_answers_503_so_the_sender_retries(workspace, clock, tmp_path):
    runtime = workspace.steward.runtime
    healthy = runtime.db
    runtime.db = Database(f"sqlite:///{tmp_path}/no-such-dir/steward.db")
    response = workspace.sources.alerts(alert("HighErrorRate", "payment-api", clock.now()))
    runtime.db = healthy
    assert response.status_code == 503
    assert signals(workspace) == []
    assert workspace.sources.alerts(alert("HighErrorRate", "payment-api", clock.now())).json()["stored"] == 1


def test_github_signature_is_checked_over_the_raw_body(workspace, clock):
    payload = github_deployment("acme/payment-api", "production", "v2.18.0", 1001, clock.now())
    assert workspace.sources.github("deployment", payload, secret="not-the-secret").status_code == 401
    assert changes(workspace) == []
    response = workspace.sources.github("deployment", payload)
    assert response.status_code == 200 and response.json()["stored"] == 1
    [change] = changes(workspace)
    assert (change.service, change.environment, change.version) == ("payment-api", "production", "v2.18.0")


def test_github_ping_and_unknown_events(workspace):
    ping = workspace.sources.github("ping", {"zen": "Keep it logically awesome.", "hook_id": 42, "hook": {}})
    assert ping.status_code == 200 and ping.json()["pong"] is True
    unknown = workspace.sources.github("issues", {"action": "opened"})
    assert unknown.status_code == 400 and "issues" in unknown.json()["error"]


def test_github_fixture_with_its_recorded_signature(workspace):
    headers = json.loads((FIXTURES / "github_push_headers.json").read_text())["headers"]
    body = (FIXTURES / "github_push_config_repo.json").read_bytes()
    workspace.steward.runtime.settings.github_webhook_secret = "test-webhook-secret"
    response = httpx.post(f"{workspace.server.url}/webhooks/github", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] >= 1


def test_generic_change_requires_its_fields(workspace, clock):
    response = workspace.sources.change(id="c1", type="deployment", at=clock.now())
    assert response.status_code == 400 and "service" in response.json()["error"]
    ok = workspace.sources.change(
        id="c1",
        type="flag_change",
        service="payment-api",
        environment="production",
        at=clock.now(),
        summary="checkout.new-routing 25% -> 50%",
    )
    assert ok.status_code == 200 and ok.json()["stored"] == 1
    assert (
        workspace.sources.change(
            id="c1",
            type="flag_change",
            service="payment-api",
            environment="production",
            at=clock.now(),
            summary="checkout.new-routing 25% -> 50%",
        ).json()["stored"]
        == 0
    )
