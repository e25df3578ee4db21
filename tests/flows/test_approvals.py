"""Scoped, expiring, evidence-bound approvals, through /slack/events and the sandbox: who may approve, what runs,
what is refused, and what the audit log says."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from bot.runtime.server import LoopbackServer
from bot.sandbox.local import start_local
from bot.store.models import ApprovalRequest, AuditEvent, Execution
from handlers.door import DOOR
from tests.support.senders import alert
from tests.support.workspace import COMMANDER, ENGINEER, OBSERVER, Workspace, block_text

FLAG = "checkout.new-routing"


def flag_definition(workspace):
    path = workspace.steward.runtime.config.directory / "flags.flagd.json"
    return json.loads(path.read_text())["flags"][FLAG]


def requests(workspace):
    with workspace.steward.runtime.db.session() as session:
        return session.exec(select(ApprovalRequest)).all()


def executions(workspace):
    with workspace.steward.runtime.db.session() as session:
        return session.exec(select(Execution)).all()


def audit_actions(workspace):
    with workspace.steward.runtime.db.session() as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.seq))]


def approval_message(workspace, channel):
    found = [m for m in workspace.slack.messages(channel) if "Approval request" in block_text(m.blocks)]
    assert len(found) == 1, f"expected one approval message, found {len(found)}"
    return found[0]


def has_buttons(message) -> bool:
    return any(b["type"] == "actions" for b in message.blocks)


def request_flag_off(workspace, by=ENGINEER, extra=""):
    channel = workspace.declare("Checkout errors", options="sev:SEV2 service:payment-api")
    workspace.command("role sre_oncall @carol", channel=channel)
    workspace.command(f"mitigate flag {FLAG} off {extra}".strip(), by=by, channel=channel)
    return channel


def test_the_requester_cannot_approve_and_an_approver_can(workspace):
    channel = request_flag_off(workspace)
    message = approval_message(workspace, channel)
    text = block_text(message.blocks)
    assert "Turn flag checkout.new-routing off" in text
    assert "Approve turning flag `checkout.new-routing` off in production for payment-api, evidence `" in text
    assert "until 10:10 UTC." in text
    assert "flag-off-production" in text and "incident commander or sre oncall" in text
    confirm = next(
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "approval_approve"
    )["confirm"]
    assert confirm["text"]["text"].startswith("Approve turning flag `checkout.new-routing` off")

    workspace.slack.click_button(message, "approval_approve", user=ENGINEER)
    workspace.settle()
    assert "You requested this action, so someone else must approve it." in workspace.ephemeral_text(ENGINEER)
    assert flag_definition(workspace)["defaultVariant"] == "on"

    workspace.slack.click_button(message, "approval_approve", user=COMMANDER)
    workspace.settle()
    definition = flag_definition(workspace)
    assert definition["defaultVariant"] == "off" and "targeting" not in definition and definition["state"] == "ENABLED"
    message = approval_message(workspace, channel)
    assert not has_buttons(message) and message.edited
    assert f"✅ Executed by <@{COMMANDER}> at 10:00 UTC" in block_text(message.blocks)
    assert any("✅ Done: turning flag `checkout.new-routing` off in production" in p for p in workspace.posts(channel))
    [request] = requests(workspace)
    assert (request.state, request.decided_by) == ("executed", COMMANDER)
    assert [e.idempotency_key for e in executions(workspace)] == [f"flag-off:{FLAG}:production:INC-20261125-01"]
    actions = audit_actions(workspace)
    assert actions[:2] == ["approval_requested", "approval_refused"]
    assert actions[-3:] == ["approved", "execution_started", "executed"]


def test_an_observer_without_a_role_cannot_approve(workspace):
    channel = workspace.declare("Checkout errors", options="service:payment-api")
    workspace.command(f"mitigate flag {FLAG} off", by=ENGINEER, channel=channel)
    message = approval_message(workspace, channel)
    workspace.slack.click_button(message, "approval_approve", user=OBSERVER)
    workspace.settle()
    assert "Only the incident commander or sre oncall of this incident can approve this" in workspace.ephemeral_text(
        OBSERVER
    )
    assert requests(workspace)[0].state == "pending" and executions(workspace) == []
    assert has_buttons(approval_message(workspace, channel))


def test_dry_run_creates_nothing_and_is_audited(workspace):
    channel = workspace.declare("Checkout errors", options="service:payment-api")
    workspace.command(f"mitigate flag {FLAG} off --dry-run", by=ENGINEER, channel=channel)
    shown = workspace.ephemeral_text(ENGINEER)
    assert "*Policy decision* `approval_required` · rule `flag-off-production`" in shown
    assert "defaultVariant=off" in shown and "*Evidence packet*" in shown
    assert requests(workspace) == [] and executions(workspace) == []
    assert audit_actions(workspace) == ["dry_run"]
    assert flag_definition(workspace)["defaultVariant"] == "on"


def test_a_click_after_expiry_is_refused_even_before_the_expiry_job_runs(workspace, clock):
    channel = request_flag_off(workspace)
    message = approval_message(workspace, channel)
    clock.advance(minutes=10, seconds=1)
    workspace.slack.click_button(message, "approval_approve", user=COMMANDER)
    workspace.settle()
    assert "This request expired at 10:10 UTC" in workspace.ephemeral_text(COMMANDER)
    assert requests(workspace)[0].state == "expired"
    assert not has_buttons(approval_message(workspace, channel))
    assert flag_definition(workspace)["defaultVariant"] == "on"


def test_the_expiry_job_expires_a_pending_request_and_edits_its_message(workspace, clock):
    from bot.runtime.scheduler import run_due

    channel = request_flag_off(workspace)
    clock.advance(minutes=9)
    assert run_due(workspace.steward.runtime) == []
    clock.advance(minutes=2)
    assert len(run_due(workspace.steward.runtime)) == 1
    assert run_due(workspace.steward.runtime) == []  # a second tick acts on nothing
    workspace.settle()
    assert requests(workspace)[0].state == "expired"
    assert "⌛ Expired" in block_text(approval_message(workspace, channel).blocks)


def test_changed_evidence_invalidates_the_request(workspace):
    channel = request_flag_off(workspace)
    path = workspace.steward.runtime.config.directory / "flags.flagd.json"
    flags = json.loads(path.read_text())
    flags["flags"][FLAG]["targeting"] = {"fractional": [{"var": "targetingKey"}, ["on", 50], ["off", 50]]}
    path.write_text(json.dumps(flags))
    workspace.slack.click_button(approval_message(workspace, channel), "approval_approve", user=COMMANDER)
    workspace.settle()
    assert "The evidence changed since this was requested; request again." in workspace.ephemeral_text(COMMANDER)
    assert requests(workspace)[0].state == "invalidated" and executions(workspace) == []


def test_an_event_arriving_after_the_request_does_not_change_its_evidence(workspace, clock):
    channel = request_flag_off(workspace)
    workspace.sources.alerts(alert("HighErrorRate", "payment-api", clock.now()))
    workspace.settle()
    workspace.slack.click_button(approval_message(workspace, channel), "approval_approve", user=COMMANDER)
    workspace.settle()
    assert requests(workspace)[0].state == "executed"


def test_a_tampered_button_value_is_refused(workspace):
    channel = request_flag_off(workspace)
    message = approval_message(workspace, channel)
    request_id = requests(workspace)[0].id
    workspace.slack.click(
        "approval_approve", f"{request_id}.{'0' * 32}", user=COMMANDER, channel=channel, message_ts=message.ts
    )
    workspace.settle()
    assert "This approval button is not valid" in workspace.ephemeral_text(COMMANDER)
    assert requests(workspace)[0].state == "pending"


def test_the_kill_switch_refuses_approvals_and_only_admins_flip_it(workspace):
    channel = request_flag_off(workspace)
    workspace.command("killswitch on", by=ENGINEER, channel=channel)
    assert "Only Steward's admins" in workspace.ephemeral_text(ENGINEER)
    workspace.command("killswitch on", by=COMMANDER, channel=channel)
    workspace.slack.click_button(approval_message(workspace, channel), "approval_approve", user="U0OBSERVER")
    workspace.settle()
    assert "The kill switch is on" in workspace.ephemeral_text(OBSERVER)
    assert executions(workspace) == []
    workspace.command("killswitch off", by=COMMANDER, channel=channel)
    workspace.slack.click_button(approval_message(workspace, channel), "approval_approve", user=OBSERVER)
    workspace.settle()
    assert requests(workspace)[0].state == "executed"


def test_deny_records_who_and_when(workspace):
    channel = request_flag_off(workspace)
    workspace.slack.click_button(approval_message(workspace, channel), "approval_deny", user=COMMANDER)
    workspace.settle()
    [request] = requests(workspace)
    assert (request.state, request.decided_by) == ("denied", COMMANDER)
    assert f"🚫 Denied by <@{COMMANDER}> at 10:00 UTC" in block_text(approval_message(workspace, channel).blocks)
    assert executions(workspace) == []


class FailingUnleash:
    """Unleash's Admin API as documented, except that turning a flag off fails with a 500."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.server = LoopbackServer(
            Starlette(
                routes=[
                    Route("/api/admin/projects/{project}/features/{flag}", self.feature),
                    Route(
                        "/api/admin/projects/{project}/features/{flag}/environments/{env}/off",
                        self.off,
                        methods=["POST"],
                    ),
                ]
            )
        ).start()

    async def feature(self, request: Request) -> JSONResponse:
        self.calls.append(f"GET {request.url.path}")
        return JSONResponse(
            {"name": request.path_params["flag"], "environments": [{"name": "production", "enabled": True}]}
        )

    async def off(self, request: Request) -> PlainTextResponse:
        self.calls.append(f"POST {request.url.path}")
        return PlainTextResponse("database is locked", status_code=500)


