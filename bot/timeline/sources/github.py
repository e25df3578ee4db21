"""GitHub webhook deliveries (deployment, deployment_status, push, ping) read into Changes,
and the X-Hub-Signature-256 check the HTTP layer runs on the raw body before parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from bot.timeline.sources import (
    ChangeIn,
    Fields,
    MalformedPayload,
    Ping,
    explicit_incident_id,
    quoted,
    read_object,
)
from bot.timeline.sources.models import DEPLOYMENT_STATES, Trust

SOURCE = "github"
_DELETED_REF = "0" * 40

EventParser = Callable[[Fields], "list[ChangeIn] | Ping"]
_EVENTS: dict[str, EventParser] = {}


def verify_github_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is "sha256=" + HMAC-SHA256(secret, body); an unset secret refuses all."""
    if not secret or not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    given = header.strip().lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(expected.encode("ascii"), given)


def parse(event: str | None, body: bytes) -> list[ChangeIn] | Ping:
    """The Changes in one delivery (a push gives one per commit), or the Ping."""
    handler = _EVENTS.get(event or "")
    if handler is None:
        if not event:
            raise MalformedPayload("X-GitHub-Event: missing")
        raise MalformedPayload(f"X-GitHub-Event: unsupported event {quoted(event)}")
    return handler(_read_body(body))


def _handles(event: str) -> Callable[[EventParser], EventParser]:
    def register(parser: EventParser) -> EventParser:
        _EVENTS[event] = parser
        return parser

    return register


