"""Evidence packets: what an approver is shown, and the hash an approval is bound to. The hash is
SHA-256 over the packet's RFC 8785 canonical JSON, so the same evidence always hashes the same."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any

import rfc8785
from pydantic import BaseModel, ConfigDict, field_validator

from bot.approvals.readiness import ReadinessCheck
from bot.clock import rfc3339_utc

SHORT_HASH_LENGTH = 12
# RFC 8785 numbers are IEEE doubles; a larger integer would be silently rounded by other JSON readers.
_MAX_SAFE_INTEGER = 2**53 - 1


class EventRef(BaseModel):
    """A timeline event the packet rests on; its content hash pins the event as it was when requested."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    content_hash: str


class EvidencePacket(BaseModel):
    """Every field is always present in the canonical form (None becomes null), so two packets with
    the same evidence cannot differ by a field that one of them left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str
    target: str
    environment: str
    service: str
    current_state: dict[str, Any]
    proposed_state: dict[str, Any]
    event_refs: list[EventRef]
    readiness: list[ReadinessCheck] | None
    risk_flags: list[str]
    alternatives: list[str]
    undo_path: str
    expected_telemetry: list[str]
    requested_by: str
    incident_id: str
    # Who is affected if this goes wrong, e.g. "payment-api in production (criticality payment)";
    # None when nobody assessed it, which `blast_radius_assessment` evidence then reports as missing.
    blast_radius: str | None = None

    @field_validator("current_state", "proposed_state", mode="before")
    @classmethod
    def _canonical_state(cls, value: Any) -> Any:
        return _json_value(value, "state") if isinstance(value, dict) else value

    @field_validator("event_refs")
    @classmethod
    def _sorted_refs(cls, refs: list[EventRef]) -> list[EventRef]:
        unique = sorted(set(refs), key=lambda ref: (ref.id, ref.content_hash))
        ids = [ref.id for ref in unique]
        duplicates = sorted({ref_id for ref_id in ids if ids.count(ref_id) > 1})
        if duplicates:
            raise ValueError(f"event {', '.join(duplicates)} referenced with two different content hashes")
        return unique

    @field_validator("risk_flags")
    @classmethod
    def _sorted_flags(cls, flags: list[str]) -> list[str]:
        return sorted(set(flags))


def canonical_json(packet: EvidencePacket) -> bytes:
    return rfc8785.dumps(packet.model_dump(mode="json"))


def evidence_hash(packet: EvidencePacket) -> str:
    return hashlib.sha256(canonical_json(packet)).hexdigest()


def short_hash(full_hash: str) -> str:
    """The part of the hash people read in the approval sentence ("evidence `3f9a1c2b7d4e`")."""
    if len(full_hash) < SHORT_HASH_LENGTH:
        raise ValueError(f"not an evidence hash: {full_hash!r}")
    return full_hash[:SHORT_HASH_LENGTH]


def missing_evidence(packet: EvidencePacket, required: list[str]) -> list[str]:
    """The required evidence names the packet does not carry, in the order the policy lists them.
    Versions live in the states under the key "version" (running version, rollback target)."""
    present = {
        "current_state": bool(packet.current_state),
        "proposed_state": bool(packet.proposed_state),
        "current_version": bool(packet.current_state.get("version")),
        "target_previous_version": bool(packet.proposed_state.get("version")),
        "rollback_compatibility_check": packet.readiness is not None,
        "blast_radius_assessment": bool(packet.blast_radius),
        "event_refs": bool(packet.event_refs),
        "undo_path": bool(packet.undo_path),
        "expected_telemetry": bool(packet.expected_telemetry),
    }
    return [name for name in required if not present.get(name, False)]


def _json_value(value: Any, where: str) -> Any:
    """Reduce a state value to what RFC 8785 can represent exactly, turning times into RFC 3339
    strings; anything else is refused here, at build time, rather than when the hash is taken."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ValueError(f"{where}: integer {value} is outside the JSON safe range; send it as a string")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value} has no JSON form")
        return value
    if isinstance(value, datetime):
        return rfc3339_utc(value)
    if isinstance(value, dict):
        return {_json_key(key, where): _json_value(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(f"{where}: {type(value).__name__} has no canonical JSON form")


def _json_key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise ValueError(f"{where}: key {key!r} is not a string")
    return key
