"""The common contract of the feature-flag executors: the state a read-back shows, the result of
a turn-off, the error every failed call becomes, and the HTTP plumbing the API-backed ones share."""
from __future__ import annotations

import json
import re
from typing import Any, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel

DEFAULT_COMMENT = "Turned off by Steward"
_EXCERPT_CHARS = 200


class ExecutorError(Exception):
    """A failed call; the message says why in one line, fit for the channel and the audit log."""


class FlagState(BaseModel):
    """What a read-back shows."""

    flag: str
    environment: str
    provider: str
    # Every client evaluates the off variant (flagd) / the flag is off in that environment (APIs).
    is_off: bool
    # Provider-specific: flagd {file, definition, off_variant}; unleash {enabled}; launchdarkly {on}.
    detail: dict[str, Any]


class FlagChangeResult(BaseModel):
    flag: str
    environment: str
    provider: str
    call: str  # the describe_call text of what was executed
    changed: bool  # False when the flag was already off and nothing was written or sent
    previous: FlagState
    new: FlagState
    # How to put it back: flagd {file, pointer, definition, saved_to}; the APIs {call, ...}.
    undo: dict[str, Any]


@runtime_checkable
class FlagExecutor(Protocol):
    provider: str

    def read(self, flag: str, environment: str) -> FlagState: ...

    def describe_call(self, flag: str, environment: str) -> str: ...

    def turn_off(
        self, flag: str, environment: str, *, comment: str | None = None
    ) -> FlagChangeResult: ...


def one_line(text: str, limit: int = _EXCERPT_CHARS) -> str:
    """Collapse whitespace so a response body can sit inside a one-line error."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def request(
    provider: str,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    timeout: float,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """One HTTP call; anything but a 2xx becomes an ExecutorError naming the call and the reason.

    A client per call: these calls are rare (one per approved action), and it spares the
    executors a lifecycle to manage.
    """
    content = json.dumps(body).encode() if body is not None else None
    what = f"{provider}: {method} {url}"
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False) as client:
            response = client.request(method, url, headers=headers, content=content, params=params)
    except httpx.TimeoutException as exc:
        raise ExecutorError(f"{what} timed out after {timeout:g}s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise ExecutorError(f"{what} failed: {type(exc).__name__}: {one_line(str(exc))}") from exc
    if not response.is_success:
        excerpt = one_line(response.text) or "(empty body)"
        raise ExecutorError(
            f"{what} -> HTTP {response.status_code} {response.reason_phrase}: {excerpt}"
        )
    return response


def json_body(provider: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ExecutorError(
            f"{provider}: {response.request.method} {response.request.url} returned non-JSON: "
            f"{one_line(response.text) or '(empty body)'}"
        ) from exc