def _read_body(body: bytes) -> Fields:
    # A webhook may be set to application/x-www-form-urlencoded: the JSON is the `payload` field.
    if body.startswith(b"payload="):
        try:
            form = parse_qs(body.decode("ascii"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise MalformedPayload("body: form encoding with non-ASCII bytes") from None
        return read_object(form.get("payload", [""])[0].encode("utf-8"))
    return read_object(body)


@_handles("ping")
def _ping(payload: Fields) -> Ping:
    return Ping(zen=payload.text("zen", allow_empty=True), hook_id=payload.integer("hook_id"))


@_handles("deployment")
def _deployment(payload: Fields) -> list[ChangeIn]:
    deployment = payload.object("deployment")
    custom = _custom_payload(deployment)
    deployment_id = deployment.integer("id")
    ref = deployment.text("ref")
    environment = deployment.text("environment")
    summary, trust = _summary(deployment.optional_text("description"), f"Deploy {ref} to {environment}")
    change = ChangeIn(
        source=SOURCE,
        kind="deployment",
        repository=_repository(payload),
        environment=environment,
        version=ref,
        previous_version=custom.optional_text("previous_version"),
        sha=deployment.text("sha"),
        summary=summary,
        actor=_login(deployment, "creator"),
        at=deployment.time("created_at"),
        url=deployment.optional_text("url"),
        metadata=_deployment_metadata(deployment, custom),
        dedupe_key=f"github:deployment:{deployment_id}",
        incident_id=explicit_incident_id(custom.raw("incident")),
        trust=trust,
    )
    return [change]


@_handles("deployment_status")
def _deployment_status(payload: Fields) -> list[ChangeIn]:
    status = payload.object("deployment_status")
    deployment = payload.object("deployment")
    custom = _custom_payload(deployment)
    deployment_id = deployment.integer("id")
    state = status.choice("state", DEPLOYMENT_STATES)
    ref = deployment.text("ref")
    environment = status.optional_text("environment") or deployment.text("environment")
    summary, trust = _summary(status.optional_text("description"), f"Deployment of {ref} to {environment}: {state}")
    metadata = _deployment_metadata(deployment, custom) | {
        "deployment_status_id": status.integer("id"),
        "environment_url": status.optional_text("environment_url"),
    }
    change = ChangeIn(
        source=SOURCE,
        kind="deployment_status",
        repository=_repository(payload),
        environment=environment,
        version=ref,
        previous_version=custom.optional_text("previous_version"),
        sha=deployment.text("sha"),
        state=state,
        summary=summary,
        actor=_login(status, "creator"),
        at=status.time("created_at"),
        # The run's log says what happened; the API URL is the fallback evidence ref.
        url=status.optional_text("log_url") or status.optional_text("target_url") or status.optional_text("url"),
        metadata=metadata,
        dedupe_key=f"github:deployment_status:{deployment_id}:{state}",
        incident_id=explicit_incident_id(custom.raw("incident")),
        trust=trust,
    )
    return [change]


@_handles("push")
def _push(payload: Fields) -> list[ChangeIn]:
    after = payload.text("after")
    if payload.flag("deleted") or after == _DELETED_REF:
        return []
    repository = payload.object("repository")
    # repository.pushed_at is when this push landed (a UNIX integer in push events); commit
    # timestamps can be days older after a rebase, and correlation needs the landing time.
    pushed_at = repository.unix_or_rfc3339("pushed_at")
    push = _push_metadata(payload, repository)
    actor = _login(payload, "sender") or _pusher(payload)
    return [
        _commit_change(commit, repository.text("full_name"), push, actor, pushed_at)
        for commit in payload.objects("commits")
    ]


def _commit_change(
    commit: Fields,
    repository: str,
    push: dict[str, Any],
    actor: str | None,
    pushed_at: datetime | None,
) -> ChangeIn:
    sha = commit.text("id")
    committed_at = commit.time("timestamp")
    added, removed, modified = (commit.texts(key) for key in ("added", "removed", "modified"))
    first_line = commit.text("message", allow_empty=True).strip().splitlines()[:1]
    summary, trust = _summary(first_line[0] if first_line else None, f"Commit {sha[:7]}")
    metadata = push | {
        "added": added,
        "removed": removed,
        "modified": modified,
        "author": _author(commit),
        "committed_at": committed_at.isoformat(),
        "distinct": commit.flag("distinct"),
    }
    return ChangeIn(
        source=SOURCE,
        kind="config_change",
        repository=repository,
        sha=sha,
        files=list(dict.fromkeys(added + removed + modified)),
        summary=summary,
        actor=actor,
        at=pushed_at or committed_at,
        url=commit.optional_text("url"),
        metadata=metadata,
        dedupe_key=f"github:commit:{repository}:{sha}",
        trust=trust,
    )


def _push_metadata(payload: Fields, repository: Fields) -> dict[str, Any]:
    ref = payload.text("ref")
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    default_branch = repository.optional_text("default_branch")
    return {
        "ref": ref,
        "branch": branch,
        # Pushes to any branch are reported; whether a feature branch counts is for the caller.
        "on_default_branch": branch is not None and branch == default_branch,
        "before": payload.optional_text("before"),
        "after": payload.text("after"),
        "forced": payload.flag("forced"),
        "compare": payload.optional_text("compare"),
    }


def _custom_payload(deployment: Fields) -> Fields:
    """The deployment's free-form `payload`: an object, a JSON string of one, or any string."""
    raw = deployment.raw("payload")
    where = deployment.where("payload")
    if raw is None or isinstance(raw, dict):
        return Fields(raw or {}, where)
    if not isinstance(raw, str):
        deployment.fail("payload", f"expected an object or a string, got {quoted(raw)}")
    try:
        decoded = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, RecursionError):
        decoded = None
    # A plain string is a legal payload; it just carries none of the keys we look for.
    return Fields(decoded if isinstance(decoded, dict) else {}, where)


def _deployment_metadata(deployment: Fields, custom: Fields) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "deployment_id": deployment.integer("id"),
        "task": deployment.optional_text("task"),
        "payload": custom.data or deployment.raw("payload"),
        "production_environment": deployment.flag("production_environment"),
        "transient_environment": deployment.flag("transient_environment"),
    }
    schema_migration = custom.optional_text("schema_migration")
    if schema_migration is not None:
        metadata["schema_migration"] = schema_migration
    return metadata


def _summary(text: str | None, fallback: str) -> tuple[str, Trust]:
    """People write descriptions and commit messages, so those are data, never instructions."""
    if text and text.strip():
        return text.strip(), "untrusted_runtime_output"
    return fallback, "trusted_platform"


def _repository(payload: Fields) -> str | None:
    repository = payload.optional_object("repository")
    return repository.optional_text("full_name") if repository else None


def _login(holder: Fields, key: str) -> str | None:
    user = holder.optional_object(key)
    return user.optional_text("login") if user else None


def _pusher(payload: Fields) -> str | None:
    pusher = payload.optional_object("pusher")
    return pusher.optional_text("name") if pusher else None


def _author(commit: Fields) -> str | None:
    author = commit.optional_object("author")
    if author is None:
        return None
    return author.optional_text("username") or author.optional_text("name")
