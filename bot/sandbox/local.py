"""A local Steward wired to the Slack stand-in over real sockets: what the demo and the tests run."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.app import Door, Steward, build
from bot.clock import Clock
from bot.config import load_config, load_settings
from bot.runtime.server import LoopbackServer
from bot.sandbox import SlackSandbox
from bot.store.db import Database

SIGNING_SECRET = "local-signing-secret"
BOT_TOKEN = "xoxb-local-sandbox"
WEBHOOK_TOKEN = "local-webhook-token"
GITHUB_WEBHOOK_SECRET = "local-github-secret"


@dataclass
class LocalStack:
    sandbox: SlackSandbox
    steward: Steward
    server: LoopbackServer

    def settle(self, timeout: float = 20.0) -> None:
        """Wait until Steward's worker and the sandbox's event deliveries are both quiet."""
        for _ in range(3):
            if not self.steward.runtime.worker.wait_idle(timeout=timeout):
                raise TimeoutError("Steward's worker did not finish")
            self.sandbox.wait_idle(timeout=timeout)

    scratch: Path | None = None  # a state dir start_local made, removed on stop

    def stop(self) -> None:
        self.server.stop()
        self.steward.close()
        self.sandbox.stop()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def start_local(
    door: Door, database_url: str, config_dir: Path, clock: Clock | None = None, **settings: object
) -> LocalStack:
    scratch = None if "state_dir" in settings else Path(tempfile.mkdtemp(prefix="steward-state-"))
    # Jobs run on threads here: tests move this process's clock, and a child process would not see it.
    settings = {
        "webhook_token": WEBHOOK_TOKEN,
        "github_webhook_secret": GITHUB_WEBHOOK_SECRET,
        "worker_processes": 0,
        **({"state_dir": scratch} if scratch else {}),
        **settings,
    }
    sandbox = SlackSandbox(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, clock=clock).start()
    try:
        resolved = load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=sandbox.api_url,
            database_url=database_url,
            steward_config=config_dir,
            steward_secret="local-steward-secret",
            **settings,
        )
        Database(database_url).upgrade()
        steward = build(resolved, load_config(config_dir), door, clock=clock)
        server = LoopbackServer(steward.asgi).start()
    except BaseException:
        sandbox.stop()
        raise
    sandbox.events_url = f"{server.url}/slack/events"
    return LocalStack(sandbox=sandbox, steward=steward, server=server, scratch=scratch)
