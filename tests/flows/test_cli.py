"""The `steward` command line as an operator runs it: a separate process, configured by its environment."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.audit import service as audit
from bot.clock import ManualClock
from bot.store.db import Database
from bot.store.models import AuditEvent
from tests.support.paths import ROOT

INCIDENT = "INC-20261125-01"
OTHER_INCIDENT = "INC-20261125-02"


def steward(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "SLACK_", "DATABASE_URL"))}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def audited(db: Database, clock: ManualClock, *incidents: str) -> None:
    """What the gateway leaves behind: one policy decision per incident, in one chain."""
    with db.session() as session:
        for incident in incidents:
            audit.append(
                session,
                at=clock.advance(seconds=30),
                actor="U0ALICE",
                action="policy_decision",
                target="checkout.new-routing",
                environment="production",
                decision="approval_required",
                rule="flag-off-production",
                incident_id=incident,
                details={"dry_run": True},
            )


def test_audit_verify_exits_0_when_intact_and_1_naming_the_broken_link(db, clock, tmp_path):
    audited(db, clock, INCIDENT, OTHER_INCIDENT, INCIDENT)
    env = {"DATABASE_URL": db.url}
    intact = steward("audit", "verify", env=env, cwd=tmp_path)
    assert (intact.returncode, intact.stdout.strip()) == (0, "audit chain intact: 3 events")

    with db.session() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(decision="allow"))
    broken = steward("audit", "verify", env=env, cwd=tmp_path)
    assert broken.returncode == 1
    assert broken.stdout.startswith("audit chain broken at seq 2: hash does not match the event's contents")


def test_audit_verify_refuses_a_database_without_the_audit_log(tmp_path):
    empty = steward("audit", "verify", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}, cwd=tmp_path)
    assert (empty.returncode, empty.stderr.strip()) == (
        2,
        f"steward: DATABASE_URL: no database at {tmp_path / 'none.db'}",
    )
    assert not (tmp_path / "none.db").exists()
    sqlite3.connect(tmp_path / "bare.db").close()  # the file exists, its tables do not
    bare = steward("audit", "verify", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'bare.db'}"}, cwd=tmp_path)
    assert bare.returncode == 2 and "run `steward db upgrade` first" in bare.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_audit_export_writes_the_incidents_events_as_json_lines(db, clock, tmp_path):
    audited(db, clock, INCIDENT, OTHER_INCIDENT, INCIDENT)
    env = {"DATABASE_URL": db.url}
    result = steward("audit", "export", "--incident", INCIDENT, env=env, cwd=tmp_path)
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["seq"] for line in lines] == [1, 3]
    assert {line["incident_id"] for line in lines} == {INCIDENT}
    assert all(audit.event_hash(line["prev_hash"], line) == line["hash"] for line in lines)
    assert f"exported 2 audit events of {INCIDENT}" in result.stderr

    to_file = steward("audit", "export", "--incident", INCIDENT, "--output", "audit.jsonl", env=env, cwd=tmp_path)
    assert to_file.returncode == 0 and to_file.stdout == ""
    assert (tmp_path / "audit.jsonl").read_text() == result.stdout


def policy_check(config_dir: Path, *words: str) -> dict[str, Any]:
    result = steward("policy", "check", *words, env={"STEWARD_CONFIG": str(config_dir)}, cwd=config_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_policy_check_production_flag_off_needs_approval(config_dir):
    decision = policy_check(
        config_dir, "disable_flag", "env:production", "service:payment-api", "actor:U0ALICE", "incident_mode:true"
    )
    assert decision["decision"] == "approval_required"
    assert decision["rule_id"] == "flag-off-production"
    assert decision["approval_from"] == ["incident_commander", "sre_oncall"]
    assert decision["reasons"] == [
        "rule flag-off-production: disable_flag in production needs approval from incident_commander or sre_oncall"
    ]


def test_policy_check_fails_closed(config_dir):
    unknown_env = policy_check(config_dir, "disable_flag", "env:moon", "incident_mode:true")
    assert (unknown_env["decision"], unknown_env["rule_id"]) == ("deny", None)
    assert unknown_env["reasons"] == ["no policy matches disable_flag in moon (fail closed)"]
    no_incident_mode = policy_check(config_dir, "disable_flag", "env:production")
    assert no_incident_mode["decision"] == "deny"
    assert "incident_mode is unknown" in no_incident_mode["reasons"][0]


@pytest.mark.parametrize(
    ("actor", "decision"), [("B0STEWARD", "deny"), ("steward", "deny"), ("U0BOB", "approval_required")]
)
def test_policy_check_actor_decides_whether_an_agent_acts(config_dir, actor, decision):
    result = policy_check(config_dir, "rollback_deployment", "env:production", f"actor:{actor}", "incident_mode:true")
    assert result["decision"] == decision


def test_policy_check_takes_criticality_from_services_yml(config_dir):
    (config_dir / "policies.yml").write_text(
        "policies:\n"
        "  - {id: staging-flags, action: disable_flag, environment: staging, decision: allow,\n"
        "     denied_when: [{criticality: [payment]}]}\n"
    )
    assert policy_check(config_dir, "disable_flag", "env:staging", "service:payment-api")["decision"] == "deny"
    assert policy_check(config_dir, "disable_flag", "env:staging", "service:checkout-web")["decision"] == "allow"
    assert policy_check(config_dir, "disable_flag", "env:staging", "criticality:payment")["decision"] == "deny"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["disable_flag", "production"], "expected key:value"),
        (["disable_flag", "env:production", "incident_mode:yes"], "incident_mode is true or false"),
        (["rotate_secret", "env:production"], "invalid choice: 'rotate_secret'"),
        (["disable_flag", "service:payment-api"], "env:<environment> is required"),
        (["disable_flag", "env:production", "service:billing"], "services.yml: no service 'billing'"),
    ],
)
def test_policy_check_names_what_is_wrong_with_the_request(config_dir, words, expected):
    result = steward("policy", "check", *words, env={"STEWARD_CONFIG": str(config_dir)}, cwd=config_dir)
    assert result.returncode == 2 and expected in result.stderr


def test_config_check_accepts_the_example_policies(config_dir):
    result = steward("config", "check", env={"STEWARD_CONFIG": str(config_dir)}, cwd=config_dir)
    assert (result.returncode, result.stdout.strip()) == (0, f"{config_dir}: ok")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "policies:\n  - {id: a, action: disable_flag, environment: staging, desicion: allow}\n",
            "policies.yml: policies[0].desicion: unknown key 'desicion'",
        ),
        (
            "policies:\n  - {id: a, action: disable_flag, environment: staging, decision: allow,"
            " denied_when: [{is_friday: true}]}\n",
            "policies.yml: policies[0].denied_when[0]: unknown condition 'is_friday'",
        ),
        ("policies: [\n", "policies.yml: not valid YAML"),
    ],
)
def test_config_check_names_file_and_key_of_a_broken_policies_file(config_dir, content, expected):
    (config_dir / "policies.yml").write_text(content)
    result = steward("config", "check", env={"STEWARD_CONFIG": str(config_dir)}, cwd=config_dir)
    assert result.returncode == 2
    assert result.stderr.startswith(f"steward: {expected}")


def test_config_schema_describes_policies_yml(tmp_path):
    result = steward("config", "schema", env={}, cwd=tmp_path)
    schema = json.loads(result.stdout)["policies.yml"]
    assert "policies" in schema["properties"] and "PolicyEntry" in json.dumps(schema)
