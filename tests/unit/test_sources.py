"""The webhook sources read real payloads into Signals and Changes, refuse anything else with a
one-line reason naming the field, and give each delivery the same natural key every time."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from bot.timeline.sources import ChangeIn, MalformedPayload, Ping, alertmanager, argocd, generic, github, read_object
from bot.timeline.sources.timestamps import parse_rfc3339
from tests.support.paths import FIXTURES, ROOT

ARGOCD_DOC = ROOT / "docs" / "argocd.md"
UTC = UTC


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(name))


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def reason_of(parse: Callable[[bytes], Any], payload: Any) -> str:
    with pytest.raises(MalformedPayload) as caught:
        parse(payload if isinstance(payload, bytes) else encode(payload))
    reason = caught.value.reason
    assert "\n" not in reason and str(caught.value) == reason
    return reason


def changed(payload: dict[str, Any], edit: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    copied = copy.deepcopy(payload)
    edit(copied)
    return copied


# --- Alertmanager -------------------------------------------------------------------------


def test_a_firing_notification_reads_into_one_signal_per_alert():
    batch = alertmanager.parse(fixture_bytes("alertmanager_webhook_firing.json"))

    assert batch.group_key == '{}/{severity="critical"}:{alertname="HighErrorRate", service="checkout"}'
    assert (batch.receiver, batch.status, batch.truncated_alerts) == ("incident-bot", "firing", 0)
    assert batch.external_url == "http://alertmanager.example.com:9093"
    assert batch.group_labels == {"alertname": "HighErrorRate", "service": "checkout"}
    assert [s.fingerprint for s in batch.signals] == ["5f2c1e8a9b3d7c41", "a07d43be1c92f6e0"]
    first, second = batch.signals
    assert (first.source, first.name, first.status) == ("alertmanager", "HighErrorRate", "firing")
    assert first.starts_at == datetime(2024, 5, 14, 10, 2, 31, 482000, tzinfo=UTC)
    assert second.starts_at == datetime(2024, 5, 14, 10, 2, 46, 482000, tzinfo=UTC)
    assert first.ends_at is None  # Alertmanager sent 0001-01-01T00:00:00Z
    assert first.labels["instance"] == "checkout-7d9f8b6c5-x2lqp:8080"
    assert first.annotations["summary"] == "High 5xx error rate on checkout"
    assert first.url is not None and first.url.endswith("%3E+0.05&g0.tab=1")  # Go wrote \u0026
    assert first.dedupe_key == "alert:5f2c1e8a9b3d7c41:firing:2024-05-14T10:02:31.482000+00:00"
    assert first.incident_id is None


def test_a_resolved_notification_carries_the_end_time():
    batch = alertmanager.parse(fixture_bytes("alertmanager_webhook_resolved.json"))

    assert batch.status == "resolved"
    [signal] = batch.signals
    assert (signal.fingerprint, signal.status) == ("5f2c1e8a9b3d7c41", "resolved")
    assert signal.starts_at == datetime(2024, 5, 14, 10, 2, 31, 482000, tzinfo=UTC)
    assert signal.ends_at == datetime(2024, 5, 14, 10, 31, 16, 482000, tzinfo=UTC)
    assert signal.annotations["description"].startswith("checkout 5xx ratio is 0.4%")


def test_the_same_alert_keeps_its_key_until_its_status_changes():
    firing_body = fixture_bytes("alertmanager_webhook_firing.json")
    firing = alertmanager.parse(firing_body).signals[0]
    repeated = alertmanager.parse(firing_body).signals[0]
    resolved = alertmanager.parse(fixture_bytes("alertmanager_webhook_resolved.json")).signals[0]

    assert repeated == firing
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.dedupe_key != firing.dedupe_key
    assert resolved.dedupe_key == "alert:5f2c1e8a9b3d7c41:resolved:2024-05-14T10:02:31.482000+00:00"


REAL_CAPTURE = [
    # name, fingerprint, status, startsAt, endsAt, groupKey
    (
        "TargetUp",
        "610e5fa95738003b",
        "firing",
        datetime(2026, 11, 25, 18, 46, 1, 677000, UTC),
        None,
        '{}:{alertname="TargetUp"}',
    ),
    (
        "AlwaysFiringTest",
        "1c6fbeb261c5274d",
        "firing",
        datetime(2026, 11, 25, 18, 45, 54, 677000, UTC),
        None,
        '{}:{alertname="AlwaysFiringTest", service="checkout"}',
    ),
    (
        "ManualTest",
        "8cf89314234bf1e1",
        "firing",
        datetime(2026, 11, 25, 18, 48, 8, 124057, UTC),
        None,
        '{}:{alertname="ManualTest", service="checkout"}',
    ),
    (
        "ManualTest",
        "8cf89314234bf1e1",
        "resolved",
        datetime(2026, 11, 25, 18, 48, 8, 124057, UTC),
        datetime(2026, 11, 25, 18, 48, 14, tzinfo=UTC),
        '{}:{alertname="ManualTest", service="checkout"}',
    ),
]


def test_bodies_captured_from_alertmanager_0_25_parse():
    lines = (FIXTURES / "alertmanager_webhook_real_capture_am0.25.jsonl").read_text().splitlines()
    captures = [json.loads(line) for line in lines]
    assert len(captures) == len(REAL_CAPTURE)

    for capture, (name, fingerprint, status, starts_at, ends_at, group_key) in zip(captures, REAL_CAPTURE, strict=True):
        # Each line is one POST: its path, its headers and the raw body as a string.
        assert capture["path"] == "/webhooks/alertmanager"
        assert capture["headers"]["User-Agent"] == "Alertmanager/0.25.0"
        body = capture["body"].encode()
        assert int(capture["headers"]["Content-Length"]) == len(body)
        assert body.endswith(b"}\n")  # Go's json.Encoder ends with a newline

        batch = alertmanager.parse(body)
        [signal] = batch.signals
        assert (signal.name, signal.fingerprint, signal.status) == (name, fingerprint, status)
        assert (signal.starts_at, signal.ends_at) == (starts_at, ends_at)
        assert (batch.status, batch.group_key, batch.receiver) == (status, group_key, "incident-bot")
        assert batch.external_url == "http://vm:19093"


def test_an_incident_label_or_annotation_links_the_alert():
    firing = fixture_json("alertmanager_webhook_firing.json")
    labelled = changed(firing, lambda p: p["alerts"][0]["labels"].update(incident="INC-20261125-01"))
    annotated = changed(firing, lambda p: p["alerts"][1]["annotations"].update(incident="INC-20261125-02"))
    junk = changed(firing, lambda p: p["alerts"][0]["labels"].update(incident="the big one"))

    assert alertmanager.parse(encode(labelled)).signals[0].incident_id == "INC-20261125-01"
    assert alertmanager.parse(encode(annotated)).signals[1].incident_id == "INC-20261125-02"
    assert alertmanager.parse(encode(junk)).signals[0].incident_id is None


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit that sets (or, for value ..., deletes) a dotted path such as alerts.0.startsAt."""

    def edit(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        holder: Any = payload
        for key in parents:
            holder = holder[int(key)] if isinstance(holder, list) else holder[key]
        key_or_index: Any = int(last) if isinstance(holder, list) else last
        if value is ...:
            del holder[key_or_index]
        else:
            holder[key_or_index] = value

    return edit


ALERTMANAGER_MALFORMED = [
    (_set("version", "1"), "version: expected \"4\", got '1'"),
    (_set("version", 4), 'version: expected "4", got 4'),
    (_set("version", ...), 'version: expected "4", missing'),
    (_set("groupKey", ...), "groupKey: missing"),
    (_set("status", "ok"), 'status: expected one of "firing", "resolved", got \'ok\''),
    (_set("truncatedAlerts", "0"), "truncatedAlerts: expected an integer, got a string"),
    (_set("truncatedAlerts", True), "truncatedAlerts: expected an integer, got a boolean"),
    (_set("truncatedAlerts", -1), "truncatedAlerts: negative"),
    (_set("alerts", "none"), "alerts: expected an array, got a string"),
    (_set("alerts", ...), "alerts: missing"),
    (_set("alerts.0", []), "alerts[0]: expected an object, got an array"),
    (_set("alerts.0.startsAt", "yesterday"), "alerts[0].startsAt: not an RFC 3339 time"),
    (_set("alerts.1.startsAt", "2024-05-14T10:02:46"), "alerts[1].startsAt: not an RFC 3339 time"),
    (_set("alerts.1.startsAt", 1715680966), "alerts[1].startsAt: expected a string, got a number"),
    (_set("alerts.0.endsAt", "never"), "alerts[0].endsAt: not an RFC 3339 time"),
    (_set("alerts.0.status", "pending"), 'alerts[0].status: expected one of "firing", "resolved", got \'pending\''),
    (_set("alerts.0.fingerprint", ...), "alerts[0].fingerprint: missing"),
    (_set("alerts.0.fingerprint", ""), "alerts[0].fingerprint: empty"),
    (_set("alerts.0.labels.severity", 3), "alerts[0].labels.severity: expected a string, got a number"),
    (_set("alerts.0.annotations", ["summary"]), "alerts[0].annotations: expected an object, got an array"),
    (_set("alerts.0.generatorURL", False), "alerts[0].generatorURL: expected a string, got a boolean"),
    # Where msgspec's schema and the field reader could part: the field reader must have the last word.
    (_set("truncatedAlerts", 2**70), "truncatedAlerts: expected an integer, got a number"),
    (_set("truncatedAlerts", 1.0), "truncatedAlerts: expected an integer, got a number"),
    (_set("receiver", ""), "receiver: empty"),
    (_set("groupLabels", {"alertname": 1}), "groupLabels.alertname: expected a string, got a number"),
    (_set("externalURL", 5), "externalURL: expected a string, got a number"),
    (_set("alerts.0.endsAt", ""), "alerts[0].endsAt: empty"),
    (_set("alerts.0.startsAt", "2024-05-14T10:02:46,5Z"), "alerts[0].startsAt: not an RFC 3339 time"),
]


@pytest.mark.parametrize(("edit", "reason"), ALERTMANAGER_MALFORMED)
def test_a_malformed_alertmanager_body_is_refused_naming_the_field(edit, reason):
    payload = changed(fixture_json("alertmanager_webhook_firing.json"), edit)
    assert reason_of(alertmanager.parse, payload) == reason


def test_a_resolved_alert_without_an_end_time_is_refused():
    payload = changed(
        fixture_json("alertmanager_webhook_resolved.json"), _set("alerts.0.endsAt", "0001-01-01T00:00:00Z")
    )
    assert reason_of(alertmanager.parse, payload).startswith("alerts[0].endsAt: a resolved alert needs")


def alertmanager_bodies() -> list[bytes]:
    captured = (FIXTURES / "alertmanager_webhook_real_capture_am0.25.jsonl").read_text().splitlines()
    optional_absent = changed(
        fixture_json("alertmanager_webhook_firing.json"),
        lambda p: (
            p["alerts"][0].update(annotations=None, labels=None, generatorURL="", endsAt=None),
            p.pop("groupLabels"),
        ),
    )
    return [
        fixture_bytes("alertmanager_webhook_firing.json"),
        fixture_bytes("alertmanager_webhook_resolved.json"),
        *(json.loads(line)["body"].encode() for line in captured),
        encode(optional_absent),
    ]


@pytest.mark.parametrize("body", alertmanager_bodies())
def test_the_schema_and_the_field_reader_read_every_fixture_the_same(body):
    # The schema is the fast path for well-formed bodies: every fixture must take it, and read as the field reader reads.
    alertmanager._DECODER.decode(body)
    assert alertmanager.parse(body) == alertmanager._read(body)


def test_a_body_only_the_field_reader_reads_is_still_read():
    # A repeated key (the last one counts, as orjson and json read it) and a lone surrogate (only json reads it).
    firing = fixture_bytes("alertmanager_webhook_firing.json")
    repeated = firing.replace(b"{", b'{"receiver": 7, ', 1)
    assert alertmanager.parse(repeated).receiver == fixture_json("alertmanager_webhook_firing.json")["receiver"]
    surrogate = firing.replace(b'"summary": "High', b'"summary": "half \\ud83d High', 1)
    assert (
        alertmanager.parse(surrogate).signals[0].annotations["summary"] == "half \ud83d High 5xx error rate on checkout"
    )


def test_optional_alert_fields_may_be_absent():
    payload = changed(
        fixture_json("alertmanager_webhook_firing.json"),
        lambda p: (
            p["alerts"][0].update(annotations=None, generatorURL=""),
            p["alerts"][0]["labels"].pop("alertname"),
            p.pop("truncatedAlerts"),
            p.pop("externalURL"),
        ),
    )
    batch = alertmanager.parse(encode(payload))
    signal = batch.signals[0]
    assert (signal.annotations, signal.url, signal.name) == ({}, None, "(no alertname)")
    assert (batch.truncated_alerts, batch.external_url) == (0, None)


# --- Timestamps ---------------------------------------------------------------------------

PRECISIONS = [
    ("2026-11-25T18:48:08Z", 0),
    ("2026-11-25T18:48:08.1Z", 100000),
    ("2026-11-25T18:48:08.124Z", 124000),
    ("2026-11-25T18:48:08.124057Z", 124057),
    ("2026-11-25T18:48:08.124057443Z", 124057),  # nanoseconds are truncated, not rounded
    ("2026-11-25T18:48:08.999999999Z", 999999),
    ("2026-11-25T18:48:08.124+00:00", 124000),
    ("2026-11-25t18:48:08.124z", 124000),
]


@pytest.mark.parametrize(("text", "micros"), PRECISIONS)
def test_times_with_0_to_9_fractional_digits_read_as_utc(text, micros):
    assert parse_rfc3339(text) == datetime(2026, 11, 25, 18, 48, 8, micros, tzinfo=UTC)


@pytest.mark.parametrize("text", [t for t, _ in PRECISIONS])
def test_alert_times_of_any_precision_parse_and_keep_their_key(text):
    payload = changed(fixture_json("alertmanager_webhook_firing.json"), _set("alerts.0.startsAt", text))
    first, again = (alertmanager.parse(encode(payload)).signals[0] for _ in range(2))
    assert first.starts_at.tzinfo == UTC and first.starts_at.second == 8
    assert first.dedupe_key == again.dedupe_key


def test_an_offset_is_converted_to_utc():
    assert parse_rfc3339("2024-05-14T11:55:02+02:00") == datetime(2024, 5, 14, 9, 55, 2, tzinfo=UTC)
    assert parse_rfc3339("2024-05-14T07:55:02.5-02:00") == datetime(2024, 5, 14, 9, 55, 2, 500000, UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-25",
        "2026-11-25T18:48:08",  # no offset: local time is not an instant
        "2026-11-25 18:48:08Z",
        "2026-11-25T18:48:08.Z",
        "2026-11-25T18:48:08.1234567890Z",  # ten digits
        "2026-11-25T18:48:08+0200",
        "2026-13-01T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    ],
)
def test_anything_else_is_not_a_time(text):
    with pytest.raises(ValueError):
        parse_rfc3339(text)


# --- Every parser refuses what is not a JSON object --------------------------------------

PARSERS = {
    "alertmanager": alertmanager.parse,
    "github": lambda body: github.parse("push", body),
    "argocd": argocd.parse,
    "generic": generic.parse,
}
NOT_AN_OBJECT = [
    (b"", "body: not JSON (Expecting value at line 1 column 1)"),
    (b"<html>", "body: not JSON (Expecting value at line 1 column 1)"),
    (b'{"a": 1', "body: not JSON (Expecting ',' delimiter at line 1 column 8)"),
    (b"\xff\xfe{}", "body: not UTF-8"),
    (b"[1, 2]", "body: expected a JSON object, got an array"),
    (b'"text"', "body: expected a JSON object, got a string"),
    (b"null", "body: expected a JSON object, got null"),
    (b"42", "body: expected a JSON object, got a number"),
    (b'{"a": NaN}', "body: not JSON (NaN is not JSON at line 1 column 1)"),
]


@pytest.mark.parametrize("source", PARSERS)
@pytest.mark.parametrize(("body", "reason"), NOT_AN_OBJECT)
def test_every_parser_refuses_a_body_that_is_not_a_json_object(source, body, reason):
    assert reason_of(PARSERS[source], body) == reason


@pytest.mark.parametrize(("body", "value"), [(b'{"a": "\\ud800"}', "\ud800"), (b'{"a": 1e400}', float("inf"))])
def test_a_body_json_reads_is_read_as_json_reads_it(body, value):
    assert read_object(body).raw("a") == value


# --- GitHub -------------------------------------------------------------------------------


def test_the_official_signature_vector_verifies():
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert github.verify_github_signature("It's a Secret to Everybody", b"Hello, World!", signature)
    assert not github.verify_github_signature("It's a Secret to Everybody", b"Hello, World?", signature)
    assert not github.verify_github_signature("another secret", b"Hello, World!", signature)


def test_the_fixture_delivery_is_signed_over_its_exact_bytes():
    headers = fixture_json("github_push_headers.json")["headers"]
    body = fixture_bytes("github_push_config_repo.json")
    signature = headers["X-Hub-Signature-256"]

    assert github.verify_github_signature("test-webhook-secret", body, signature)
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert not github.verify_github_signature("test-webhook-secret", reserialised, signature)
    assert not github.verify_github_signature("test-webhook-secret", body + b"\n", signature)


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha1=" + "0" * 40, "sha256=zz", "sha256=\u00e9"])
def test_a_missing_or_foreign_signature_does_not_verify(header):
    assert not github.verify_github_signature("test-webhook-secret", b"{}", header)


def test_an_unset_secret_verifies_nothing():
    body = b"{}"
    import hashlib
    import hmac

    empty_key_signature = "sha256=" + hmac.new(b"", body, hashlib.sha256).hexdigest()
    assert not github.verify_github_signature("", body, empty_key_signature)


def test_a_deployment_reads_into_a_change():
    [change] = github.parse("deployment", fixture_bytes("github_deployment_created.json"))

    assert (change.source, change.kind, change.state) == ("github", "deployment", None)
    assert (change.repository, change.environment) == ("acme/checkout", "production")
    assert (change.version, change.previous_version) == ("v2.14.0", None)
    assert change.sha == "3f786850e387550fdab836ed7e6dc881de23001b"
    assert (change.actor, change.summary) == ("alice-dev", "Deploy checkout v2.14.0")
    assert change.trust == "untrusted_runtime_output"  # a person wrote the description
    assert change.at == datetime(2024, 5, 14, 9, 58, 2, tzinfo=UTC)
    assert change.url == "https://api.github.com/repos/acme/checkout/deployments/1873264512"
    assert change.metadata["deployment_id"] == 1873264512
    assert change.metadata["payload"] == {"image": "ghcr.io/acme/checkout:v2.14.0"}
    assert "schema_migration" not in change.metadata
    assert change.dedupe_key == "github:deployment:1873264512"
    assert (change.service, change.files, change.incident_id) == (None, [], None)


@pytest.mark.parametrize("as_string", [False, True])
def test_a_deployment_payload_object_or_json_string_carries_migration_and_previous_version(as_string):
    custom = {"schema_migration": "irreversible", "previous_version": "v2.13.2", "incident": "INC-20261125-01"}
    payload = changed(
        fixture_json("github_deployment_created.json"),
        _set("deployment.payload", json.dumps(custom) if as_string else custom),
    )

    [change] = github.parse("deployment", encode(payload))
    assert change.metadata["schema_migration"] == "irreversible"
    assert change.previous_version == "v2.13.2"
    assert change.incident_id == "INC-20261125-01"
    assert change.metadata["payload"] == custom


@pytest.mark.parametrize("raw", ["", "deploy fast", "[1, 2]", None, {}])
def test_a_deployment_payload_of_any_other_shape_is_legal_and_says_nothing(raw):
    payload = changed(fixture_json("github_deployment_created.json"), _set("deployment.payload", raw))
    [change] = github.parse("deployment", encode(payload))
    assert change.previous_version is None and "schema_migration" not in change.metadata


def test_a_deployment_without_description_gets_our_own_trusted_summary():
    payload = changed(fixture_json("github_deployment_created.json"), _set("deployment.description", None))
    [change] = github.parse("deployment", encode(payload))
    assert (change.summary, change.trust) == ("Deploy v2.14.0 to production", "trusted_platform")


def test_a_deployment_status_reads_into_a_change():
    [change] = github.parse("deployment_status", fixture_bytes("github_deployment_status_success.json"))

    assert (change.kind, change.state, change.environment) == ("deployment_status", "success", "production")
    assert (change.version, change.sha) == ("v2.14.0", "3f786850e387550fdab836ed7e6dc881de23001b")
    assert change.actor == "github-actions[bot]"
    assert change.summary == "Rollout complete: 6/6 pods updated"
    assert change.at == datetime(2024, 5, 14, 10, 1, 47, tzinfo=UTC)
    assert change.url == "https://github.com/acme/checkout/actions/runs/9081726354"
    assert change.metadata["deployment_id"] == 1873264512
    assert change.metadata["deployment_status_id"] == 4419826301
    assert change.dedupe_key == "github:deployment_status:1873264512:success"


@pytest.mark.parametrize(
    "state", sorted(["error", "failure", "inactive", "in_progress", "queued", "pending", "success", "waiting"])
)
def test_every_deployment_state_is_accepted_with_its_own_key(state):
    payload = changed(fixture_json("github_deployment_status_success.json"), _set("deployment_status.state", state))
    [change] = github.parse("deployment_status", encode(payload))
    [again] = github.parse("deployment_status", encode(payload))
    assert change.state == state
    assert change.dedupe_key == again.dedupe_key == f"github:deployment_status:1873264512:{state}"


def test_a_push_gives_one_config_change_per_commit():
    changes = github.parse("push", fixture_bytes("github_push_config_repo.json"))

    assert [c.sha for c in changes] == [
        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
        "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0",
    ]
    first, second = changes
    assert first.files == ["services/checkout/values-prod.yaml"]
    assert second.files == [
        "flags/prod/new-payment-flow.flagd.json",  # added
        "flags/prod/old-payment-flow.flagd.json",  # removed
        "flags/prod/README.md",  # modified
    ]
    assert first.summary == "checkout: raise db pool size to 80"
    assert second.summary == "flags: enable new-payment-flow for 50% in prod"  # first line only
    for change in changes:
        assert (change.kind, change.repository, change.version) == ("config_change", "acme/platform-config", None)
        assert (change.actor, change.trust) == ("bob-ops", "untrusted_runtime_output")
        # When the push landed (repository.pushed_at, a UNIX integer), not when it was committed.
        assert change.at == datetime(2024, 5, 14, 9, 55, 11, tzinfo=UTC)
        assert change.metadata["ref"] == "refs/heads/main" and change.metadata["on_default_branch"]
    assert first.metadata["committed_at"] == "2024-05-14T09:54:10+00:00"
    assert second.metadata["removed"] == ["flags/prod/old-payment-flow.flagd.json"]
    assert second.url == "https://github.com/acme/platform-config/commit/b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"
    assert first.dedupe_key == "github:commit:acme/platform-config:e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_a_push_re_delivered_keeps_its_keys():
    body = fixture_bytes("github_push_config_repo.json")
    assert github.parse("push", body) == github.parse("push", body)


def test_a_push_without_pushed_at_is_dated_by_its_commits():
    payload = changed(fixture_json("github_push_config_repo.json"), _set("repository.pushed_at", ...))
    first, second = github.parse("push", encode(payload))
    assert first.at == datetime(2024, 5, 14, 9, 54, 10, tzinfo=UTC)
    assert second.at == datetime(2024, 5, 14, 9, 55, 2, tzinfo=UTC)


def test_a_push_to_another_branch_is_reported_as_such():
    payload = changed(fixture_json("github_push_config_repo.json"), _set("ref", "refs/heads/try-pool-size"))
    changes = github.parse("push", encode(payload))
    assert [c.metadata["branch"] for c in changes] == ["try-pool-size", "try-pool-size"]
    assert not any(c.metadata["on_default_branch"] for c in changes)


@pytest.mark.parametrize(
    "edit",
    [
        _set("after", "0" * 40),
        lambda p: p.update(deleted=True, after="0" * 40, commits=[], head_commit=None),
    ],
)
def test_a_deleted_branch_is_no_change(edit):
    payload = changed(fixture_json("github_push_config_repo.json"), edit)
    assert github.parse("push", encode(payload)) == []


def test_a_form_encoded_delivery_reads_like_json():
    body = fixture_bytes("github_push_config_repo.json")
    form = b"payload=" + quote(body.decode(), safe="").encode()
    assert github.parse("push", form) == github.parse("push", body)


def test_a_ping_is_answered_not_recorded():
    ping = github.parse("ping", encode({"zen": "Design for failure.", "hook_id": 292430182, "hook": {}}))
    assert ping == Ping(zen="Design for failure.", hook_id=292430182)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("hook_id", ...), "hook_id: missing"),
        (_set("hook_id", "292430182"), "hook_id: expected an integer, got a string"),
        (_set("zen", None), "zen: missing"),
    ],
)
def test_a_malformed_ping_is_refused(edit, reason):
    ping = changed({"zen": "Design for failure.", "hook_id": 292430182}, edit)
    assert reason_of(lambda body: github.parse("ping", body), ping) == reason


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("issues", "X-GitHub-Event: unsupported event 'issues'"),
        ("Push", "X-GitHub-Event: unsupported event 'Push'"),
        ("", "X-GitHub-Event: missing"),
        (None, "X-GitHub-Event: missing"),
    ],
)
def test_an_unsupported_event_is_refused_by_its_header(event, reason):
    assert reason_of(lambda body: github.parse(event, body), b"{}") == reason


