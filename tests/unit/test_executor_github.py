"""The GitHub deployments rollback executor against a real local HTTP server speaking the
documented REST API (list deployments, list statuses, create deployment), which records every
request and answers like GitHub: protected environments wait, conflicts and validation fail."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.executors import (
    ROLLBACK_PROVIDERS,
    ExecutorError,
    GitHubDeployExecutor,
    RollbackExecutor,
    make_rollback_executor,
)
from tests.support.fake_http import FakeService, serve
from tests.support.paths import FIXTURES

DEPLOYMENT = json.loads((FIXTURES / "github_deployment_created.json").read_text())["deployment"]
STATUS = json.loads((FIXTURES / "github_deployment_status_success.json").read_text())["deployment_status"]
TOKEN = "ghp_test_token"
REPO = "acme/checkout"
SERVICE = "checkout"
MESSAGE = "inc-20261125-01 approved by <@U0APPROVER>, evidence 3f9a1c2b7d4e"
SHA_MAIN = "c0ffee0000000000000000000000000000000001"
CURRENT_SHA = DEPLOYMENT["sha"]  # v2.14.0, the fixture's deployment
BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}


@dataclass
class FakeGitHub(FakeService):
    """`answers["POST"]`: what the create call answers instead of creating a deployment."""

    # id -> deployment; each carries "_states" (newest first) the statuses endpoint renders.
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    states_on_create: list[str] = field(default_factory=list)
    states_after_first_poll: list[str] | None = None  # statuses that appear a moment later
    base: str = ""

    def add(
        self, id: int, ref: str, sha: str, states: list[str], *, environment: str = "production", payload: Any = None
    ) -> None:
        deployment = copy.deepcopy(DEPLOYMENT)
        deployment.update(
            id=id,
            ref=ref,
            sha=sha,
            environment=environment,
            original_environment=environment,
            payload=payload if payload is not None else {"image": f"ghcr.io/acme/checkout:{ref}"},
            description=f"Deploy checkout {ref}",
            production_environment=environment == "production",
        )
        deployment["_states"] = list(states)
        self.deployments[id] = deployment

    def app(self) -> Starlette:
        async def list_deployments(request: Request) -> Response:
            if refused := await self.gate(request):
                return refused
            environment = request.query_params.get("environment")
            per_page = int(request.query_params.get("per_page", "30"))
            page = int(request.query_params.get("page", "1"))
            matching = sorted(
                (d for d in self.deployments.values() if environment in (None, d["environment"])),
                key=lambda d: d["id"],
                reverse=True,
            )
            chunk = matching[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(matching):
                query = f"environment={environment}&per_page={per_page}&page={page + 1}"
                next_url = f"{self.base}{request.url.path}?{query}"
                headers["Link"] = f'<{next_url}>; rel="next"'
            return JSONResponse([self.render(d) for d in chunk], headers=headers)

        async def list_statuses(request: Request) -> Response:
            if refused := await self.gate(request):
                return refused
            deployment = self.deployments.get(int(request.path_params["id"]))
            if deployment is None:
                return JSONResponse({"message": "Not Found"}, status_code=404)
            states = deployment["_states"]
            if not states and self.states_after_first_poll is not None:
                deployment["_states"], self.states_after_first_poll = self.states_after_first_poll, None
            return JSONResponse(
                [
                    {**STATUS, "id": deployment["id"] * 100 + n, "state": state}
                    for n, state in reversed(list(enumerate(reversed(states))))
                ]
            )

        async def create_deployment(request: Request) -> Response:
            if refused := await self.gate(request):
                return refused
            body = json.loads(await request.body())
            new_id = max(self.deployments) + 1
            self.add(
                new_id,
                body["ref"],
                body["ref"],
                self.states_on_create,
                environment=body["environment"],
                payload=body["payload"],
            )
            self.deployments[new_id]["description"] = body["description"]
            return JSONResponse(self.render(self.deployments[new_id]), status_code=201)

        prefix = "/repos/{owner}/{repo}/deployments"
        return Starlette(
            routes=[
                Route(prefix, list_deployments, methods=["GET"]),
                Route(prefix, create_deployment, methods=["POST"]),
                Route(prefix + "/{id:int}/statuses", list_statuses, methods=["GET"]),
            ]
        )

    @staticmethod
    def render(deployment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in deployment.items() if not k.startswith("_")}


@dataclass
class Rig:
    executor: GitHubDeployExecutor
    fake: FakeGitHub
    url: str

    def executor_with(self, **kwargs: Any) -> GitHubDeployExecutor:
        return GitHubDeployExecutor(token=TOKEN, repo=REPO, base_url=self.url, **{"settle_seconds": 0, **kwargs})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub(authorization=f"Bearer {TOKEN}", unauthorized=BAD_CREDENTIALS)
    with serve(fake.app()) as url:
        fake.base = url
        yield fake, url


@pytest.fixture
def rig(server: tuple[FakeGitHub, str]) -> Rig:
    fake, url = server
    fake.reset()
    fake.deployments.clear()
    fake.states_on_create = []
    fake.states_after_first_poll = None
    # Production's deploy record, newest last; states newest first as GitHub lists them.
    fake.add(101, "v2.12.0", "a" * 40, ["success", "in_progress"])
    fake.add(102, "v2.13.0", "b" * 40, ["failure", "in_progress"])
    fake.add(103, "main", SHA_MAIN, ["inactive", "success"], payload={"version": "v2.13.1"})
    fake.add(104, "v2.14.0", CURRENT_SHA, ["success", "queued"])
    fake.add(105, "v2.15.0", "d" * 40, ["failure"])
    fake.add(106, "v2.16.0", "e" * 40, ["success"], environment="staging")
    executor = GitHubDeployExecutor(token=TOKEN, repo=REPO, base_url=url + "/", settle_seconds=0)
    return Rig(executor, fake, url)


def test_read_is_the_latest_successful_deployment(rig: Rig) -> None:
    state = rig.executor.read(SERVICE, "production")

    assert (state.provider, state.version) == ("github", "v2.14.0")
    assert state.detail == {
        "repo": REPO,
        "deployment_id": 104,
        "sha": CURRENT_SHA,
        "ref": "v2.14.0",
        "latest": {"deployment_id": 105, "version": "v2.15.0", "state": "failure"},
    }
    first = rig.fake.requests[0]
    assert (first.method, first.path) == ("GET", f"/repos/{REPO}/deployments")
    assert first.query == {"environment": "production", "per_page": "100"}
    assert first.headers["accept"] == "application/vnd.github+json"
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert first.headers["x-github-api-version"] == "2022-11-28"
    assert rig.fake.posts() == []
    assert rig.executor.read(SERVICE, "qa").version is None


def test_roll_back_creates_a_new_deployment_of_the_targets_commit(rig: Rig) -> None:
    rig.fake.states_on_create = ["in_progress"]

    result = rig.executor.roll_back(SERVICE, "production", "v2.13.1", message=MESSAGE)

    (post,) = rig.fake.posts()
    assert post.path == f"/repos/{REPO}/deployments"
    assert post.headers["accept"] == "application/vnd.github+json"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["x-github-api-version"] == "2022-11-28"
    assert post.headers["content-type"] == "application/json"
    body = json.loads(post.body)
    assert body == {
        "ref": SHA_MAIN,  # the commit, not the moving branch it was deployed from
        "task": "deploy",
        "environment": "production",
        "auto_merge": False,
        "description": "Rollback to v2.13.1",
        "payload": {"version": "v2.13.1", "rollback": True, "previous_version": "v2.14.0", "reason": MESSAGE},
        "production_environment": True,
    }
    assert "required_contexts" not in body  # the commit's checks still have to be green
    assert result.model_dump() == {
        "service": SERVICE,
        "environment": "production",
        "provider": "github",
        "call": (
            f"github: POST {rig.url}/repos/{REPO}/deployments ref={SHA_MAIN} environment=production "
            "auto_merge=false payload.version=v2.13.1 (the commit of deployment 103)"
        ),
        "target_version": "v2.13.1",
        "previous_version": "v2.14.0",
        "state": "done",
        "detail": {
            "repo": REPO,
            "sha": SHA_MAIN,
            "from_deployment_id": 103,
            "changed": True,
            "deployment_id": 107,
            "status": "in_progress",
        },
    }
    rig.fake.deployments[107]["_states"] = ["success", "in_progress"]
    assert rig.executor.read(SERVICE, "production").version == "v2.13.1"


def test_protected_environment_is_reported_waiting_and_left_to_github(rig: Rig) -> None:
    rig.fake.states_on_create = ["waiting"]

    result = rig.executor.roll_back(SERVICE, "production", "v2.12.0", message=MESSAGE)

    assert result.state == "waiting"
    assert (result.detail["status"], result.detail["deployment_id"]) == ("waiting", 107)
    # One POST, the deployment itself: no status written, nothing approved on anyone's behalf.
    assert [(r.method, r.path) for r in rig.fake.posts()] == [("POST", f"/repos/{REPO}/deployments")]
    assert all(r.path.startswith(f"/repos/{REPO}/deployments") for r in rig.fake.requests)
    state = rig.executor.read(SERVICE, "production")
    assert state.version == "v2.14.0"
    assert state.detail["latest"] == {"deployment_id": 107, "version": "v2.12.0", "state": "waiting"}


def test_waits_briefly_for_the_first_status(rig: Rig) -> None:
    rig.fake.states_after_first_poll = ["waiting"]
    executor = rig.executor_with(settle_seconds=2)

    started = time.monotonic()
    result = executor.roll_back(SERVICE, "production", "v2.12.0", message=MESSAGE)

    assert result.state == "waiting"
    assert time.monotonic() - started < 1.5


def test_no_status_yet_is_done_and_pending(rig: Rig) -> None:
    result = rig.executor.roll_back(SERVICE, "production", "v2.12.0", message=MESSAGE)

    assert (result.state, result.detail["status"], result.detail["changed"]) == ("done", None, True)


def test_commit_prefix_names_a_target_too(rig: Rig) -> None:
    rig.executor.roll_back(SERVICE, "production", "aaaaaaa", message=MESSAGE)

    assert json.loads(rig.fake.posts()[0].body)["ref"] == "a" * 40


def test_target_that_never_succeeded_is_refused(rig: Rig) -> None:
    with pytest.raises(ExecutorError) as caught:
        rig.executor.roll_back(SERVICE, "production", "v2.13.0", message=MESSAGE)

    assert str(caught.value) == (
        f"github: v2.13.0 was deployed to production in {REPO} (1x) but never succeeded; refusing to roll back to it"
    )
    assert rig.fake.posts() == []


def test_unknown_target_names_the_versions_there_are(rig: Rig) -> None:
    with pytest.raises(ExecutorError) as caught:
        rig.executor.describe_call(SERVICE, "production", "v1.0.0")

    assert str(caught.value) == (
        f"github: no deployment of v1.0.0 to production in {REPO} among the last 5; "
        "it has: v2.15.0, v2.14.0, v2.13.1, v2.13.0, v2.12.0"
    )
    assert rig.fake.posts() == []


def test_already_running_target_makes_no_deployment(rig: Rig) -> None:
    result = rig.executor.roll_back(SERVICE, "production", "v2.14.0", message=MESSAGE)

    assert rig.fake.posts() == []
    assert (result.state, result.detail["changed"], result.detail["deployment_id"]) == ("done", False, 104)
    assert result.call.endswith("(the commit of deployment 104) (already running; no call)")
    assert rig.executor.describe_call(SERVICE, "production", "v2.14.0") == result.call


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (
            409,
            {
                "message": "Conflict: Commit status checks failed for c0ffee0.",
                "documentation_url": "https://docs.github.com",
            },
            "github: GitHub refused the rollback deployment of v2.13.1 (c0ffee000000) to production: "
            "HTTP 409: Conflict: Commit status checks failed for c0ffee0.",
        ),
        (
            422,
            {
                "message": "Validation Failed",
                "errors": [{"resource": "Deployment", "code": "custom", "message": "No ref found for: c0ffee0"}],
            },
            "github: GitHub refused the rollback deployment of v2.13.1 (c0ffee000000) to production: "
            "HTTP 422: Validation Failed; No ref found for: c0ffee0",
        ),
        (
            202,
            {"message": "Auto-merged master into topic-branch on deployment."},
            "github: POST {url}/repos/acme/checkout/deployments merged instead of deploying and created "
            "no deployment: Auto-merged master into topic-branch on deployment.",
        ),
    ],
)
def test_refusals_are_one_line_errors_with_githubs_message(rig: Rig, status: int, answer: Any, expected: str) -> None:
    rig.fake.answers["POST"] = (status, answer)

    with pytest.raises(ExecutorError) as caught:
        rig.executor.roll_back(SERVICE, "production", "v2.13.1", message=MESSAGE)

    assert str(caught.value) == expected.format(url=rig.url)


def test_failed_rollback_deployment_is_an_error_naming_it(rig: Rig) -> None:
    rig.fake.states_on_create = ["failure"]

    with pytest.raises(
        ExecutorError,
        match=(r"^github: rollback deployment 107 of v2.12.0 to production in acme/checkout reported failure$"),
    ):
        rig.executor.roll_back(SERVICE, "production", "v2.12.0", message=MESSAGE)


def test_follows_pages_up_to_the_limit(rig: Rig) -> None:
    limited = rig.executor_with(page_size=2, max_deployments=2)
    with pytest.raises(ExecutorError, match=r"among the last 2; it has: v2.15.0, v2.14.0$"):
        limited.roll_back(SERVICE, "production", "v2.12.0", message=MESSAGE)
    rig.fake.requests.clear()

    rig.executor_with(page_size=2).roll_back(SERVICE, "production", "v2.12.0", message=MESSAGE)

    listed = [r for r in rig.fake.requests if r.path == f"/repos/{REPO}/deployments" and r.method == "GET"]
    pages = [r.query.get("page") for r in listed]
    assert pages == [None, "2", "3"]


def test_bad_token_and_registry(rig: Rig) -> None:
    bad = GitHubDeployExecutor(token="nope", repo=REPO, base_url=rig.url)
    with pytest.raises(ExecutorError) as caught:
        bad.read(SERVICE, "production")
    assert str(caught.value) == (
        f"github: GET {rig.url}/repos/{REPO}/deployments?environment=production&per_page=100 "
        "-> HTTP 401 Unauthorized: Bad credentials"
    )
    executor = make_rollback_executor("github", token=TOKEN, repo=REPO, base_url=rig.url)
    assert ROLLBACK_PROVIDERS["github"] is GitHubDeployExecutor
    assert isinstance(executor, RollbackExecutor)
    with pytest.raises(ValueError, match="not owner/name"):
        GitHubDeployExecutor(token=TOKEN, repo="checkout")
