"""Rollbacks: the previous successful deployment as the default target, the readiness checklist, refusals that
name the safer step, and a GitOps rollback pushed to a real git remote."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlmodel import select

from bot.store.models import ApprovalRequest, Execution
from tests.support.senders import github_deployment, minutes
from tests.support.workspace import COMMANDER, ENGINEER, block_text

VALUES = """# payment-api production values (managed by GitOps)
replicas: 6
image:
  repository: ghcr.io/acme/payment-api
  tag: v2.18.0   # bumped by CI
resources:
  limits: {cpu: "2"}
"""


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def deploy_repo(config_dir: Path, tmp_path: Path) -> Path:
    remote = config_dir / "deploy-repo"
    git("init", "--bare", "-q", "-b", "main", str(remote), cwd=tmp_path)
    seed = tmp_path / "seed"
    git("clone", "-q", str(remote), str(seed), cwd=tmp_path)
    values = seed / "apps" / "payment-api" / "production" / "values.yaml"
    values.parent.mkdir(parents=True)
    values.write_text(VALUES)
    git("add", ".", cwd=seed)
    git("-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "-m", "deploy v2.18.0", cwd=seed)
    git("push", "-q", "origin", "HEAD:main", cwd=seed)
    return remote


def deployed(workspace, clock, *versions_and_payloads):
    for n, (version, payload, ago) in enumerate(versions_and_payloads):
        workspace.sources.github(
            "deployment",
            github_deployment(
                "acme/payment-api", "production", version, 5000 + n, clock.now() - minutes(ago), payload=payload
            ),
        )
    workspace.settle()


def requests(workspace):
    with workspace.steward.runtime.db.session() as session:
        return session.exec(select(ApprovalRequest)).all()


def test_dry_run_defaults_to_the_previous_successful_deployment_and_shows_readiness(workspace, clock):
    deployed(workspace, clock, ("v2.17.3", {}, 300), ("v2.18.0", {}, 16))
    channel = workspace.declare("Checkout errors", options="service:payment-api")
    workspace.command("rollback payment-api --dry-run", by=ENGINEER, channel=channel)
    shown = workspace.ephemeral_text(ENGINEER)
    assert "rule `rollback-production`" in shown and "`approval_required`" in shown
    assert '"target_version": "v2.17.3"' not in shown  # the packet shows states, not params
    assert '"version": "v2.17.3"' in shown and '"version": "v2.18.0"' in shown
    assert '"name": "schema"' in shown
    assert 'gitops: set image.tag: "v2.17.3" in apps/payment-api/production/values.yaml' in shown
    assert requests(workspace) == []


def test_an_irreversible_migration_turns_the_rollback_away_and_names_the_safer_step(workspace, clock):
    deployed(workspace, clock, ("v2.17.3", {}, 300), ("v2.18.0", {"schema_migration": "irreversible"}, 16))
    channel = workspace.declare("Checkout errors", options="service:payment-api")
    workspace.command("rollback payment-api", by=ENGINEER, channel=channel)
    shown = workspace.ephemeral_text(ENGINEER)
    assert "Refused by policy (`rollback-production`)" in shown
    assert "irreversible_schema_migration_detected" in shown
    assert "safer next step: turn flag checkout.new-routing off" in shown
    assert requests(workspace) == []


def test_no_earlier_deployment_means_no_default_target(workspace, clock):
    channel = workspace.declare("Checkout errors", options="service:payment-api")
    workspace.command("rollback payment-api", by=ENGINEER, channel=channel)
    assert "I know no earlier successful deployment of payment-api in production" in workspace.ephemeral_text(ENGINEER)


def test_an_approved_gitops_rollback_is_a_pushed_commit_naming_incident_approver_and_evidence(
    workspace, clock, config_dir, tmp_path
):
    remote = deploy_repo(config_dir, tmp_path)
    deployed(workspace, clock, ("v2.17.3", {}, 300), ("v2.18.0", {}, 16))
    channel = workspace.declare("Checkout errors", options="service:payment-api")
    workspace.command("rollback payment-api", by=ENGINEER, channel=channel)
    message = next(m for m in workspace.slack.messages(channel) if "Approval request" in block_text(m.blocks))
    text = block_text(message.blocks)
    assert "Approve rolling back payment-api in production from v2.18.0 to v2.17.3, evidence `" in text
    assert "schema: *unknown*" in text or "schema: *yes*" in text
    workspace.slack.click_button(message, "approval_approve", user=COMMANDER)
    workspace.settle()
    [request] = requests(workspace)
    assert request.state == "executed", request.result
    log = git("log", "-1", "--format=%B", "main", cwd=remote)
    assert "v2.17.3" in log and request.incident_id in log and COMMANDER in log and request.evidence_hash[:12] in log
    values = git("show", "main:apps/payment-api/production/values.yaml", cwd=remote)
    assert "  tag: v2.17.3   # bumped by CI" in values and "# payment-api production values" in values
    with workspace.steward.runtime.db.session() as session:
        [execution] = session.exec(select(Execution)).all()
    assert execution.idempotency_key == f"rollback:payment-api:production:v2.17.3:{request.incident_id}"
