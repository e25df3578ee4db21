"""The running product's parts, built once at start and handed to flows: settings, config, database, clock, Slack, worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.clock import Clock
from bot.config import Config, Settings
from bot.redact.redactor import Redactor
from bot.runtime.worker import Worker
from bot.store.db import Database

if TYPE_CHECKING:  # slackapi renders approvals, which need the runtime: import only for types
    from bot.slack.port import SlackPort


@dataclass
class Runtime:
    settings: Settings
    config: Config
    db: Database
    clock: Clock
    slack: SlackPort
    worker: Worker
    redactor: Redactor
    slack_app: Any = None  # where the worker runs jobs: the Bolt app (handlers/) that dispatches stored requests

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.config.steward.lookback_minutes)
