"""The common contract of the rollback executors (GitOps, Argo CD, GitHub deployments): the state a
read-back shows, the result of a rollback, and the HTTP plumbing the API-backed ones share."""

from __future__ import annotations

import re
import threading
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import httpx

from bot.executors.common import ExecutorError, Scope, http_call, one_line
from bot.executors.flags import json_body

_MAX_VERSION_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHA_PREFIX = re.compile(r"[0-9a-f]{7,40}")
# How many versions an error lists when the target is not among them.
LISTED_VERSIONS = 10


class DeploymentState(Scope):
    """What a read-back shows."""

    service: str
    # What runs (Argo CD, GitHub) or is desired (GitOps: the remote's head) now; None when the
    # provider has no record of any deployment to that environment.
    version: str | None
    # Provider-specific: gitops {repo, branch, file, key, commit}; argocd {app, revision,
    # target_revision, history, auto_sync, ...}; github {repo, deployment_id, sha, ref, state}.
    detail: dict[str, Any]


class RollbackResult(Scope):
    service: str
    call: str  # the describe_call text of what was executed
    target_version: str
    previous_version: str | None
    # "waiting": GitHub holds the deployment for its environment's required reviewers; Steward
    # never approves or bypasses that, so the rollback is not done until a human there says so.
    state: Literal["done", "waiting"]
    # Always has "changed": False when the target was already there and nothing was sent.
    # gitops {repo, branch, file, key, commit, rebased}; argocd {app, history_id, revision,
    # target_revision, operation_phase}; github {repo, sha, from_deployment_id, deployment_id,
    # status (the new deployment's latest status, None before the first)}.
    detail: dict[str, Any]


@runtime_checkable
class RollbackExecutor(Protocol):
    provider: str

    def read(self, service: str, environment: str) -> DeploymentState: ...

    def describe_call(self, service: str, environment: str, target_version: str) -> str: ...

    def roll_back(self, service: str, environment: str, target_version: str, *, message: str) -> RollbackResult: ...


def check_version(provider: str, target_version: str) -> None:
    """A version is written into files and request bodies, so it must be one plain line."""
    if not target_version or not target_version.strip():
        raise ExecutorError(f"{provider}: empty target version")
    if _CONTROL.search(target_version) or len(target_version) > _MAX_VERSION_CHARS:
        raise ExecutorError(
            f"{provider}: target version {one_line(repr(target_version))} is not a plain one-line version"
        )


def names_commit(target: str, sha: str | None) -> bool:
    """Whether `target` is a 7+ character prefix of the commit `sha`."""
    return bool(sha and _SHA_PREFIX.fullmatch(target) and sha.startswith(target))


def redact_url(url: str) -> str:
    """Drop credentials from a URL (https://user:token@host/...) before it goes into a message."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


# -- HTTP ---------------------------------------------------------------------------------


class HttpClient:
    """One httpx client per executor, made on first use and shared by its calls and threads
    (httpx's pool is thread-safe): a GitHub rollback makes a dozen calls, and building a client
    (its TLS context) costs more than one of them."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=httpx.Timeout(self.timeout), follow_redirects=False)
            return self._client


def api_message(response: httpx.Response) -> str:
    """The service's own explanation: JSON `message` (plus GitHub's `errors`), else the body."""
    try:
        body = response.json()
    except ValueError:
        return one_line(response.text) or "(empty body)"
    if not isinstance(body, dict):
        return one_line(response.text) or "(empty body)"
    message = body.get("message") or body.get("error")
    parts = [str(message)] if message else []
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            parts.append(str(error.get("message") or error.get("code") or error))
        else:
            parts.append(str(error))
    return one_line("; ".join(parts)) if parts else one_line(response.text) or "(empty body)"


def http_failure(provider: str, response: httpx.Response) -> ExecutorError:
    request = response.request
    return ExecutorError(
        f"{provider}: {request.method} {request.url} -> HTTP {response.status_code} "
        f"{response.reason_phrase}: {api_message(response)}"
    )


def expect_json(provider: str, response: httpx.Response) -> Any:
    """The body of a 2xx answer; anything else is an ExecutorError naming the call."""
    if not response.is_success:
        raise http_failure(provider, response)
    return json_body(provider, response)


class ApiRollbackExecutor:
    """What the API-backed executors (Argo CD, GitHub) share: a base URL, a token, one HTTP
    client for all their calls, and JSON in and out."""

    provider: str

    def __init__(self, *, base_url: str, token: str, timeout: float) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._http = HttpClient(timeout)

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _send(
        self,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One call that returns whatever status came back: the rollback APIs answer refusals
        (auto-sync on, a conflict) with statuses the caller turns into its own words. A body
        goes as JSON; transport failures become an ExecutorError here."""
        headers = self._headers()
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        return http_call(
            self._http.get(),
            self.provider,
            method,
            url,
            headers=headers,
            timeout=self._http.timeout,
            body=body,
            params=params,
        )

    def _json(self, response: httpx.Response) -> Any:
        return expect_json(self.provider, response)

    def _failure(self, response: httpx.Response) -> ExecutorError:
        return http_failure(self.provider, response)
