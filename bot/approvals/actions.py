"""The actions Steward can take, registered by name: turning a feature flag off and rolling back a deployment.

Each action knows how to read its target's current state, what the proposed state is, the exact executor call,
its idempotency key, and what a read-back must show. Executing is not here: only `bot.approvals.gateway` calls `execute`.
Secret changes and disabling tests are not actions: there is no code path for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlmodel import Session, col

from bot.approvals.readiness import DeployFact, RollbackReadiness, check_rollback_readiness, recommend_rollback
from bot.errors import UserError
from bot.executors import ExecutorError, make_flag_executor, make_rollback_executor
from bot.runtime.context import Runtime
from bot.store.models import Change


@dataclass
class Plan:
    """What a request concerns, gathered before the policy decides: the facts and the evidence besides event refs."""

    action: str
    target: str
    environment: str
    service: str
    params: dict[str, Any]
    call: str
    current_state: dict[str, Any]
    proposed_state: dict[str, Any]
    risk_flags: list[str] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)
    undo_path: str = ""
    expected_telemetry: list[str] = field(default_factory=list)
    readiness: list[dict[str, Any]] | None = None
    recommendation: dict[str, Any] | None = None
    policy_facts: dict[str, bool | None] = field(default_factory=dict)
    blast_radius: str | None = None


@dataclass(frozen=True)
class Outcome:
    state: str  # executed | waiting | failed
    detail: dict[str, Any]
    readback: dict[str, Any]


class Action(Protocol):
    name: str

    def plan(self, rt: Runtime, session: Session, *, target: str, environment: str, version: str | None) -> Plan: ...

    def current_state(self, rt: Runtime, params: dict[str, Any]) -> dict[str, Any]: ...

    def current_readiness(
        self, rt: Runtime, session: Session, params: dict[str, Any]
    ) -> list[dict[str, Any]] | None: ...

    def idempotency_key(self, params: dict[str, Any], environment: str, incident_id: str) -> str: ...

    def sentence(self, params: dict[str, Any], environment: str, service: str) -> str: ...

    def execute(self, rt: Runtime, params: dict[str, Any], message: str) -> Outcome: ...

    def holds(self, rt: Runtime, params: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...


ACTIONS: dict[str, Action] = {}
A = TypeVar("A", bound=Action)


def action(cls: type[A]) -> type[A]:
    ACTIONS[cls.name] = cls()
    return cls


def _service_entry(rt: Runtime, service: str) -> Any:
    entry = rt.config.services.services.get(service)
    if entry is None:
        raise UserError(
            f"`{service}` is not in services.yml; known: {', '.join(rt.config.services.services) or 'none'}."
        )
    return entry


def flag_executor(rt: Runtime) -> Any:
    flags = rt.config.services.flags
    directory = rt.config.directory
    if flags.provider == "flagd":
        files: Any = (
            {env: directory / p for env, p in flags.paths.items()}
            if flags.paths
            else directory / (flags.path or "flags.json")
        )
        return make_flag_executor("flagd", files=files, clock=rt.clock)
    token = rt.settings.unleash_api_token if flags.provider == "unleash" else rt.settings.launchdarkly_api_token
    if not flags.url or not token:
        raise UserError(
            f"The {flags.provider} flag provider needs `flags.url` in services.yml and its API token in the environment."
        )
    return make_flag_executor(flags.provider, base_url=flags.url, token=token, project=flags.project or "default")


def rollback_executor(rt: Runtime, service: str) -> Any:
    entry = _service_entry(rt, service)
    config = entry.rollback
    if config is None:
        raise UserError(f"`{service}` has no `rollback:` block in services.yml, so Steward cannot roll it back.")
    if config.provider == "gitops":
        repo = config.repo if "://" in (config.repo or "") else str(rt.config.directory / (config.repo or ""))
        return make_rollback_executor(
            "gitops",
            repo=repo,
            file=config.file,
            key=config.key,
            workdir=Path(rt.settings.state_dir) / "gitops" / service,
        )
    if config.provider == "argocd":
        return make_rollback_executor(
            "argocd", base_url=config.url, token=rt.settings.argocd_token or "", apps=entry.argocd_apps
        )
    return make_rollback_executor(
        "github",
        token=rt.settings.github_token or "",
        repo=config.repo or entry.github_repos[0],
        **({"base_url": config.url} if config.url else {}),
    )


def _run(call: Callable[[], Any]) -> Any:
    """Executor failures while planning are a refusal with the executor's one-line reason."""
    try:
        return call()
    except ExecutorError as error:
        raise UserError(f"I could not read the current state: {error}") from None