@pytest.fixture
def unleash_workspace(config_dir, clock):
    unleash = FailingUnleash()
    services = config_dir / "services.yml"
    services.write_text(
        services.read_text().replace(
            "  provider: flagd\n  path: flags.flagd.json",
            f"  provider: unleash\n  url: {unleash.server.url}\n  project: default",
        )
    )
    stack = start_local(
        DOOR, f"sqlite:///{config_dir}/steward.db", config_dir, clock, unleash_api_token="unleash-token"
    )
    try:
        yield Workspace(stack), unleash
    finally:
        stack.stop()
        unleash.server.stop()


def test_a_failing_executor_leaves_the_request_failed_with_the_reason(unleash_workspace):
    workspace, unleash = unleash_workspace
    channel = request_flag_off(workspace)
    workspace.slack.click_button(approval_message(workspace, channel), "approval_approve", user=COMMANDER)
    workspace.settle()
    assert any(
        c.startswith("POST /api/admin/projects/default/features/checkout.new-routing/environments/production/off")
        for c in unleash.calls
    )
    [request] = requests(workspace)
    assert request.state == "failed" and "HTTP 500" in request.result["error"]
    assert any(
        "❌ Failed: turning flag `checkout.new-routing` off" in p and "HTTP 500" in p for p in workspace.posts(channel)
    )
    assert "❌ Failed" in block_text(approval_message(workspace, channel).blocks)
    assert [e.outcome for e in executions(workspace)] == ["failed"]
    assert audit_actions(workspace)[-1] == "execution_failed"
    # A failure claims nothing, so asking again runs again (the same idempotency key is re-claimed).
    workspace.command(f"mitigate flag {FLAG} off", by=ENGINEER, channel=channel)
    second = [m for m in workspace.slack.messages(channel) if "Approval request" in block_text(m.blocks)][-1]
    workspace.slack.click_button(second, "approval_approve", user=COMMANDER)
    workspace.settle()
    assert sum(c.startswith("POST ") for c in unleash.calls) == 2
    assert [r.state for r in requests(workspace)] == ["failed", "failed"]