GITHUB_MALFORMED = [
    ("deployment", "github_deployment_created.json", _set("deployment", ...), "deployment: missing"),
    (
        "deployment",
        "github_deployment_created.json",
        _set("deployment.id", "1873264512"),
        "deployment.id: expected an integer, got a string",
    ),
    (
        "deployment",
        "github_deployment_created.json",
        _set("deployment.created_at", "Tuesday"),
        "deployment.created_at: not an RFC 3339 time",
    ),
    ("deployment", "github_deployment_created.json", _set("deployment.sha", None), "deployment.sha: missing"),
    (
        "deployment",
        "github_deployment_created.json",
        _set("deployment.payload", 7),
        "deployment.payload: expected an object or a string, got 7",
    ),
    (
        "deployment",
        "github_deployment_created.json",
        _set("deployment.payload", {"previous_version": 13}),
        "deployment.payload.previous_version: expected a string, got a number",
    ),
    (
        "deployment",
        "github_deployment_created.json",
        _set("deployment.payload", {"schema_migration": True}),
        "deployment.payload.schema_migration: expected a string, got a boolean",
    ),
    (
        "deployment_status",
        "github_deployment_status_success.json",
        _set("deployment_status.state", "done"),
        'deployment_status.state: expected one of "error", "failure", "in_progress", "inactive", '
        '"pending", "queued", "success", "waiting", got \'done\'',
    ),
    ("deployment_status", "github_deployment_status_success.json", _set("deployment", ...), "deployment: missing"),
    (
        "push",
        "github_push_config_repo.json",
        _set("commits.1.added.0", 5),
        "commits[1].added[0]: expected a string, got a number",
    ),
    (
        "push",
        "github_push_config_repo.json",
        _set("commits.0.timestamp", "2024-05-14"),
        "commits[0].timestamp: not an RFC 3339 time",
    ),
    ("push", "github_push_config_repo.json", _set("commits", {"id": "x"}), "commits: expected an array, got an object"),
    (
        "push",
        "github_push_config_repo.json",
        _set("repository.pushed_at", "soon"),
        "repository.pushed_at: not an RFC 3339 time",
    ),
    (
        "push",
        "github_push_config_repo.json",
        _set("repository.pushed_at", 10**20),
        "repository.pushed_at: not a UNIX time",
    ),
    ("push", "github_push_config_repo.json", _set("deleted", "no"), "deleted: expected a boolean, got a string"),
]


