"""Turning a flag off in one Unleash environment through the project-scoped Admin API
(toggleFeatureEnvironmentOff), and reading its per-environment enabled state back."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.executors.common import ExecutorError
from bot.executors.flags import ApiFlagExecutor, FlagState, json_body


class UnleashExecutor(ApiFlagExecutor):
    """The admin / personal access token goes in as-is: "Bearer <token>" is rejected."""

    provider = "unleash"

    def __init__(self, *, base_url: str, token: str, project: str = "default", timeout: float = 10.0) -> None:
        super().__init__(base_url=base_url, token=token, project=project, timeout=timeout)

    def read(self, flag: str, environment: str) -> FlagState:
        response = self._call("GET", self._feature_url(flag))
        enabled = _environment_enabled(json_body(self.provider, response), flag, environment)
        return self._state(flag, environment, "enabled", enabled)

    def describe_call(self, flag: str, environment: str) -> str:
        return f"POST {self._toggle_url(flag, environment, 'off')}"

    def _switch_off(self, flag: str, environment: str, comment: str) -> FlagState:
        # `comment` is taken for the common interface; this endpoint takes no body.
        self._call("POST", self._toggle_url(flag, environment, "off"), content_type="application/json")
        return self.read(flag, environment)

    def _undo(self, flag: str, environment: str) -> dict[str, Any]:
        return {"call": f"POST {self._toggle_url(flag, environment, 'on')}"}

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