def test_resolving_cancels_pending_requests(workspace):
    channel = request_flag_off(workspace)
    workspace.command('resolve --override "mitigated by hand"', channel=channel)
    [request] = requests(workspace)
    assert request.state == "cancelled"
    assert not has_buttons(approval_message(workspace, channel))
    assert "cancelled" in audit_actions(workspace)


def test_staging_flag_off_is_allowed_without_buttons_but_still_audited(workspace):
    channel = workspace.declare("Staging checkout errors", options="service:payment-api env:staging")
    workspace.command(f"mitigate flag {FLAG} off env:staging", by=ENGINEER, channel=channel)
    [request] = requests(workspace)
    assert request.decision == "allow" and request.state == "executed"
    assert "Approval request" in block_text(approval_message(workspace, channel).blocks)
    assert not has_buttons(approval_message(workspace, channel))
    assert audit_actions(workspace)[-3:] == ["policy_allowed", "execution_started", "executed"]


def test_audit_command_shows_this_incidents_events_and_the_chain(workspace):
    channel = request_flag_off(workspace)
    workspace.slack.click_button(approval_message(workspace, channel), "approval_approve", user=COMMANDER)
    workspace.settle()
    workspace.command("audit", by=OBSERVER, channel=channel)
    shown = workspace.ephemeral_text(OBSERVER)
    assert "✅ Audit chain intact" in shown
    assert "*approval_requested*" in shown and "*executed*" in shown