@pytest.mark.parametrize(("event", "fixture", "edit", "reason"), GITHUB_MALFORMED)
def test_a_malformed_github_body_is_refused_naming_the_field(event, fixture, edit, reason):
    payload = changed(fixture_json(fixture), edit)
    assert reason_of(lambda body: github.parse(event, body), payload) == reason


# --- Argo CD ------------------------------------------------------------------------------

OLD_REVISION = "9c1185a5c5e9fc54612808977ee8f548b2258d31"
NEW_REVISION = "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"


def test_a_body_from_the_first_shared_template_still_parses():
    # fixtures/argocd_notifications_cm.yaml rendered "event" from a variable that does not
    # exist; the trigger is inferred from the phase.
    change = argocd.parse(fixture_bytes("argocd_webhook_sync_succeeded.json"))

    assert (change.source, change.kind, change.state) == ("argocd", "deployment", "Succeeded")
    assert change.application == "checkout-prod"
    assert change.repository == "https://github.com/acme/platform-config.git"
    assert (change.version, change.sha) == ("main", NEW_REVISION)
    assert change.at == datetime(2024, 5, 14, 9, 56, 7, tzinfo=UTC)
    assert change.url == "https://argocd.example.com/applications/checkout-prod"
    assert (change.actor, change.metadata["automated"]) == (None, True)
    assert change.summary == "Argo CD checkout-prod: sync Succeeded at b6fc4c6 (main)"
    assert change.trust == "trusted_platform"
    assert change.metadata["trigger"] == "sync-succeeded"
    assert change.metadata["health_status"] == "Progressing"
    assert change.metadata["previous_revision"] == OLD_REVISION
    assert change.metadata["previous_history_id"] == 41
    assert [entry["id"] for entry in change.metadata["history"]] == [41, 42]
    assert (
        change.dedupe_key == f"argocd:checkout-prod:{NEW_REVISION}:sync-succeeded:Succeeded:2024-05-14T09:56:07+00:00"
    )


