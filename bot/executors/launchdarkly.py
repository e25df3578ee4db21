"""Turning a flag off in one LaunchDarkly environment with the REST v2 semantic patch
`turnFlagOff`, and reading `environments[env].on` back."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.executors.flags import (
    DEFAULT_COMMENT,
    ExecutorError,
    FlagChangeResult,
    FlagState,
    json_body,
    request,
)

# Without the domain-model suffix LaunchDarkly reads the body as a JSON Patch and rejects it.
SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"


class LaunchDarklyExecutor:
    provider = "launchdarkly"

    def __init__(
        self,
        *,
        token: str,
        base_url: str = "https://app.launchdarkly.com",
        project: str = "default",
        timeout: float = 10.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._project = project
        self._timeout = timeout

    def read(self, flag: str, environment: str) -> FlagState:
        response = request(
            self.provider,
            "GET",
            self._flag_url(flag),
            headers=self._headers(),
            timeout=self._timeout,
            params={"env": environment},
        )
        return self._state(flag, environment, json_body(self.provider, response))

    def describe_call(self, flag: str, environment: str) -> str:
        return (
            f"PATCH {self._flag_url(flag)} (semantic patch: environmentKey={environment}, "
            'instructions=[{"kind": "turnFlagOff"}])'
        )

    def turn_off(
        self, flag: str, environment: str, *, comment: str | None = None
    ) -> FlagChangeResult:
        previous = self.read(flag, environment)
        # Sent even when already off: turnFlagOff is idempotent and leaves the rules untouched.
        response = request(
            self.provider,
            "PATCH",
            self._flag_url(flag),
            headers={**self._headers(), "Content-Type": SEMANTIC_PATCH},
            timeout=self._timeout,
            body=_instruction(environment, "turnFlagOff", comment or DEFAULT_COMMENT),
        )
        # A 200 carries the whole updated flag; its environments[env].on is the new state.
        new = self._state(flag, environment, json_body(self.provider, response))
        return FlagChangeResult(
            flag=flag,
            environment=environment,
            provider=self.provider,
            call=self.describe_call(flag, environment),
            changed=not previous.is_off,
            previous=previous,
            new=new,
            undo={
                "call": f"PATCH {self._flag_url(flag)}",
                "body": _instruction(environment, "turnFlagOn", "Undo: turned back on by Steward"),
            }
            if not previous.is_off
            else {"call": None},
        )

    def _headers(self) -> dict[str, str]:
        # An API access token goes in as-is, no "Bearer".
        return {"Authorization": self._token, "Accept": "application/json"}

    def _flag_url(self, flag: str) -> str:
        return f"{self._base}/api/v2/flags/{quote(self._project, safe='')}/{quote(flag, safe='')}"

    def _state(self, flag: str, environment: str, body: Any) -> FlagState:
        on = _environment_on(body, flag, environment)
        return FlagState(
            flag=flag,
            environment=environment,
            provider=self.provider,
            is_off=not on,
            detail={"on": on},
        )


def _instruction(environment: str, kind: str, comment: str) -> dict[str, Any]:
    return {"environmentKey": environment, "comment": comment, "instructions": [{"kind": kind}]}


def _environment_on(body: Any, flag: str, environment: str) -> bool:
    environments = body.get("environments") if isinstance(body, dict) else None
    env = environments.get(environment) if isinstance(environments, dict) else None
    if not isinstance(env, dict) or not isinstance(env.get("on"), bool):
        raise ExecutorError(f"launchdarkly: flag {flag} has no environment {environment!r}")
    return env["on"]
