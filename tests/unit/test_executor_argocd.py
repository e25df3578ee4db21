"""The Argo CD rollback executor against a real local HTTP server speaking the documented
Application API (GET an application, POST its rollback), which records every request and refuses
the way Argo CD does (auto-sync on, unknown history id)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.executors import ROLLBACK_PROVIDERS, ArgoCDExecutor, ExecutorError, RollbackExecutor, make_rollback_executor
from tests.support.fake_http import FakeService, closed_port_url, serve
from tests.support.paths import FIXTURES

ROLLBACK_FIXTURE = json.loads((FIXTURES / "argocd_rollback_request.json").read_text())
WEBHOOK_FIXTURE = json.loads((FIXTURES / "argocd_webhook_sync_succeeded.json").read_text())
TOKEN = "argocd-token-123"
APP = "payment-api-prod"
SERVICE = "payment-api"
MESSAGE = "inc-20261125-01 approved by <@U0APPROVER>, evidence 3f9a1c2b7d4e"
AUTO_SYNC_REFUSAL = (
    f"auto-sync is on for {APP}; Argo CD refuses rollbacks while it is on — turn it off or revert in Git"
)
SHA_40 = "1" * 40
SHA_41 = "9c1185a5c5e9fc54612808977ee8f548b2258d31"
SHA_43 = "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"
REPO_URL = "https://github.com/acme/platform-config.git"


def source(target_revision: str) -> dict[str, str]:
    return {"repoURL": REPO_URL, "path": "apps/payment-api/prod", "targetRevision": target_revision}


def history_entry(id: int, revision: str, target_revision: str) -> dict[str, Any]:
    return {
        "id": id,
        "revision": revision,
        "source": source(target_revision),
        "deployedAt": f"2026-11-2{id % 10}T10:00:00Z",
        "deployStartedAt": f"2026-11-2{id % 10}T09:59:50Z",
        "initiatedBy": {"username": "alice-dev"},
    }


def application(name: str = APP) -> dict[str, Any]:
    """Ids are not list positions: older entries were trimmed by revisionHistoryLimit."""
    return {
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "payments",
            "source": source("v2.14.0"),
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "payments"},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
        "status": {
            "sync": {"status": "Synced", "revision": SHA_43},
            "health": {"status": "Healthy"},
            "summary": {"images": ["ghcr.io/acme/payment-api:v2.14.0"]},
            "history": [
                history_entry(40, SHA_40, "v2.12.0"),
                history_entry(41, SHA_41, "v2.13.1"),
                history_entry(43, SHA_43, "v2.14.0"),
            ],
            "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)"},
        },
    }


def grpc_error(message: str, code: int) -> dict[str, Any]:
    """How Argo CD's grpc-gateway renders a gRPC error as JSON."""
    return {"error": message, "code": code, "message": message, "details": []}


@dataclass
class FakeArgoCD(FakeService):
    apps: dict[str, dict[str, Any]]
    # Auto-sync switched on after our GET: the server still refuses.
    auto_sync_on_post: bool = False

    def app(self) -> Starlette:
        async def admit(request: Request) -> Response | None:
            if refused := await self.gate(request):
                return refused
            name = request.path_params["name"]
            if name not in self.apps:
                return JSONResponse(grpc_error(f'applications.argoproj.io "{name}" not found', 5), status_code=404)
            return None

        async def get(request: Request) -> Response:
            refused = await admit(request)
            return refused or JSONResponse(self.apps[request.path_params["name"]])

        async def rollback(request: Request) -> Response:
            refused = await admit(request)
            if refused:
                return refused
            app = self.apps[request.path_params["name"]]
            if app["spec"].get("syncPolicy", {}).get("automated") is not None or self.auto_sync_on_post:
                return JSONResponse(
                    grpc_error("rollback cannot be initiated when auto-sync is enabled", 9), status_code=400
                )
            wanted = json.loads(await request.body())["id"]
            history = app["status"]["history"]
            entry = next((e for e in history if e["id"] == wanted), None)
            if entry is None:
                return JSONResponse(
                    grpc_error(f"application {app['metadata']['name']} does not have deployment with id {wanted}", 3),
                    status_code=400,
                )
            # As if the sync finished at once: a new history entry for the rolled-back revision.
            history.append({**copy.deepcopy(entry), "id": max(e["id"] for e in history) + 1})
            app["status"]["sync"]["revision"] = entry["revision"]
            app["status"]["operationState"] = {"phase": "Running", "message": "rolling back"}
            return JSONResponse(app)

        return Starlette(
            routes=[
                Route("/api/v1/applications/{name}", get, methods=["GET"]),
                Route("/api/v1/applications/{name}/rollback", rollback, methods=["POST"]),
            ]
        )


