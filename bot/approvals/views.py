"""Block Kit for approvals: the approval message, a dry run, and the incident's audit events. Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.incidents.views import event_line
from bot.redact.redactor import neutralise
from bot.slack.blocks import (
    MAX_BLOCKS,
    Block,
    _bullets,
    _sections,
    context,
    fields,
    header,
    hhmm,
    mention,
    section,
)

STATE_WORDS = {
    "pending": "⏳ Waiting for approval",
    "approved": "👍 Approved",
    "denied": "🚫 Denied",
    "expired": "⌛ Expired",
    "invalidated": "♻️ Invalidated: the evidence changed; request again",
    "cancelled": "🛑 Cancelled (incident resolved)",
    "executing": "⚙️ Executing",
    "executed": "✅ Executed",
    "failed": "❌ Failed",
    "unknown": "⚠️ Unknown: a human must check",
}


def _state_text(state: dict[str, Any]) -> str:
    shown = {k: v for k, v in state.items() if k not in ("definition", "file", "off_variant")} or state
    return neutralise(", ".join(f"{k}: {v}" for k, v in shown.items()))[:500] or "unknown"


def approval_message(
    request: Any, sentence: str, button_value: str | None, evidence: Sequence[Any]
) -> tuple[str, list[Block]]:
    """Everything the seed's approval packet lists, ending with the scoped sentence; buttons only while pending."""
    packet = request.packet
    title = {
        "disable_flag": f"Turn flag {request.target} off",
        "rollback_deployment": f"Roll back {request.target}",
    }.get(request.action, request.action)
    out: list[Block] = [
        header(f"Approval request · {title}"),
        fields(
            {
                "Action": f"`{request.action}`",
                "Environment": request.environment,
                "Service": request.service,
                "Requested by": mention(request.requested_by),
                "Current state": _state_text(packet.get("current_state", {})),
                "Proposed state": _state_text(packet.get("proposed_state", {})),
                "Policy": f"`{request.rule_id}` · {request.decision.replace('_', ' ')}",
                "Who may approve": " or ".join(r.replace("_", " ") for r in request.required_roles) or "—",
            }
        ),
    ]
    if evidence:
        out += _bullets("Evidence (pinned timeline events)", [event_line(e) for e in evidence])
    if packet.get("readiness"):
        out += _bullets(
            "Rollback readiness",
            [f"{c['name']}: *{c['answer']}* ({neutralise(c['source'])})" for c in packet["readiness"]],
            limit=8,
        )
    recommendation = request.params.get("recommendation")
    if recommendation:
        out.append(
            section(
                f"*Recommendation* {recommendation['recommendation'].replace('_', ' ')} "
                f"(confidence {recommendation['confidence']})"
                + "".join(f"\n• safer next step: {s}" for s in recommendation.get("safe_next_step", [])[:3])
            )
        )
    out += _bullets("Risk flags", [neutralise(f) for f in packet.get("risk_flags", [])])
    out += _bullets("Alternatives considered", [neutralise(a) for a in packet.get("alternatives", [])])
    out.append(
        section(
            f"*Undo path* {neutralise(packet.get('undo_path', ''))}\n*Expected telemetry* "
            + "; ".join(neutralise(t) for t in packet.get("expected_telemetry", []))
            + f"\n*Blast radius* {neutralise(packet.get('blast_radius') or 'not assessed')}"
        )
    )
    out.append(section(f"*Exact call*\n```{neutralise(request.params.get('call', ''))[:1500]}```"))
    out.append(section(f"*{sentence}*"))
    if button_value:
        out.append(
            {
                "type": "actions",
                "block_id": f"approval:{request.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approval_approve",
                        "style": "primary",
                        "value": button_value,
                        "text": {"type": "plain_text", "text": "Approve"},
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Approve this exact action?"},
                            "text": {"type": "mrkdwn", "text": sentence},
                            "style": "primary",
                            "confirm": {"type": "plain_text", "text": "Approve"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                        },
                    },
                    {
                        "type": "button",
                        "action_id": "approval_deny",
                        "style": "danger",
                        "value": button_value,
                        "text": {"type": "plain_text", "text": "Deny"},
                    },
                ],
            }
        )
        out.append(
            context(
                f"Request `{request.id}` · evidence `{request.evidence_hash[:12]}` · expires {hhmm(request.expires_at)}"
            )
        )
    else:
        decided = (
            f" by {mention(request.decided_by)} at {hhmm(request.decided_at)}"
            if request.decided_by and request.decided_at
            else ""
        )
        error = request.result.get("error")
        out.append(
            context(
                f"{STATE_WORDS.get(request.state, request.state)}{decided}"
                + (f" · {neutralise(error)[:300]}" if error else "")
                + f" · request `{request.id}`"
            )
        )
    return f"Approval request: {sentence}", out[:MAX_BLOCKS]


def dry_run(plan: Any, decision: Any, packet: dict[str, Any], digest: str) -> tuple[str, list[Block]]:
    """What would happen, shown only to the requester: nothing is created and nothing runs."""
    reasons = "\n".join(f"• {neutralise(r)}" for r in decision.reasons)
    packet_json = json.dumps(packet, indent=1, sort_keys=True)
    text = f"Dry run: {plan.action} {plan.target} in {plan.environment} → {decision.decision}"
    return text, [
        header(f"Dry run · {plan.action} {plan.target}"),
        section(f"*Policy decision* `{decision.decision}` · rule `{decision.rule_id}`\n{reasons}"),
        section(f"*Exact call*\n```{neutralise(plan.call)[:1500]}```"),
        section(f"*Evidence packet* (hash `{digest[:12]}`)\n```{neutralise(packet_json)[:2800]}```"),
        context("Dry run: no request was created and nothing ran. Audited as a dry run."),
    ]


def audit_view(incident_id: str, events: Sequence[Any], verified: Any) -> tuple[str, list[Block]]:
    chain = (
        f"✅ Audit chain intact ({verified.checked} events checked)"
        if verified.ok
        else f"❌ Audit chain broken at seq {verified.first_broken}: {verified.reason}"
    )
    lines = [
        f"`{e.seq}` `{hhmm(e.at)}` *{e.action}* by {mention(e.actor) if e.actor.startswith('U') else e.actor}"
        + (f" · {neutralise(e.target)}" if e.target else "")
        + (f" · {e.decision}" if e.decision else "")
        + (f" · evidence `{e.evidence_hash[:12]}`" if e.evidence_hash else "")
        + (f" · {neutralise(e.reason)[:200]}" if e.reason else "")
        for e in events[-40:]
    ]
    out = [header(f"Audit · {incident_id}"), section(chain)]
    out += _sections(lines) if lines else [section("_No audit events for this incident yet._")]
    return f"Audit of {incident_id}: {len(events)} events; {chain}", out[:MAX_BLOCKS]
