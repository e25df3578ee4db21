"""Rollback readiness: the seed's eight-question checklist answered from deploy records, and the
conditional recommendation built on it. Pure functions; the caller gathers the deploy facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CheckName = Literal["artifact", "config", "schema", "data", "events", "side_effects", "runtime", "observability"]
Answer = Literal["yes", "no", "unknown"]

# The order of the seed's checklist (section 8.1); the evidence packet keeps it, so it is part of the hash.
CHECK_NAMES: tuple[CheckName, ...] = (
    "artifact",
    "config",
    "schema",
    "data",
    "events",
    "side_effects",
    "runtime",
    "observability",
)
QUESTIONS: dict[CheckName, str] = {
    "artifact": "Is the previous artifact immutable and available?",
    "config": "Can the old version run with the current config?",
    "schema": "Is schema backward compatibility guaranteed?",
    "data": "Did the data format change?",
    "events": "Did the new version emit irreversible events?",
    "side_effects": "Were payments, emails or messages sent?",
    "runtime": "Can traffic safely shift back?",
    "observability": "Can we verify rollback health?",
}
NOT_CHECKED = "not checked by Steward"
IRREVERSIBLE = "irreversible"


class DeployFact(BaseModel):
    """One deploy of the service in the environment, as the change sources recorded it."""

    model_config = ConfigDict(frozen=True)

    version: str
    sha: str | None = None
    at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)
    # None means the source did not say which files changed (a GitHub deployment event does not),
    # which is not the same as "no files changed": the schema answer becomes unknown.
    files: list[str] | None = None
    artifact_available: bool | None = None

    @property
    def label(self) -> str:
        return f"{self.version} ({self.sha[:7]})" if self.sha else self.version


class ReadinessCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: CheckName
    answer: Answer
    source: str


class RollbackReadiness(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    environment: str
    current_version: str
    target_version: str
    checks: list[ReadinessCheck]

    def answer(self, name: CheckName) -> Answer:
        return next(check.answer for check in self.checks if check.name == name)

    def check(self, name: CheckName) -> ReadinessCheck:
        return next(check for check in self.checks if check.name == name)

    def policy_facts(self) -> dict[str, bool | None]:
        """The policy facts this checklist establishes; None where the answer is unknown, so the
        policy sees "unknown" rather than a guessed "no problem"."""
        return {
            "irreversible_schema_migration_detected": _answered_no(self.answer("schema")),
            "previous_artifact_missing": _answered_no(self.answer("artifact")),
        }


Verdict = Literal["rollback_candidate", "not_recommended", "hold"]
Confidence = Literal["low", "medium", "high"]


class Recommendation(BaseModel):
    """Decision support, never a command (seed 8.3): what we suggest, how sure, and what is still open."""

    model_config = ConfigDict(frozen=True)

    recommendation: Verdict
    confidence: Confidence
    reasons: list[str]
    blocking_uncertainties: list[str]
    required_approval: list[str]
    safe_next_step: list[str]


def check_rollback_readiness(
    *,
    service: str,
    environment: str,
    current_version: str,
    target_version: str,
    deploys: Sequence[DeployFact],
    migration_paths: Sequence[str],
    target_artifact_available: bool | None = None,
    artifact_source: str = "deploy record",
) -> RollbackReadiness:
    """Answer the checklist for rolling `service` in `environment` back from current to target.

    `deploys` are the deploys after the target up to and including the current one; the target's own
    deploy may be among them (its migrations are part of the target state, and its
    `artifact_available` is used when `target_artifact_available` is not given)."""
    ordered = sorted(deploys, key=lambda deploy: deploy.at)
    since_target = [deploy for deploy in ordered if deploy.version != target_version]
    target_deploy = next((deploy for deploy in ordered if deploy.version == target_version), None)
    if target_artifact_available is None and target_deploy is not None:
        target_artifact_available = target_deploy.artifact_available
    answered = {
        "artifact": _artifact_check(target_version, target_artifact_available, artifact_source),
        "schema": _schema_check(service, current_version, target_version, since_target, migration_paths),
    }
    checks = [
        answered.get(name) or ReadinessCheck(name=name, answer="unknown", source=NOT_CHECKED) for name in CHECK_NAMES
    ]
    return RollbackReadiness(
        service=service,
        environment=environment,
        current_version=current_version,
        target_version=target_version,
        checks=checks,
    )


def recommend_rollback(
    readiness: RollbackReadiness,
    *,
    flags: Sequence[str] = (),
    approval_from: Sequence[str] = (),
) -> Recommendation:
    """Turn the checklist into a conditional recommendation.

    Any "no" turns away from rollback and names the safer step (a flag off when the service has
    flags, else roll forward after expert review). An unknown artifact means hold: there may be
    nothing to roll back to. An unknown schema leaves rollback a low-confidence candidate with the
    flag off as the step to take first. `approval_from` are the roles the policy asks for."""
    flag_steps = [f"turn flag {flag} off" for flag in flags]
    refusals = [check for check in readiness.checks if check.answer == "no"]
    if refusals:
        return _turn_away(readiness, refusals, flag_steps)
    unchecked = [check.name for check in readiness.checks if check.source == NOT_CHECKED]
    reasons = [f"{check.name}: {check.source}" for check in readiness.checks if check.answer == "yes"]
    reasons += _unchecked_reason(unchecked)
    blocking = _blocking_uncertainties(readiness)
    roles = _required_roles(readiness, approval_from)
    if readiness.answer("artifact") == "unknown":
        return Recommendation(
            recommendation="hold",
            confidence="low",
            reasons=reasons,
            blocking_uncertainties=blocking,
            required_approval=roles,
            safe_next_step=[*flag_steps, f"confirm the artifact for {readiness.target_version} exists"],
        )
    rollback_step = f"roll back {readiness.service} in {readiness.environment} to {readiness.target_version}"
    first = [*flag_steps, "confirm schema compatibility with the database_owner"] if blocking else []
    return Recommendation(
        recommendation="rollback_candidate",
        confidence="low" if blocking else ("medium" if unchecked else "high"),
        reasons=reasons,
        blocking_uncertainties=blocking,
        required_approval=roles,
        safe_next_step=[*first, rollback_step],
    )


def _turn_away(readiness: RollbackReadiness, refusals: list[ReadinessCheck], flag_steps: list[str]) -> Recommendation:
    # The policy denies this rollback anyway, so its approvers are moot; the expert review is not.
    return Recommendation(
        recommendation="not_recommended",
        confidence="high",
        reasons=[
            f"rollback to {readiness.target_version} is unsafe: {check.name}: {check.source}" for check in refusals
        ],
        blocking_uncertainties=[],
        required_approval=_required_roles(readiness, ()),
        safe_next_step=[*flag_steps, "roll forward with a fix after expert review"],
    )


def _blocking_uncertainties(readiness: RollbackReadiness) -> list[str]:
    """Unknowns Steward looked for and could not settle; the rest were never Steward's to check."""
    blocking = []
    artifact, schema = readiness.check("artifact"), readiness.check("schema")
    if artifact.answer == "unknown":
        blocking.append(f"artifact for {readiness.target_version} not confirmed: {artifact.source}")
    if schema.answer == "unknown":
        blocking.append(f"schema compatibility not confirmed: {schema.source}")
    return blocking