class GoTemplate:
    """Just enough of Go's text/template to render docs/argocd.md as Argo CD would: field
    chains, toJson, with/else/end and the one clock call. Anything else fails the test, so a
    template edit that this cannot vouch for is noticed."""

    CLOCK = "(call .time.Now).UTC.Format .time.RFC3339"

    def __init__(self, source: str) -> None:
        self.nodes, _, stop = self._parse(re.split(r"({{.*?}})", source, flags=re.S), 0)
        assert stop is None, "unbalanced {{end}}"

    def _parse(self, tokens: list[str], i: int) -> tuple[list[tuple], int, str | None]:
        nodes: list[tuple] = []
        while i < len(tokens):
            token, i = tokens[i], i + 1
            if not token.startswith("{{"):
                nodes.append(("text", token))
                continue
            action = token[2:-2].strip()
            if action in ("else", "end"):
                return nodes, i, action
            if action.startswith("with "):
                body, i, stop = self._parse(tokens, i)
                otherwise: list[tuple] = []
                if stop == "else":
                    otherwise, i, stop = self._parse(tokens, i)
                assert stop == "end", f"{{{{{action}}}}} is not closed"
                nodes.append(("with", action[5:].strip(), body, otherwise))
            else:
                nodes.append(("print", action))
        return nodes, i, None

    def render(self, data: dict[str, Any], now: datetime) -> str:
        return self._render(self.nodes, data, now)

    def _render(self, nodes: list[tuple], dot: Any, now: datetime) -> str:
        out = []
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "with":
                value = self._eval(node[1], dot, now)
                out.append(self._render(node[2], value, now) if value else self._render(node[3], dot, now))
            else:
                value = self._eval(node[1], dot, now)
                out.append("<no value>" if value is None else str(value))
        return "".join(out)

    def _eval(self, expression: str, dot: Any, now: datetime) -> Any:
        if expression == self.CLOCK:
            return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if expression.startswith("toJson "):
            return json.dumps(self._eval(expression[len("toJson ") :], dot, now))
        assert re.fullmatch(r"(\.[A-Za-z_]\w*)+", expression), f"unsupported action {{{{{expression}}}}}"
        value = dot
        for key in expression[1:].split("."):
            # Go: a missing map key is "no value"; reading a field of it stops the template.
            assert isinstance(value, dict), f"nil pointer evaluating interface {{}}.{key} in {expression}"
            value = value.get(key)
        return value


