"""Rolling an Argo CD application back to an entry of its deploy history through the REST API
(`POST /api/v1/applications/{name}/rollback`), and reading the deployed revision back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

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

PROVIDER = "argocd"
# Argo CD's own refusal (gRPC FailedPrecondition, HTTP 400), matched to say it in our words.
_SERVER_AUTO_SYNC = "rollback cannot be initiated when auto-sync is enabled"


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    revision: str | None
    target_revision: str | None
    deployed_at: str | None


class ArgoCDExecutor(ApiRollbackExecutor):
    """One service's applications: `apps` is its services.yml `argocd_apps` ({environment: app}).

    Argo CD's rollback re-syncs the cluster to an earlier history entry without touching Git,
    which is why Argo CD refuses it while auto-sync is on (the next sync would undo it); this
    executor refuses first, with the way out, and never turns auto-sync off itself.
    """

    provider = PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        apps: Mapping[str, str],
        app_namespace: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(base_url=base_url, token=token, timeout=timeout)
        self._apps = dict(apps)
        self._app_namespace = app_namespace

    # -- the interface -------------------------------------------------------------------

    def read(self, service: str, environment: str) -> DeploymentState:
        name = self.app_for(service, environment)
        app = self._get(name)
        history = _history(app)
        return DeploymentState(
            service=service,
            environment=environment,
            provider=self.provider,
            version=_current_version(app, history),
            detail=_detail(name, app, history),
        )

    def describe_call(self, service: str, environment: str, target_version: str) -> str:
        """Reads the application to name the history id, so a refusal shows in a dry run too."""
        name, _, history, entry = self._target(service, environment, target_version)
        return self._describe(name, entry, deployed=_is_deployed(history, entry))

    def roll_back(self, service: str, environment: str, target_version: str, *, message: str) -> RollbackResult:
        """`message` is accepted for the common interface; the rollback API takes no reason."""
        name, app, history, entry = self._target(service, environment, target_version)
        previous = _current_version(app, history)
        detail: dict[str, Any] = {
            "app": name,
            "history_id": entry.id,
            "revision": entry.revision,
            "target_revision": entry.target_revision,
        }
        deployed = _is_deployed(history, entry)
        if deployed:
            # A rollback would only re-sync the revision that is already there.
            detail |= {"changed": False, "operation_phase": None}
        else:
            answer = self._post_rollback(name, entry)
            detail |= {"changed": True, "operation_phase": _operation_phase(answer)}
        return RollbackResult(
            service=service,
            environment=environment,
            provider=self.provider,
            call=self._describe(name, entry, deployed=deployed),
            target_version=target_version,
            previous_version=previous,
            state="done",
            detail=detail,
        )

    # -- helpers -------------------------------------------------------------------------

    def app_for(self, service: str, environment: str) -> str:
        try:
            return self._apps[environment]
        except KeyError:
            raise ExecutorError(
                f"argocd: no application configured for {service} in {environment!r} "
                f"(argocd_apps has {sorted(self._apps) or 'none'})"
            ) from None

    def _target(
        self, service: str, environment: str, target_version: str
    ) -> tuple[str, dict[str, Any], list[HistoryEntry], HistoryEntry]:
        """The application, its history and the entry to roll back to; refused while auto-sync
        is on."""
        check_version(self.provider, target_version)
        name = self.app_for(service, environment)
        app = self._get(name)
        _refuse_auto_sync(name, app)
        history = _history(app)
        return name, app, history, _entry_for(name, history, target_version)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    def _app_url(self, name: str) -> str:
        return f"{self._base}/api/v1/applications/{quote(name, safe='')}"

    def _get(self, name: str) -> dict[str, Any]:
        params = {"appNamespace": self._app_namespace} if self._app_namespace else None
        app = self._json(self._send("GET", self._app_url(name), params=params))
        if not isinstance(app, dict):
            raise ExecutorError(f"argocd: GET {self._app_url(name)} did not return an application")
        return app

    def _rollback_body(self, entry: HistoryEntry) -> dict[str, Any]:
        # prune false: resources added since the target entry stay; deleting is a separate call.
        body: dict[str, Any] = {"id": entry.id, "dryRun": False, "prune": False}
        if self._app_namespace:
            body["appNamespace"] = self._app_namespace
        return body

    def _describe(self, name: str, entry: HistoryEntry, *, deployed: bool) -> str:
        body = json.dumps(self._rollback_body(entry))
        text = (
            f"argocd: POST {self._app_url(name)}/rollback {body} "
            f"(history id {entry.id} = {entry.target_revision or '?'} at {entry.revision or '?'})"
        )
        return f"{text} (already deployed; no call)" if deployed else text

    def _post_rollback(self, name: str, entry: HistoryEntry) -> Any:
        response = self._send("POST", f"{self._app_url(name)}/rollback", body=self._rollback_body(entry))
        if not response.is_success and _SERVER_AUTO_SYNC in api_message(response):
            # Auto-sync was turned on between our read and our call.
            raise ExecutorError(_auto_sync_refusal(name))
        return self._json(response)


def _auto_sync_refusal(name: str) -> str:
    return f"auto-sync is on for {name}; Argo CD refuses rollbacks while it is on — turn it off or revert in Git"


def _refuse_auto_sync(name: str, app: Mapping[str, Any]) -> None:
    if _auto_sync_on(app):
        raise ExecutorError(_auto_sync_refusal(name))


def _auto_sync_on(app: Mapping[str, Any]) -> bool:
    """Argo CD tests `spec.syncPolicy.automated != nil`: `automated: {}` is on. Newer versions
    also have `automated.enabled: false`, which is off."""
    policy = _obj(_obj(app.get("spec")).get("syncPolicy"))
    automated = policy.get("automated")
    if automated is None:
        return False
    return not (isinstance(automated, dict) and automated.get("enabled") is False)


def _history(app: Mapping[str, Any]) -> list[HistoryEntry]:
    """Oldest first, as Argo CD keeps it. Multi-source entries name their first source."""
    entries = []
    for raw in _obj(app.get("status")).get("history") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), int):
            continue
        revisions = raw.get("revisions") or []
        sources = raw.get("sources") or []
        source = _obj(raw.get("source")) or (_obj(sources[0]) if sources else {})
        entries.append(
            HistoryEntry(
                id=raw["id"],
                revision=_text(raw.get("revision")) or (_text(revisions[0]) if revisions else None),
                target_revision=_text(source.get("targetRevision")),
                deployed_at=_text(raw.get("deployedAt")),
            )
        )
    return sorted(entries, key=lambda entry: entry.id)


def version_of(entry: HistoryEntry, history: list[HistoryEntry]) -> str | None:
    """The entry's targetRevision when it is a fixed name (a tag: it pointed at one revision
    throughout the history), else the revision itself (a branch like `main` or `HEAD` moves,
    so only the commit says what ran)."""
    name = entry.target_revision
    if name and len({e.revision for e in history if e.target_revision == name}) == 1:
        return name
    return entry.revision or name


def _current_version(app: Mapping[str, Any], history: list[HistoryEntry]) -> str | None:
    if history:
        return version_of(history[-1], history)
    return _text(_obj(_obj(app.get("status")).get("sync")).get("revision"))


def _entry_for(name: str, history: list[HistoryEntry], target: str) -> HistoryEntry:
    """The newest history entry that deployed `target` (a fixed targetRevision, a revision or
    a 7+ character commit prefix); its `id`, not its list index, is what the API takes."""
    matches = [entry for entry in history if _matches(entry, history, target)]
    if not matches:
        has = [f"{version_of(e, history)} (id {e.id})" for e in reversed(history)][:LISTED_VERSIONS]
        raise ExecutorError(
            f"argocd: {name} has no deploy history entry for {one_line(target)}; "
            f"it has: {', '.join(has) or 'no history'}"
        )
    if len({entry.revision for entry in matches}) > 1:
        raise ExecutorError(
            f"argocd: {one_line(target)} matches several revisions of {name}: "
            f"{', '.join(sorted({str(e.revision) for e in matches}))}; name the commit"
        )
    return matches[-1]


def _is_deployed(history: list[HistoryEntry], entry: HistoryEntry) -> bool:
    return bool(history) and history[-1].revision == entry.revision


def _matches(entry: HistoryEntry, history: list[HistoryEntry], target: str) -> bool:
    if target in (entry.revision, version_of(entry, history)):
        return True
    return names_commit(target, entry.revision)


def _detail(name: str, app: Mapping[str, Any], history: list[HistoryEntry]) -> dict[str, Any]:
    status = _obj(app.get("status"))
    return {
        "app": name,
        "revision": _text(_obj(status.get("sync")).get("revision")),
        "sync_status": _text(_obj(status.get("sync")).get("status")),
        "health": _text(_obj(status.get("health")).get("status")),
        "images": list(_obj(status.get("summary")).get("images") or []),
        "target_revision": history[-1].target_revision if history else None,
        "operation_phase": _operation_phase(app),
        "auto_sync": _auto_sync_on(app),
        "history": [asdict(entry) for entry in history],
    }


def _operation_phase(app: Any) -> str | None:
    return _text(_obj(_obj(_obj(app).get("status")).get("operationState")).get("phase"))


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
