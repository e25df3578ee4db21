"""One Steward replica's scheduler as its own process, for the leader-lock test.

`python -m tests.support.scheduler_replica <database url>` logs to stdout what the scheduler does ("this replica leads",
"another replica leads") and prints `fired <target>` for each `probe` timer it fires; it stops when its stdin
closes, or dies when killed.
"""

from __future__ import annotations

import logging
import sys

from bot.clock import SystemClock
from bot.config import load_config, load_settings
from bot.redact.redactor import Redactor
from bot.runtime.context import Runtime
from bot.runtime.scheduler import Scheduler, on_timer
from bot.runtime.worker import Worker
from bot.slack.messages import Post
from bot.store.db import Database
from tests.support.paths import ROOT

FAST = 0.2  # seconds between ticks and between tries for the lock: the test waits on output, never sleeps


@on_timer("probe")
def probe(rt: Runtime, session: object, timer: object) -> list:
    return [Post(channel="stdout", text=f"fired {timer.target}")]  # type: ignore[attr-defined]


class Stdout:
    """Says what Slack would be told on stdout: like SlackPort, only after the claiming transaction commits."""

    def deliver(self, messages: list[Post]) -> None:
        for message in messages:
            print(message.text, flush=True)


def main(url: str) -> None:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s: %(message)s")
    settings = load_settings(database_url=url, steward_config=ROOT / "examples" / "config", steward_secret="replica")
    db, clock = Database(url), SystemClock()
    rt = Runtime(
        settings=settings,
        config=load_config(settings.steward_config),
        db=db,
        clock=clock,
        slack=Stdout(),
        worker=Worker(db, clock),
        redactor=Redactor(),
    )  # type: ignore[arg-type]
    rt.worker.run_here(rt)
    scheduler = Scheduler(rt, tick_seconds=FAST, retry_seconds=FAST)
    scheduler.start()
    sys.stdin.read()
    scheduler.stop()
    rt.worker.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