def argocd_configmap() -> dict[str, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", ARGOCD_DOC.read_text(), flags=re.S)
    [configmap] = [doc for doc in map(yaml.safe_load, blocks) if doc.get("kind") == "ConfigMap"]
    return configmap["data"]


def render_argocd(trigger: str, app: dict[str, Any], now: datetime) -> bytes:
    """The body Argo CD posts when `trigger` fires for `app`, per docs/argocd.md."""
    data = argocd_configmap()
    [rule] = yaml.safe_load(data[f"trigger.on-{trigger}"])
    [template_name] = rule["send"]
    webhook = yaml.safe_load(data[f"template.{template_name}"])["webhook"]["steward"]
    assert webhook["method"] == "POST"
    context = yaml.safe_load(data["context"])
    return GoTemplate(webhook["body"]).render({"app": app, "context": context}, now).encode()


def application(**status: Any) -> dict[str, Any]:
    """An Argo CD Application as the notifications controller sees it, after the fixture's sync."""
    fixture = fixture_json("argocd_webhook_sync_succeeded.json")
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "checkout-prod", "namespace": "argocd"},
        "spec": {
            "project": "payments",
            "source": {
                "repoURL": "https://github.com/acme/platform-config.git",
                "path": "services/checkout/overlays/prod",
                "targetRevision": "main",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "checkout"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": NEW_REVISION},
            "health": {"status": "Progressing"},
            "operationState": fixture["operationState"],
            "history": fixture["history"],
        },
    }
    app["status"].update(status)
    return app


