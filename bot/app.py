"""Builds the product: the runtime, the Bolt app with its listeners, and the one HTTP server's routes."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.clock import Clock, SystemClock
from bot.config import Config, Settings
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.slackapi import SlackPort, make_client
from bot.store.db import Database
from bot.worker import Worker
from bot.approval_flow import reconcile_at_start
from bot.ingest import Ingestor
from bot.redact import Redactor
from bot.services import ServiceCatalog
from bot.webhooks import webhook_routes
from handlers import actions, commands, events

log = logging.getLogger(__name__)


@dataclass
class Steward:
    runtime: Runtime
    bolt: App
    asgi: Starlette
    scheduler: Scheduler | None = None

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.runtime.worker.shutdown()
        self.runtime.db.engine.dispose()


def build(settings: Settings, config: Config, clock: Clock | None = None) -> Steward:
    db = Database(settings.database_url)
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    rt = Runtime(settings=settings, config=config, db=db, clock=clock or SystemClock(), slack=SlackPort(client, db, settings.steward_secret),
                 worker=Worker(), redactor=Redactor(config.steward.internal_host_patterns))
    bolt = App(client=client, signing_secret=settings.slack_signing_secret, process_before_response=True)
    commands.register(bolt, rt)
    actions.register(bolt, rt)
    events.register(bolt, rt)
    ingestor = Ingestor(ServiceCatalog(config), rt.redactor, rt.clock, rt.lookback)
    scheduler = Scheduler(rt)
    scheduler.start()
    rt.worker.submit("reconcile", reconcile_at_start, rt)  # requests a crash left executing
    return Steward(runtime=rt, bolt=bolt, asgi=_routes(rt, bolt, webhook_routes(rt, ingestor)), scheduler=scheduler)


def _routes(rt: Runtime, bolt: App, webhooks: list[Route]) -> Starlette:
    async def slack_events(request: Request) -> Response:
        # Dispatch inline: listeners only parse, ack and hand off (process_before_response), so this is
        # sub-millisecond work, and Bolt's default runner (waiting on ack in 10 ms sleeps) is never used.
        rt.worker.saw_request()
        body = await request.body()
        response = bolt.dispatch(to_bolt_request(request, body))
        metrics.SLACK_REQUESTS.labels(status=str(response.status)).inc()
        return to_starlette_response(response)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        if rt.db.is_ready():
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False, "reason": "database unreachable"}, status_code=503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *webhooks,
        ]
    )
