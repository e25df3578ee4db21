"""Turning a flag off in one Unleash environment through the project-scoped Admin API
(toggleFeatureEnvironmentOff), and reading its per-environment enabled state back."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.executors.flags import (
    ExecutorError,
    FlagChangeResult,
    FlagState,
    json_body,
    request,
)


class UnleashExecutor:
    provider = "unleash"

    def __init__(
        self, *, base_url: str, token: str, project: str = "default", timeout: float = 10.0
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._project = project
        self._timeout = timeout

    def read(self, flag: str, environment: str) -> FlagState:
        response = request(
            self.provider, "GET", self._feature_url(flag), headers=self._headers(), timeout=self._timeout
        )
        enabled = _environment_enabled(json_body(self.provider, response), flag, environment)
        return FlagState(
            flag=flag,
            environment=environment,
            provider=self.provider,
            is_off=not enabled,
            detail={"enabled": enabled},
        )

    def describe_call(self, flag: str, environment: str) -> str:
        return f"POST {self._toggle_url(flag, environment, 'off')}"

    def turn_off(
        self, flag: str, environment: str, *, comment: str | None = None
    ) -> FlagChangeResult:
        """`comment` is accepted for the common interface; this endpoint takes no body."""
        previous = self.read(flag, environment)
        # Sent even when already off: the call is idempotent, and it proves the token may do it.
        request(
            self.provider,
            "POST",
            self._toggle_url(flag, environment, "off"),
            headers={**self._headers(), "Content-Type": "application/json"},
            timeout=self._timeout,
        )
        new = self.read(flag, environment)
        return FlagChangeResult(
            flag=flag,
            environment=environment,
            provider=self.provider,
            call=self.describe_call(flag, environment),
            changed=not previous.is_off,
            previous=previous,
            new=new,
            undo={"call": f"POST {self._toggle_url(flag, environment, 'on')}"}
            if not previous.is_off
            else {"call": None},
        )

    def _headers(self) -> dict[str, str]:
        # Unleash wants the admin / personal access token as-is: "Bearer <token>" is rejected.
        return {"Authorization": self._token, "Accept": "application/json"}

    def _feature_url(self, flag: str) -> str:
        return f"{self._base}/api/admin/projects/{_seg(self._project)}/features/{_seg(flag)}"

    def _toggle_url(self, flag: str, environment: str, to: str) -> str:
        return f"{self._feature_url(flag)}/environments/{_seg(environment)}/{to}"


def _environment_enabled(feature: Any, flag: str, environment: str) -> bool:
    environments = feature.get("environments") if isinstance(feature, dict) else None
    for env in environments or []:
        if isinstance(env, dict) and env.get("name") == environment:
            return bool(env.get("enabled"))
    raise ExecutorError(f"unleash: feature {flag} has no environment {environment!r}")


def _seg(value: str) -> str:
    return quote(value, safe="")