RUNNING = {
    "operation": {"sync": {"revision": NEW_REVISION}, "initiatedBy": {"username": "alice-dev"}},
    "phase": "Running",
    "message": "waiting for healthy state of apps/Deployment/checkout",
    "startedAt": "2024-05-14T09:56:03Z",
}
FAILED = {
    "operation": {"sync": {"revision": NEW_REVISION}, "initiatedBy": {"automated": True}},
    "phase": "Failed",
    "message": "one or more objects failed to apply, reason: admission webhook denied the request",
    "startedAt": "2024-05-14T09:56:03Z",
    "finishedAt": "2024-05-14T09:56:41Z",
    "syncResult": {"revision": NEW_REVISION, "resources": []},
}
ONLY_OLD_HISTORY = fixture_json("argocd_webhook_sync_succeeded.json")["history"][:1]
NOW = datetime(2024, 5, 14, 10, 4, 30, tzinfo=UTC)

ARGOCD_SCENARIOS = [
    # trigger, Application status, state, at, actor, previous revision
    (
        "sync-running",
        {
            "operationState": RUNNING,
            "sync": {"status": "OutOfSync", "revision": NEW_REVISION},
            "history": ONLY_OLD_HISTORY,
        },
        "Running",
        datetime(2024, 5, 14, 9, 56, 3, tzinfo=UTC),
        "alice-dev",
        OLD_REVISION,
    ),
    ("sync-succeeded", {}, "Succeeded", datetime(2024, 5, 14, 9, 56, 7, tzinfo=UTC), None, OLD_REVISION),
    (
        "sync-failed",
        {"operationState": FAILED, "history": ONLY_OLD_HISTORY, "health": {"status": "Healthy"}},
        "Failed",
        datetime(2024, 5, 14, 9, 56, 41, tzinfo=UTC),
        None,
        OLD_REVISION,
    ),
    ("health-degraded", {"health": {"status": "Degraded"}}, "Degraded", NOW, None, OLD_REVISION),
]


