"""Block Kit for what the sources bring: alert messages, change lines, and alerts no incident holds (triage). Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.redact.redactor import neutralise, quote_untrusted
from bot.slack.blocks import MAX_BLOCKS, Block, _clip, context, hhmm, section
from bot.store.models import Change, Signal

ALERT_MARK = {"firing": "🔴", "resolved": "✅"}


def alert_message(signals: Sequence[Signal]) -> tuple[str, list[Block]]:
    """Alerts that arrived together: one message, edited as more arrive and as they resolve.

    Names, labels and annotations come from the monitoring system: untrusted, shown inert.
    """
    firing = sum(1 for s in signals if s.status == "firing")
    title = f"🔔 {len(signals)} alert{'s' if len(signals) != 1 else ''}" + (
        f" · {firing} firing" if firing else " · all resolved"
    )
    out: list[Block] = [section(f"*{title}*")]
    shown = signals[: MAX_BLOCKS - 3]
    for signal in shown:
        when = (
            f"since {hhmm(signal.starts_at)}"
            if signal.status == "firing"
            else f"resolved {hhmm(signal.ends_at or signal.starts_at)}"
        )
        labels = ", ".join(f"{k}={v}" for k, v in sorted(signal.labels.items()) if k != "alertname")
        summary = signal.annotations.get("summary") or signal.annotations.get("description") or ""
        line = f"{ALERT_MARK.get(signal.status, '•')} *{neutralise(signal.name)}* {when}\n`{neutralise(labels)}`"
        if summary:
            line += "\n" + quote_untrusted(summary, limit=300)
        out.append(section(line))
    if len(signals) > len(shown):
        out.append(context(f"and {len(signals) - len(shown)} more"))
    return f"{title}: " + ", ".join(s.name for s in signals[:10]), out


def change_message(change: Change) -> tuple[str, list[Block]]:
    verb = {
        "deployment": "🚀 Deploy",
        "deployment_status": "🚀 Deploy",
        "config_change": "⚙️ Config change",
        "flag_change": "🚩 Flag change",
    }[change.kind]
    parts = [f"{verb} *{neutralise(change.service or 'unmapped service')}*"]
    if change.version:
        parts.append(f"`{neutralise(change.version)}`")
    if change.environment:
        parts.append(f"in {neutralise(change.environment)}")
    if change.state:
        parts.append(f"— {neutralise(change.state)}")
    if change.actor:
        parts.append(f"by {neutralise(change.actor)}")
    line = " ".join(parts) + f" · {hhmm(change.at)}"
    out = [section(line)]
    if change.summary:
        out.append(context(quote_untrusted(change.summary.splitlines()[0] if change.summary else "", limit=200)))
    return line, out


def triage_message(signals: Sequence[Signal]) -> tuple[str, list[Block]]:
    """Alerts no open incident covers, with a button per service that declares one prefilled."""
    text, out = alert_message(signals)
    out[0] = section(f"*🔔 {len(signals)} alert{'s' if len(signals) != 1 else ''} with no open incident*")
    buttons = []
    for service, signal in {s.service or "": s for s in reversed(signals)}.items():
        value = json.dumps(
            {
                "title": signal.annotations.get("summary") or signal.name,
                "service": service or None,
                "severity": severity_of(signal.labels.get("severity")),
            },
            separators=(",", ":"),
        )
        if len(value) > 2000:
            value = json.dumps({"title": signal.name[:200], "service": service or None, "severity": "SEV3"})
        buttons.append(
            {
                "type": "button",
                "action_id": "triage_declare",
                "style": "danger",
                "value": value,
                "text": {
                    "type": "plain_text",
                    "text": _clip(f"Declare incident{f' · {service}' if service else ''}", 75),
                },
            }
        )
    out.append({"type": "actions", "elements": buttons[:25]})
    return f"Alerts with no open incident: {text}", out


SEVERITY_OF_LABEL = {
    "critical": "SEV2",
    "page": "SEV2",
    "error": "SEV3",
    "high": "SEV2",
    "warning": "SEV3",
    "info": "SEV4",
}


def severity_of(label: str | None) -> str:
    return SEVERITY_OF_LABEL.get((label or "").lower(), "SEV3")
