"""Turning a flag off in one LaunchDarkly environment with the REST v2 semantic patch
`turnFlagOff`, and reading `environments[env].on` back."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.executors.common import ExecutorError
from bot.executors.flags import ApiFlagExecutor, FlagState, json_body

# Without the domain-model suffix LaunchDarkly reads the body as a JSON Patch and rejects it.
SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"


class LaunchDarklyExecutor(ApiFlagExecutor):
    """An API access token goes in as-is, no "Bearer"."""

    provider = "launchdarkly"

    def __init__(
        self,
        *,
        token: str,
        base_url: str = "https://app.launchdarkly.com",
        project: str = "default",
        timeout: float = 10.0,
    ) -> None:
        super().__init__(base_url=base_url, token=token, project=project, timeout=timeout)

    def read(self, flag: str, environment: str) -> FlagState:
        response = self._call("GET", self._flag_url(flag), params={"env": environment})
        return self._on_state(flag, environment, json_body(self.provider, response))

    def describe_call(self, flag: str, environment: str) -> str:
        return (
            f"PATCH {self._flag_url(flag)} (semantic patch: environmentKey={environment}, "
            'instructions=[{"kind": "turnFlagOff"}])'
        )

    def _switch_off(self, flag: str, environment: str, comment: str) -> FlagState:
        # turnFlagOff leaves the rules untouched.
        response = self._call(
            "PATCH",
            self._flag_url(flag),
            content_type=SEMANTIC_PATCH,
            body=_instruction(environment, "turnFlagOff", comment),
        )
        # A 200 carries the whole updated flag; its environments[env].on is the new state.
        return self._on_state(flag, environment, json_body(self.provider, response))

    def _undo(self, flag: str, environment: str) -> dict[str, Any]:
        return {
            "call": f"PATCH {self._flag_url(flag)}",
            "body": _instruction(environment, "turnFlagOn", "Undo: turned back on by Steward"),
        }

    def _flag_url(self, flag: str) -> str:
        return f"{self._base}/api/v2/flags/{quote(self._project, safe='')}/{quote(flag, safe='')}"

    def _on_state(self, flag: str, environment: str, body: Any) -> FlagState:
        return self._state(flag, environment, "on", _environment_on(body, flag, environment))


def _instruction(environment: str, kind: str, comment: str) -> dict[str, Any]:
    return {"environmentKey": environment, "comment": comment, "instructions": [{"kind": kind}]}


def _environment_on(body: Any, flag: str, environment: str) -> bool:
    environments = body.get("environments") if isinstance(body, dict) else None
    env = environments.get(environment) if isinstance(environments, dict) else None
    on = env.get("on") if isinstance(env, dict) else None
    if not isinstance(on, bool):
        raise ExecutorError(f"launchdarkly: flag {flag} has no environment {environment!r}")
    return on
