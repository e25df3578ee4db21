"""The webhook door: authenticate, parse, store in one transaction, then announce.

401 for missing or wrong credentials (and for an endpoint whose secret is not configured), 400 with a one-line
reason for a malformed payload, 503 when the store fails so the sender retries. Nothing is stored from a refused
request, and a re-delivery changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.runtime.context import Runtime
from bot.store.db import Database
from bot.timeline.announce import announce
from bot.timeline.ingest import Ingested, Ingestor
from bot.timeline.sources import ChangeIn, MalformedPayload, Ping, alertmanager, argocd, generic, github

log = logging.getLogger(__name__)


def bearer_ok(request: Request, token: str | None) -> bool:
    if not token:
        return False
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _refused(source: str, status: int, reason: str) -> Response:
    metrics.WEBHOOKS.labels(source=source, outcome=str(status)).inc()
    return JSONResponse({"error": reason}, status_code=status)


Store = Callable[[Ingestor, Request, bytes], Ingested | Ping]


def store_alerts(db: Database, ingestor: Ingestor, body: bytes) -> Ingested:
    """An Alertmanager delivery, parsed and stored in one transaction (bench/ingest.py times this)."""
    batch = alertmanager.parse(body)
    with db.session() as session:
        return ingestor.ingest_alerts(session, batch)


def webhook_routes(rt: Runtime, ingestor: Ingestor) -> list[Route]:
    def endpoint(
        source: str, authenticate: Callable[[Request, bytes], bool], store: Store
    ) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            body = await request.body()
            if not authenticate(request, body):
                return _refused(source, 401, "missing or wrong credentials")
            try:
                result = await run_in_threadpool(store, ingestor, request, body)
            except MalformedPayload as error:
                return _refused(source, 400, error.reason)
            except SQLAlchemyError:
                log.exception("storing a %s delivery failed", source)
                return _refused(source, 503, "store unavailable; retry")
            metrics.WEBHOOKS.labels(source=source, outcome="200").inc()
            if isinstance(result, Ping):
                return JSONResponse({"pong": True, "hook_id": result.hook_id})
            announce(rt, result)
            return JSONResponse({"stored": result.stored, "duplicates": result.duplicates})

        return receive

    def with_bearer(request: Request, _: bytes) -> bool:
        return bearer_ok(request, rt.settings.webhook_token)

    def with_github_signature(request: Request, body: bytes) -> bool:
        secret = rt.settings.github_webhook_secret
        if not secret:
            return False
        return github.verify_github_signature(secret, body, request.headers.get("x-hub-signature-256"))

    def store_alertmanager(ing: Ingestor, request: Request, body: bytes) -> Ingested:
        return store_alerts(rt.db, ing, body)

    def store_github(ing: Ingestor, request: Request, body: bytes) -> Ingested | Ping:
        parsed = github.parse(request.headers.get("x-github-event", ""), body)
        if isinstance(parsed, Ping):
            return parsed
        with rt.db.session() as session:
            return ing.ingest_changes(session, parsed)

    def store_change(parse: Callable[[bytes], ChangeIn]) -> Store:
        def store(ing: Ingestor, request: Request, body: bytes) -> Ingested:
            change = parse(body)
            with rt.db.session() as session:
                return ing.ingest_changes(session, [change])

        return store

    return [
        Route("/webhooks/alertmanager", endpoint("alertmanager", with_bearer, store_alertmanager), methods=["POST"]),
        Route("/webhooks/github", endpoint("github", with_github_signature, store_github), methods=["POST"]),
        Route("/webhooks/argocd", endpoint("argocd", with_bearer, store_change(argocd.parse)), methods=["POST"]),
        Route("/webhooks/changes", endpoint("changes", with_bearer, store_change(generic.parse)), methods=["POST"]),
    ]
