"""The Unleash and LaunchDarkly executors against real local HTTP servers that speak the
documented Admin / REST v2 APIs, record every request and answer like the services do."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.executors import (
    FLAG_PROVIDERS,
    ExecutorError,
    FlagExecutor,
    LaunchDarklyExecutor,
    UnleashExecutor,
    make_flag_executor,
)
from tests.support.fake_http import FakeService, closed_port_url, serve
from tests.support.paths import FIXTURES

UNLEASH_FIXTURE = json.loads((FIXTURES / "unleash_disable_request.json").read_text())
LD_FIXTURE = json.loads((FIXTURES / "launchdarkly_turn_flag_off.json").read_text())
UNLEASH_TOKEN = UNLEASH_FIXTURE["headers"]["Authorization"]
LD_TOKEN = LD_FIXTURE["headers"]["Authorization"]
FLAG = "new-payment-flow"


@dataclass
class Rig:
    executor: Any
    service: FakeService
    state: dict[str, dict[str, bool]]  # flag -> {environment: enabled/on}, as the service holds it
    url: str


@contextmanager
def running(
    app: Callable[[FakeService, dict[str, dict[str, bool]]], Starlette],
    state: dict[str, dict[str, bool]],
    executor: Callable[..., Any],
    token: str,
    unauthorized: Any,
) -> Iterator[Rig]:
    """The service's fake holding `state`, served, and an executor with the right token."""
    service = FakeService(authorization=token, unauthorized=unauthorized)
    with serve(app(service, state)) as url:
        yield Rig(executor(base_url=url, token=token, timeout=2.0), service, state, url)
        service.release.set()


async def admit(
    service: FakeService, request: Request, flags: dict[str, Any], not_found: Callable[[str], Response]
) -> Response | None:
    """The service's gate, then its 404 for a flag it does not have in project "default"."""
    if early := await service.gate(request):
        return early
    flag = request.path_params["flag"]
    if request.path_params["project"] != "default" or flag not in flags:
        return not_found(flag)
    return None


@pytest.mark.parametrize(
    ("provider", "cls", "config"),
    [
        ("unleash", UnleashExecutor, {"base_url": "http://u", "token": "t", "project": "p"}),
        ("launchdarkly", LaunchDarklyExecutor, {"token": "t"}),
    ],
)
def test_registered_and_satisfies_the_interface(provider: str, cls: type, config: dict[str, str]) -> None:
    assert FLAG_PROVIDERS[provider] is cls
    executor = make_flag_executor(provider, **config)
    assert isinstance(executor, FlagExecutor)


# -- Unleash ------------------------------------------------------------------------------

UNLEASH_401 = {
    "name": "AuthenticationRequired",
    "message": "You must log in to use Unleash. Your request had no authorization header.",
}


def unleash_app(service: FakeService, features: dict[str, dict[str, bool]]) -> Starlette:
    """features: {name: {environment: enabled}} in project "default"."""

    def feature_body(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "project": "default",
            "type": "release",
            "stale": False,
            "environments": [
                {"name": env, "enabled": on, "type": env, "strategies": []} for env, on in features[name].items()
            ],
        }

    def not_found(name: str) -> JSONResponse:
        return JSONResponse(
            {"name": "NotFoundError", "message": f"Could not find feature flag with name {name}"},
            status_code=404,
        )

    async def get_feature(request: Request) -> Response:
        if early := await admit(service, request, features, not_found):
            return early
        return JSONResponse(feature_body(request.path_params["flag"]))

    async def toggle(request: Request) -> Response:
        if early := await admit(service, request, features, not_found):
            return early
        name, env = request.path_params["flag"], request.path_params["env"]
        if env not in features[name]:
            return JSONResponse(
                {"name": "NotFoundError", "message": f"Could not find environment {env}"},
                status_code=404,
            )
        features[name][env] = request.path_params["to"] == "on"
        return Response(status_code=200)

    base = "/api/admin/projects/{project}/features/{flag}"
    return Starlette(
        routes=[
            Route(base, get_feature, methods=["GET"]),
            Route(base + "/environments/{env}/{to:str}", toggle, methods=["POST"]),
        ]
    )


@pytest.fixture
def unleash() -> Iterator[Rig]:
    features = {FLAG: {"development": True, "production": True}}
    with running(unleash_app, features, UnleashExecutor, UNLEASH_TOKEN, UNLEASH_401) as rig:
        yield rig


def test_unleash_describe_call_is_the_documented_endpoint() -> None:
    fixture_url = urlsplit(UNLEASH_FIXTURE["url"])
    executor = UnleashExecutor(base_url=f"{fixture_url.scheme}://{fixture_url.netloc}/", token="t")
    assert executor.describe_call(FLAG, "production") == f"POST {UNLEASH_FIXTURE['url']}"


def test_unleash_read(unleash: Rig) -> None:
    executor, service = unleash.executor, unleash.service
    state = executor.read(FLAG, "production")
    assert (state.provider, state.is_off, state.detail) == ("unleash", False, {"enabled": True})
    get = service.only("GET")
    assert get.path == f"/api/admin/projects/default/features/{FLAG}"
    assert get.headers["authorization"] == UNLEASH_TOKEN  # raw, no "Bearer"