def test_the_kill_switch_also_refuses_actions_the_policy_allows(workspace):
    channel = workspace.declare("Staging checkout errors", options="service:payment-api env:staging")
    workspace.command("killswitch on", by=COMMANDER, channel=channel)
    workspace.command(f"mitigate flag {FLAG} off env:staging", by=ENGINEER, channel=channel)
    assert "The kill switch is on" in workspace.ephemeral_text(ENGINEER)
    assert requests(workspace) == [] and executions(workspace) == []
    assert flag_definition(workspace)["defaultVariant"] == "on"
    assert audit_actions(workspace)[-1] == "request_refused"


def test_a_request_a_crash_left_executing_is_reconciled_at_start(workspace, clock):
    from bot.approvals.gateway import reconcile

    channel = request_flag_off(workspace)
    [request] = requests(workspace)
    with workspace.steward.runtime.db.session() as session:
        stored = session.get(ApprovalRequest, request.id)
        stored.state, stored.decided_by, stored.decided_at = "executing", COMMANDER, clock.now()
    assert reconcile(workspace.steward.runtime) == []  # too young: it may be running on another replica
    clock.advance(minutes=3)
    workspace.steward.runtime.slack.deliver(reconcile(workspace.steward.runtime))
    assert requests(workspace)[0].state == "unknown"  # the flag is still on: nobody can say it took effect
    assert any("cannot confirm it took effect" in p for p in workspace.posts(channel))
    assert "reconciled_unknown" in audit_actions(workspace)


def test_a_second_request_for_a_change_already_made_does_not_run_it_again(workspace, clock):
    from bot.approvals.gateway import execute

    channel = request_flag_off(workspace)
    workspace.command(f"mitigate flag {FLAG} off", by=ENGINEER, channel=channel)
    first_message, _ = [m for m in workspace.slack.messages(channel) if "Approval request" in block_text(m.blocks)]
    workspace.slack.click_button(first_message, "approval_approve", user=COMMANDER)
    workspace.settle()
    [first] = [r for r in requests(workspace) if r.state == "executed"]
    [second] = [r for r in requests(workspace) if r.state == "pending"]
    # Approved by someone else at the same moment, before the first change made its evidence stale.
    with workspace.steward.runtime.db.session() as session:
        stored = session.get(ApprovalRequest, second.id)
        stored.state, stored.decided_by, stored.decided_at = "executing", OBSERVER, clock.now()
    workspace.steward.runtime.slack.deliver(execute(workspace.steward.runtime, second.id, approver=OBSERVER))
    workspace.settle()
    assert any(f"Already done under {first.id}" in p for p in workspace.posts(channel))
    assert {r.id: r.state for r in requests(workspace)} == {first.id: "executed", second.id: "executed"}
    assert [e.approval_id for e in executions(workspace)] == [first.id]
    with workspace.steward.runtime.db.session() as session:
        last = session.exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (last.action, last.actor, last.approver, last.details) == (
        "execution_skipped_duplicate",
        OBSERVER,
        OBSERVER,
        {"request": second.id},
    )