@dataclass
class Rig:
    executor: ArgoCDExecutor
    fake: FakeArgoCD
    url: str


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeArgoCD, str]]:
    fake = FakeArgoCD(
        apps={},
        authorization=f"Bearer {TOKEN}",
        unauthorized=grpc_error("invalid session: token is invalid", 16),
    )
    with serve(fake.app()) as url:
        yield fake, url


@pytest.fixture
def rig(server: tuple[FakeArgoCD, str]) -> Rig:
    fake, url = server
    fake.reset()
    fake.apps = {APP: application()}
    fake.auto_sync_on_post = False
    executor = ArgoCDExecutor(base_url=url + "/", token=TOKEN, apps={"production": APP})
    return Rig(executor, fake, url)


def test_read_reports_the_last_deployed_entry(rig: Rig) -> None:
    state = rig.executor.read(SERVICE, "production")

    assert (state.provider, state.version) == ("argocd", "v2.14.0")
    assert state.detail["revision"] == SHA_43
    assert state.detail["images"] == ["ghcr.io/acme/payment-api:v2.14.0"]
    assert state.detail["auto_sync"] is False
    assert [e["id"] for e in state.detail["history"]] == [40, 41, 43]
    (request,) = rig.fake.requests
    assert (request.method, request.path, request.query) == ("GET", f"/api/v1/applications/{APP}", {})
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_roll_back_posts_the_history_id_exactly_as_documented(rig: Rig) -> None:
    executor = ArgoCDExecutor(base_url=rig.url, token=TOKEN, apps={"production": APP}, app_namespace="argocd")

    result = executor.roll_back(SERVICE, "production", "v2.13.1", message=MESSAGE)

    (post,) = rig.fake.posts()
    assert post.path == f"/api/v1/applications/{APP}/rollback"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["content-type"] == "application/json"
    expected = {k: v for k, v in ROLLBACK_FIXTURE.items() if not k.startswith("_")}
    assert json.loads(post.body) == expected == {"id": 41, "dryRun": False, "prune": False, "appNamespace": "argocd"}
    assert rig.fake.requests[0].query == {"appNamespace": "argocd"}
    assert result.model_dump() == {
        "service": SERVICE,
        "environment": "production",
        "provider": "argocd",
        "call": (
            f"argocd: POST {rig.url}/api/v1/applications/{APP}/rollback "
            '{"id": 41, "dryRun": false, "prune": false, "appNamespace": "argocd"} '
            f"(history id 41 = v2.13.1 at {SHA_41})"
        ),
        "target_version": "v2.13.1",
        "previous_version": "v2.14.0",
        "state": "done",
        "detail": {
            "app": APP,
            "history_id": 41,
            "revision": SHA_41,
            "target_revision": "v2.13.1",
            "changed": True,
            "operation_phase": "Running",
        },
    }
    assert executor.read(SERVICE, "production").version == "v2.13.1"


def test_body_without_app_namespace_is_the_three_documented_fields(rig: Rig) -> None:
    rig.executor.roll_back(SERVICE, "production", "v2.12.0", message=MESSAGE)

    (post,) = rig.fake.posts()
    assert json.loads(post.body) == {"id": 40, "dryRun": False, "prune": False}


@pytest.mark.parametrize("automated", [{}, {"prune": True, "selfHeal": True}])
def test_auto_sync_on_is_refused_before_any_post(rig: Rig, automated: dict[str, Any]) -> None:
    rig.fake.apps[APP]["spec"]["syncPolicy"]["automated"] = automated

    with pytest.raises(ExecutorError) as caught:
        rig.executor.roll_back(SERVICE, "production", "v2.13.1", message=MESSAGE)
    assert str(caught.value) == AUTO_SYNC_REFUSAL
    with pytest.raises(ExecutorError, match=r"^auto-sync is on for"):
        rig.executor.describe_call(SERVICE, "production", "v2.13.1")

    assert rig.fake.posts() == []
    assert rig.executor.read(SERVICE, "production").detail["auto_sync"] is True


def test_automated_block_switched_off_is_not_auto_sync(rig: Rig) -> None:
    rig.fake.apps[APP]["spec"]["syncPolicy"]["automated"] = {"enabled": False, "prune": True}
    assert rig.executor.read(SERVICE, "production").detail["auto_sync"] is False


