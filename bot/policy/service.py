"""Policy: the models of `policies.yml` and the decision for one requested action (allow, deny or
approval_required, with the rule that fired and why). Pure: the caller gathers the facts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_serializer, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.errors import ConfigError

# The names `evidence_required` in policies.yml may use; `missing_evidence` says how each is met.
EvidenceName = Literal[
    "current_state",
    "proposed_state",
    "current_version",
    "target_previous_version",
    "rollback_compatibility_check",
    "blast_radius_assessment",
    "event_refs",
    "undo_path",
    "expected_telemetry",
]

Action = Literal["disable_flag", "rollback_deployment"]
Decision = Literal["allow", "approval_required", "deny"]
Role = Literal["incident_commander", "sre_oncall", "comms", "database_owner", "service_owner"]
Criticality = Literal["internal", "customer-facing", "payment", "compliance"]
AuditField = Literal[
    "actor",
    "target",
    "environment",
    "decision",
    "rule",
    "evidence_hash",
    "approver",
    "reason",
    "telemetry_before",
    "telemetry_after",
]
ConditionName = Literal[
    "incident_mode",
    "criticality",
    "irreversible_schema_migration_detected",
    "previous_artifact_missing",
    "approval_actor_is_agent",
]

ROLES: tuple[str, ...] = get_args(Role)
CRITICALITIES: tuple[str, ...] = get_args(Criticality)
CONDITIONS: tuple[str, ...] = get_args(ConditionName)
ANY_ENVIRONMENT = "*"
# Recorded when no rule matched, so even a fail-closed denial leaves a readable audit event.
DEFAULT_AUDIT_FIELDS: list[AuditField] = ["reason"]

# An unknown readiness fact is shown to the approver in the rollback checklist; an unknown approval
# actor is re-checked against the clicker at approval time (`actor_denied`). Both wait for a human,
# so under approval_required they do not deny by themselves. Any other unknown fact, and every
# unknown under `allow` (nobody looks before it runs), denies: the policy fails closed.
_UNKNOWN_SEEN_BY_APPROVER = frozenset(
    {"irreversible_schema_migration_detected", "previous_artifact_missing", "approval_actor_is_agent"}
)


class _ConfigModel(BaseModel):
    """A part of policies.yml: unknown keys are errors naming the key and what is known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    raise _config_error(
                        "unknown_key", f"unknown key {str(key)!r} (known: {', '.join(cls.model_fields)})", at=str(key)
                    )
        return data


class Condition(BaseModel):
    """One single-key condition from `allowed_when` / `denied_when`, e.g. `{incident_mode: true}`."""

    model_config = ConfigDict(frozen=True)

    name: ConditionName
    value: bool | tuple[Criticality, ...]

    @model_validator(mode="before")
    @classmethod
    def _from_single_key(cls, data: Any) -> Any:
        if isinstance(data, Condition):
            return data
        if not isinstance(data, dict) or len(data) != 1:
            raise _config_error(
                "condition_shape", f"a condition is one key and its value, e.g. {{incident_mode: true}}; got {data!r}"
            )
        [(name, value)] = data.items()
        if name not in CONDITIONS:
            raise _config_error(
                "unknown_condition", f"unknown condition {str(name)!r} (known: {', '.join(CONDITIONS)})"
            )
        return {"name": name, "value": _condition_value(name, value)}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        # The file spells a condition as a single-key mapping; describe that, not the parsed form.
        def single(name: str, schema: dict[str, Any]) -> dict[str, Any]:
            return {"type": "object", "properties": {name: schema}, "required": [name], "additionalProperties": False}

        criticality = {"type": "array", "items": {"enum": list(CRITICALITIES)}, "minItems": 1}
        return {
            "title": "Condition",
            "oneOf": [
                single(name, criticality if name == "criticality" else {"type": "boolean"}) for name in CONDITIONS
            ],
        }

    @model_serializer
    def as_yaml(self) -> dict[str, Any]:
        return {self.name: list(self.value) if isinstance(self.value, tuple) else self.value}

    def __str__(self) -> str:
        value = ", ".join(self.value) if isinstance(self.value, tuple) else str(self.value).lower()
        return f"{self.name}: {value}"


class ApprovalFrom(_ConfigModel):
    any_of: list[Role] = Field(min_length=1)


class Audit(_ConfigModel):
    required: bool = Field(default=True, json_schema_extra={"const": True})
    fields: list[AuditField] = Field(default_factory=lambda: list(DEFAULT_AUDIT_FIELDS))

    @field_validator("required")
    @classmethod
    def _always_audited(cls, required: bool) -> bool:
        if not required:
            raise PydanticCustomError(
                "audit_off", "cannot be false: every policy decision and action is audited (DESIGN section 8)"
            )
        return required


