"""Policy: which rule fires, what it decides, and config mistakes that name their file and key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from bot.approvals.readiness import DeployFact, check_rollback_readiness
from bot.errors import ConfigError
from bot.policy.service import (
    CONDITIONS,
    PolicyInput,
    PolicySet,
    actor_denied,
    evaluate,
    load_policies,
    parse_policies,
)
from tests.support.paths import ROOT

EXAMPLE = ROOT / "examples" / "config" / "policies.yml"
COMMANDERS = ["incident_commander", "sre_oncall"]
ALL_ROLES = ["incident_commander", "sre_oncall", "comms", "database_owner", "service_owner"]


def entry(id: str, environment: str = "production", decision: str = "approval_required", **rest: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": id, "action": "disable_flag", "environment": environment, "decision": decision}
    if decision == "approval_required":
        body["approval_from"] = {"any_of": ["incident_commander"]}
    return {**body, **rest}


def policies(*entries: dict[str, Any]) -> PolicySet:
    return parse_policies({"policies": list(entries)})


def facts(**given: Any) -> PolicyInput:
    known = {
        "action": "disable_flag",
        "environment": "production",
        "incident_mode": True,
        "actor_is_agent": False,
        "criticality": "payment",
        "irreversible_schema_migration_detected": False,
        "previous_artifact_missing": False,
    }
    return PolicyInput(**{**known, **given})


# --- precedence -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "given", "decision", "rule_id"),
    [
        pytest.param(
            [entry("any-env", "*", "allow"), entry("prod")],
            {},
            "approval_required",
            "prod",
            id="exact-environment-beats-star-even-when-later",
        ),
        pytest.param(
            [entry("prod"), entry("any-env", "*", "allow")],
            {"environment": "staging"},
            "allow",
            "any-env",
            id="star-when-no-exact",
        ),
        pytest.param(
            [entry("first", decision="allow"), entry("second", decision="deny")],
            {},
            "allow",
            "first",
            id="first-of-equals-wins",
        ),
        pytest.param(
            [entry("star-1", "*", "deny"), entry("star-2", "*", "allow")],
            {},
            "deny",
            "star-1",
            id="first-of-equal-stars-wins",
        ),
        pytest.param([entry("prod")], {"environment": "staging"}, "deny", None, id="no-match-denies"),
        pytest.param(
            [entry("prod")], {"action": "rollback_deployment"}, "deny", None, id="other-action-does-not-match"
        ),
        pytest.param([entry("prod")], {"environment": "Production"}, "deny", None, id="environment-match-is-exact"),
        pytest.param([], {}, "deny", None, id="empty-policy-denies"),
        pytest.param(
            [entry("prod", decision="allow", denied_when=[{"incident_mode": False}])],
            {"incident_mode": False},
            "deny",
            "prod",
            id="denied-when-beats-allow",
        ),
        pytest.param(
            [entry("prod", denied_when=[{"criticality": ["payment"]}])],
            {},
            "deny",
            "prod",
            id="denied-when-beats-approval-required",
        ),
        pytest.param(
            [entry("prod", decision="allow", allowed_when=[{"incident_mode": True}])],
            {"incident_mode": False},
            "deny",
            "prod",
            id="allowed-when-failing-denies",
        ),
        pytest.param(
            [entry("prod", decision="allow", allowed_when=[{"incident_mode": True}, {"criticality": ["internal"]}])],
            {},
            "deny",
            "prod",
            id="every-allowed-when-must-hold",
        ),
        pytest.param(
            [
                entry(
                    "prod",
                    decision="allow",
                    allowed_when=[{"incident_mode": True}, {"criticality": ["payment", "internal"]}],
                )
            ],
            {},
            "allow",
            "prod",
            id="all-allowed-when-hold",
        ),
        pytest.param([entry("prod", decision="deny")], {}, "deny", "prod", id="deny-entry"),
        pytest.param(
            [entry("prod", denied_when=[{"criticality": ["compliance"]}])],
            {},
            "approval_required",
            "prod",
            id="denied-when-not-holding",
        ),
    ],
)
def test_which_rule_fires_and_what_it_decides(entries, given, decision, rule_id):
    result = evaluate(policies(*entries), facts(**given))
    assert (result.decision, result.rule_id) == (decision, rule_id), result.reasons


def test_no_match_says_it_failed_closed():
    result = evaluate(policies(entry("prod")), facts(environment="dev"))
    assert result.reasons == ["no policy matches disable_flag in dev (fail closed)"]
    assert result.approval_from == []
    assert result.audit_fields  # a denial is audited too


def test_a_denial_lists_every_reason_and_offers_no_approvers():
    rule = entry(
        "prod",
        allowed_when=[{"incident_mode": True}],
        denied_when=[{"approval_actor_is_agent": True}, {"criticality": ["payment"]}],
    )
    result = evaluate(policies(rule), facts(incident_mode=False, actor_is_agent=True))
    assert result.decision == "deny"
    assert result.approval_from == [] and result.evidence_required == []
    assert result.reasons == [
        "denied_when approval_actor_is_agent: true holds (rule prod)",
        "denied_when criticality: payment holds (rule prod)",
        "allowed_when incident_mode: true does not hold: incident_mode is false (rule prod)",
    ]


# --- unknown facts fail closed --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "unknown", "decision"),
    [
        pytest.param(
            entry("p", decision="allow", allowed_when=[{"incident_mode": True}]),
            "incident_mode",
            "deny",
            id="allowed-when-unknown-does-not-hold",
        ),
        pytest.param(
            entry("p", decision="allow", allowed_when=[{"criticality": ["payment"]}]),
            "criticality",
            "deny",
            id="allowed-when-criticality-unknown",
        ),
        pytest.param(
            entry("p", denied_when=[{"incident_mode": False}]),
            "incident_mode",
            "deny",
            id="denied-when-unknown-incident-mode-denies",
        ),
        pytest.param(
            entry("p", denied_when=[{"criticality": ["payment"]}]),
            "criticality",
            "deny",
            id="denied-when-unknown-criticality-denies",
        ),
        pytest.param(
            entry("p", denied_when=[{"irreversible_schema_migration_detected": True}]),
            "irreversible_schema_migration_detected",
            "approval_required",
            id="unknown-schema-goes-to-the-approver",
        ),
        pytest.param(
            entry("p", denied_when=[{"previous_artifact_missing": True}]),
            "previous_artifact_missing",
            "approval_required",
            id="unknown-artifact-goes-to-the-approver",
        ),
        pytest.param(
            entry("p", denied_when=[{"approval_actor_is_agent": True}]),
            "actor_is_agent",
            "approval_required",
            id="unknown-actor-is-checked-at-approval",
        ),
        pytest.param(
            entry("p", decision="allow", denied_when=[{"irreversible_schema_migration_detected": True}]),
            "irreversible_schema_migration_detected",
            "deny",
            id="unknown-under-allow-denies-nobody-looks",
        ),
        pytest.param(
            entry("p", decision="allow", denied_when=[{"approval_actor_is_agent": True}]),
            "actor_is_agent",
            "deny",
            id="unknown-actor-under-allow-denies",
        ),
    ],
)
def test_unknown_facts(rule, unknown, decision):
    result = evaluate(policies(rule), facts(**{unknown: None}))
    assert result.decision == decision, result.reasons
    assert any("unknown" in reason for reason in result.reasons)


def test_an_unknown_readiness_fact_is_said_not_hidden():
    rule = entry("p", denied_when=[{"irreversible_schema_migration_detected": True}])
    result = evaluate(policies(rule), facts(irreversible_schema_migration_detected=None))
    assert (
        "irreversible_schema_migration_detected is unknown: the approver sees it as unknown in the rollback readiness checklist"
        in result.reasons
    )


def test_an_unknown_action_is_denied_not_an_error():
    result = evaluate(policies(entry("p")), facts(action="rotate_secret"))
    assert (result.decision, result.rule_id) == ("deny", None)


# --- approval time ----------------------------------------------------------------------------------


def test_an_agent_may_not_approve_where_the_rule_says_so():
    rules = policies(
        entry("guarded", denied_when=[{"approval_actor_is_agent": True}]), entry("open", environment="staging")
    )
    assert "an agent may not approve" in actor_denied(rules, "guarded", actor_is_agent=True)
    assert actor_denied(rules, "guarded", actor_is_agent=False) is None
    assert actor_denied(rules, "open", actor_is_agent=True) is None


def test_a_rule_gone_since_the_request_refuses_the_approval():
    assert "no longer exists" in actor_denied(policies(entry("p")), "removed-rule", actor_is_agent=False)
    assert "no longer exists" in actor_denied(policies(entry("p")), None, actor_is_agent=False)


# --- the shipped example ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> PolicySet:
    return load_policies(EXAMPLE)


@pytest.mark.parametrize("action", ["disable_flag", "rollback_deployment"])
def test_the_shipped_policy_never_lets_production_change_without_a_commander_or_sre(shipped, action):
    result = evaluate(shipped, facts(action=action))
    assert (result.decision, result.approval_from) == ("approval_required", COMMANDERS)
    assert set(result.audit_fields) >= {"evidence_hash", "approver", "reason", "telemetry_before", "telemetry_after"}


@pytest.mark.parametrize(
    ("action", "given"),
    [
        ("disable_flag", {"incident_mode": False}),
        ("disable_flag", {"actor_is_agent": True}),
        ("rollback_deployment", {"incident_mode": False}),
        ("rollback_deployment", {"irreversible_schema_migration_detected": True}),
        ("rollback_deployment", {"previous_artifact_missing": True}),
        ("rollback_deployment", {"actor_is_agent": True}),
        ("disable_flag", {"environment": "dev"}),
        ("rollback_deployment", {"environment": "prod"}),
    ],
)
def test_the_shipped_policy_denies(shipped, action, given):
    assert evaluate(shipped, facts(action=action, **given)).decision == "deny"


def test_no_shipped_rule_allows_everything(shipped):
    assert all(rule.environment != "*" for rule in shipped.policies)
    assert [rule.id for rule in shipped.policies if rule.decision == "allow"] == ["flag-off-staging"]


def test_the_shipped_rollback_evidence_is_the_seeds(shipped):
    result = evaluate(shipped, facts(action="rollback_deployment"))
    assert result.evidence_required == [
        "current_version",
        "target_previous_version",
        "rollback_compatibility_check",
        "blast_radius_assessment",
    ]


@pytest.mark.parametrize(
    ("action", "given", "decision", "roles"),
    [
        ("disable_flag", {"incident_mode": False}, "allow", []),
        ("disable_flag", {"incident_mode": None}, "allow", []),
        ("disable_flag", {"actor_is_agent": True}, "deny", []),
        ("rollback_deployment", {"incident_mode": False}, "approval_required", ALL_ROLES),
        ("rollback_deployment", {"irreversible_schema_migration_detected": True}, "deny", []),
    ],
)
def test_the_shipped_staging_rules(shipped, action, given, decision, roles):
    result = evaluate(shipped, facts(action=action, environment="staging", **given))
    assert (result.decision, result.approval_from) == (decision, roles), result.reasons
    assert result.audit_fields


def test_policy_check_output_is_json_with_decision_rule_and_reasons(shipped):
    printed = json.loads(evaluate(shipped, facts()).as_json())
    assert printed["decision"] == "approval_required"
    assert printed["rule_id"] == "flag-off-production"
    assert printed["reasons"] == [
        "rule flag-off-production: disable_flag in production needs approval from incident_commander or sre_oncall"
    ]


# --- config errors ------------------------------------------------------------------------------

BASE = entry("a")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"policies": [BASE, entry("b", denied_when=[{"is_friday": True}])]},
            "policies.yml: policies[1].denied_when[0]: unknown condition 'is_friday' (known: "
            + ", ".join(CONDITIONS)
            + ")",
            id="unknown-condition",
        ),
        pytest.param(
            {"policies": [entry("a", allowed_when=[{"incident_mode": "yes"}])]},
            "policies.yml: policies[0].allowed_when[0].incident_mode: expected true or false, got 'yes'",
            id="condition-wrong-type",
        ),
        pytest.param(
            {"policies": [entry("a", allowed_when=[{"incident_mode": 1}])]},
            "policies.yml: policies[0].allowed_when[0].incident_mode: expected true or false, got 1",
            id="condition-int-is-not-bool",
        ),
        pytest.param(
            {"policies": [entry("a", denied_when=[{"criticality": ["payment", "banking"]}])]},
            "policies.yml: policies[0].denied_when[0].criticality: expected a non-empty list of internal, "
            "customer-facing, payment, compliance; got ['payment', 'banking']",
            id="unknown-criticality",
        ),
        pytest.param(
            {"policies": [entry("a", denied_when=[{"criticality": "payment"}])]},
            "policies.yml: policies[0].denied_when[0].criticality: expected a non-empty list",
            id="criticality-not-a-list",
        ),
        pytest.param(
            {"policies": [entry("a", allowed_when=[{"incident_mode": True, "criticality": ["payment"]}])]},
            "policies.yml: policies[0].allowed_when[0]: a condition is one key and its value",
            id="two-keys-in-one-condition",
        ),
        pytest.param(
            {"policies": [entry("a", allowed_when=["incident_mode"])]},
            "policies.yml: policies[0].allowed_when[0]: a condition is one key",
            id="bare-condition-name",
        ),
        pytest.param(
            {"policies": [entry("a", allowed_when={"incident_mode": True})]},
            "policies.yml: policies[0].allowed_when: Input should be a valid list",
            id="conditions-not-a-list",
        ),
        pytest.param(
            {"policies": [BASE, entry("b"), entry("a", environment="staging")]},
            "policies.yml: policies[2].id: duplicate id 'a' (first at policies[0])",
            id="duplicate-id",
        ),
        pytest.param(
            {"policies": [{**BASE, "desicion": "allow"}]},
            "policies.yml: policies[0].desicion: unknown key 'desicion' (known: id, action, environment,",
            id="unknown-entry-key",
        ),
        pytest.param(
            {"policies": [], "defaults": {}},
            "policies.yml: defaults: unknown key 'defaults' (known: policies)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            {"policies": [{**BASE, "action": "rotate_secret"}]},
            "policies.yml: policies[0].action: Input should be 'disable_flag' or 'rollback_deployment', got 'rotate_secret'",
            id="unknown-action",
        ),
        pytest.param(
            {"policies": [{**BASE, "decision": "maybe"}]},
            "policies.yml: policies[0].decision: Input should be",
            id="unknown-decision",
        ),
        pytest.param(
            {"policies": [{**BASE, "approval_from": {"any_of": ["cto"]}}]},
            "policies.yml: policies[0].approval_from.any_of[0]: Input should be 'incident_commander'",
            id="unknown-role",
        ),
        pytest.param(
            {"policies": [{**BASE, "approval_from": {"all_of": ["sre_oncall"]}}]},
            "policies.yml: policies[0].approval_from.all_of: unknown key 'all_of' (known: any_of)",
            id="all-of",
        ),
        pytest.param(
            {"policies": [{**BASE, "approval_from": {"any_of": []}}]},
            "policies.yml: policies[0].approval_from.any_of: List should have at least 1 item",
            id="no-approvers",
        ),
        pytest.param(
            {"policies": [{k: v for k, v in BASE.items() if k != "approval_from"}]},
            "policies.yml: policies[0].approval_from: required when decision is approval_required",
            id="approval-required-without-approvers",
        ),
        pytest.param(
            {"policies": [entry("a", decision="allow", approval_from={"any_of": ["sre_oncall"]})]},
            "policies.yml: policies[0].approval_from: only applies to approval_required",
            id="approvers-on-allow",
        ),
        pytest.param(
            {"policies": [{k: v for k, v in BASE.items() if k != "environment"}]},
            "policies.yml: policies[0].environment: required key missing",
            id="missing-environment",
        ),
        pytest.param(
            {"policies": [{**BASE, "environment": "prod uction"}]},
            "policies.yml: policies[0].environment: expected a name of letters, digits, '.', '_' or '-' or \"*\", got 'prod uction'",
            id="bad-environment",
        ),
        pytest.param(
            {"policies": [{**BASE, "evidence_required": ["gut_feeling"]}]},
            "policies.yml: policies[0].evidence_required[0]: Input should be 'current_state'",
            id="unknown-evidence",
        ),
        pytest.param(
            {"policies": [{**BASE, "audit": {"required": False}}]},
            "policies.yml: policies[0].audit.required: cannot be false",
            id="audit-off",
        ),
        pytest.param(
            {"policies": [{**BASE, "audit": {"fields": ["aprover"]}}]},
            "policies.yml: policies[0].audit.fields[0]: Input should be",
            id="unknown-audit-field",
        ),
        pytest.param(
            {"policies": [{**BASE, "audit": {"required": True, "retention": "1y"}}]},
            "policies.yml: policies[0].audit.retention: unknown key 'retention' (known: required, fields)",
            id="unknown-audit-key",
        ),
        pytest.param(
            {"policies": "all"}, "policies.yml: policies: Input should be a valid list", id="policies-not-a-list"
        ),
        pytest.param({"polices": []}, "policies.yml: polices: unknown key 'polices'", id="misspelt-policies"),
        pytest.param([], "policies.yml: expected a mapping with a 'policies' list; got list", id="top-level-list"),
        pytest.param(
            None, "policies.yml: expected a mapping with a 'policies' list; the file is empty", id="empty-file"
        ),
    ],
)
def test_config_errors_name_the_file_and_the_key(tmp_path, body, message):
    path = tmp_path / "policies.yml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_policies(path)
    assert str(raised.value).startswith(message), str(raised.value)


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "policies.yml"
    path.write_text(
        yaml.safe_dump({"policies": [{**BASE, "action": "x"}, {**entry("b"), "decision": "y"}]}), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as raised:
        load_policies(path)
    lines = str(raised.value).splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["policies[0].action", "policies[1].decision"]


def test_unreadable_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"^policies.yml: file not found"):
        load_policies(tmp_path / "policies.yml")
    broken = tmp_path / "policies.yml"
    broken.write_text("policies: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^policies.yml: not valid YAML"):
        load_policies(broken)


def test_the_schema_describes_conditions_as_the_file_spells_them():
    schema = PolicySet.model_json_schema()
    condition = schema["$defs"]["Condition"]
    assert [next(iter(option["required"])) for option in condition["oneOf"]] == list(CONDITIONS)
    assert all(option["additionalProperties"] is False for option in condition["oneOf"])
    assert schema["$defs"]["PolicyEntry"]["additionalProperties"] is False
    json.dumps(schema)  # printable by `steward config schema`


def test_a_loaded_policy_set_round_trips_through_its_own_dump(shipped):
    assert PolicySet.model_validate(shipped.model_dump()) == shipped
    assert shipped.model_dump()["policies"][1]["denied_when"][0] == {"irreversible_schema_migration_detected": True}


# --- readiness facts feed the policy ------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "artifact", "decision"),
    [
        ({"schema_migration": "irreversible"}, True, "deny"),
        ({}, False, "deny"),
        ({}, True, "approval_required"),
        ({}, None, "approval_required"),
    ],
    ids=["irreversible-migration", "artifact-missing", "clear", "artifact-unknown-goes-to-approver"],
)
def test_the_readiness_checklist_decides_the_rollback_facts(shipped, metadata, artifact, decision):
    current = DeployFact(
        version="v2.18.0",
        at=datetime(2026, 11, 25, 9, 52, tzinfo=UTC),
        files=["db/migrations/0042.sql"],
        metadata=metadata,
    )
    checklist = check_rollback_readiness(
        service="payment-api",
        environment="production",
        current_version="v2.18.0",
        target_version="v2.17.3",
        deploys=[current],
        migration_paths=["db/migrations/"],
        target_artifact_available=artifact,
    )
    result = evaluate(shipped, facts(action="rollback_deployment", **checklist.policy_facts()))
    assert result.decision == decision, result.reasons