def test_servers_auto_sync_refusal_reads_the_same(rig: Rig) -> None:
    rig.fake.auto_sync_on_post = True

    with pytest.raises(ExecutorError) as caught:
        rig.executor.roll_back(SERVICE, "production", "v2.13.1", message=MESSAGE)

    assert str(caught.value) == AUTO_SYNC_REFUSAL
    assert len(rig.fake.posts()) == 1


def test_version_without_history_entry_names_the_versions_there_are(rig: Rig) -> None:
    with pytest.raises(ExecutorError) as caught:
        rig.executor.roll_back(SERVICE, "production", "v2.11.0", message=MESSAGE)

    assert str(caught.value) == (
        f"argocd: {APP} has no deploy history entry for v2.11.0; "
        "it has: v2.14.0 (id 43), v2.13.1 (id 41), v2.12.0 (id 40)"
    )
    assert rig.fake.posts() == []


def test_already_running_target_makes_no_call(rig: Rig) -> None:
    result = rig.executor.roll_back(SERVICE, "production", "v2.14.0", message=MESSAGE)

    assert rig.fake.posts() == []
    assert (result.previous_version, result.detail["changed"], result.detail["history_id"]) == ("v2.14.0", False, 43)
    assert result.call.endswith("(history id 43 = v2.14.0 at " + SHA_43 + ") (already deployed; no call)")
    assert rig.executor.describe_call(SERVICE, "production", "v2.14.0") == result.call


def test_a_branch_tracking_app_is_versioned_by_commit(rig: Rig) -> None:
    """The notification fixture's app tracks `main`: the name says nothing, the commit does."""
    app = application("checkout-prod")
    app["status"]["history"] = copy.deepcopy(WEBHOOK_FIXTURE["history"])
    rig.fake.apps["checkout-prod"] = app
    executor = ArgoCDExecutor(base_url=rig.url, token=TOKEN, apps={"production": "checkout-prod"})

    assert executor.read("checkout", "production").version == SHA_43
    with pytest.raises(
        ExecutorError, match=(r"no deploy history entry for main; it has: b6fc4c6.* \(id 42\), 9c1185a.* \(id 41\)")
    ):
        executor.roll_back("checkout", "production", "main", message=MESSAGE)
    result = executor.roll_back("checkout", "production", SHA_41[:7], message=MESSAGE)

    assert json.loads(rig.fake.posts()[-1].body)["id"] == 41
    assert (result.previous_version, result.detail["revision"]) == (SHA_43, SHA_41)
    assert executor.read("checkout", "production").version == SHA_41


def test_http_failures_are_one_line_errors(rig: Rig) -> None:
    unknown = ArgoCDExecutor(base_url=rig.url, token=TOKEN, apps={"production": "nope"})
    with pytest.raises(ExecutorError) as caught:
        unknown.read(SERVICE, "production")
    assert str(caught.value) == (
        f"argocd: GET {rig.url}/api/v1/applications/nope -> HTTP 404 Not Found: "
        'applications.argoproj.io "nope" not found'
    )
    bad_token = ArgoCDExecutor(base_url=rig.url, token="wrong", apps={"production": APP})
    with pytest.raises(ExecutorError, match="HTTP 401 Unauthorized: invalid session"):
        bad_token.roll_back(SERVICE, "production", "v2.13.1", message=MESSAGE)
    with pytest.raises(
        ExecutorError,
        match=(r"no application configured for payment-api in 'staging' \(argocd_apps has \['production'\]\)"),
    ):
        rig.executor.read(SERVICE, "staging")
    with pytest.raises(ExecutorError, match=r"^argocd: GET .* failed: ConnectError"):
        executor = ArgoCDExecutor(base_url=closed_port_url(), token=TOKEN, apps={"production": APP}, timeout=2)
        executor.read(SERVICE, "production")
    assert rig.fake.posts() == []


def test_registry(rig: Rig) -> None:
    executor = make_rollback_executor("argocd", base_url=rig.url, token=TOKEN, apps={"production": APP})
    assert ROLLBACK_PROVIDERS["argocd"] is ArgoCDExecutor
    assert isinstance(executor, RollbackExecutor)
    assert executor.describe_call(SERVICE, "production", "v2.12.0").startswith(
        f'argocd: POST {rig.url}/api/v1/applications/{APP}/rollback {{"id": 40,'
    )
