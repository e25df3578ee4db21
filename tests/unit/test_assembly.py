"""Timeline assembly: the changes before the first signal, honest inferences, symptom clusters (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.timeline.assembly import _MASK, _mask_name, _masker, assemble
from tests.support.timeline_events import Ev

T0 = datetime(2026, 11, 25, 10, 8, tzinfo=UTC)


def alert(at, name="HighErrorRate", fp="fp1", service="payment-api", kind="alert", annotations=None):
    return Ev(
        kind,
        at,
        f"{name} on {service} firing",
        service,
        {"name": name, "fingerprint": fp, "labels": {"service": service}, "annotations": annotations or {}},
        evidence_ref=f"alert:{fp}",
        trust="untrusted_runtime_output",
    )


def change(at, summary, service="payment-api", ref="https://github.com/acme/payment-api/deployments/1"):
    return Ev("change", at, summary, service, evidence_ref=ref)


def test_recent_changes_are_those_before_the_first_signal_newest_first_with_minutes_before():
    events = [
        change(T0 - timedelta(minutes=16), "Deploy payment-api v2.18.0 to production"),
        change(T0 - timedelta(minutes=10), "Config change payment-api in production"),
        alert(T0),
        change(T0 + timedelta(minutes=3), "Deploy payment-api v2.18.1 to production"),
    ]
    view = assemble("INC-1", T0, ["payment-api"], events)
    assert view.first_signal.summary == "HighErrorRate on payment-api firing"
    assert [(c.summary, c.minutes_before) for c in view.recent_changes] == [
        ("Config change payment-api in production", 10),
        ("Deploy payment-api v2.18.0 to production", 16),
    ]


def test_correlation_is_an_inference_with_confidence_and_refs_never_a_fact():
    events = [
        change(T0 - timedelta(minutes=90), "Deploy payment-api v2.17.0 to production"),
        change(T0 - timedelta(minutes=20), "Deploy ledger v1.2.0 to production", service="ledger"),
        change(T0 - timedelta(minutes=16), "Deploy payment-api v2.18.0 to production"),
        alert(T0),
    ]
    view = assemble("INC-1", T0, ["payment-api"], events)
    by_statement = {i.statement: i for i in view.inferences}
    close = by_statement["Deploy payment-api v2.18.0 to production 16 min before the first alert; same service"]
    assert close.confidence == "medium"
    assert close.refs == ["https://github.com/acme/payment-api/deployments/1", "alert:fp1"]
    assert (
        by_statement["Deploy payment-api v2.17.0 to production 90 min before the first alert; same service"].confidence
        == "low"
    )
    assert (
        by_statement["Deploy ledger v1.2.0 to production 20 min before the first alert; different service"].confidence
        == "low"
    )
    assert all(i.confidence != "high" for i in view.inferences)


def test_no_alert_means_no_inference():
    view = assemble("INC-1", T0, ["payment-api"], [change(T0 - timedelta(minutes=5), "Deploy payment-api v2")])
    assert view.first_signal is None and view.inferences == []
    assert [c.minutes_before for c in view.recent_changes] == [5]


def test_alert_clusters_count_distinct_alerts_and_those_still_firing():
    events = [
        alert(T0, fp="a"),
        alert(T0 + timedelta(seconds=5), fp="b"),
        alert(T0 + timedelta(seconds=9), fp="a"),
        alert(T0 + timedelta(minutes=3), fp="b", kind="alert_resolved"),
        alert(T0 + timedelta(minutes=1), name="HighLatency", fp="c"),
    ]
    clusters = {c.name: c for c in assemble("INC-1", T0, ["payment-api"], events).symptom_clusters if c.kind == "alert"}
    assert (clusters["HighErrorRate · payment-api"].count, clusters["HighErrorRate · payment-api"].firing) == (2, 1)
    assert (clusters["HighLatency · payment-api"].count, clusters["HighLatency · payment-api"].firing) == (1, 1)


def test_error_lines_group_into_signatures():
    lines = [
        f"timeout after {ms}ms calling payments-gw 10.0.0.{n}:443" for n, ms in enumerate((3000, 2500, 3100, 2900))
    ]
    lines += [f"duplicate idempotency key rejected for order {n}" for n in (12, 13)]
    events = [alert(T0, fp=str(i), annotations={"summary": "x", "description": line}) for i, line in enumerate(lines)]
    signatures = {
        c.name: c.count
        for c in assemble("INC-1", T0, ["payment-api"], events).symptom_clusters
        if c.kind == "error_signature"
    }
    assert signatures == {
        "timeout after <*> calling payments-gw <*>": 4,
        "duplicate idempotency key rejected for order <*>": 2,
    }


def test_decisions_and_mitigations_are_listed():
    events = [
        alert(T0),
        Ev("decision", T0 + timedelta(minutes=4), "turn off checkout.new-routing", actor="U1"),
        Ev("action_executed", T0 + timedelta(minutes=6), "Flag checkout.new-routing off in production"),
    ]
    view = assemble("INC-1", T0, ["payment-api"], events)
    assert [d.summary for d in view.decisions] == ["turn off checkout.new-routing"]
    assert [m.summary for m in view.current_mitigation] == ["Flag checkout.new-routing off in production"]


def test_masking_word_by_word_masks_as_the_whole_line_would():
    lines = [
        "timeout after 3000ms calling payments-gw 10.0.0.7:443",
        "  -3 +4.5s 50% v2.1.0 1. .5 a.1 42. 1,2 ",
        "id 123e4567-e89b-12d3-a456-426614174000 hex deadbeefcafe01 0xDEADBEEF0000 (pod payment-api-7)",
        "tab\t7 and\u00a09 and 1  2 9.9.9.9.9 ::1 id=42 [42]",
        "x" * 497 + " 12345 6",
    ]
    mask = _masker()
    assert [mask(line) for line in lines] == [_MASK.sub(_mask_name, line[:500]) for line in lines]