@action
class DisableFlag:
    name = "disable_flag"

    def owner(self, rt: Runtime, flag: str) -> str:
        owners = [name for name, s in rt.config.services.services.items() if flag in s.flags]
        if not owners:
            known = sorted({f for s in rt.config.services.services.values() for f in s.flags})
            raise UserError(
                f"No service in services.yml lists the flag `{flag}`; known flags: {', '.join(known) or 'none'}."
            )
        return owners[0]

    def plan(self, rt: Runtime, session: Session, *, target: str, environment: str, version: str | None) -> Plan:
        service = self.owner(rt, target)
        executor = flag_executor(rt)
        state = _run(lambda: executor.read(target, environment))
        call = _run(lambda: executor.describe_call(target, environment))
        criticality = _service_entry(rt, service).criticality
        return Plan(
            action=self.name,
            target=target,
            environment=environment,
            service=service,
            params={"flag": target, "environment": environment},
            call=call,
            current_state={"is_off": state.is_off, **state.detail},
            proposed_state={"is_off": True, "evaluates_to": "off variant for every client, whatever its code default"},
            risk_flags=[f"{criticality}_service_touched", "users in the experiment lose the new behaviour"],
            alternatives=[f"roll back {service} in {environment}", "hold and keep investigating"],
            undo_path="restore the previous flag definition (kept by the executor)",
            expected_telemetry=[f"{service} error rate back to its baseline within 10 minutes"],
            blast_radius=f"every client of {target} in {environment} ({service}, criticality {criticality})",
        )

    def current_state(self, rt: Runtime, params: dict[str, Any]) -> dict[str, Any]:
        state = _run(lambda: flag_executor(rt).read(params["flag"], params["environment"]))
        return {"is_off": state.is_off, **state.detail}

    def current_readiness(self, rt: Runtime, session: Session, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        return None  # turning a flag off has no readiness checklist

    def idempotency_key(self, params: dict[str, Any], environment: str, incident_id: str) -> str:
        return f"flag-off:{params['flag']}:{environment}:{incident_id}"

    def sentence(self, params: dict[str, Any], environment: str, service: str) -> str:
        return f"turning flag `{params['flag']}` off in {environment} for {service}"

    def execute(self, rt: Runtime, params: dict[str, Any], message: str) -> Outcome:
        result = flag_executor(rt).turn_off(params["flag"], params["environment"], comment=message)
        return Outcome(
            "executed",
            {"changed": result.changed, "undo": result.undo, "call": result.call},
            {"is_off": result.new.is_off, **result.new.detail},
        )

    def holds(self, rt: Runtime, params: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        state = flag_executor(rt).read(params["flag"], params["environment"])
        return state.is_off, {"is_off": state.is_off, **state.detail}


def successful_deploys(session: Session, service: str, environment: str) -> list[Change]:
    """Deployments of the service that reached production-ready, newest first (from stored Changes)."""
    query = (
        select(Change)
        .where(col(Change.service) == service, col(Change.environment) == environment, col(Change.version).is_not(None))
        .order_by(col(Change.at).desc(), col(Change.id).desc())
    )
    rows = session.execute(query).scalars()
    return [
        c
        for c in rows
        if (c.kind == "deployment" and c.state in (None, "success", "Succeeded", "Healthy"))
        or (c.kind == "deployment_status" and c.state == "success")
    ]


@action
class RollbackDeployment:
    name = "rollback_deployment"

    def plan(self, rt: Runtime, session: Session, *, target: str, environment: str, version: str | None) -> Plan:
        entry = _service_entry(rt, target)
        current, wanted, readiness = self._readiness(rt, session, target, environment, version)
        recommendation = recommend_rollback(readiness, flags=list(entry.flags))
        try:
            call = rollback_executor(rt, target).describe_call(target, environment, wanted)
        except (ExecutorError, UserError) as error:
            call = f"(cannot be prepared: {error})"
        return Plan(
            action=self.name,
            target=target,
            environment=environment,
            service=target,
            params={
                "service": target,
                "environment": environment,
                "target_version": wanted,
                "current_version": current,
            },
            call=call,
            current_state={"version": current},
            proposed_state={"version": wanted},
            risk_flags=[f"{entry.criticality}_service_touched"]
            + [f"{c.name}: {c.answer}" for c in readiness.checks if c.answer == "no"],
            alternatives=list(recommendation.safe_next_step),
            undo_path=f"roll forward to {current}" if current else "roll forward to the current version",
            expected_telemetry=[f"{target} error rate back to its baseline within 15 minutes"],
            readiness=[c.model_dump() for c in readiness.checks],
            recommendation=recommendation.model_dump(),
            policy_facts=readiness.policy_facts(),
            blast_radius=f"all traffic of {target} in {environment} (criticality {entry.criticality})",
        )

    def _readiness(
        self, rt: Runtime, session: Session, service: str, environment: str, version: str | None
    ) -> tuple[str | None, str, RollbackReadiness]:
        """(running version, target version, readiness) from the stored deployments; no executor is asked."""
        entry = _service_entry(rt, service)
        deploys = successful_deploys(session, service, environment)
        current = deploys[0].version if deploys else None
        versions = list(dict.fromkeys(d.version for d in deploys))
        wanted = version or next((v for v in versions if v != current), None)
        if wanted is None:
            raise UserError(
                f"I know no earlier successful deployment of {service} in {environment}; name one with `to:<version>`."
            )
        # The deploys after the target up to the running one: what a rollback would undo.
        between = deploys[: next((i for i, d in enumerate(deploys) if d.version == wanted), len(deploys))]
        readiness = check_rollback_readiness(
            service=service,
            environment=environment,
            current_version=current or "unknown",
            target_version=wanted,
            deploys=[
                DeployFact(version=d.version, sha=d.sha, at=d.at, metadata=d.meta, files=d.files or None)
                for d in between
            ],
            migration_paths=entry.migration_paths,
            target_artifact_available=True if wanted in versions else None,
            artifact_source="stored deployment record"
            if wanted in versions
            else "no deployment record of this version",
        )
        return current, wanted, readiness

    def current_readiness(self, rt: Runtime, session: Session, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        _, _, readiness = self._readiness(
            rt, session, params["service"], params["environment"], params["target_version"]
        )
        return [c.model_dump() for c in readiness.checks]

    def current_state(self, rt: Runtime, params: dict[str, Any]) -> dict[str, Any]:
        with rt.db.session() as session:
            deploys = successful_deploys(session, params["service"], params["environment"])
        return {"version": deploys[0].version if deploys else None}

    def idempotency_key(self, params: dict[str, Any], environment: str, incident_id: str) -> str:
        return f"rollback:{params['service']}:{environment}:{params['target_version']}:{incident_id}"

    def sentence(self, params: dict[str, Any], environment: str, service: str) -> str:
        return f"rolling back {service} in {environment} from {params.get('current_version') or 'the current version'} to {params['target_version']}"

    def execute(self, rt: Runtime, params: dict[str, Any], message: str) -> Outcome:
        result = rollback_executor(rt, params["service"]).roll_back(
            params["service"], params["environment"], params["target_version"], message=message
        )
        return Outcome(
            "waiting" if result.state == "waiting" else "executed", {"call": result.call, **result.detail}, {}
        )

    def holds(self, rt: Runtime, params: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        state = rollback_executor(rt, params["service"]).read(params["service"], params["environment"])
        return state.version == params["target_version"], {"version": state.version, **state.detail}
