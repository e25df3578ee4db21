"""Click → executed → message edited: the time from a signed Approve click to the approval message showing the
executed outcome in Slack, for flagd flag-offs, over 200 requests (p50 / p95; target p95 ≤ 500 ms).

Steward and the Slack stand-in run in this process on SQLite, as in the demo; each request turns a different
flag off, since one flag in one incident runs once (its idempotency key), and the injected clock moves 150 s
between requests so the per-action rate limit (5 in 10 minutes) is not what is measured.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import ManualClock  # noqa: E402
from bot.sandbox.local import start_local  # noqa: E402
from handlers.door import DOOR  # noqa: E402

REQUESTS = 200
COMMANDER, ENGINEER = "U0COMMANDER", "U0ENGINEER"


def config(scratch: Path) -> Path:
    directory = scratch / "config"
    shutil.copytree(ROOT / "examples" / "config", directory)
    flags = {
        f"bench.flag-{n:03d}": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on",
            "targeting": {"fractional": [{"var": "targetingKey"}, ["on", 50], ["off", 50]]},
        }
        for n in range(REQUESTS)
    }
    (directory / "flags.flagd.json").write_text(json.dumps({"flags": flags}))
    services = (directory / "services.yml").read_text()
    listed = ", ".join(flags)
    (directory / "services.yml").write_text(services.replace("flags: [checkout.new-routing]", f"flags: [{listed}]"))
    return directory


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        clock = ManualClock()
        stack = start_local(DOOR, f"sqlite:///{scratch}/steward.db", config(Path(scratch)), clock)
        try:
            sandbox = stack.sandbox
            sandbox.command("declare Bench approvals sev:SEV2 service:payment-api", user=COMMANDER)
            stack.settle()
            channel = next(c.id for c in sandbox.channels if c.name.startswith("inc-"))
            timings = []
            for n in range(REQUESTS):
                clock.advance(seconds=150)  # the per-action rate limit allows 5 flag-offs in 10 minutes
                sandbox.command(f"mitigate flag bench.flag-{n:03d} off", user=ENGINEER, channel=channel)
                stack.settle()
                message = [m for m in sandbox.messages(channel) if any(b["type"] == "actions" for b in m.blocks)][-1]
                started = time.perf_counter()
                sandbox.click_button(message, "approval_approve", user=COMMANDER)
                # Look at this one message only: scanning the whole channel each poll would slow Steward itself.
                sandbox.wait_until(
                    lambda ts=message.ts: "Executed by" in json.dumps(sandbox.workspace.message(channel, ts).blocks),
                    timeout=10,
                    interval=0.002,
                )
                timings.append((time.perf_counter() - started) * 1000)
                stack.settle()
        finally:
            stack.stop()
    timings.sort()
    p50, p95 = statistics.median(timings), timings[int(len(timings) * 0.95) - 1]
    verdict = "PASS" if p95 <= 500 else "*** MISS ***"
    print(
        f"approval click → executed → message edited, {REQUESTS} flagd flag-offs: "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {timings[-1]:.0f} ms (target p95 ≤ 500 ms) {verdict}"
    )


if __name__ == "__main__":
    main()
