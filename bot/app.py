"""Builds the product: the runtime, where its jobs run (here, or in child processes), and the one HTTP server's routes."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bot import metrics
from bot.approvals.flow import reconcile_at_start
from bot.approvals.message import draw_approval
from bot.clock import Clock, SystemClock
from bot.config import Config, Settings, load_config
from bot.redact.redactor import Redactor
from bot.runtime.context import Runtime
from bot.runtime.logs import RequestIds, configure_logging
from bot.runtime.scheduler import Scheduler
from bot.runtime.worker import POLL_SECONDS, Doorbell, Worker
from bot.slack.messages import Drawer, RefreshApproval, RefreshCard
from bot.slack.port import SlackPort, make_client
from bot.status.card import draw_card
from bot.store.db import Database
from bot.timeline.catalog import ServiceCatalog
from bot.timeline.ingest import Ingestor
from bot.timeline.webhooks import webhook_routes


@dataclass(frozen=True)
class Door:
    """Slack's way in, built in `handlers/` and handed over by the entry point: the core never imports listeners."""

    endpoint: Callable[[Runtime], ASGIApp]  # POST /slack/events: checks, stores the request as a job, acks
    listeners: Callable[[Runtime], Any]  # the Bolt app the worker dispatches stored requests to


@dataclass
class Steward:
    runtime: Runtime
    asgi: Starlette
    scheduler: Scheduler | None = None

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.runtime.worker.shutdown()
        self.runtime.db.engine.dispose()


def build(settings: Settings, config: Config, door: Door, clock: Clock | None = None) -> Steward:
    rt = build_runtime(settings, config, clock or SystemClock())
    if settings.worker_processes:
        rt.worker.run_in_processes(settings.worker_processes, run_worker_process, settings, door.listeners)
    else:
        run_jobs_here(rt, door.listeners)
    ingestor = Ingestor(ServiceCatalog(config), rt.redactor, rt.clock, rt.lookback)
    scheduler = Scheduler(rt)
    scheduler.start()
    metrics.WORKER_PENDING.set_function(rt.worker.outstanding)
    rt.worker.submit("reconcile", reconcile_at_start)  # requests a crash left executing
    return Steward(runtime=rt, asgi=_routes(rt, door.endpoint(rt), webhook_routes(rt, ingestor)), scheduler=scheduler)


def freeze_startup_heap() -> None:
    """For a server, once built: what start-up made lives as long as the process. Frozen, the collector stops
    rescanning it on each full collection, while every ack waited (bench/README.md)."""
    gc.collect()
    gc.freeze()


def build_runtime(settings: Settings, config: Config, clock: Clock, doorbell: Doorbell | None = None) -> Runtime:
    db = Database(settings.database_url)
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    drawers: dict[type, Drawer] = {
        RefreshCard: partial(draw_card, db),
        RefreshApproval: partial(draw_approval, db, settings.steward_secret),
    }
    return Runtime(
        settings=settings,
        config=config,
        db=db,
        clock=clock,
        slack=SlackPort(client, drawers),
        worker=Worker(db, clock, doorbell),
        redactor=Redactor(config.steward.internal_host_patterns),
    )


def run_jobs_here(rt: Runtime, listeners: Callable[[Runtime], Any]) -> None:
    rt.slack_app = listeners(rt)
    rt.worker.run_here(rt)


def run_worker_process(
    settings: Settings, listeners: Callable[[Runtime], Any], doorbell: Doorbell, stop: Doorbell, parent_pid: int
) -> None:
    """A child of `steward serve` that runs the acked jobs, on its own interpreter lock. It ends when told to, or
    when the server that started it is gone."""
    configure_logging(settings.log_format)
    os.nice(5)  # acks come first: on a contended core this gets a quarter; Slack's 3 seconds cannot wait
    rt = build_runtime(settings, load_config(settings.steward_config), SystemClock(), doorbell)
    run_jobs_here(rt, listeners)
    freeze_startup_heap()
    while not stop.wait(POLL_SECONDS) and os.getppid() == parent_pid:
        pass
    rt.worker.shutdown()
    rt.db.engine.dispose()


def _routes(rt: Runtime, slack_events: ASGIApp, webhooks: list[Route]) -> Starlette:
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
        ],
        middleware=[Middleware(RequestIds)],
    )