class PolicyEntry(_ConfigModel):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    action: Action
    environment: str = Field(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.-]*)$")
    decision: Decision
    allowed_when: list[Condition] = Field(default_factory=list)
    approval_from: ApprovalFrom | None = None
    evidence_required: list[EvidenceName] = Field(default_factory=list)
    denied_when: list[Condition] = Field(default_factory=list)
    audit: Audit = Field(default_factory=Audit)

    @model_validator(mode="after")
    def _approvers_match_decision(self) -> PolicyEntry:
        if self.decision == "approval_required" and self.approval_from is None:
            raise _config_error(
                "approval_from_missing", "required when decision is approval_required", at="approval_from"
            )
        if self.decision != "approval_required" and self.approval_from is not None:
            raise _config_error(
                "approval_from_unused",
                f"only applies to approval_required; this entry's decision is {self.decision}",
                at="approval_from",
            )
        return self

    @property
    def roles(self) -> list[str]:
        return list(self.approval_from.any_of) if self.approval_from else []


class PolicySet(_ConfigModel):
    policies: list[PolicyEntry]

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicySet:
        first_at: dict[str, int] = {}
        for index, entry in enumerate(self.policies):
            if entry.id in first_at:
                raise _config_error(
                    "duplicate_id",
                    f"duplicate id {entry.id!r} (first at policies[{first_at[entry.id]}])",
                    at=f"policies[{index}].id",
                )
            first_at[entry.id] = index
        return self

    def rule(self, rule_id: str | None) -> PolicyEntry | None:
        return next((entry for entry in self.policies if entry.id == rule_id), None)

    def match(self, action: str, environment: str) -> PolicyEntry | None:
        """The most specific entry: an exact environment beats "*"; among equals the first in the file."""
        candidates = [entry for entry in self.policies if entry.action == action]
        exact = [entry for entry in candidates if entry.environment == environment]
        wildcard = [entry for entry in candidates if entry.environment == ANY_ENVIRONMENT]
        return next(iter(exact or wildcard), None)


class PolicyInput(BaseModel):
    """The facts one decision is made on. None means unknown, never "fine".

    `actor_is_agent` is about whoever acts on this evaluation: the requester at request time (under
    `allow` their command is what executes), the clicker at approval time."""

    model_config = ConfigDict(frozen=True)

    action: str
    environment: str
    service: str | None = None
    criticality: Criticality | None = None
    incident_mode: bool | None = None
    irreversible_schema_migration_detected: bool | None = None
    previous_artifact_missing: bool | None = None
    actor_is_agent: bool | None = None
    actor: str | None = None


class PolicyDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision: Decision
    rule_id: str | None
    reasons: list[str]
    approval_from: list[str]
    evidence_required: list[str]
    audit_fields: list[str]

    def as_json(self) -> str:
        return json.dumps(self.model_dump(), indent=2)


