"""Evidence packets: the same evidence always hashes the same, and any change in it does not."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from bot.approvals.evidence import EvidencePacket, canonical_json, evidence_hash, missing_evidence, short_hash
from bot.approvals.readiness import CHECK_NAMES, ReadinessCheck
from bot.clock import rfc3339_utc

DEPLOYED_AT = datetime(2026, 11, 25, 9, 52, tzinfo=UTC)
READINESS = [
    {
        "name": name,
        "answer": "yes" if name == "artifact" else "unknown",
        "source": "deploy record" if name == "artifact" else "not checked by Steward",
    }
    for name in CHECK_NAMES
]


def fields(**changes: Any) -> dict[str, Any]:
    """A rollback packet for payment-api, as plain data, with `changes` applied."""
    base: dict[str, Any] = {
        "action": "rollback_deployment",
        "target": "payment-api",
        "environment": "production",
        "service": "payment-api",
        "current_state": {"version": "v2.18.0", "sha": "bbb2222", "deployed_at": DEPLOYED_AT, "replicas": 6},
        "proposed_state": {"version": "v2.17.3", "sha": "aaa1111"},
        "event_refs": [
            {"id": "evt-0007", "content_hash": "7" * 64},
            {"id": "evt-0003", "content_hash": "3" * 64},
        ],
        "readiness": READINESS,
        "risk_flags": ["payment_service_touched", "database_schema_change"],
        "alternatives": ["turn flag checkout.new-routing off"],
        "undo_path": "roll forward to v2.18.0",
        "expected_telemetry": ["payment_error_rate back under 1% within 10 min"],
        "requested_by": "U0ENGINEER",
        "incident_id": "INC-20261125-01",
        "blast_radius": "payment-api in production (criticality payment)",
    }
    return {**base, **changes}


def packet(**changes: Any) -> EvidencePacket:
    return EvidencePacket.model_validate(fields(**changes))


BASELINE = evidence_hash(packet())


def test_key_order_does_not_change_the_hash():
    shuffled = dict(reversed(list(fields().items())))
    shuffled["current_state"] = dict(reversed(list(shuffled["current_state"].items())))
    shuffled["event_refs"] = [dict(reversed(list(ref.items()))) for ref in shuffled["event_refs"]]
    assert evidence_hash(EvidencePacket.model_validate(shuffled)) == BASELINE


def test_event_refs_and_risk_flags_are_sorted_so_their_order_does_not_matter():
    reordered = packet(
        event_refs=list(reversed(fields()["event_refs"])),
        risk_flags=["database_schema_change", "payment_service_touched", "database_schema_change"],
    )
    assert [ref.id for ref in reordered.event_refs] == ["evt-0003", "evt-0007"]
    assert evidence_hash(reordered) == BASELINE


# One changed value per field. The completeness test below fails when a field is added to the
# packet without a line here, so no field can silently fall out of the hash.
CHANGED: dict[str, Any] = {
    "action": "disable_flag",
    "target": "checkout-api",
    "environment": "staging",
    "service": "checkout-api",
    "current_state": {"version": "v2.18.1", "sha": "bbb2222", "deployed_at": DEPLOYED_AT, "replicas": 6},
    "proposed_state": {"version": "v2.17.2", "sha": "aaa1111"},
    "event_refs": [{"id": "evt-0007", "content_hash": "8" * 64}, {"id": "evt-0003", "content_hash": "3" * 64}],
    "readiness": [{**check, "answer": "no"} if check["name"] == "artifact" else check for check in READINESS],
    "risk_flags": ["payment_service_touched"],
    "alternatives": [],
    "undo_path": "redeploy v2.18.0",
    "expected_telemetry": ["payment_error_rate back under 2% within 10 min"],
    "requested_by": "U0OTHER",
    "incident_id": "INC-20261125-02",
    "blast_radius": None,
}


def test_every_field_has_a_change_case():
    assert set(CHANGED) == set(EvidencePacket.model_fields)


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_changing_any_one_field_changes_the_hash(field):
    assert evidence_hash(packet(**{field: CHANGED[field]})) != BASELINE


@pytest.mark.parametrize(
    ("current_state", "same"),
    [
        pytest.param({"n": 1}, {"n": 1.0}, id="integral-float-is-the-int"),
        pytest.param({"n": 4.50}, {"n": 4.5}, id="trailing-zero"),
        pytest.param({"n": 1e30}, {"n": 1000000000000000000000000000000.0}, id="exponent"),
        pytest.param(
            {"ok": True, "nested": {"b": 1, "a": [1, 2]}},
            {"nested": {"a": [1, 2], "b": 1}, "ok": True},
            id="nested-key-order",
        ),
        pytest.param({"at": DEPLOYED_AT.replace(microsecond=987654)}, {"at": DEPLOYED_AT}, id="microseconds-dropped"),
        pytest.param(
            {"at": DEPLOYED_AT.astimezone(timezone(timedelta(hours=7)))},
            {"at": DEPLOYED_AT},
            id="offset-normalised-to-utc",
        ),
        pytest.param({"at": DEPLOYED_AT.replace(tzinfo=None)}, {"at": DEPLOYED_AT}, id="naive-is-utc"),
        pytest.param({"at": DEPLOYED_AT}, {"at": "2026-11-25T09:52:00Z"}, id="time-is-its-rfc3339-string"),
        pytest.param({"list": (1, 2)}, {"list": [1, 2]}, id="tuple-is-a-list"),
    ],
)
def test_values_that_mean_the_same_hash_the_same(current_state, same):
    assert evidence_hash(packet(current_state=current_state)) == evidence_hash(packet(current_state=same))


@pytest.mark.parametrize(
    ("current_state", "other"),
    [
        pytest.param({"n": 1}, {"n": "1"}, id="number-is-not-a-string"),
        pytest.param({"flag": None}, {}, id="null-is-not-absent"),
        pytest.param({"name": "caf\u00e9"}, {"name": "cafe\u0301"}, id="no-unicode-normalisation"),
        pytest.param({"at": DEPLOYED_AT}, {"at": DEPLOYED_AT + timedelta(seconds=1)}, id="one-second-apart"),
    ],
)
def test_values_that_differ_hash_differently(current_state, other):
    assert evidence_hash(packet(current_state=current_state)) != evidence_hash(packet(current_state=other))


def test_numbers_and_strings_follow_the_rfc_8785_vector():
    # RFC 8785 section 3.2.2: the input and the expected canonical output.
    state = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert _state_json(packet(current_state=state)) == expected


def test_keys_sort_by_utf16_code_units_per_rfc_8785():
    # RFC 8785 section 3.2.3: the emoji (a surrogate pair) sorts before U+FB33.
    state = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    expected = '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\U0001f600":5,"\ufb33":3}'.encode()
    assert _state_json(packet(current_state=state)) == expected


def test_the_canonical_form_is_pinned():
    # If this changes, every pending approval's hash changes with it: bump it deliberately or not at all.
    fixed = EvidencePacket(
        action="disable_flag",
        target="checkout.new-routing",
        environment="production",
        service="payment-api",
        current_state={
            "state": "ENABLED",
            "defaultVariant": "on",
            "evaluated_variant": "on",
            "targeting": {"fractional": [["on", 25], ["off", 75]]},
        },
        proposed_state={"state": "ENABLED", "defaultVariant": "off", "targeting": None},
        event_refs=[{"id": "evt-0002", "content_hash": "b" * 64}, {"id": "evt-0001", "content_hash": "a" * 64}],
        readiness=None,
        risk_flags=["payment_service_touched"],
        alternatives=["roll back payment-api to v2.17.3"],
        undo_path="restore the previous flag definition",
        expected_telemetry=["checkout_authorization_error_rate falls"],
        requested_by="U0ENGINEER",
        incident_id="INC-20261125-01",
    )
    expected = (
        '{"action":"disable_flag","alternatives":["roll back payment-api to v2.17.3"],"blast_radius":null,'
        '"current_state":{"defaultVariant":"on","evaluated_variant":"on","state":"ENABLED",'
        '"targeting":{"fractional":[["on",25],["off",75]]}},"environment":"production",'
        f'"event_refs":[{{"content_hash":"{"a" * 64}","id":"evt-0001"}},{{"content_hash":"{"b" * 64}","id":"evt-0002"}}],'
        '"expected_telemetry":["checkout_authorization_error_rate falls"],"incident_id":"INC-20261125-01",'
        '"proposed_state":{"defaultVariant":"off","state":"ENABLED","targeting":null},"readiness":null,'
        '"requested_by":"U0ENGINEER","risk_flags":["payment_service_touched"],"service":"payment-api",'
        '"target":"checkout.new-routing","undo_path":"restore the previous flag definition"}'
    ).encode()
    assert canonical_json(fixed) == expected
    assert evidence_hash(fixed) == hashlib.sha256(expected).hexdigest()
    assert evidence_hash(fixed) == "293111f0f31838b66dcc39df785e523a1bfa2bfe41eb24999b14866afdb5e111"
    assert short_hash(evidence_hash(fixed)) == "293111f0f318"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 25, 10, 8, 0, 999999, tzinfo=UTC), "2026-11-25T10:08:00Z"),
        (datetime(2026, 11, 25, 17, 8, tzinfo=timezone(timedelta(hours=7))), "2026-11-25T10:08:00Z"),
        (datetime(2026, 11, 25, 10, 8), "2026-11-25T10:08:00Z"),
    ],
)
def test_times_are_rfc3339_utc_seconds(value, expected):
    assert rfc3339_utc(value) == expected


@pytest.mark.parametrize(
    "state",
    [
        pytest.param({"n": float("nan")}, id="nan"),
        pytest.param({"n": float("inf")}, id="infinity"),
        pytest.param({"n": 2**53}, id="integer-beyond-double-precision"),
        pytest.param({"n": {1, 2}}, id="set"),
        pytest.param({"n": {1: "one"}}, id="non-string-key"),
    ],
)
def test_values_without_an_exact_json_form_are_refused_when_the_packet_is_built(state):
    with pytest.raises(ValidationError):
        packet(current_state=state)


def test_one_event_cannot_carry_two_content_hashes():
    with pytest.raises(ValidationError, match="evt-0003"):
        packet(event_refs=[{"id": "evt-0003", "content_hash": "3" * 64}, {"id": "evt-0003", "content_hash": "4" * 64}])


def test_every_field_must_be_given_except_blast_radius():
    incomplete = fields()
    del incomplete["readiness"]
    with pytest.raises(ValidationError, match="readiness"):
        EvidencePacket.model_validate(incomplete)


def test_the_readiness_answers_are_part_of_the_packet():
    assert packet().readiness[0] == ReadinessCheck(name="artifact", answer="yes", source="deploy record")


@pytest.mark.parametrize(
    ("changes", "required", "missing"),
    [
        (
            {},
            ["current_version", "target_previous_version", "rollback_compatibility_check", "blast_radius_assessment"],
            [],
        ),
        (
            {"readiness": None, "blast_radius": None},
            ["current_version", "rollback_compatibility_check", "blast_radius_assessment"],
            ["rollback_compatibility_check", "blast_radius_assessment"],
        ),
        (
            {"proposed_state": {}},
            ["current_state", "proposed_state", "target_previous_version"],
            ["proposed_state", "target_previous_version"],
        ),
        (
            {"event_refs": [], "expected_telemetry": []},
            ["event_refs", "expected_telemetry", "undo_path"],
            ["event_refs", "expected_telemetry"],
        ),
    ],
)
def test_missing_evidence_names_what_the_policy_asked_for_and_the_packet_lacks(changes, required, missing):
    assert missing_evidence(packet(**changes), required) == missing


def test_short_hash_is_the_first_twelve_hex_digits():
    assert short_hash(BASELINE) == BASELINE[:12]
    with pytest.raises(ValueError):
        short_hash("abc")


def _state_json(built: EvidencePacket) -> bytes:
    """The current_state part of the canonical form, as it appears inside the packet's JSON."""
    canonical = canonical_json(built)
    start = canonical.index(b'"current_state":') + len(b'"current_state":')
    end = canonical.index(b',"environment":')
    return canonical[start:end]
