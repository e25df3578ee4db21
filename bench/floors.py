"""The two comparison servers of bench/ack_latency.py, each run by uvicorn in its own process.

* `raw_app`: the HTTP floor, a Starlette endpoint that answers 200 and does nothing else.
* `bare_bolt_app()` (a uvicorn factory): a default sync Bolt `App` (not process_before_response) with an
  `/incident` listener that only acks, behind Bolt's own Starlette adapter. Reads `BENCH_SIGNING_SECRET`,
  `BENCH_BOT_TOKEN` and `BENCH_API_URL` (the sandbox's Web API, for the auth.test Bolt makes at start).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def _ok(_: Request) -> Response:
    return Response(status_code=200)


raw_app = Starlette(routes=[Route("/slack/events", _ok, methods=["POST"])])


def bare_bolt_app() -> Starlette:
    from slack_bolt import App
    from slack_bolt.adapter.starlette import SlackRequestHandler
    from slack_sdk import WebClient

    token = os.environ["BENCH_BOT_TOKEN"]
    bolt = App(
        token=token,
        signing_secret=os.environ["BENCH_SIGNING_SECRET"],
        client=WebClient(token=token, base_url=os.environ["BENCH_API_URL"]),
    )

    @bolt.command("/incident")
    def incident(ack) -> None:
        ack()

    handler = SlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
