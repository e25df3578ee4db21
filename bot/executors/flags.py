"""The common contract of the feature-flag executors: the state a read-back shows, the result of
a turn-off, and the HTTP plumbing and turn-off steps the API-backed ones share."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import httpx

from bot.executors.common import ExecutorError, Scope, http_call, one_line

DEFAULT_COMMENT = "Turned off by Steward"


class FlagState(Scope):
    """What a read-back shows."""

    flag: str
    # Every client evaluates the off variant (flagd) / the flag is off in that environment (APIs).
    is_off: bool
    # Provider-specific: flagd {file, definition, off_variant}; unleash {enabled}; launchdarkly {on}.
    detail: dict[str, Any]


class FlagChangeResult(Scope):
    flag: str
    call: str  # the describe_call text of what was executed
    changed: bool  # False when the flag was already off and nothing was written or sent
    previous: FlagState
    new: FlagState
    # How to put it back: flagd {file, pointer, definition, saved_to}; the APIs {call, ...}.
    undo: dict[str, Any]

    @classmethod
    def of(cls, previous: FlagState, new: FlagState, *, call: str, undo: dict[str, Any]) -> FlagChangeResult:
        """The result of a turn-off that read `previous` and then `new` back."""
        return cls(
            flag=previous.flag,
            environment=previous.environment,
            provider=previous.provider,
            call=call,
            changed=not previous.is_off,
            previous=previous,
            new=new,
            undo=undo,
        )


@runtime_checkable
class FlagExecutor(Protocol):
    provider: str

    def read(self, flag: str, environment: str) -> FlagState: ...

    def describe_call(self, flag: str, environment: str) -> str: ...

    def turn_off(self, flag: str, environment: str, *, comment: str | None = None) -> FlagChangeResult: ...


def json_body(provider: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ExecutorError(
            f"{provider}: {response.request.method} {response.request.url} returned non-JSON: "
            f"{one_line(response.text) or '(empty body)'}"
        ) from exc


class ApiFlagExecutor:
    """What the API-backed executors (Unleash, LaunchDarkly) share: a base URL, a token sent
    as-is in Authorization (neither takes "Bearer"), a project, and the turn-off steps: read,
    send the off call, read the new state, say how to undo it."""

    provider: str

    def __init__(self, *, base_url: str, token: str, project: str, timeout: float) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._project = project
        self._timeout = timeout

    def read(self, flag: str, environment: str) -> FlagState:
        raise NotImplementedError

    def describe_call(self, flag: str, environment: str) -> str:
        raise NotImplementedError

    def turn_off(self, flag: str, environment: str, *, comment: str | None = None) -> FlagChangeResult:
        previous = self.read(flag, environment)
        # Sent even when already off: both APIs' off calls are idempotent, and sending it proves
        # the token may.
        new = self._switch_off(flag, environment, comment or DEFAULT_COMMENT)
        return FlagChangeResult.of(
            previous,
            new,
            call=self.describe_call(flag, environment),
            undo=self._undo(flag, environment) if not previous.is_off else {"call": None},
        )

    def _switch_off(self, flag: str, environment: str, comment: str) -> FlagState:
        """Send the off call; the flag's state after it."""
        raise NotImplementedError

    def _undo(self, flag: str, environment: str) -> dict[str, Any]:
        """How to turn it back on: {"call": ..., ...}."""
        raise NotImplementedError

    def _call(
        self,
        method: str,
        url: str,
        *,
        content_type: str | None = None,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One HTTP call; anything but a 2xx becomes an ExecutorError naming the call and the
        reason. A client per call: these calls are rare (one per approved action), and it spares
        the executors a lifecycle to manage."""
        headers = {"Authorization": self._token, "Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        with httpx.Client(timeout=httpx.Timeout(self._timeout), follow_redirects=False) as client:
            response = http_call(
                client, self.provider, method, url, headers=headers, timeout=self._timeout, body=body, params=params
            )
        if not response.is_success:
            excerpt = one_line(response.text) or "(empty body)"
            raise ExecutorError(
                f"{self.provider}: {method} {url} -> HTTP {response.status_code} {response.reason_phrase}: {excerpt}"
            )
        return response

    def _state(self, flag: str, environment: str, key: str, on: bool) -> FlagState:
        """A state whose detail is the provider's own on/off field: {key: on}."""
        return FlagState(flag=flag, environment=environment, provider=self.provider, is_off=not on, detail={key: on})
