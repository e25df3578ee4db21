"""Rolling back with GitHub deployments: a NEW deployment of the commit of the target version's
last successful deployment (REST `POST /repos/{owner}/{repo}/deployments`), left to GitHub's
environment protection; and reading the latest successful deployment back."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from bot.executors.common import ExecutorError, one_line
from bot.executors.rollback import (
    LISTED_VERSIONS,
    ApiRollbackExecutor,
    DeploymentState,
    RollbackResult,
    api_message,
    check_version,
    names_commit,
)

PROVIDER = "github"
API_VERSION = "2022-11-28"
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_POLL_SECONDS = 0.25
_DESCRIPTION_CHARS = 140


@dataclass(frozen=True)
class Deployment:
    id: int
    sha: str
    ref: str
    version: str  # payload.version when the deploy pipeline wrote one, else the ref

    def matches(self, target: str) -> bool:
        if target in (self.version, self.ref):
            return True
        return names_commit(target, self.sha)


class GitHubDeployExecutor(ApiRollbackExecutor):
    """One repository (`owner/name`), the service's deploys in it keyed by environment name.

    The new deployment keeps GitHub's guards: `auto_merge: false` (deploy exactly that commit),
    and no `required_contexts`, so every commit status must still be green on it — `[]` would
    bypass checks that may have turned red since it last shipped. An environment with required
    reviewers holds it as `waiting`; Steward reports that and never approves or bypasses it.
    """

    provider = PROVIDER

    def __init__(
        self,
        *,
        token: str,
        repo: str,
        base_url: str = "https://api.github.com",
        timeout: float = 10.0,
        max_deployments: int = 100,
        page_size: int = 100,
        settle_seconds: float = 3.0,
    ) -> None:
        """`settle_seconds`: how long to wait for the new deployment's first status, which is
        where GitHub says `waiting`. `max_deployments`: how far back the history is searched."""
        if not _REPO.fullmatch(repo):
            raise ValueError(f"github: repo {repo!r} is not owner/name")
        super().__init__(base_url=base_url, token=token, timeout=timeout)
        self._repo = repo
        self._max_deployments = max_deployments
        self._page_size = min(page_size, 100)
        self._settle_seconds = settle_seconds

    # -- the interface -------------------------------------------------------------------

    def read(self, service: str, environment: str) -> DeploymentState:
        deployments = self._deployments(environment)
        current = self._current(deployments)
        latest = deployments[0] if deployments else None
        detail: dict[str, Any] = {"repo": self._repo, "deployment_id": None, "sha": None, "ref": None}
        if current is not None:
            detail |= {"deployment_id": current.id, "sha": current.sha, "ref": current.ref}
        if latest is not None and latest != current:
            # A newer deployment that has not succeeded (yet): e.g. a rollback still waiting.
            detail["latest"] = {
                "deployment_id": latest.id,
                "version": latest.version,
                "state": self._latest_state(latest.id),
            }
        return DeploymentState(
            service=service,
            environment=environment,
            provider=self.provider,
            version=current.version if current else None,
            detail=detail,
        )

    def describe_call(self, service: str, environment: str, target_version: str) -> str:
        """Looks the target up, so a version that never deployed fails in a dry run too."""
        check_version(self.provider, target_version)
        deployments = self._deployments(environment)
        target = self._target(environment, target_version, deployments)
        current = self._current(deployments)
        running = current is not None and current.matches(target_version)
        return self._describe(environment, target, running=running)

    def roll_back(self, service: str, environment: str, target_version: str, *, message: str) -> RollbackResult:
        check_version(self.provider, target_version)
        deployments = self._deployments(environment)
        current = self._current(deployments)
        target = self._target(environment, target_version, deployments)
        previous = current.version if current else None
        detail: dict[str, Any] = {"repo": self._repo, "sha": target.sha, "from_deployment_id": target.id}
        state = "done"
        running = current.id if current is not None and current.matches(target_version) else None
        if running is not None:
            # A new deployment would only redeploy what runs.
            detail |= {"changed": False, "deployment_id": running, "status": "success"}
        else:
            created = self._create(environment, target, previous, message)
            status = self._settled_state(created["id"])
            if status in ("failure", "error"):
                raise ExecutorError(
                    f"github: rollback deployment {created['id']} of {target_version} to "
                    f"{environment} in {self._repo} reported {status}"
                )
            state = "waiting" if status == "waiting" else "done"
            detail |= {"changed": True, "deployment_id": created["id"], "status": status}
        return RollbackResult(
            service=service,
            environment=environment,
            provider=self.provider,
            call=self._describe(environment, target, running=running is not None),
            target_version=target_version,
            previous_version=previous,
            state=state,
            detail=detail,
        )

    # -- helpers -------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "Steward",
        }

    def _repo_url(self) -> str:
        return f"{self._base}/repos/{self._repo}"

    def _get(self, url: str, params: dict[str, str] | None = None) -> tuple[Any, Any]:
        response = self._send("GET", url, params=params)
        return self._json(response), response.links.get("next", {}).get("url")

    def _deployments(self, environment: str) -> list[Deployment]:
        """Newest first, following `Link: rel="next"` up to max_deployments."""
        found: list[Deployment] = []
        body, next_url = self._get(
            f"{self._repo_url()}/deployments",
            {"environment": environment, "per_page": str(self._page_size)},
        )
        while True:
            if not isinstance(body, list):
                raise ExecutorError(f"github: deployments of {self._repo} is not a list")
            found.extend(d for d in map(_deployment, body) if d is not None)
            if not next_url or len(found) >= self._max_deployments:
                break
            body, next_url = self._get(next_url)
        return sorted(found, key=lambda d: d.id, reverse=True)[: self._max_deployments]

    def _states(self, deployment_id: int) -> list[str]:
        """Newest first."""
        body, _ = self._get(f"{self._repo_url()}/deployments/{deployment_id}/statuses", {"per_page": "100"})
        statuses = [s for s in body if isinstance(s, dict)] if isinstance(body, list) else []
        statuses.sort(key=_status_id, reverse=True)
        return [str(s.get("state")) for s in statuses]

    def _latest_state(self, deployment_id: int) -> str | None:
        states = self._states(deployment_id)
        return states[0] if states else None

    def _current(self, deployments: list[Deployment]) -> Deployment | None:
        """What runs: the newest deployment whose latest status is success."""
        for deployment in deployments:
            if self._latest_state(deployment.id) == "success":
                return deployment
        return None

    def _target(self, environment: str, version: str, deployments: list[Deployment]) -> Deployment:
        """The newest deployment of `version` that ever succeeded (later ones may have marked
        it `inactive`, which is no mark against its commit)."""
        candidates = [d for d in deployments if d.matches(version)]
        for deployment in candidates:
            if "success" in self._states(deployment.id):
                return deployment
        if candidates:
            raise ExecutorError(
                f"github: {one_line(version)} was deployed to {environment} in {self._repo} "
                f"({len(candidates)}x) but never succeeded; refusing to roll back to it"
            )
        versions = list(dict.fromkeys(d.version for d in deployments))[:LISTED_VERSIONS]
        raise ExecutorError(
            f"github: no deployment of {one_line(version)} to {environment} in {self._repo} "
            f"among the last {len(deployments)}; it has: {', '.join(versions) or 'none'}"
        )

    def _body(self, environment: str, target: Deployment, previous: str | None, message: str) -> dict[str, Any]:
        return {
            "ref": target.sha,
            "task": "deploy",
            "environment": environment,
            "auto_merge": False,
            "description": one_line(f"Rollback to {target.version}", _DESCRIPTION_CHARS),
            "payload": {
                "version": target.version,
                "rollback": True,
                "previous_version": previous,
                "reason": message,
            },
            "production_environment": environment == "production",
        }

    def _describe(self, environment: str, target: Deployment, *, running: bool) -> str:
        text = (
            f"github: POST {self._repo_url()}/deployments ref={target.sha} "
            f"environment={environment} auto_merge=false payload.version={target.version} "
            f"(the commit of deployment {target.id})"
        )
        return f"{text} (already running; no call)" if running else text

    def _create(self, environment: str, target: Deployment, previous: str | None, message: str) -> dict[str, Any]:
        url = f"{self._repo_url()}/deployments"
        response = self._send("POST", url, body=self._body(environment, target, previous, message))
        if response.status_code == 202:
            # Only a branch ref can be merged into; a sha never should be. No deployment exists.
            raise ExecutorError(
                f"github: POST {url} merged instead of deploying and created no deployment: {api_message(response)}"
            )
        if response.status_code in (409, 422):
            raise ExecutorError(
                f"github: GitHub refused the rollback deployment of {target.version} "
                f"({target.sha[:12]}) to {environment}: HTTP {response.status_code}: "
                f"{api_message(response)}"
            )
        if response.status_code != 201:
            raise self._failure(response)
        created = self._json(response)
        if not isinstance(created, dict) or not isinstance(created.get("id"), int):
            raise ExecutorError(f"github: POST {url} returned no deployment id")
        return created

    def _settled_state(self, deployment_id: int) -> str | None:
        """The new deployment's latest status, waiting briefly for the first one to appear."""
        deadline = time.monotonic() + self._settle_seconds
        while True:
            state = self._latest_state(deployment_id)
            if state is not None or time.monotonic() >= deadline:
                return state
            time.sleep(_POLL_SECONDS)


def _deployment(raw: Any) -> Deployment | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), int):
        return None
    sha, ref = raw.get("sha"), raw.get("ref")
    if not isinstance(sha, str) or not isinstance(ref, str):
        return None
    return Deployment(id=raw["id"], sha=sha, ref=ref, version=_payload_version(raw.get("payload")) or ref)


def _payload_version(payload: Any) -> str | None:
    # GitHub hands back a payload that was sent as a string as that string.
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    version = payload.get("version") if isinstance(payload, dict) else None
    return version if isinstance(version, str) and version else None


def _status_id(status: dict[str, Any]) -> int:
    """Statuses sort by id, newest first; one without a numeric id sorts last."""
    number = status.get("id")
    return number if isinstance(number, int) else 0
