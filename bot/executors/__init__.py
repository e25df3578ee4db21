"""The executors: the only code that changes something outside Steward, called only by the
approval gateway. Feature-flag executors are registered here by provider name."""
from __future__ import annotations

from typing import Any

from bot.executors.flagd import FlagdExecutor
from bot.executors.flags import ExecutorError, FlagChangeResult, FlagExecutor, FlagState
from bot.executors.launchdarkly import LaunchDarklyExecutor
from bot.executors.unleash import UnleashExecutor

# Provider name (as written in config) -> executor class; constructor kwargs come from config.
FLAG_PROVIDERS: dict[str, type] = {
    FlagdExecutor.provider: FlagdExecutor,
    UnleashExecutor.provider: UnleashExecutor,
    LaunchDarklyExecutor.provider: LaunchDarklyExecutor,
}


def make_flag_executor(provider: str, **config: Any) -> FlagExecutor:
    """An unknown provider is a config error, so it fails at start, not at the first incident."""
    try:
        cls = FLAG_PROVIDERS[provider]
    except KeyError:
        raise ValueError(
            f"unknown flag provider {provider!r}; known: {', '.join(sorted(FLAG_PROVIDERS))}"
        ) from None
    return cls(**config)


__all__ = [
    "FLAG_PROVIDERS",
    "ExecutorError",
    "FlagChangeResult",
    "FlagExecutor",
    "FlagState",
    "FlagdExecutor",
    "LaunchDarklyExecutor",
    "UnleashExecutor",
    "make_flag_executor",
]

# -- rollback executors: registered by the `provider` of services.yml's `rollback:` block ----

from bot.executors.argocd import ArgoCDExecutor  # noqa: E402
from bot.executors.github_deploy import GitHubDeployExecutor  # noqa: E402
from bot.executors.gitops import GitOpsExecutor  # noqa: E402
from bot.executors.rollback import (  # noqa: E402
    DeploymentState,
    RollbackExecutor,
    RollbackResult,
)

ROLLBACK_PROVIDERS: dict[str, type] = {
    GitOpsExecutor.provider: GitOpsExecutor,
    ArgoCDExecutor.provider: ArgoCDExecutor,
    GitHubDeployExecutor.provider: GitHubDeployExecutor,
}


def make_rollback_executor(provider: str, **config: Any) -> RollbackExecutor:
    """One executor per service (its repo / apps / values file); unknown provider fails at start."""
    try:
        cls = ROLLBACK_PROVIDERS[provider]
    except KeyError:
        raise ValueError(
            f"unknown rollback provider {provider!r}; known: {', '.join(sorted(ROLLBACK_PROVIDERS))}"
        ) from None
    return cls(**config)


__all__ += [
    "ROLLBACK_PROVIDERS",
    "ArgoCDExecutor",
    "DeploymentState",
    "GitHubDeployExecutor",
    "GitOpsExecutor",
    "RollbackExecutor",
    "RollbackResult",
    "make_rollback_executor",
]
