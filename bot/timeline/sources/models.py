"""What every source normalises into: Signals (alerts) and Changes (deploys, deploy statuses,
config and flag changes), each carrying the natural key that makes re-deliveries harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

Trust = Literal["trusted_platform", "untrusted_runtime_output"]
ChangeKind = Literal["deployment", "deployment_status", "config_change", "flag_change"]

# GitHub's REST enum has seven states; deployment_status webhooks also say "waiting" while a
# protected environment waits for its reviewers.
DEPLOYMENT_STATES = frozenset(
    {"error", "failure", "inactive", "in_progress", "queued", "pending", "success", "waiting"}
)


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Naive datetimes are refused rather than guessed: a source that forgets its offset is a bug.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_as_utc)]


class _Normalised(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(slots=True, kw_only=True)
class SignalIn:
    """One alert as a source reported it, before it is matched to an incident. Read, never changed.

    Not a model like the others: alerts come by the hundred in one delivery, and the Alertmanager parser has already
    checked every field (status, types, times aware and in UTC), so validating each alert again would only add to
    the cost of reading it. Not frozen either: a frozen dataclass sets each field through object.__setattr__, which
    makes each one dearer to build (bench/README.md, ingest)."""

    source: str
    fingerprint: str
    name: str
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    url: str | None
    dedupe_key: str
    incident_id: str | None = None


class AlertBatch(_Normalised):
    """One Alertmanager notification: a group of alerts sharing a route and group labels."""

    group_key: str
    receiver: str
    status: Literal["firing", "resolved"]
    group_labels: dict[str, str] = Field(default_factory=dict)
    truncated_alerts: int
    external_url: str | None
    signals: list[SignalIn]


class ChangeIn(_Normalised):
    """One change to production as a source reported it; `service` is None until services.yml
    resolves it from the raw hints (repository, application, files)."""

    source: str
    kind: ChangeKind
    service: str | None = None
    repository: str | None = None
    application: str | None = None
    environment: str | None = None
    version: str | None = None
    previous_version: str | None = None
    sha: str | None = None
    state: str | None = None
    files: list[str] = Field(default_factory=list)
    summary: str
    actor: str | None = None
    at: UtcDatetime
    url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    dedupe_key: str
    incident_id: str | None = None
    trust: Trust


class Ping(_Normalised):
    """GitHub's hello when a webhook is created or tested; it carries no change."""

    zen: str
    hook_id: int