def load_policies(path: Path) -> PolicySet:
    """Read and validate policies.yml; every problem is a ConfigError naming the file and key path."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: file not found at {path}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path.name}: not valid YAML: {error}") from None
    return parse_policies(raw, source=path.name)


def parse_policies(raw: Any, *, source: str = "policies.yml") -> PolicySet:
    """Validate already-parsed YAML; `source` is the file name the errors start with."""
    if not isinstance(raw, dict):
        found = "the file is empty" if raw is None else f"got {type(raw).__name__}"
        raise ConfigError(f"{source}: expected a mapping with a 'policies' list; {found}")
    try:
        return PolicySet.model_validate(raw)
    except ValidationError as error:
        # One line per problem, so a config with three typos is fixed in one pass.
        raise ConfigError("\n".join(_describe(detail, source) for detail in error.errors())) from None


def evaluate(policies: PolicySet, facts: PolicyInput) -> PolicyDecision:
    entry = policies.match(facts.action, facts.environment)
    if entry is None:
        return _deny(
            None, [f"no policy matches {facts.action} in {facts.environment} (fail closed)"], DEFAULT_AUDIT_FIELDS
        )
    refusals = [*_denials(entry, facts), *_unmet(entry, facts)]
    if entry.decision == "deny":
        refusals.append(f"rule {entry.id} denies {entry.action} in {entry.environment}")
    if refusals:
        return _deny(entry.id, refusals, entry.audit.fields)
    return PolicyDecision(
        decision=entry.decision,
        rule_id=entry.id,
        reasons=[_granted(entry, facts), *_tolerated_unknowns(entry, facts)],
        approval_from=entry.roles,
        evidence_required=list(entry.evidence_required),
        audit_fields=list(entry.audit.fields),
    )


def actor_denied(policies: PolicySet, rule_id: str | None, *, actor_is_agent: bool) -> str | None:
    """Re-check `approval_actor_is_agent` for the person approving; a reason when they may not.

    A rule that no longer exists (policies.yml changed since the request) refuses: fail closed."""
    entry = policies.rule(rule_id)
    if entry is None:
        return f"policy rule {rule_id} no longer exists; request again (fail closed)"
    hit = next(
        (
            condition
            for condition in entry.denied_when
            if condition.name == "approval_actor_is_agent" and condition.value == actor_is_agent
        ),
        None,
    )
    return f"denied by rule {entry.id}: {hit} (an agent may not approve this action)" if hit else None


def _denials(entry: PolicyEntry, facts: PolicyInput) -> list[str]:
    reasons = []
    for condition in entry.denied_when:
        holds = _holds(condition, facts)
        if holds:
            reasons.append(f"denied_when {condition} holds (rule {entry.id})")
        elif holds is None and not _unknown_waits_for_approver(entry, condition):
            reasons.append(f"denied_when {condition}: {_fact_name(condition)} is unknown (fail closed)")
    return reasons


def _unmet(entry: PolicyEntry, facts: PolicyInput) -> list[str]:
    reasons = []
    for condition in entry.allowed_when:
        holds = _holds(condition, facts)
        if holds is None:
            reasons.append(
                f"allowed_when {condition} does not hold: {_fact_name(condition)} is unknown (rule {entry.id})"
            )
        elif not holds:
            reasons.append(
                f"allowed_when {condition} does not hold: {_fact_name(condition)} is "
                f"{_shown(getattr(facts, _fact_name(condition)))} (rule {entry.id})"
            )
    return reasons


def _tolerated_unknowns(entry: PolicyEntry, facts: PolicyInput) -> list[str]:
    notes = []
    for condition in entry.denied_when:
        if _holds(condition, facts) is None:
            later = (
                "checked for the approver at approval time"
                if condition.name == "approval_actor_is_agent"
                else "the approver sees it as unknown in the rollback readiness checklist"
            )
            notes.append(f"{condition.name} is unknown: {later}")
    return notes


def _unknown_waits_for_approver(entry: PolicyEntry, condition: Condition) -> bool:
    return entry.decision == "approval_required" and condition.name in _UNKNOWN_SEEN_BY_APPROVER


def _granted(entry: PolicyEntry, facts: PolicyInput) -> str:
    where = f"{entry.action} in {facts.environment}"
    if entry.decision == "allow":
        return f"rule {entry.id} allows {where} without approval (audited)"
    return f"rule {entry.id}: {where} needs approval from {' or '.join(entry.roles)}"


def _deny(rule_id: str | None, reasons: list[str], audit_fields: Sequence[str]) -> PolicyDecision:
    return PolicyDecision(
        decision="deny",
        rule_id=rule_id,
        reasons=reasons,
        approval_from=[],
        evidence_required=[],
        audit_fields=list(audit_fields),
    )


# How each condition reads the facts; None when the fact it needs is unknown.
_FACT_OF: dict[str, str] = {
    "incident_mode": "incident_mode",
    "criticality": "criticality",
    "irreversible_schema_migration_detected": "irreversible_schema_migration_detected",
    "previous_artifact_missing": "previous_artifact_missing",
    "approval_actor_is_agent": "actor_is_agent",
}


def _fact_name(condition: Condition) -> str:
    return _FACT_OF[condition.name]


def _holds(condition: Condition, facts: PolicyInput) -> bool | None:
    fact = getattr(facts, _fact_name(condition))
    if fact is None:
        return None
    if isinstance(condition.value, tuple):
        return fact in condition.value
    return fact == condition.value


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _condition_value(name: str, value: Any) -> bool | tuple[str, ...]:
    if name == "criticality":
        return _criticality_list(value)
    # Strict: YAML 'yes' is already a bool, but a quoted "true" or a 1 is a typo we should name.
    if not isinstance(value, bool):
        raise _config_error("condition_value", f"expected true or false, got {value!r}", at=name)
    return value


def _criticality_list(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else None
    if not items or any(item not in CRITICALITIES for item in items):
        raise _config_error(
            "condition_value",
            f"expected a non-empty list of {', '.join(CRITICALITIES)}; got {value!r}",
            at="criticality",
        )
    return tuple(items)


def _config_error(kind: str, message: str, *, at: str | None = None) -> PydanticCustomError:
    # `at` extends the key path pydantic knows (the validator's own location) by the key at fault.
    return PydanticCustomError(kind, message, {"at": at} if at else None)


def _describe(error: ErrorDetails, source: str) -> str:
    path = _key_path(error["loc"], (error.get("ctx") or {}).get("at"))
    message = error["msg"]
    if error["type"] == "missing":
        message = "required key missing"
    elif error["type"] == "string_pattern_mismatch":
        wildcard = ' or "*"' if error["loc"][-1] == "environment" else ""
        message = f"expected a name of letters, digits, '.', '_' or '-'{wildcard}, got {error['input']!r}"
    elif error["type"] in _ECHO_INPUT:
        message = f"{message}, got {error['input']!r}"
    return f"{source}: {path}: {message}" if path else f"{source}: {message}"


# Pydantic's own messages for these say what is expected but not what was found.
_ECHO_INPUT = frozenset(
    {"literal_error", "string_type", "bool_type", "list_type", "dict_type", "model_type", "model_attributes_type"}
)


def _key_path(loc: tuple[Any, ...], at: str | None) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if at:
        path = f"{path}.{at}" if path else at
    return path