def test_unleash_turn_off_sends_exactly_the_documented_request(unleash: Rig) -> None:
    executor, service, features = unleash.executor, unleash.service, unleash.state
    result = executor.turn_off(FLAG, "production", comment="ignored by Unleash")

    assert [r.method for r in service.requests] == ["GET", "POST", "GET"]  # before, off, after
    post = service.only("POST")
    assert post.path == urlsplit(UNLEASH_FIXTURE["url"]).path
    assert post.query == {}
    assert post.headers["authorization"] == UNLEASH_FIXTURE["headers"]["Authorization"]
    assert post.headers["content-type"] == UNLEASH_FIXTURE["headers"]["Content-Type"]
    assert post.body == b""  # the fixture's "body": null

    assert features[FLAG] == {"development": True, "production": False}
    assert result.changed is True
    assert (result.previous.is_off, result.new.is_off) == (False, True)
    assert result.new.detail == {"enabled": False}
    assert result.call == executor.describe_call(FLAG, "production")
    assert result.undo["call"].endswith(f"/features/{FLAG}/environments/production/on")


def test_unleash_turn_off_when_already_off(unleash: Rig) -> None:
    executor, features = unleash.executor, unleash.state
    features[FLAG]["production"] = False
    result = executor.turn_off(FLAG, "production")
    assert result.changed is False and result.new.is_off is True
    assert result.undo == {"call": None}


def test_unleash_wrong_token_is_a_one_line_401(unleash: Rig) -> None:
    service, url = unleash.service, unleash.url
    bad = UnleashExecutor(base_url=url, token="wrong", timeout=2.0)
    with pytest.raises(ExecutorError) as err:
        bad.turn_off(FLAG, "production")
    message = str(err.value)
    assert message.startswith(f"unleash: GET {url}/api/admin/projects/default")
    assert "-> HTTP 401 Unauthorized: " in message and "AuthenticationRequired" in message
    assert "\n" not in message and "wrong" not in message
    assert [r.method for r in service.requests] == ["GET"]  # nothing was attempted


def test_unleash_unknown_flag_and_environment(unleash: Rig) -> None:
    executor = unleash.executor
    with pytest.raises(ExecutorError, match=r"-> HTTP 404 Not Found: .*Could not find feature flag"):
        executor.turn_off("nope", "production")
    with pytest.raises(ExecutorError, match=r"^unleash: feature new-payment-flow has no environment 'qa'$"):
        executor.turn_off(FLAG, "qa")


def test_unleash_server_error_on_the_toggle(unleash: Rig) -> None:
    executor, service, features = unleash.executor, unleash.service, unleash.state
    service.answers["POST"] = (500, {"name": "InternalError", "message": "database unavailable"})
    with pytest.raises(ExecutorError) as err:
        executor.turn_off(FLAG, "production")
    assert "POST" in str(err.value) and "-> HTTP 500 Internal Server Error: " in str(err.value)
    assert "database unavailable" in str(err.value)
    assert features[FLAG]["production"] is True


def test_unleash_timeout(unleash: Rig) -> None:
    service, url = unleash.service, unleash.url
    service.stall.add("POST")
    executor = UnleashExecutor(base_url=url, token=UNLEASH_TOKEN, timeout=0.2)
    with pytest.raises(ExecutorError, match=r"^unleash: POST .*/environments/production/off timed out after 0.2s"):
        executor.turn_off(FLAG, "production")


def test_unleash_unreachable() -> None:
    executor = UnleashExecutor(base_url=closed_port_url(), token="t", timeout=2.0)
    with pytest.raises(ExecutorError, match=r"^unleash: GET .* failed: ConnectError"):
        executor.read(FLAG, "production")


# -- LaunchDarkly -------------------------------------------------------------------------

LD_401 = {"code": "unauthorized", "message": "Invalid account ID header"}


def launchdarkly_app(service: FakeService, envs: dict[str, dict[str, bool]]) -> Starlette:
    """envs: {flag: {environment: on}} in project "default"."""

    def flag_body(key: str, only_env: str | None = None) -> dict[str, Any]:
        return {
            "key": key,
            "name": key,
            "kind": "boolean",
            "_version": 7,
            "variations": [{"_id": "a", "value": True}, {"_id": "b", "value": False}],
            "environments": {
                env: {"on": on, "_environmentName": env.title(), "version": 3}
                for env, on in envs[key].items()
                if only_env is None or env == only_env
            },
        }

    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"code": code, "message": message}, status_code=status)

    def not_found(key: str) -> JSONResponse:
        return error(404, "not_found", "Unknown resource")

    async def get_flag(request: Request) -> Response:
        if early := await admit(service, request, envs, not_found):
            return early
        return JSONResponse(flag_body(request.path_params["flag"], request.query_params.get("env")))

    async def patch_flag(request: Request) -> Response:
        if early := await admit(service, request, envs, not_found):
            return early
        key = request.path_params["flag"]
        if "domain-model=launchdarkly.semanticpatch" not in request.headers.get("content-type", ""):
            return error(400, "invalid_request", "Invalid JSON Patch")  # read as a JSON Patch
        body = json.loads(await request.body())
        env = body.get("environmentKey")
        if env not in envs[key]:
            return error(400, "invalid_request", "environmentKey is required for turnFlagOff")
        for instruction in body["instructions"]:
            if instruction["kind"] not in ("turnFlagOn", "turnFlagOff"):
                return error(400, "invalid_request", f"unknown instruction {instruction['kind']}")
            envs[key][env] = instruction["kind"] == "turnFlagOn"
        return JSONResponse(flag_body(key))

    path = "/api/v2/flags/{project}/{flag}"
    return Starlette(
        routes=[
            Route(path, get_flag, methods=["GET"]),
            Route(path, patch_flag, methods=["PATCH"]),
        ]
    )


