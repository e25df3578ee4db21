"""`make bench`: runs every benchmark script in bench/ that exists, each as its own process, printing its output.

To add a benchmark, put a script in bench/ that prints its own report and add its file name to BENCHMARKS.
A benchmark exits 0 when it ran (whatever its numbers say: misses are printed, not failed) and non-zero only
when it could not run; this runner exits non-zero if any benchmark did.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = [
    "ack_latency.py",  # Slack ack latency and throughput vs the HTTP floor and a default Bolt app (~70 s)
    "redaction.py",  # the redaction function over alert annotation lines
    "approval_latency.py",  # Approve click -> executed -> message edited, 200 flagd flag-offs
    "timeline.py",  # timeline assembly at 5,000 and 50,000 events
    "ingest.py",  # 10,000 alerts through ingestion vs a raw Core executemany, SQLite and PostgreSQL
    "status_draft.py",  # a status update draft for an incident with 5,000 timeline events (target ≤ 50 ms)
]

HERE = Path(__file__).resolve().parent


def main() -> int:
    chosen = sys.argv[1:]  # `python bench/run.py ack_latency` runs just that one
    failed = []
    for name in BENCHMARKS:
        if chosen and name.removesuffix(".py") not in {c.removesuffix(".py") for c in chosen}:
            continue
        script = HERE / name
        if not script.exists():
            continue
        print(f"=== {name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(
            f"=== {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.0f} s\n",
            flush=True,
        )
        if code != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that could not run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