@pytest.mark.parametrize(("trigger", "status", "state", "at", "actor", "previous"), ARGOCD_SCENARIOS)
def test_each_documented_template_renders_a_body_the_parser_reads(trigger, status, state, at, actor, previous):
    change = argocd.parse(render_argocd(trigger, application(**status), NOW))

    assert (change.kind, change.state, change.at, change.actor) == ("deployment", state, at, actor)
    assert change.metadata["trigger"] == trigger
    assert (change.application, change.sha, change.version) == ("checkout-prod", NEW_REVISION, "main")
    assert change.repository == "https://github.com/acme/platform-config.git"
    assert change.metadata["path"] == "services/checkout/overlays/prod"
    assert change.metadata["previous_revision"] == previous
    assert change.url == "https://argocd.example.com/applications/checkout-prod"


def test_every_documented_trigger_sends_its_own_template():
    data = argocd_configmap()
    service = yaml.safe_load(data["service.webhook.steward"])
    assert service["url"].endswith("/webhooks/argocd")
    assert {"name": "Authorization", "value": "Bearer $steward-webhook-token"} in service["headers"]
    for trigger in argocd.TRIGGERS:
        [rule] = yaml.safe_load(data[f"trigger.on-{trigger}"])
        assert rule["send"] == [f"steward-{trigger}"]
        assert f'"event": "{trigger}"' in data[f"template.steward-{trigger}"]
        assert f'notifications.argoproj.io/subscribe.on-{trigger}.steward: ""' in ARGOCD_DOC.read_text()


def test_argocd_keys_repeat_with_a_redelivery_and_differ_between_events():
    bodies = {trigger: render_argocd(trigger, application(**status), NOW) for trigger, status, *_ in ARGOCD_SCENARIOS}
    keys = {trigger: argocd.parse(body).dedupe_key for trigger, body in bodies.items()}

    assert len(set(keys.values())) == len(ARGOCD_SCENARIOS)
    assert all(argocd.parse(body).dedupe_key == keys[t] for t, body in bodies.items())
    # The same degraded app noticed again later is a new event.
    later = render_argocd("health-degraded", application(health={"status": "Degraded"}), NOW + timedelta(hours=1))
    assert argocd.parse(later).dedupe_key != keys["health-degraded"]


def test_a_multi_source_app_that_never_synced_still_renders_and_parses():
    app = application(
        health={"status": "Degraded"},
        operationState=None,
        history=None,
        sync={"status": "OutOfSync", "revision": NEW_REVISION},
    )
    del app["spec"]["source"]
    app["spec"]["sources"] = [
        {"repoURL": "https://github.com/acme/charts.git", "path": "checkout", "targetRevision": "1.4.0"},
        {"repoURL": "https://github.com/acme/platform-config.git", "targetRevision": "main", "ref": "values"},
    ]
    body = render_argocd("health-degraded", app, NOW)
    assert json.loads(body)["repoURL"] is None and json.loads(body)["operationState"] is None

    change = argocd.parse(body)
    assert (change.repository, change.version) == ("https://github.com/acme/charts.git", "1.4.0")
    assert (change.sha, change.state, change.at) == (NEW_REVISION, "Degraded", NOW)
    assert change.metadata["history"] == [] and change.metadata["previous_revision"] is None


def test_go_no_value_reads_as_absent():
    payload = changed(
        fixture_json("argocd_webhook_sync_succeeded.json"),
        lambda p: p.update(
            event="<no value>",
            syncRevision="<no value>",
            project="<no value>",
            url="<no value>/applications/checkout-prod",
        ),
    )
    change = argocd.parse(encode(payload))
    assert change.metadata["project"] is None and change.sha == NEW_REVISION
    assert change.url is None


def sync_failed_body() -> dict[str, Any]:
    return json.loads(render_argocd("sync-failed", application(operationState=FAILED), NOW))