@pytest.fixture
def launchdarkly() -> Iterator[Rig]:
    envs = {FLAG: {"production": True, "test": True}}
    with running(launchdarkly_app, envs, LaunchDarklyExecutor, LD_TOKEN, LD_401) as rig:
        yield rig


def test_launchdarkly_describe_call_is_the_documented_endpoint() -> None:
    executor = make_flag_executor("launchdarkly", token="t")
    assert executor.describe_call(FLAG, "production").startswith(f"PATCH {LD_FIXTURE['url']} ")


def test_launchdarkly_read(launchdarkly: Rig) -> None:
    executor, service = launchdarkly.executor, launchdarkly.service
    state = executor.read(FLAG, "production")
    assert (state.provider, state.is_off, state.detail) == ("launchdarkly", False, {"on": True})
    get = service.only("GET")
    assert (get.path, get.query) == (f"/api/v2/flags/default/{FLAG}", {"env": "production"})
    assert get.headers["authorization"] == LD_TOKEN


def test_launchdarkly_turn_off_sends_exactly_the_documented_semantic_patch(launchdarkly: Rig) -> None:
    executor, service, envs = launchdarkly.executor, launchdarkly.service, launchdarkly.state
    result = executor.turn_off(FLAG, "production", comment=LD_FIXTURE["body"]["comment"])

    assert [r.method for r in service.requests] == ["GET", "PATCH"]  # the 200 carries the new flag
    patch = service.only("PATCH")
    assert patch.path == urlsplit(LD_FIXTURE["url"]).path
    assert patch.query == {}
    assert patch.headers["authorization"] == LD_FIXTURE["headers"]["Authorization"]
    assert patch.headers["content-type"] == LD_FIXTURE["headers"]["Content-Type"]
    assert json.loads(patch.body) == LD_FIXTURE["body"]

    assert envs[FLAG] == {"production": False, "test": True}
    assert result.changed is True
    assert (result.previous.detail, result.new.detail) == ({"on": True}, {"on": False})
    assert result.undo["body"]["instructions"] == [{"kind": "turnFlagOn"}]
    assert result.undo["body"]["environmentKey"] == "production"


def test_launchdarkly_default_comment(launchdarkly: Rig) -> None:
    executor, service = launchdarkly.executor, launchdarkly.service
    executor.turn_off(FLAG, "production")
    assert json.loads(service.only("PATCH").body)["comment"] == "Turned off by Steward"


def test_launchdarkly_errors_are_one_line(launchdarkly: Rig) -> None:
    executor, service, envs = launchdarkly.executor, launchdarkly.service, launchdarkly.state
    bad = LaunchDarklyExecutor(base_url=launchdarkly.url, token="api-wrong", timeout=2.0)
    with pytest.raises(
        ExecutorError, match=(r"^launchdarkly: GET .* -> HTTP 401 Unauthorized: .*Invalid account ID header")
    ):
        bad.turn_off(FLAG, "production")
    with pytest.raises(ExecutorError, match=r"-> HTTP 404 Not Found: .*Unknown resource"):
        executor.turn_off("nope", "production")
    with pytest.raises(ExecutorError, match=r"^launchdarkly: flag new-payment-flow has no environment 'qa'$"):
        executor.read(FLAG, "qa")

    service.answers["PATCH"] = (500, {"code": "internal_server_error", "message": "try again later"})
    with pytest.raises(ExecutorError) as err:
        executor.turn_off(FLAG, "production")
    assert str(err.value).startswith(f"launchdarkly: PATCH {launchdarkly.url}/api/v2/flags/default/{FLAG} -> HTTP 500")
    assert "\n" not in str(err.value)
    assert envs[FLAG]["production"] is True


def test_launchdarkly_timeout(launchdarkly: Rig) -> None:
    launchdarkly.service.stall.add("PATCH")
    slow = LaunchDarklyExecutor(base_url=launchdarkly.url, token=LD_TOKEN, timeout=0.2)
    with pytest.raises(ExecutorError, match=r"^launchdarkly: PATCH .* timed out after 0.2s"):
        slow.turn_off(FLAG, "production")