def _artifact_check(target_version: str, available: bool | None, source: str) -> ReadinessCheck:
    if available is None:
        return ReadinessCheck(
            name="artifact", answer="unknown", source=f"no record of the artifact for {target_version}"
        )
    state = "available" if available else "missing"
    return ReadinessCheck(
        name="artifact",
        answer="yes" if available else "no",
        source=f"{source} shows the artifact for {target_version} {state}",
    )


def _schema_check(
    service: str,
    current_version: str,
    target_version: str,
    deploys: Sequence[DeployFact],
    migration_paths: Sequence[str],
) -> ReadinessCheck:
    irreversible = [deploy for deploy in deploys if deploy.metadata.get("schema_migration") == IRREVERSIBLE]
    if irreversible:
        labels = ", ".join(deploy.label for deploy in irreversible)
        return ReadinessCheck(
            name="schema", answer="no", source=f"deploy {labels} carries schema_migration: irreversible"
        )
    if not deploys:
        return ReadinessCheck(
            name="schema", answer="unknown", source=f"no deploy record between {target_version} and {current_version}"
        )
    unknown = [reason for deploy in deploys if (reason := _schema_doubt(deploy, migration_paths))]
    if unknown:
        return ReadinessCheck(name="schema", answer="unknown", source="; ".join(unknown))
    if not migration_paths:
        # Without migration paths an unchanged file list proves nothing about the schema.
        return ReadinessCheck(name="schema", answer="unknown", source=f"no migration_paths configured for {service}")
    labels = ", ".join(deploy.label for deploy in deploys)
    return ReadinessCheck(
        name="schema",
        answer="yes",
        source=f"no irreversible marker and no change under {', '.join(migration_paths)} in {labels}",
    )


def _schema_doubt(deploy: DeployFact, migration_paths: Sequence[str]) -> str | None:
    if deploy.files is None:
        return f"deploy {deploy.label}: changed files not known"
    touched = [path for path in deploy.files if _under_any(path, migration_paths)]
    if not touched:
        return None
    # A declared "reversible" marker is the pipeline's claim, not a check; it is shown, not trusted.
    marker = deploy.metadata.get("schema_migration")
    declared = (
        f" (declared schema_migration: {marker}, not verified)" if marker else " without a schema_migration marker"
    )
    return f"deploy {deploy.label} changed {', '.join(touched)}{declared}"


def _under_any(path: str, prefixes: Sequence[str]) -> bool:
    path = path.removeprefix("./")
    for prefix in prefixes:
        prefix = prefix.removeprefix("./")
        if any(char in prefix for char in "*?["):
            if fnmatchcase(path, prefix):
                return True
            continue
        base = prefix.rstrip("/")
        if path == base or path.startswith(base + "/"):
            return True
    return False


def _required_roles(readiness: RollbackReadiness, approval_from: Sequence[str]) -> list[str]:
    # Schema doubt is the database owner's call (seed 8.3 lists database_owner beside the commander).
    extra = ["database_owner"] if readiness.answer("schema") != "yes" else []
    return list(dict.fromkeys([*approval_from, *extra]))


def _unchecked_reason(unchecked: Sequence[str]) -> list[str]:
    if not unchecked:
        return []
    return [f"{NOT_CHECKED}: {', '.join(unchecked)}; the approver confirms these"]


def _answered_no(answer: Answer) -> bool | None:
    return None if answer == "unknown" else answer == "no"