ARGOCD_MALFORMED = [
    (
        _set("event", "deployed"),
        'event: expected one of "health-degraded", "sync-failed", "sync-running", "sync-succeeded", got \'deployed\'',
    ),
    (_set("event", 3), "event: expected a string, got a number"),
    (_set("app", ...), "app: missing"),
    (_set("operationState", None), "operationState: missing for trigger 'sync-failed'"),
    (_set("operationState.phase", None), "operationState.phase: missing for trigger 'sync-failed'"),
    (_set("operationState.finishedAt", "later"), "operationState.finishedAt: not an RFC 3339 time"),
    (_set("operationState", "Failed"), "operationState: expected an object, got a string"),
    (_set("history.0.id", "41"), "history[0].id: expected an integer, got a string"),
    (_set("sentAt", "now"), "sentAt: not an RFC 3339 time"),
    (_set("sources", {}), "sources: expected an array, got an object"),
]


@pytest.mark.parametrize(("edit", "reason"), ARGOCD_MALFORMED)
def test_a_malformed_argocd_body_is_refused_naming_the_field(edit, reason):
    payload = sync_failed_body()
    if "sources" in reason:
        payload["repoURL"] = None
    assert reason_of(argocd.parse, changed(payload, edit)) == reason


def test_degraded_health_needs_the_health_and_some_time():
    degraded = json.loads(render_argocd("health-degraded", application(health={"status": "Degraded"}), NOW))
    assert (
        reason_of(argocd.parse, changed(degraded, _set("healthStatus", None)))
        == "healthStatus: missing for trigger 'health-degraded'"
    )
    undated = changed(degraded, lambda p: p.update(sentAt=None, operationState=None))
    assert reason_of(argocd.parse, undated).startswith("sentAt: missing")


# --- Generic change events ----------------------------------------------------------------

GENERIC_EVENT = {
    "id": "spinnaker-exec-01HF3K",
    "type": "deployment",
    "service": "payment-api",
    "environment": "production",
    "version": "v2.18.0",
    "previous_version": "v2.17.3",
    "at": "2026-11-25T09:44:12.120Z",
    "actor": "spinnaker",
    "summary": "Deploy payment-api v2.18.0 (canary 10% -> 100%)",
    "url": "https://spinnaker.example.com/executions/01HF3K",
    "files": ["db/migrations/0042_drop_legacy_column.sql"],
    "metadata": {"schema_migration": "irreversible", "pipeline": "payment-api-prod"},
}


def test_a_generic_change_event_reads_into_a_change():
    change = generic.parse(encode(GENERIC_EVENT))

    assert (change.source, change.kind, change.service) == ("generic", "deployment", "payment-api")
    assert (change.environment, change.version, change.previous_version) == ("production", "v2.18.0", "v2.17.3")
    assert change.at == datetime(2026, 11, 25, 9, 44, 12, 120000, tzinfo=UTC)
    assert (change.actor, change.url) == ("spinnaker", "https://spinnaker.example.com/executions/01HF3K")
    assert change.summary == "Deploy payment-api v2.18.0 (canary 10% -> 100%)"
    assert change.trust == "untrusted_runtime_output"
    assert change.files == ["db/migrations/0042_drop_legacy_column.sql"]
    assert change.metadata == {"schema_migration": "irreversible", "pipeline": "payment-api-prod"}
    assert change.dedupe_key == "generic:spinnaker-exec-01HF3K"
    assert generic.parse(encode(GENERIC_EVENT)) == change


@pytest.mark.parametrize(
    ("kind", "summary"),
    [
        ("deployment", "Deployment of payment-api"),
        ("config_change", "Config change of payment-api"),
        ("flag_change", "Flag change of payment-api"),
    ],
)
def test_a_minimal_generic_event_gets_our_own_summary(kind, summary):
    change = generic.parse(encode({"id": "e1", "type": kind, "service": "payment-api", "at": "2026-11-25T09:44:12Z"}))
    assert (change.kind, change.summary, change.trust) == (kind, summary, "trusted_platform")
    assert (change.files, change.metadata, change.environment, change.incident_id) == ([], {}, None, None)


def test_a_generic_event_may_name_its_incident():
    change = generic.parse(encode(GENERIC_EVENT | {"incident": "INC-20261125-01"}))
    assert change.incident_id == "INC-20261125-01"


GENERIC_MALFORMED = [
    (_set("id", ...), "id: missing"),
    (_set("id", 17), "id: expected a string, got a number"),
    (_set("type", ...), "type: missing"),
    (_set("type", "rollback"), 'type: expected one of "config_change", "deployment", "flag_change", got \'rollback\''),
    (
        _set("type", "deployment_status"),
        'type: expected one of "config_change", "deployment", "flag_change", got \'deployment_status\'',
    ),
    (_set("service", ...), "service: missing"),
    (_set("service", ""), "service: empty"),
    (_set("at", ...), "at: missing"),
    (_set("at", "2026-11-25 09:44"), "at: not an RFC 3339 time"),
    (_set("version", 2), "version: expected a string, got a number"),
    (_set("files", "a.yaml"), "files: expected an array, got a string"),
    (_set("files.0", {"path": "a"}), "files[0]: expected a string, got an object"),
    (_set("metadata", []), "metadata: expected an object, got an array"),
    (_set("incident", "the outage"), "incident: expected an incident id like INC-20261125-01"),
]


@pytest.mark.parametrize(("edit", "reason"), GENERIC_MALFORMED)
def test_a_malformed_generic_event_is_refused_naming_the_field(edit, reason):
    assert reason_of(generic.parse, changed(GENERIC_EVENT, edit)) == reason


# --- The models themselves ----------------------------------------------------------------


def test_a_change_refuses_a_naive_time():
    with pytest.raises(ValueError):
        ChangeIn(
            source="generic",
            kind="deployment",
            summary="x",
            at=datetime(2026, 11, 25, 9, 0),
            dedupe_key="k",
            trust="trusted_platform",
        )


def test_a_long_reason_stays_one_short_line():
    error = MalformedPayload("labels.a\nb: " + "x" * 1000)
    assert "\n" not in error.reason and len(error.reason) <= 300
