"""Rollback readiness: the checklist answers and the conditional recommendation built on them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from bot.approvals.readiness import (
    CHECK_NAMES,
    NOT_CHECKED,
    QUESTIONS,
    DeployFact,
    ReadinessCheck,
    RollbackReadiness,
    check_rollback_readiness,
    recommend_rollback,
)

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
MIGRATIONS = ["db/migrations/"]
COMMANDERS = ["incident_commander", "sre_oncall"]


def deploy(version: str, minute: int, files: list[str] | None = None, **kwargs) -> DeployFact:
    sha = hashlib.sha1(version.encode()).hexdigest()
    return DeployFact(version=version, sha=sha, at=START + timedelta(minutes=minute), files=files, **kwargs)


TARGET = deploy("v2.17.3", 0, files=["src/app.py"], artifact_available=True)
CODE_ONLY = deploy("v2.18.0", 52, files=["src/routing.py"])
MIGRATION_UNMARKED = deploy("v2.18.0", 52, files=["src/routing.py", "db/migrations/0042_split_orders.sql"])
MIGRATION_IRREVERSIBLE = deploy(
    "v2.18.0", 52, files=["db/migrations/0042_split_orders.sql"], metadata={"schema_migration": "irreversible"}
)
IRREVERSIBLE_NO_FILES = deploy("v2.18.0", 52, files=None, metadata={"schema_migration": "irreversible"})
MIGRATION_CLAIMED_REVERSIBLE = deploy(
    "v2.18.0", 52, files=["db/migrations/0042_split_orders.sql"], metadata={"schema_migration": "reversible"}
)
FILES_UNKNOWN = deploy("v2.18.0", 52, files=None)


def readiness(
    deploys: list[DeployFact],
    *,
    artifact: bool | None = None,
    migration_paths: list[str] | None = None,
) -> RollbackReadiness:
    return check_rollback_readiness(
        service="payment-api",
        environment="production",
        current_version="v2.18.0",
        target_version="v2.17.3",
        deploys=deploys,
        migration_paths=MIGRATIONS if migration_paths is None else migration_paths,
        target_artifact_available=artifact,
    )


@pytest.mark.parametrize(
    ("deploys", "migration_paths", "answer", "source_mentions"),
    [
        pytest.param([TARGET, CODE_ONLY], MIGRATIONS, "yes", "no change under db/migrations/", id="code-only"),
        pytest.param(
            [TARGET, MIGRATION_IRREVERSIBLE], MIGRATIONS, "no", "schema_migration: irreversible", id="irreversible"
        ),
        pytest.param(
            [TARGET, IRREVERSIBLE_NO_FILES],
            MIGRATIONS,
            "no",
            "schema_migration: irreversible",
            id="irreversible-marker-wins-without-files",
        ),
        pytest.param(
            [TARGET, CODE_ONLY, MIGRATION_IRREVERSIBLE.model_copy(update={"version": "v2.18.1"})],
            MIGRATIONS,
            "no",
            "v2.18.1",
            id="irreversible-in-a-middle-deploy",
        ),
        pytest.param(
            [TARGET, MIGRATION_UNMARKED],
            MIGRATIONS,
            "unknown",
            "db/migrations/0042_split_orders.sql",
            id="migration-without-marker",
        ),
        pytest.param(
            [TARGET, MIGRATION_CLAIMED_REVERSIBLE],
            MIGRATIONS,
            "unknown",
            "not verified",
            id="reversible-claim-is-shown-not-trusted",
        ),
        pytest.param([TARGET, FILES_UNKNOWN], MIGRATIONS, "unknown", "changed files not known", id="files-unknown"),
        pytest.param([TARGET], MIGRATIONS, "unknown", "no deploy record", id="no-history"),
        pytest.param([TARGET, CODE_ONLY], [], "unknown", "no migration_paths", id="no-migration-paths"),
        pytest.param(
            [TARGET, deploy("v2.18.0", 52, files=["db/migrations_old/x.sql"])],
            ["db/migrations"],
            "yes",
            "no change",
            id="prefix-is-a-directory",
        ),
        pytest.param(
            [TARGET, deploy("v2.18.0", 52, files=["./db/migrations/x.sql"])],
            ["db/migrations"],
            "unknown",
            "db/migrations/x.sql",
            id="dot-slash",
        ),
        pytest.param(
            [TARGET, deploy("v2.18.0", 52, files=["services/pay/migrate/0001.py"])],
            ["services/*/migrate/*"],
            "unknown",
            "0001.py",
            id="glob",
        ),
        # The target's own migration is part of the state we roll back to, not something to undo.
        pytest.param(
            [
                deploy("v2.17.3", 0, files=["db/migrations/0041.sql"], metadata={"schema_migration": "irreversible"}),
                CODE_ONLY,
            ],
            MIGRATIONS,
            "yes",
            "no change",
            id="target-own-migration-ignored",
        ),
    ],
)
def test_schema_answer(deploys, migration_paths, answer, source_mentions):
    check = readiness(deploys, artifact=True, migration_paths=migration_paths).check("schema")
    assert (check.answer, source_mentions in check.source) == (answer, True), check.source


@pytest.mark.parametrize(
    ("deploys", "artifact", "answer"),
    [
        pytest.param([TARGET, CODE_ONLY], True, "yes", id="known-available"),
        pytest.param([TARGET, CODE_ONLY], False, "no", id="known-missing"),
        pytest.param([TARGET, CODE_ONLY], None, "yes", id="from-target-deploy-record"),
        pytest.param(
            [TARGET.model_copy(update={"artifact_available": False}), CODE_ONLY],
            None,
            "no",
            id="target-deploy-record-missing",
        ),
        pytest.param([CODE_ONLY], None, "unknown", id="no-record"),
        pytest.param(
            [TARGET.model_copy(update={"artifact_available": None}), CODE_ONLY], None, "unknown", id="record-silent"
        ),
    ],
)
def test_artifact_answer(deploys, artifact, answer):
    assert readiness(deploys, artifact=artifact).answer("artifact") == answer


def test_the_checklist_has_the_seeds_eight_questions_in_order_and_admits_what_it_cannot_know():
    result = readiness([TARGET, CODE_ONLY], artifact=True)
    assert [check.name for check in result.checks] == list(CHECK_NAMES) == list(QUESTIONS)
    unchecked = {
        check.name: (check.answer, check.source) for check in result.checks if check.name not in ("artifact", "schema")
    }
    assert unchecked == {
        name: ("unknown", NOT_CHECKED)
        for name in ("config", "data", "events", "side_effects", "runtime", "observability")
    }


def test_deploy_order_does_not_matter():
    forward = readiness(
        [TARGET, CODE_ONLY, MIGRATION_UNMARKED.model_copy(update={"version": "v2.18.1"})], artifact=True
    )
    backward = readiness(
        [MIGRATION_UNMARKED.model_copy(update={"version": "v2.18.1"}), CODE_ONLY, TARGET], artifact=True
    )
    assert forward == backward


@pytest.mark.parametrize(
    ("deploys", "artifact", "facts"),
    [
        (
            [TARGET, CODE_ONLY],
            True,
            {"irreversible_schema_migration_detected": False, "previous_artifact_missing": False},
        ),
        (
            [TARGET, MIGRATION_IRREVERSIBLE],
            False,
            {"irreversible_schema_migration_detected": True, "previous_artifact_missing": True},
        ),
        (
            [CODE_ONLY, MIGRATION_UNMARKED],
            None,
            {"irreversible_schema_migration_detected": None, "previous_artifact_missing": None},
        ),
    ],
    ids=["all-clear", "both-denying", "both-unknown"],
)
def test_policy_facts_come_from_the_checklist_and_stay_unknown_when_unknown(deploys, artifact, facts):
    assert readiness(deploys, artifact=artifact).policy_facts() == facts


@pytest.mark.parametrize(
    ("deploys", "artifact", "flags", "verdict", "confidence", "first_step"),
    [
        pytest.param(
            [TARGET, MIGRATION_IRREVERSIBLE],
            True,
            ["checkout.new-routing"],
            "not_recommended",
            "high",
            "turn flag checkout.new-routing off",
            id="irreversible-migration-with-flag",
        ),
        pytest.param(
            [TARGET, MIGRATION_IRREVERSIBLE],
            True,
            [],
            "not_recommended",
            "high",
            "roll forward with a fix after expert review",
            id="irreversible-migration-no-flag",
        ),
        pytest.param(
            [TARGET, CODE_ONLY],
            False,
            ["checkout.new-routing"],
            "not_recommended",
            "high",
            "turn flag checkout.new-routing off",
            id="artifact-missing-with-flag",
        ),
        pytest.param(
            [TARGET, CODE_ONLY],
            False,
            [],
            "not_recommended",
            "high",
            "roll forward with a fix after expert review",
            id="artifact-missing-no-flag",
        ),
        pytest.param(
            [CODE_ONLY], None, [], "hold", "low", "confirm the artifact for v2.17.3 exists", id="artifact-unknown"
        ),
        pytest.param(
            [TARGET, MIGRATION_UNMARKED],
            True,
            ["checkout.new-routing"],
            "rollback_candidate",
            "low",
            "turn flag checkout.new-routing off",
            id="schema-unknown-flag-first",
        ),
        pytest.param(
            [TARGET, MIGRATION_UNMARKED],
            True,
            [],
            "rollback_candidate",
            "low",
            "confirm schema compatibility with the database_owner",
            id="schema-unknown-no-flag",
        ),
        pytest.param(
            [TARGET, CODE_ONLY],
            True,
            ["checkout.new-routing"],
            "rollback_candidate",
            "medium",
            "roll back payment-api in production to v2.17.3",
            id="clean-but-six-checks-unverified",
        ),
    ],
)
def test_recommendation(deploys, artifact, flags, verdict, confidence, first_step):
    advice = recommend_rollback(readiness(deploys, artifact=artifact), flags=flags, approval_from=COMMANDERS)
    assert (advice.recommendation, advice.confidence, advice.safe_next_step[0]) == (verdict, confidence, first_step)


def test_an_irreversible_migration_turns_away_from_rollback_and_says_why():
    advice = recommend_rollback(
        readiness([TARGET, MIGRATION_IRREVERSIBLE], artifact=True),
        flags=["checkout.new-routing"],
        approval_from=COMMANDERS,
    )
    assert advice.safe_next_step == [
        "turn flag checkout.new-routing off",
        "roll forward with a fix after expert review",
    ]
    assert any("schema_migration: irreversible" in reason for reason in advice.reasons)
    assert advice.required_approval == ["database_owner"]
    assert not any(step.startswith("roll back") for step in advice.safe_next_step)


def test_a_missing_artifact_turns_away_from_rollback_and_says_why():
    advice = recommend_rollback(readiness([TARGET, CODE_ONLY], artifact=False), approval_from=COMMANDERS)
    assert advice.recommendation == "not_recommended"
    assert any("artifact for v2.17.3 missing" in reason for reason in advice.reasons)


def test_unknown_schema_is_a_blocking_uncertainty_for_the_database_owner():
    advice = recommend_rollback(readiness([TARGET, MIGRATION_UNMARKED], artifact=True), approval_from=COMMANDERS)
    assert advice.blocking_uncertainties == [
        f"schema compatibility not confirmed: deploy {MIGRATION_UNMARKED.label} changed"
        " db/migrations/0042_split_orders.sql without a schema_migration marker"
    ]
    assert advice.required_approval == ["incident_commander", "sre_oncall", "database_owner"]


def test_a_clean_candidate_still_names_what_steward_did_not_check():
    advice = recommend_rollback(readiness([TARGET, CODE_ONLY], artifact=True), approval_from=COMMANDERS)
    assert advice.blocking_uncertainties == []
    assert advice.required_approval == COMMANDERS
    assert any("config, data, events, side_effects, runtime, observability" in reason for reason in advice.reasons)


def test_hold_names_every_open_question():
    advice = recommend_rollback(readiness([CODE_ONLY, MIGRATION_UNMARKED.model_copy(update={"version": "v2.18.1"})]))
    assert advice.recommendation == "hold"
    assert [item.split(" not confirmed")[0] for item in advice.blocking_uncertainties] == [
        "artifact for v2.17.3",
        "schema compatibility",
    ]


def test_confidence_is_high_only_when_every_check_is_answered_yes():
    every_yes = readiness([TARGET, CODE_ONLY], artifact=True).model_copy(
        update={"checks": [ReadinessCheck(name=name, answer="yes", source="runbook check") for name in CHECK_NAMES]}
    )
    advice = recommend_rollback(every_yes, approval_from=COMMANDERS)
    assert (advice.recommendation, advice.confidence) == ("rollback_candidate", "high")


def test_any_no_turns_away_even_one_steward_does_not_check_itself():
    data_no = readiness([TARGET, CODE_ONLY], artifact=True).model_copy(
        update={
            "checks": [
                ReadinessCheck(name=name, answer="no" if name == "data" else "yes", source="database_owner note")
                for name in CHECK_NAMES
            ]
        }
    )
    advice = recommend_rollback(data_no, flags=["checkout.new-routing"])
    assert advice.recommendation == "not_recommended"
    assert advice.reasons == ["rollback to v2.17.3 is unsafe: data: database_owner note"]
