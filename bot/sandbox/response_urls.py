"""The response_url Slack hands out with each slash command and button click, and what posting to one does:
a new ephemeral or in-channel message, or replacing or deleting the message the click came from.

Like Slack, a response_url works at most five times and for thirty minutes; Slack answers `ok` as plain text.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.sandbox import block_kit
from bot.sandbox.calls import CallLog
from bot.sandbox.faults import Faults
from bot.sandbox.workspace import BOT_USER, SlackError, Workspace

MAX_USES = 5
LIFETIME = timedelta(minutes=30)
METHOD = "response_url"


@dataclass
class Binding:
    """Where a response_url's messages go: the user who acted, the channel, and the original message (a
    click's message; for a slash command, the last message posted through this URL, if any)."""

    user: str
    channel: str
    issued_at: datetime
    original_ts: str | None = None
    original_ephemeral: bool = False
    from_command: bool = False
    uses: int = 0


class ResponseUrls:
    def __init__(self, workspace: Workspace, calls: CallLog, faults: Faults) -> None:
        self.workspace = workspace
        self.calls = calls
        self.faults = faults
        self.base_url = ""
        self._bindings: dict[str, Binding] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [Route("/response/{id}", self.endpoint, methods=["POST"])]

    def issue(
        self,
        user: str,
        channel: str,
        original_ts: str | None = None,
        original_ephemeral: bool = False,
        from_command: bool = False,
    ) -> str:
        binding = Binding(user, channel, self.workspace.now(), original_ts, original_ephemeral, from_command)
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._bindings[key] = binding
        return f"{self.base_url}response/{key}"

    async def endpoint(self, request: Request) -> Response:
        key = request.path_params["id"]
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return self._answer({}, 400, "invalid_payload")
        fault = self.faults.take(METHOD)
        if fault is not None:
            self.calls.record(METHOD, body, fault.status, fault.body)
            return PlainTextResponse(fault.error, status_code=fault.status, headers=fault.headers)
        status, text = self.respond(key, body, count_use=True)
        return self._answer(body, status, text)

    def _answer(self, body: dict, status: int, text: str) -> Response:
        response = {"ok": True} if status == 200 else {"ok": False, "error": text}
        self.calls.record(METHOD, body, status, response)
        return PlainTextResponse(text, status_code=status)

    def respond(self, key: str, body: dict, count_use: bool = True) -> tuple[int, str]:
        """Apply one response; returns (HTTP status, Slack's plain-text answer)."""
        with self._lock:
            binding = self._bindings.get(key)
            if binding is None:
                return 404, "no_service"
            if self.workspace.now() - binding.issued_at > LIFETIME:
                return 404, "expired_url"
            if count_use:
                if binding.uses >= MAX_USES:
                    return 404, "used_url"
                binding.uses += 1
            try:
                self._apply(binding, body)
            except SlackError as error:
                return 400 if error.error in ("invalid_blocks", "no_text") else 404, error.error
            return 200, "ok"

    def _apply(self, binding: Binding, body: dict) -> None:
        ws = self.workspace
        if _truthy(body.get("delete_original")):
            if binding.original_ts:
                ws.delete(binding.channel, binding.original_ts, self._ephemeral_owner(binding))
                binding.original_ts = None
            return
        text, blocks = body.get("text"), body.get("blocks")
        if blocks is not None and block_kit.problems(blocks):
            raise SlackError("invalid_blocks")
        if not text and not blocks:
            raise SlackError("no_text")
        if _truthy(body.get("replace_original")) and binding.original_ts:
            # Replacing swaps the whole message: blocks left out are gone, not kept as chat.update keeps them.
            ws.update(binding.channel, binding.original_ts, text or "", blocks or [], self._ephemeral_owner(binding))
            return
        thread_ts = body.get("thread_ts")
        if body.get("response_type") == "in_channel":
            message = ws.post(binding.channel, BOT_USER, text or "", blocks, thread_ts)
        else:
            message = ws.post_ephemeral(binding.channel, binding.user, text or "", blocks, thread_ts)
        if binding.from_command:
            binding.original_ts, binding.original_ephemeral = message.ts, message.ephemeral_to is not None

    @staticmethod
    def _ephemeral_owner(binding: Binding) -> str | None:
        return binding.user if binding.original_ephemeral else None


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() == "true"
