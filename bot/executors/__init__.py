"""The executors: the only code that changes something outside Steward, called only by the
approval gateway. Feature-flag and rollback executors are registered here by provider name.

May import: clock. Imported only by bot.approvals.gateway and bot.approvals.actions (an import-linter contract)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from bot.executors.argocd import ArgoCDExecutor
from bot.executors.common import ExecutorError
from bot.executors.flagd import FlagdExecutor
from bot.executors.flags import FlagChangeResult, FlagExecutor, FlagState
from bot.executors.github_deploy import GitHubDeployExecutor
from bot.executors.gitops import GitOpsExecutor
from bot.executors.launchdarkly import LaunchDarklyExecutor
from bot.executors.rollback import DeploymentState, RollbackExecutor, RollbackResult
from bot.executors.unleash import UnleashExecutor

E = TypeVar("E")


def _make(kind: str, registry: dict[str, Callable[..., E]], provider: str, config: dict[str, Any]) -> E:
    """An unknown provider is a config error, so it fails at start, not at the first incident."""
    try:
        cls = registry[provider]
    except KeyError:
        raise ValueError(f"unknown {kind} provider {provider!r}; known: {', '.join(sorted(registry))}") from None
    return cls(**config)


# Provider name (as written in config) -> executor class; constructor kwargs come from config.
FLAG_PROVIDERS: dict[str, Callable[..., FlagExecutor]] = {
    cls.provider: cls for cls in (FlagdExecutor, UnleashExecutor, LaunchDarklyExecutor)
}

# By the `provider` of services.yml's `rollback:` block; one executor per service (its repo /
# apps / values file).
ROLLBACK_PROVIDERS: dict[str, Callable[..., RollbackExecutor]] = {
    cls.provider: cls for cls in (GitOpsExecutor, ArgoCDExecutor, GitHubDeployExecutor)
}


def make_flag_executor(provider: str, **config: Any) -> FlagExecutor:
    return _make("flag", FLAG_PROVIDERS, provider, config)


def make_rollback_executor(provider: str, **config: Any) -> RollbackExecutor:
    return _make("rollback", ROLLBACK_PROVIDERS, provider, config)


__all__ = [
    "FLAG_PROVIDERS",
    "ROLLBACK_PROVIDERS",
    "ArgoCDExecutor",
    "DeploymentState",
    "ExecutorError",
    "FlagChangeResult",
    "FlagExecutor",
    "FlagState",
    "FlagdExecutor",
    "GitHubDeployExecutor",
    "GitOpsExecutor",
    "LaunchDarklyExecutor",
    "RollbackExecutor",
    "RollbackResult",
    "UnleashExecutor",
    "make_flag_executor",
    "make_rollback_executor",
]
