"""The sources' side of webhooks, in the domain's words: Alertmanager notifications, GitHub deliveries, changes."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.sandbox.local import GITHUB_WEBHOOK_SECRET, WEBHOOK_TOKEN


def rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def alert(
    name: str,
    service: str,
    starts_at: datetime,
    *,
    status: str = "firing",
    ends_at: datetime | None = None,
    instance: str = "pod-1",
    annotations: dict[str, str] | None = None,
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": name, "service": service, "instance": instance, "severity": "critical", **labels}
    fingerprint = hashlib.sha256(json.dumps(all_labels, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": all_labels,
        "annotations": annotations or {"summary": f"{name} on {service}"},
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at) if ends_at else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local:9090/graph?g0.expr=up&g0.tab=1",
        "fingerprint": fingerprint,
    }


def resolved(firing: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {**firing, "status": "resolved", "endsAt": rfc3339(at)}


def alertmanager_body(*alerts: dict[str, Any]) -> bytes:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return json.dumps(
        {
            "receiver": "steward",
            "status": status,
            "alerts": list(alerts),
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.local:9093",
            "version": "4",
            "groupKey": '{}:{alertname="x"}',
            "truncatedAlerts": 0,
        }
    ).encode()


def github_deployment(
    repo: str,
    environment: str,
    ref: str,
    deployment_id: int,
    at: datetime,
    payload: dict[str, Any] | None = None,
    description: str = "Deploy",
) -> dict[str, Any]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "action": "created",
        "deployment": {
            "url": f"https://api.github.com/repos/{repo}/deployments/{deployment_id}",
            "id": deployment_id,
            "node_id": "DE_x",
            "sha": hashlib.sha1(ref.encode()).hexdigest(),
            "ref": ref,
            "task": "deploy",
            "payload": payload or {},
            "original_environment": environment,
            "environment": environment,
            "description": description,
            "creator": {"login": "octocat", "id": 1, "type": "User"},
            "created_at": stamp,
            "updated_at": stamp,
            "statuses_url": f"https://api.github.com/repos/{repo}/deployments/{deployment_id}/statuses",
            "repository_url": f"https://api.github.com/repos/{repo}",
        },
        "repository": {"id": 1, "name": repo.split("/")[1], "full_name": repo, "owner": {"login": repo.split("/")[0]}},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
    }


class Sources:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def alerts(
        self, *alerts: dict[str, Any], token: str | None = WEBHOOK_TOKEN, body: bytes | None = None
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(
            f"{self.base_url}/webhooks/alertmanager", content=body or alertmanager_body(*alerts), headers=headers
        )

    def github(
        self, event: str, payload: dict[str, Any] | bytes, secret: str | None = GITHUB_WEBHOOK_SECRET
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": "d-1",
            "User-Agent": "GitHub-Hookshot/abc",
        }
        if secret:
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return httpx.post(f"{self.base_url}/webhooks/github", content=body, headers=headers)

    def change(self, token: str | None = WEBHOOK_TOKEN, **fields: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {k: (rfc3339(v) if isinstance(v, datetime) else v) for k, v in fields.items()}
        return httpx.post(f"{self.base_url}/webhooks/changes", json=body, headers=headers)

    def argocd(self, body: dict[str, Any], token: str | None = WEBHOOK_TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.base_url}/webhooks/argocd", json=body, headers=headers)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
