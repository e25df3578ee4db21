"""Builds the product: the runtime, where its jobs run (here, or in child processes), and the one HTTP server's routes."""
from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.clock import Clock, SystemClock
from bot.config import Config, Settings, load_config
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.slackapi import SlackPort, make_client
from bot.store.db import Database
from bot.worker import POLL_SECONDS, Doorbell, Worker
from bot.approval_flow import reconcile_at_start
from bot.ingest import Ingestor
from bot.redact import Redactor
from bot.services import ServiceCatalog
from bot.webhooks import webhook_routes
from handlers import door

log = logging.getLogger(__name__)


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


def build(settings: Settings, config: Config, clock: Clock | None = None) -> Steward:
    rt = build_runtime(settings, config, clock or SystemClock())
    if settings.worker_processes:
        rt.worker.run_in_processes(settings.worker_processes, run_worker_process, settings)
    else:
        run_jobs_here(rt)
    ingestor = Ingestor(ServiceCatalog(config), rt.redactor, rt.clock, rt.lookback)
    scheduler = Scheduler(rt)
    scheduler.start()
    metrics.WORKER_PENDING.set_function(rt.worker.outstanding)
    rt.worker.submit("reconcile", reconcile_at_start)  # requests a crash left executing
    return Steward(runtime=rt, asgi=_routes(rt, webhook_routes(rt, ingestor)), scheduler=scheduler)


def freeze_startup_heap() -> None:
    """For a server, once built: what start-up made lives as long as the process. Frozen, the collector stops
    rescanning it on each full collection, which took 150 ms with a built app's heap, while every ack waited."""
    gc.collect()
    gc.freeze()


def build_runtime(settings: Settings, config: Config, clock: Clock, doorbell: Doorbell | None = None) -> Runtime:
    db = Database(settings.database_url)
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    return Runtime(settings=settings, config=config, db=db, clock=clock, slack=SlackPort(client, db, settings.steward_secret),
                   worker=Worker(db, clock, doorbell), redactor=Redactor(config.steward.internal_host_patterns))


def run_jobs_here(rt: Runtime) -> None:
    rt.slack_app = door.build_slack_app(rt)
    rt.worker.run_here(rt)


def run_worker_process(settings: Settings, doorbell: Doorbell, stop: Doorbell, parent_pid: int) -> None:
    """A child of `steward serve` that runs the acked jobs, on its own interpreter lock. It ends when told to, or
    when the server that started it is gone."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.nice(5)  # acks come first: on a contended core this gets a quarter; Slack's 3 seconds cannot wait
    rt = build_runtime(settings, load_config(settings.steward_config), SystemClock(), doorbell)
    run_jobs_here(rt)
    freeze_startup_heap()
    while not stop.wait(POLL_SECONDS) and os.getppid() == parent_pid:
        pass
    rt.worker.shutdown()
    rt.db.engine.dispose()


def _routes(rt: Runtime, webhooks: list[Route]) -> Starlette:
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
            Route("/slack/events", door.HttpDoor(rt), methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *webhooks,
        ]
    )
