"""The one logging set-up of every entry point, and the context its lines carry: the request id the door gave a Slack
request or webhook delivery, the job id of the job running it, and the incident once the flow knows it.

The ids live in context variables, set by the HTTP door (per request), the worker (per job) and the flow that finds
the incident; a filter on the handler copies them onto every record, so call sites stay `log.info(...)`.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import LogFormat

CONTEXT_FIELDS = ("request_id", "job_id", "incident_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_job_id: ContextVar[int | None] = ContextVar("job_id", default=None)
_incident_id: ContextVar[str | None] = ContextVar("incident_id", default=None)


def configure_logging(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's INFO and above to `stream` (stderr by default), as text or one JSON object per line;
    returns the handler. Called again, it replaces the handler it installed before and leaves any other alone."""
    handler = _StewardHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(ContextFilter())
    if log_format == "json":
        # uvicorn passes its message again with terminal colours, as an extra: a log pipeline wants it once.
        handler.setFormatter(
            JsonFormatter(
                ["levelname", "name", "message"],
                timestamp="time",
                rename_fields={"levelname": "level", "name": "logger"},
                reserved_attrs=[*RESERVED_ATTRS, "color_message"],
            )
        )
    else:
        handler.setFormatter(_TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StewardHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


class _StewardHandler(logging.StreamHandler):
    """The handler configure_logging installs, told apart from handlers others added (pytest's, say)."""


class ContextFilter(logging.Filter):
    """Copies the request, job and incident ids that are set onto each record: JSON lines get them as fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in zip(CONTEXT_FIELDS, (_request_id.get(), _job_id.get(), _incident_id.get()), strict=True):
            if value is not None:
                setattr(record, name, value)
        return True


class _TextFormatter(logging.Formatter):
    """Text lines show the ids as a bracketed suffix of the logger name: `bot.slack.port [request=… job=12]: …`."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        tags = [
            f"{name.removesuffix('_id')}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        ]
        record.context = f" [{' '.join(tags)}]" if tags else ""
        return super().formatMessage(record)


def new_request_id() -> str:
    """16 hex digits: unique enough to follow one request, and cheap on the ack path (no system call, unlike
    uuid4; nothing about a request id is secret)."""
    return f"{random.getrandbits(64):016x}"


def current_request_id() -> str | None:
    """The request id of the request or job this code runs for; the worker stores it with the jobs submitted."""
    return _request_id.get()


@contextmanager
def request_context(request_id: str | None = None) -> Iterator[None]:
    """Lines written inside, and jobs submitted inside, carry a request id (a new one unless given)."""
    token = _request_id.set(request_id or new_request_id())
    try:
        yield
    finally:
        _request_id.reset(token)


@contextmanager
def job_context(job_id: int, request_id: str | None) -> Iterator[None]:
    """Lines a job writes carry its id and the request it came from; the incident is the job's to find."""
    tokens = _job_id.set(job_id), _request_id.set(request_id), _incident_id.set(None)
    try:
        yield
    finally:
        _incident_id.reset(tokens[2])
        _request_id.reset(tokens[1])
        _job_id.reset(tokens[0])


def tag_incident(incident_id: str) -> None:
    """From here until the job ends, its lines name this incident."""
    _incident_id.set(incident_id)


class RequestIds:
    """ASGI middleware: one request id for each HTTP request, so its lines (uvicorn's access line among them) and
    the jobs it stores share it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Set and reset by hand, not with request_context(): this runs on every ack.
        token = _request_id.set(new_request_id())
        try:
            await self.app(scope, receive, send)
        finally:
            _request_id.reset(token)
